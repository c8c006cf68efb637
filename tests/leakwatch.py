"""What the suite's Seamline processes log and serve is kept, so that the last test can check no password shows.

Every password the suite hands Seamline is registered with ``secret()``; every response (pages, JSON, CSV exports,
streamed or not) passes through ``RecordResponses``; the log records of the test process and the Celery workers' output
land in the same folder. ``tests/test_zz_no_secrets.py`` greps all of it at the end of the run.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

ENV = "SEAMLINE_LEAK_WATCH_DIR"
_lock = threading.Lock()


def folder() -> Path:
    return Path(os.environ[ENV])


def secret(value: str) -> str:
    """Register a password the suite gives Seamline (it must never come back out); return it."""
    if ENV in os.environ:
        with _lock, open(folder() / "secrets.txt", "a", encoding="utf-8") as out:
            out.write(value + "\n")
    return value


def secrets() -> set[str]:
    path = folder() / "secrets.txt"
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line} if path.exists() else set()


def worker_log(name: str):
    """A file for a subprocess's output (a pipe nobody reads would also block a chatty worker)."""
    return open(folder() / f"{name}.log", "ab")


_handler: logging.Handler | None = None


def start(path: Path) -> None:
    """Called once per session: the folder, and a handler that keeps every log record of this process."""
    global _handler
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)
    _handler = logging.FileHandler(path / "test-process.log", encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    _handler.setLevel(logging.DEBUG)
    attach()


def attach() -> None:
    """(Again:) whatever configures logging anew (dictConfig, Celery's set-up) drops the root logger's handlers."""
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)


def _append(chunks: list[bytes]) -> None:
    with _lock, open(folder() / "responses.txt", "ab") as out:
        out.writelines(chunks)


class RecordResponses:
    """Test-only middleware, outermost: keeps each response's status line, headers and body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        head = [f"\n=== {request.method} {request.get_full_path()} {response.status_code}\n".encode()]
        head += [f"{k}: {v}\n".encode() for k, v in response.items()]
        if response.streaming:
            response.streaming_content = self._tee(head, response.streaming_content)
        else:
            _append([*head, b"\n", response.content])
        return response

    @staticmethod
    def _tee(head: list[bytes], content: Iterator[bytes]) -> Iterator[bytes]:
        kept = [*head, b"\n"]
        for chunk in content:
            kept.append(chunk if isinstance(chunk, bytes) else str(chunk).encode())
            yield chunk
        _append(kept)
