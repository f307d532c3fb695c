"""The project's own pre-commit hooks: no model binaries, no secrets in config files.

  python -m scripts.dev.hooks no-binaries FILE...   # refuse model artifacts (they are built, not committed)
  python -m scripts.dev.hooks no-secrets FILE...    # refuse secret-looking values in YAML/JSON/TOML/INI/env files

Each finding is one line naming the file (and line) and the problem; any finding exits 1.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

BINARY_SUFFIXES = {".joblib", ".pkl", ".pickle", ".onnx", ".pt", ".pth", ".h5", ".keras", ".safetensors"}
SECRET_KEY = re.compile(r"(?i)\b[\w.-]*(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)[\w.-]*"
                        r"\s*[:=]\s*[\"']?([^\s\"'#,}]+)")
SECRET_VALUE = [
    (re.compile(r"AKIA[0-9A-Z]{16}"), "an AWS access key id"),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "a private key"),
    (re.compile(r"gh[pousr]_[A-Za-z0-9]{36,}"), "a GitHub token"),
    (re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"), "a Slack token"),
]
PLACEHOLDERS = {"null", "none", "~", "''", '""', "changeme", "<redacted>", "${", "env"}


def binary_findings(paths: list[str]) -> list[str]:
    """A model artifact is rebuilt by make train; committing one would bypass its sha256 chain."""
    return [f"{p}: model binary ({Path(p).suffix}); artifacts are built by make train, never committed"
            for p in paths if Path(p).suffix.lower() in BINARY_SUFFIXES]


def secret_findings(path: str, text: str) -> list[str]:
    """Lines that set a secret-named key to a literal value, or that contain a known token shape."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", "//", ";")):
            continue
        match = SECRET_KEY.search(line)
        if match and not any(match.group(2).lower().startswith(p) for p in PLACEHOLDERS):
            found.append(f"{path}:{number}: '{match.group(1)}' set to a literal value; read it from the environment instead")
        for pattern, what in SECRET_VALUE:
            if pattern.search(line):
                found.append(f"{path}:{number}: looks like {what}")
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("no-binaries", "no-secrets"):
        print("usage: python -m scripts.dev.hooks no-binaries|no-secrets FILE...", file=sys.stderr)
        return 2
    command, paths = argv[0], argv[1:]
    if command == "no-binaries":
        findings = binary_findings(paths)
    else:
        findings = []
        for path in paths:
            try:
                findings += secret_findings(path, Path(path).read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                findings.append(f"{path}: cannot read: {exc.strerror}")
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
