"""Drive tests.testbed.cardsim.p11driver in a child process."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class P11Client:
    """One PKCS#11 process on OpenSC. `call()` waits for the answer (a timeout turns a
    hang into a failure); `send()`/`answer()` split it when a test acts in between."""

    def __init__(self, env: dict[str, str]):
        module = env["CPSBRIDGE_PKCS11_MODULE"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.testbed.cardsim.p11driver", module],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **env}, cwd=REPO, text=True)
        self._answers: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._answers.put(json.loads(line))
        self._answers.put({"error": "exited", "stderr": self.proc.stderr.read()[-3000:]})

    def send(self, op: str, **args) -> None:
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = 60) -> dict:
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer from the PKCS#11 process in {timeout}s") from None

    def call(self, op: str, timeout: float = 60, **args) -> dict:
        self.send(op, **args)
        return self.answer(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "P11Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
