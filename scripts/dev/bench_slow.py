"""Slow and idle clients against normal traffic, for `make bench-serve`.

Eight client processes send one reading per fresh connection for `seconds`, first alone (the
baseline) and then while `connections` slow clients each send a request line and then one
header byte a second (started two seconds before, and reconnecting when the server closes
them). Reports both throughputs, their ratio, the p99 latency under the slow clients, and
how many normal requests failed (a 3 s timeout or any status but 200).
"""
from __future__ import annotations

import http.client
import multiprocessing
import socket
import threading
import time

CLIENTS = 8


def _slow(port: int, stop: threading.Event) -> None:
    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
                conn.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            conn.sendall(b"X")
        except OSError:
            conn = None
        stop.wait(1.0)
    if conn is not None:
        conn.close()


def _client(port: int, seconds: float, results: "multiprocessing.Queue", body: str) -> None:
    latencies, failed, deadline = [], 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            conn.close()
            if response.status == 200:
                latencies.append(time.perf_counter() - started)
            else:
                failed += 1
        except OSError:
            failed += 1
    results.put((latencies, failed))


def _traffic(port: int, seconds: float, body: str) -> tuple[list[float], int]:
    results: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(port, seconds, results, body)) for _ in range(CLIENTS)]
    for proc in procs:
        proc.start()
    collected = [results.get() for _ in procs]
    for proc in procs:
        proc.join()
    return sorted(x for latencies, _ in collected for x in latencies), sum(failed for _, failed in collected)


def slow_clients(port: int, connections: int, seconds: float, body: str) -> dict:
    """Requests a second of CLIENTS posting body, before and while connections slow clients trickle bytes."""
    baseline, _ = _traffic(port, seconds, body)
    stop = threading.Event()
    holders = [threading.Thread(target=_slow, args=(port, stop), daemon=True) for _ in range(connections)]
    for holder in holders:
        holder.start()
    time.sleep(2.0)
    latencies, failed = _traffic(port, seconds, body)
    stop.set()
    for holder in holders:
        holder.join(timeout=5)
    rps, base = len(latencies) / seconds, len(baseline) / seconds
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else None
    return {"connections": connections, "seconds": seconds, "baseline_rps": round(base, 1), "rps": round(rps, 1),
            "ratio": round(rps / base, 3) if base else 0.0, "p99_ms": None if p99 is None else round(p99, 2),
            "failed": failed}


def _hold_idle(port: int, connections: int, stop: threading.Event, held: list[int]) -> None:
    """Keep `connections` connections open that never send a byte, opening a new one for each the
    server closes (its header timeout); held[0] is how many are open."""
    import selectors

    selector = selectors.DefaultSelector()

    def connect() -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            selector.register(sock, selectors.EVENT_READ)
        except OSError:
            pass

    for _ in range(connections):
        connect()
    while not stop.is_set():
        for key, _ in selector.select(timeout=0.5):
            selector.unregister(key.fileobj)
            key.fileobj.close()
            connect()
        held[0] = len(selector.get_map())
    for key in list(selector.get_map().values()):
        key.fileobj.close()


def idle_clients(port: int, connections: int, seconds: float, body: str) -> dict:
    """Normal traffic (body posted again and again) while `connections` idle connections are held open (a
    client that connects and says nothing, as many do): its p99 and failures, beside the same traffic alone."""
    baseline, _ = _traffic(port, seconds, body)
    stop, held = threading.Event(), [0]
    holder = threading.Thread(target=_hold_idle, args=(port, connections, stop, held), daemon=True)
    holder.start()
    time.sleep(2.0)
    latencies, failed = _traffic(port, seconds, body)
    open_during = held[0]
    stop.set()
    holder.join(timeout=10)

    def p99(values: list[float]) -> float | None:
        return round(values[min(len(values) - 1, int(len(values) * 0.99))] * 1000, 2) if values else None

    return {"connections": connections, "held": open_during, "seconds": seconds, "baseline_p99_ms": p99(baseline),
            "p99_ms": p99(latencies), "rps": round(len(latencies) / seconds, 1), "failed": failed}
