"""A real PC/SC stack of our own: pcscd with vpcd virtual readers, and cards on cue.

Each `Pcscd` is a private daemon: its own client socket (given to pcscd by systemd-style
socket activation, and to clients through PCSCLITE_CSOCK_NAME) and its own vpcd TCP
ports, so test runs never touch the machine's pcscd nor each other.

A `VirtualCard` speaks the vpcd protocol (2-byte big-endian length, then the payload;
one-byte control messages 0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR;
anything else is an APDU). Connecting it to a reader's port inserts the card;
closing the connection removes it.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"

ATR_CPS3 = bytes.fromhex("3BAC00402A00122500648000031000 9000".replace(" ", ""))
ATR_CPS3_CONTACTLESS = bytes.fromhex("3B8F8001 0031B86404B0ECC17394018082 90000E".replace(" ", ""))
ATR_CPS4 = bytes.fromhex("3B9B188001001225006480040100009044")
ATR_VITALE = bytes.fromhex("3F6525082004689000")

ApduHandler = Callable[[bytes], bytes]


def require_pcsc_parts() -> None:
    missing = [p for p in ("/usr/sbin/pcscd", VPCD_DRIVER) if not Path(p).exists()]
    if missing:
        raise RuntimeError(f"PC/SC test parts missing: {missing} (Debian packages pcscd and "
                           "vsmartcard-vpcd; ./run setup installs them)")


def free_port_pair() -> int:
    """A base port p with p and p+1 free (vpcd gives reader N the port base+N)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            with socket.socket() as s2:
                s2.bind(("127.0.0.1", base + 1))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port pair for vpcd")


class Pcscd:
    """A private pcscd. `env` is what a client process needs to talk to it."""

    def __init__(self, readers: int = 2, workdir: Path | None = None,
                 friendly_name: bytes = b"Virtual PCD"):
        require_pcsc_parts()
        self.friendly_name = friendly_name  # bytes: a driver may name its reader in any encoding
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="cpsbridge-pcscd-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket_path = self.dir / "pcscd.comm"
        self.base_port = free_port_pair()
        self.readers = readers
        self.proc: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def reader_name(self, index: int) -> str:
        return f"{self.friendly_name.decode('utf-8', 'replace')} 00 {index:02d}"

    def port(self, index: int) -> int:
        return self.base_port + index

    def start(self) -> "Pcscd":
        conf = self.dir / "reader.conf"
        # vpcd opens `readers` consecutive ports from the one in DEVICENAME; Debian's build
        # registers two readers per entry.
        if self.readers:
            conf.write_bytes(b'FRIENDLYNAME "' + self.friendly_name + b'"\n' + (
                f"DEVICENAME /dev/null:0x{self.base_port:04X}\n"
                f"LIBPATH {VPCD_DRIVER}\nCHANNELID 0x{self.base_port:04X}\n").encode())
        else:
            conf.write_text("# no reader\n")
        if self.socket_path.exists():
            self.socket_path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        listener.listen(64)
        fd = listener.fileno()
        log = open(self.dir / "pcscd.log", "wb")
        # LISTEN_PID must be pcscd's own pid: the shell sets it to $$ and then execs.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec 3<&{fd}; LISTEN_FDS=1 LISTEN_PID=$$ exec /usr/sbin/pcscd '
                         f'--foreground --config "{conf}"'],
            pass_fds=(fd,), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        listener.close()
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 10.0) -> None:
        if not self.readers:
            return  # clients queue on the listening socket until pcscd accepts
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited: {(self.dir / 'pcscd.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port(0)), timeout=0.2):
                    pass  # vpcd accepts; close at once counts as a short insert/remove
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"pcscd's vpcd port {self.port(0)} did not open in {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def __enter__(self) -> "Pcscd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def answer_nothing(apdu: bytes) -> bytes:
    """A card that knows no command: 6D00 (INS not supported)."""
    return b"\x6d\x00"


PCSCD_POLL_SETTLE = 0.9  # pcscd polls a vpcd reader every 0.4 s: two polls and a margin


class VirtualCard:
    """A card in a vpcd reader: `insert()` connects, `remove()` disconnects.

    Both return only once pcscd has noticed, so that consecutive tests never see each
    other's cards: insertion is settled when pcscd has powered the card, read its ATR and
    polled it once more; removal when vpcd's next presence poll has read our end of stream.
    """

    def __init__(self, atr: bytes = ATR_CPS3, handler: ApduHandler = answer_nothing,
                 trace: list[tuple[bytes, bytes]] | None = None):
        self.atr = atr
        self.handler = handler
        self.trace = trace if trace is not None else []
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None
        self.powered = False
        self.settled = threading.Event()
        self._stage = 0
        self._departing = False
        self._polled_while_departing = False

    def insert(self, pcscd: Pcscd, reader: int = 0, timeout: float = 10.0) -> "VirtualCard":
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", pcscd.port(reader)), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._serve, args=(self.sock,), daemon=True)
        self.thread.start()
        if not self.settled.wait(max(0.1, deadline - time.monotonic())):
            raise RuntimeError(f"pcscd did not power the card in {pcscd.reader_name(reader)} "
                               f"within {timeout}s: {(pcscd.dir / 'pcscd.log').read_text()[-1500:]}")
        return self

    def remove(self, timeout: float = 10.0) -> None:
        sock, self.sock = self.sock, None
        self._departing = True
        if sock is None:
            return
        try:
            sock.shutdown(socket.SHUT_WR)  # vpcd's next poll reads end-of-stream and hangs up
        except OSError:
            pass
        if self.thread is not None:
            self.thread.join(timeout)
        sock.close()
        if not self._polled_while_departing:
            time.sleep(PCSCD_POLL_SETTLE)  # dropped mid-command: let pcscd poll the empty reader

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    return
                (size,) = struct.unpack(">H", head)
                msg = _recv_exact(sock, size)
                if msg is None:
                    return
                reply = self._answer(msg)
                if reply is not None:
                    sock.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            return

    def _answer(self, msg: bytes) -> bytes | None:
        if self._departing:
            self._polled_while_departing |= msg == b"\x04"
            return None
        if len(msg) == 1:
            code = msg[0]
            if code == 0x00:
                self.powered = False
                return None
            if code in (0x01, 0x02):
                self.powered = True
                self._stage = 1
                return None
            if code == 0x04:
                if self._stage:  # power-up's ATR read (1), then a presence poll (2): settled
                    self._stage = (self._stage + 1) % 3
                    if not self._stage:
                        self.settled.set()
                return self.atr
            return None
        response = self.handler(msg)
        self.trace.append((msg, response))
        return response


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        # vpcd sends a length and its payload in two writes; without a quick ACK, Nagle on
        # its side waits for our delayed ACK: 40 ms per APDU.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def client_env(pcscd: Pcscd) -> dict[str, str]:
    return dict(os.environ, **pcscd.env)
