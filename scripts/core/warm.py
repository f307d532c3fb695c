"""A warm worker for make's Python recipes: `python -m scripts.core.warm -m MODULE ARGS...`.

Each pipeline stage is its own Python process, and each spent over a second importing pandas,
scikit-learn and scipy before doing its work. This client hands the stage to a worker that has
imported those libraries once: the worker forks, the child takes the client's stdin, stdout and
stderr (passed over a Unix socket), working directory, environment, umask and argv, and runs
the module as `python -m` would; the client exits with the child's exit status and relays the
signals it gets (Ctrl-C) to the child. make stays the only scheduler: recipes, stamps and -j
behave as before, and each stage is still one process with its own exit status.

What makes a forked run the same as a cold one: the worker imports third-party libraries only,
never this project's code (the child drops every `scripts` module before running, so an edited
file is always read afresh); the worker is keyed by the interpreter, the installed packages
(site-packages' mtime), this file and the environment variables that steer those libraries at
import (thread counts), so a change to any of them starts a new worker. tests/core/test_warm.py
builds the pipeline warm and cold and compares every artifact byte for byte.

The worker starts on first use (the stage that starts it runs cold meanwhile, so nothing waits
for the imports) and exits after warm.idle_s seconds without a request. Only the user who owns
it may connect (the socket lives in .make/warm/, mode 0700, and peer credentials are checked).
`make ... COLD=1` runs every stage without it.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import select
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable

# os.path rather than pathlib, and marshal rather than json: the client starts for every stage and
# command make runs, and those imports were a third of its start-up
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
HOME = ".make/warm"  # relative to ROOT: a Unix socket path must stay under 108 bytes
# A folder (absolute, short) where workers live instead, shared by every clone that names it: the
# tests' many copies of the project share one worker per key this way. A forked stage reads its
# project's code from its own working directory, so which clone started the worker does not matter.
SHARED = "CLOCKWORK_WARM_DIR"
# environment variables read when those libraries are imported (thread pools, hashing, search paths)
STEERING = ("OMP_", "OPENBLAS_", "MKL_", "BLIS_", "NUMEXPR_", "VECLIB_", "PYTHONHASHSEED", "PYTHONPATH", "PYTHONHOME")
LENGTH = struct.Struct("!I")
CODE = struct.Struct("!i")


def key() -> str:
    """What a worker's imports depend on; a different key is a different worker."""
    import sysconfig

    site = sysconfig.get_paths()["purelib"]
    mine = os.stat(__file__)
    # the interpreter and the venv as they resolve: clones that link one .venv share a worker
    facts = [os.path.realpath(sys.executable), os.path.realpath(sys.prefix), sys.version, str(os.stat(site).st_mtime_ns),
             str(mine.st_mtime_ns), str(mine.st_size),
             *sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(STEERING))]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


def home() -> str:
    """Where the workers' sockets, locks and logs live."""
    return os.environ[SHARED] if os.environ.get(SHARED) else os.path.join(ROOT, HOME)


def socket_name(k: str) -> str:
    """The socket's path: absolute in a shared folder, else relative to the root (AF_UNIX paths are short)."""
    return os.path.join(home(), f"{k}.sock") if os.environ.get(SHARED) else f"{HOME}/{k}.sock"


def _at_root(call, *args):  # noqa: ANN001, ANN202 - bind/connect a relative path from the repository root
    if os.environ.get(SHARED):  # an absolute path: no need to stand anywhere (the starting clone may be gone)
        return call(*args)
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        return call(*args)
    finally:
        os.chdir(here)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the client's process and run its module; never returns."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    # Ctrl-C as the client has it, not as the worker had it when it started (a worker started from a
    # background job ignores SIGINT; a later foreground client's stage must not).
    signal.signal(signal.SIGINT, signal.SIG_IGN if request.get("sigint_ignored") else signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["env"])
    for name in [m for m in sys.modules if m == "scripts" or m.startswith("scripts.")]:
        del sys.modules[name]  # this project's code is read afresh, as a cold run reads it
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("scripts")]
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
    sys.stdout = open(1, "w", buffering=-1 if not os.isatty(1) else 1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.argv = list(request["argv"])
    sys.executable = request.get("executable", sys.executable)  # the client's path to the same interpreter
    sys.path[0] = request["cwd"]
    code = _run(request["module"])
    os._exit(code)


def _run(module: str) -> int:
    """Run module as __main__ and return its exit status, as the interpreter would report it."""
    import atexit
    import runpy
    import traceback

    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except KeyboardInterrupt:
        code = 128 + signal.SIGINT
    except BaseException:  # noqa: BLE001 - report it as python would, then exit 1
        traceback.print_exc()
        code = 1
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - a closed pipe at exit is the client's business
        pass
    return code


def _handle(conn: socket.socket) -> None:
    """In a forked handler: receive one request, fork the child that runs it, relay signals to it,
    and send back its exit status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    if struct.unpack("3i", creds)[1] != os.getuid():
        return
    head, fds, _, _ = socket.recv_fds(conn, LENGTH.size, 3)
    request = marshal.loads(_recv_exact(conn, LENGTH.unpack(head)[0]))  # same interpreter: the key holds its version
    conn.sendall(b"+")  # accepted: from here on the request runs here
    began = time.monotonic()
    pid = os.fork()
    if pid == 0:
        conn.close()
        _child(request, fds)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([conn, pidfd], [], [])
        if pidfd in ready:
            break
        sent = conn.recv(1)
        os.kill(pid, sent[0] if sent else signal.SIGTERM)  # the client's signal, or the client is gone
        if not sent:
            os.waitpid(pid, 0)
            return
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 128 - status if status < 0 else status
    _note(f"ran {' '.join(request['argv'][:2])} in {time.monotonic() - began:.3f} s: exit {code}")
    conn.sendall(CODE.pack(code))


def serve(k: str, idle_s: float, listening: Callable[[], None]) -> None:
    """The worker: import the libraries, then fork a handler per connection until idle_s of quiet.
    listening() is called once the socket accepts connections (it releases the start lock)."""
    from scripts.core.preload import REMOTE_LIBRARIES, import_libraries

    began = time.monotonic()
    import_libraries(REMOTE_LIBRARIES)
    path = socket_name(k)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _at_root(server.bind, path + ".new")
    _at_root(os.replace, path + ".new", path)
    identity = _at_root(os.stat, path).st_ino
    server.listen(64)
    listening()
    _note(f"worker {os.getpid()} ready at {path} after {time.monotonic() - began:.2f} s of imports")
    server.settimeout(min(1.0, idle_s))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # handlers are reaped by the kernel
    quiet_since = time.monotonic()
    try:
        while time.monotonic() - quiet_since < idle_s and _still_mine(path, identity):
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            quiet_since = time.monotonic()
            if os.fork() == 0:
                server.close()
                try:
                    _handle(conn)
                finally:
                    os._exit(0)
            conn.close()
    finally:
        if _still_mine(path, identity):
            _at_root(os.unlink, path)


def _note(line: str) -> None:
    """One line in the worker's log (its stdout, opened for appending)."""
    os.write(1, f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}\n".encode())


def _still_mine(path: str, identity: int) -> bool:
    """The socket file is still this worker's (not removed with its folder, not replaced by another)."""
    try:
        return _at_root(os.stat, path).st_ino == identity
    except FileNotFoundError:
        return False


def _send(conn: socket.socket, argv: list[str]) -> None:
    request = marshal.dumps({"module": argv[1], "argv": [argv[1], *argv[2:]], "cwd": os.getcwd(), "executable": sys.executable,
                             "umask": _umask(), "env": dict(os.environ),
                             "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN})
    socket.send_fds(conn, [LENGTH.pack(len(request))], [0, 1, 2])
    conn.sendall(request)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _wait(conn: socket.socket) -> int:
    """The child's exit status, relaying SIGINT, SIGTERM and SIGHUP to it meanwhile."""
    def relay(signum: int, _frame: object) -> None:
        try:
            conn.sendall(bytes([signum]))
        except OSError:
            pass
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, relay)
    return CODE.unpack(_recv_exact(conn, CODE.size))[0]


def _connect(k: str) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _at_root(conn.connect, socket_name(k))
        return conn
    except (FileNotFoundError, ConnectionRefusedError):
        conn.close()
        return None


def _start(k: str) -> bool:
    """Start a worker in the background (its own session, so Ctrl-C in make's terminal spares it);
    True if this call started it. If another client is starting one, wait until it listens."""
    import fcntl
    import subprocess

    folder = home()
    os.makedirs(folder, mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    with open(os.path.join(folder, f"{k}.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a worker is importing: it lets go of the lock once it listens
            fcntl.flock(lock, fcntl.LOCK_EX)
            return False
        if _connect(k) is not None:
            return False
        log = open(os.path.join(folder, f"{k}.log"), "ab")  # noqa: SIM115 - handed to the worker
        subprocess.Popen([_interpreter(), "-m", "scripts.core.warm", "--serve", k], cwd=ROOT, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=log, start_new_session=True, pass_fds=(lock.fileno(),),
                         env={**os.environ, "CLOCKWORK_WARM_LOCK": str(lock.fileno())})
        return True


def _interpreter() -> str:
    """This interpreter through the venv's resolved path, so the worker's imports never go through
    the starting clone (a clone that links the .venv of another may be removed while it runs)."""
    resolved = os.path.join(os.path.realpath(sys.prefix), "bin", os.path.basename(sys.executable))
    return resolved if os.path.exists(resolved) else sys.executable


def _ask(conn: socket.socket, argv: list[str]) -> int | None:
    """Run argv in the worker on conn; None if it was leaving and did not take the request."""
    try:
        _send(conn, argv)
        if conn.recv(1) != b"+":
            return None
    except OSError:
        return None
    try:
        return _wait(conn)
    except ConnectionError:
        print("warm worker: it stopped while running the stage; run make again (or with COLD=1)", file=sys.stderr)
        return 1


def client(argv: list[str]) -> int:
    """Run `-m module args` in the warm worker. With none running, start one and run this stage cold
    meanwhile (it would wait as long for the imports); while one is starting, wait for it."""
    k = key()
    conn = _connect(k)
    if conn is None and not _start(k):
        conn = _connect(k)
    if conn is not None:
        code = _ask(conn, argv)
        if code is not None:
            return code
    os.execv(sys.executable, [sys.executable, *argv])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        from scripts.core.config import load_params

        lock = int(os.environ.pop("CLOCKWORK_WARM_LOCK"))
        serve(argv[1], load_params(sections=("warm",))["warm"]["idle_s"], lambda: os.close(lock))
        return 0
    if len(argv) < 2 or argv[0] != "-m":
        print("usage: python -m scripts.core.warm -m MODULE [ARGS...]", file=sys.stderr)
        return 2
    return client(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
