"""Talk to a real host process over stdio, as a browser does."""

from __future__ import annotations

import itertools
import json
import os
import queue
import struct
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCE_HOST = [str(REPO / ".venv" / "bin" / "python"), "-m", "host"]
CHROME_ARGS = ["chrome-extension://ojnpopkpgdnmkpgbnihogpenoomlejcb/"]


def host_command() -> list[str]:
    """The host under test: the executable named by CPSBRIDGE_TEST_HOST (e.g. the frozen
    dist/host/cpsbridge-host, see tests/deploy/test_frozen.py), else the source host."""
    chosen = os.environ.get("CPSBRIDGE_TEST_HOST")
    return [chosen] if chosen else SOURCE_HOST


def encode(obj) -> bytes:
    body = json.dumps(obj).encode()
    return struct.pack("=I", len(body)) + body


class HostProcess:
    """A running host. `request()` sends one request and waits for its response; events
    (after `watch`) and responses are read by a thread into queues."""

    def __init__(self, env: dict[str, str], command: list[str] | None = None,
                 args: list[str] | None = None, cwd: Path = REPO):
        self.proc = subprocess.Popen([*(command or host_command()), *(args or CHROME_ARGS)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=cwd)
        self.responses: dict[str, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        self.unmatched: queue.Queue = queue.Queue()
        self.raw_stdout = bytearray()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr_lines: list[bytes] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            head = out.read(4)
            if len(head) < 4:
                self.raw_stdout += head
                return
            (size,) = struct.unpack("=I", head)
            body = out.read(size)
            self.raw_stdout += head + body
            msg = json.loads(body)
            if "event" in msg:
                self.events.put(msg)
            elif msg.get("id") is not None:
                self._queue(msg["id"]).put(msg)
            else:
                self.unmatched.put(msg)

    def _queue(self, rid: str) -> queue.Queue:
        with self._lock:
            return self.responses.setdefault(rid, queue.Queue())

    def send(self, command: str, arguments: dict | None = None, rid: str | None = None) -> str:
        rid = rid or f"r{next(self._ids)}"
        msg = {"id": rid, "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        self.write(encode(msg))
        return rid

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def response(self, rid: str, timeout: float = 30) -> dict:
        return self._queue(rid).get(timeout=timeout)

    def request(self, command: str, arguments: dict | None = None, timeout: float = 30) -> dict:
        return self.response(self.send(command, arguments), timeout)

    def close(self, timeout: float = 5) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()

    def stderr_text(self) -> str:
        return b"".join(self.stderr_lines).decode(errors="replace")

    def __enter__(self) -> "HostProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def one_shot(env: dict[str, str], message: dict, command: list[str] | None = None,
             timeout: float = 30) -> tuple[list[dict], int, bytes]:
    """sendNativeMessage style: one frame in, stdin closed, read all out."""
    p = subprocess.run([*(command or host_command()), *CHROME_ARGS], input=encode(message),
                       capture_output=True, env=env, timeout=timeout, cwd=REPO)
    frames, data = [], p.stdout
    while len(data) >= 4:
        (size,) = struct.unpack("=I", data[:4])
        frames.append(json.loads(data[4:4 + size]))
        data = data[4 + size:]
    return frames, p.returncode, p.stderr


def python() -> str:
    return os.environ.get("CPSBRIDGE_TEST_PYTHON", sys.executable)
