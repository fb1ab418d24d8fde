"""The reference ViaTrajectoire site as a real process, for every suite and the demo.

    site = SiteProcess(data_dir, trust_dir, revocation="off").start()
    requests.get(site.url, verify=site.ca_cert_path)
    site.outbox()   # the e-mails and SMS the site sent (its outbox folder)
    site.stop()
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class OutboxMessage:
    canal: str  # "email" or "sms"
    to: str
    subject: str
    body: str
    links: list[str]
    id: str
    date: str


@dataclass
class SiteProcess:
    data_dir: Path
    trust_dir: Path
    port: int | None = None
    revocation: str = "off"
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    _log: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def url(self) -> str:
        return self.origin + "/"

    @property
    def ca_cert_path(self) -> Path:
        return self.data_dir / "tls-cert.pem"

    def start(self, timeout: float = 30.0) -> "SiteProcess":
        self.port = self.port or _free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [PYTHON, "-m", "server.site", "--port", str(self.port), "--data", str(self.data_dir),
             "--trust", str(self.trust_dir), "--revocation", self.revocation,
             "--origin", self.origin, *self.extra_args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the site exited ({self.proc.returncode}):\n{self.log()}")
            if self.ca_cert_path.exists():
                try:
                    requests.get(self.url, verify=str(self.ca_cert_path), timeout=2)
                    return self
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the site did not answer within {timeout} s:\n{self.log()}")

    def _drain(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self._log.append(line)

    def log(self) -> str:
        return "".join(self._log)

    def outbox(self) -> list[OutboxMessage]:
        box = self.data_dir / "outbox"
        found = []
        for path in sorted(box.glob("*.json")) if box.is_dir() else []:
            data = json.loads(path.read_text("utf-8"))
            found.append(OutboxMessage(**{k: data[k] for k in OutboxMessage.__dataclass_fields__}))
        return found

    def create_account(self, identifiant: str, email: str, nom: str = "", prenom: str = "",
                       env: dict[str, str] | None = None,
                       **options: str | bool) -> subprocess.CompletedProcess:
        """What a référent does: `python -m server.site create-account ...`."""
        args = [PYTHON, "-m", "server.site", "create-account", "--data", str(self.data_dir),
                "--origin", self.origin, "--identifiant", identifiant, "--email", email,
                "--nom", nom, "--prenom", prenom]
        for key, value in options.items():  # True: a flag such as --referent
            args += [f"--{key}"] if value is True else [f"--{key}", value]
        return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, env=env)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "SiteProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # a quick look by hand: python -m tests.testbed.site DATA TRUST
    site = SiteProcess(Path(sys.argv[1]), Path(sys.argv[2])).start()
    print(site.url, site.ca_cert_path)
    try:
        site.proc.wait()
    except KeyboardInterrupt:
        site.stop()
