"""Host benchmark: each figure beside a baseline measured in the same run, same machine.

- cold status (spawn -> answer -> exit) vs the same interpreter running `-c pass`;
- cold list-certificates + authenticate vs `pkcs11-tool --login --sign` on the same token;
- warm authenticate in an open host vs an in-process python-pkcs11 login + sign loop;
- peak RSS of the host (VmHWM) after a list and an authenticate.

How it measures, so that a ratio compares the host with its baseline and nothing else:
- rounds are interleaved (baseline, host, baseline, host…), so a burst of load on this
  shared machine lands on both sides of a ratio instead of on one block of runs;
- every process is waited for the same way, by blocking on a pidfd: `Popen.wait(timeout)`
  sleep-polls (1, 2, 4… ms) and would add its own milliseconds to whichever side exits
  a little later;
- the harness talks to the host from one thread (write a frame, read a frame), as the
  browser's own C++ does; a Python reader thread would add its wake-ups to the host.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path

from tests.testbed.hostproc import CHROME_ARGS, REPO, SOURCE_HOST, encode
from tests.testbed.pki import TestPKI
from tests.testbed.softcard import SOFTHSM_MODULE, make_cards

ORIGIN = "https://localhost:8443"
KEY_ID = "e828bd080f8025000001ff001002"
TARGETS = {"cold status": 3.0, "cold list + authenticate": 6.0, "warm authenticate": 1.2,
           "cold status (CPU)": 3.0, "cold list + authenticate (CPU)": 6.0,
           "warm authenticate (CPU)": 1.2}
TIMEOUT = 30.0
# Rows for the reader, without a target: the host beside what no host could avoid.
FLOORS = {
    "python-pkcs11 floor": ("(python-pkcs11 floor)", "start + import + list + sign, no host: "
                            "the least any Python host pays"),
    "warm floor": ("(warm, beside a bare host)", "one thread, JSON, C_GetTokenInfo, login, "
                   "sign, no checks or log: what no Python host over a pipe skips"),
}


class BenchError(RuntimeError):
    pass


def _wait_exit(proc: subprocess.Popen, timeout: float = TIMEOUT) -> int:
    """Block until the process has exited (no sleep-polling), then reap it."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux ≥ 5.3: fall back to the polling wait
        return proc.wait(timeout)
    try:
        if not select.select([fd], [], [], timeout)[0]:
            proc.kill()
            raise BenchError(f"{proc.args[0]} did not exit within {timeout} s")
    finally:
        os.close(fd)
    return proc.wait()


def _read_some(fd: int, deadline: float, most: int = 65536) -> bytes:
    """What fd has (b"" at EOF), waiting for it until the deadline (then BenchError)."""
    if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
        raise BenchError("no answer in time")
    return os.read(fd, most)


def _spawn(cmd: list[str], env: dict) -> subprocess.Popen:
    errors = tempfile.TemporaryFile()  # read only if the process fails
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                            env=env, cwd=REPO)
    proc.stderr_file = errors  # type: ignore[attr-defined]
    return proc


def _failed(proc: subprocess.Popen, what: str) -> BenchError:
    proc.stderr_file.seek(0)  # type: ignore[attr-defined]
    return BenchError(f"{what}: {proc.stderr_file.read()[-500:].decode(errors='replace')}")


def run_once(cmd: list[str], env: dict, data: bytes = b"") -> bytes:
    """Start cmd, give it data on stdin, read its stdout to EOF, wait for its exit."""
    proc = _spawn(cmd, env)
    try:
        proc.stdin.write(data)
        proc.stdin.close()
        out, deadline = bytearray(), time.monotonic() + TIMEOUT
        while chunk := _read_some(proc.stdout.fileno(), deadline):
            out += chunk
        if _wait_exit(proc) != 0:
            raise _failed(proc, f"{cmd[0]} failed")
        return bytes(out)
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()


class _Spoken:
    """A process this thread writes to and reads from; closing its stdin ends it."""

    proc: subprocess.Popen

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            _wait_exit(self.proc)
        finally:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Client(_Spoken):
    """One host process, spoken to synchronously from this thread."""

    READ_SIZE = 4096  # what Chromium's native messaging host reader asks for at a time

    def __init__(self, cmd: list[str], env: dict):
        self.proc = _spawn([*cmd, *CHROME_ARGS], env)
        self._ids = 0
        self._buffer = bytearray()

    def exchange(self, frame: bytes) -> bytes:
        """Write one frame, return the body of the next frame the host writes. Reads as
        the browser does, whatever has arrived up to READ_SIZE at a time, so that a frame
        written at once is read at once."""
        self.proc.stdin.write(frame)
        self.proc.stdin.flush()
        deadline, fd = time.monotonic() + TIMEOUT, self.proc.stdout.fileno()
        buffer = self._buffer
        while len(buffer) < 4 or len(buffer) < 4 + struct.unpack_from("=I", buffer)[0]:
            chunk = _read_some(fd, deadline, self.READ_SIZE)
            if not chunk:
                raise _failed(self.proc, "the host closed its output")
            buffer += chunk
        end = 4 + struct.unpack_from("=I", buffer)[0]
        body = bytes(buffer[4:end])
        del buffer[:end]
        return body

    def frame(self, command: str, arguments: dict | None = None) -> bytes:
        self._ids += 1
        message = {"id": str(self._ids), "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        return encode(message)

    @staticmethod
    def result(body: bytes) -> dict:
        reply = json.loads(body)
        if "result" not in reply:
            raise BenchError(str(reply))
        return reply["result"]

    def request(self, command: str, arguments: dict | None = None) -> dict:
        return self.result(self.exchange(self.frame(command, arguments)))


def _authenticate_args(cid: str) -> dict:
    return {"challengeNonce": base64.b64encode(os.urandom(32)).decode(), "origin": ORIGIN,
            "certificateId": cid, "pin": "1234"}


def cold_status(env: dict, host_cmd: list[str]) -> None:
    out = run_once([*host_cmd, *CHROME_ARGS], env, encode({"id": "s", "command": "status"}))
    if b'"result"' not in out:
        raise BenchError(f"status: {out[:300]!r}")


def cold_list_authenticate(env: dict, host_cmd: list[str], cid: str) -> None:
    with Client(host_cmd, env) as host:
        host.request("list-certificates")
        host.request("authenticate", _authenticate_args(cid))


def pkcs11_tool_sign(env: dict, label: str, data: Path) -> None:
    run_once(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", label, "--login",
              "--pin", "1234", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", KEY_ID,
              "--input-file", str(data), "--output-file", os.devnull], env)


FLOOR = """
import sys
sys.path.insert(0, {repo!r})
import host.lazy_imports
host.lazy_imports.install()
import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag
lib = pkcs11.lib({module!r})
for slot in lib.get_slots(token_present=True):
    token = slot.get_token()
    if not token.flags & TokenFlag.TOKEN_INITIALIZED:
        continue
    with token.open() as s:
        certs = [o[Attribute.VALUE] for o in s.get_objects({{Attribute.CLASS: ObjectClass.CERTIFICATE}})]
    with token.open(user_pin="1234") as s:
        key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex({key_id!r}))
        key.sign(b"m" * 64, mechanism=Mechanism.SHA256_RSA_PKCS)
"""


def python_pkcs11_floor(env: dict) -> None:
    """What any Python host pays before doing anything of its own: start, import
    python-pkcs11 (its asn1crypto helpers deferred, as the host does), list and sign."""
    run_once([sys.executable, "-c", FLOOR.format(repo=str(REPO), module=SOFTHSM_MODULE,
                                                 key_id=KEY_ID)], env)


LOOP = """
import json, os, sys, time
import pkcs11
from pkcs11 import Mechanism, ObjectClass
token = pkcs11.lib({module!r}).get_token(token_label={label!r})
key_id = bytes.fromhex({key_id!r})
for line in sys.stdin:  # one block of n iterations per line: [[wall...], cpu] as one line
    out = []
    cpu = time.thread_time()
    for _ in range(int(line)):
        t = time.perf_counter()
        with token.open(user_pin="1234") as s:
            key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            key.sign(os.urandom(64), mechanism=Mechanism.SHA256_RSA_PKCS)
        out.append(time.perf_counter() - t)
    print(json.dumps([out, time.thread_time() - cpu]), flush=True)
"""


class InProcessLoop(_Spoken):
    """The baseline of the warm figure: python-pkcs11 itself, login + find key + sign +
    logout in a loop, timed inside its own process, in blocks on request."""

    def __init__(self, env: dict, label: str):
        code = LOOP.format(module=SOFTHSM_MODULE, label=label, key_id=KEY_ID)
        self.proc = _spawn([sys.executable, "-c", code], env)

    def block(self, n: int) -> tuple[list[float], float]:
        """The wall time of each of n iterations, and their CPU time in all."""
        self.proc.stdin.write(f"{n}\n".encode())
        self.proc.stdin.flush()
        line, deadline = bytearray(), time.monotonic() + TIMEOUT
        while not line.endswith(b"\n"):
            chunk = _read_some(self.proc.stdout.fileno(), deadline)
            if not chunk:
                raise _failed(self.proc, "the python-pkcs11 loop stopped")
            line += chunk
        times, cpu = json.loads(line)
        return times, cpu


BARE_HOST = """
import base64, hashlib, json, os, struct, sys
import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass
token = pkcs11.lib({module!r}).get_token(token_label={label!r})
key_id = bytes.fromhex({key_id!r})
stdin, out = sys.stdin.buffer, os.fdopen(os.dup(1), "wb", buffering=0)
with token.open() as s:
    certificate = next(s.get_objects({{Attribute.CLASS: ObjectClass.CERTIFICATE,
                                       Attribute.ID: key_id}}))[Attribute.VALUE]
while len(header := stdin.read(4)) == 4:
    request = json.loads(stdin.read(struct.unpack("=I", header)[0]))
    arguments = request.get("arguments", {{}})
    result = {{}}
    if request["command"] == "authenticate":
        token.slot.get_token()  # the PIN flags and the serial, as the contract wants
        with token.open(user_pin=arguments["pin"]) as s:
            key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
            message = b"".join(hashlib.sha256(arguments[k].encode()).digest()
                               for k in ("origin", "challengeNonce"))
            signature = key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS)
        result = {{"token": {{"format": "cpsbridge:1", "algorithm": "RS256",
                            "unverifiedCertificate": base64.b64encode(certificate).decode(),
                            "signature": base64.b64encode(signature).decode()}}}}
    body = json.dumps({{"id": request["id"], "result": result}}).encode()
    out.write(struct.pack("=I", len(body)) + body)
"""


def bare_host(label: str) -> list[str]:
    """A bare Python host: one thread, JSON in, C_GetTokenInfo, login, find the key, sign,
    JSON out over the same pipe; no checks, no log, no cancel. What any Python host pays."""
    return [sys.executable, "-c", BARE_HOST.format(module=SOFTHSM_MODULE, label=label,
                                                    key_id=KEY_ID)]


def cpu_seconds(pid: int) -> float:
    """CPU time of all the process's threads so far, in nanoseconds of precision (the
    scheduler's own count; /proc/<pid>/stat counts in 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            continue
    return total / 1e9


@dataclass
class Warm:
    host: list[float] = field(default_factory=list)  # wall s of each authenticate, written -> read
    loop: list[float] = field(default_factory=list)  # wall s of each loop iteration
    host_cpu: list[float] = field(default_factory=list)  # CPU s per authenticate (all threads), per block
    loop_cpu: list[float] = field(default_factory=list)  # CPU s per loop iteration, per block
    rss_kb: int = 0  # the host's peak RSS
    bare: list[float] = field(default_factory=list)  # wall s of a bare host's authenticate


def warm_figures(env: dict, label: str, cid: str, blocks: int, size: int) -> Warm:
    """An open host's authenticate beside the in-process loop, one of each in turn, in
    `blocks` sets of new processes (one process can be luckier than another in where its
    threads run) of `size` turns each. Taking turns one iteration at a time, not one block
    at a time, matters on this shared machine: its slow spells last longer than a block
    and fall on whichever side ran then (per process medians of the loop alone ranged
    1.6–2.6 ms), so that block turns gave ratios from 0.9 to 1.4 run to run. Frames are
    made before and read after the clock, like the loop's arguments. CPU time counts the
    work of each side, which the waits for a processor that load adds to wall time do not
    inflate. Beside them, for the reader, in the same turns: a bare host (see bare_host),
    what no Python host over a pipe skips."""
    warm = Warm()
    for _ in range(blocks):
        with contextlib.ExitStack() as stack:
            # One after the other: SoftHSM2 fails a C_GetTokenInfo now and then (GeneralError)
            # while another process initialises on the same token.
            loop = stack.enter_context(InProcessLoop(env, label))
            loop.block(3)  # warm
            bare = stack.enter_context(Client(bare_host(label), env))
            host = stack.enter_context(Client(SOURCE_HOST, env))
            host.request("list-certificates")
            for client in (bare, host):
                for _ in range(3):
                    client.request("authenticate", _authenticate_args(cid))
            loop_cpu, host_cpu = 0.0, cpu_seconds(host.proc.pid)
            set_loop: list[float] = []

            def loop_turn() -> None:
                nonlocal loop_cpu
                times, cpu = loop.block(1)
                set_loop.extend(times)
                loop_cpu += cpu

            def turn_of(client: Client, times: list[float]) -> Callable[[], None]:
                def turn() -> None:
                    frame = client.frame("authenticate", _authenticate_args(cid))
                    t = time.perf_counter()
                    body = client.exchange(frame)
                    times.append(time.perf_counter() - t)
                    client.result(body)
                return turn

            turns = [loop_turn, turn_of(bare, warm.bare), turn_of(host, warm.host)]
            for i in range(size):  # each side first in turn: no side keeps one position
                for turn in turns[i % 3:] + turns[:i % 3]:
                    turn()
            warm.loop.extend(set_loop)
            # The host waits on its stdin while the loops run: its CPU is its own turns'.
            warm.host_cpu.append((cpu_seconds(host.proc.pid) - host_cpu) / size)
            warm.loop_cpu.append(loop_cpu / size)
            warm.rss_kb = max(warm.rss_kb, next(
                int(line.split()[1]) for line in
                Path(f"/proc/{host.proc.pid}/status").read_text().splitlines()
                if line.startswith("VmHWM:")))
    return warm


def interleaved(pairs: dict[str, tuple], rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall seconds and CPU seconds (user + system of the child processes, which load on
    the machine inflates less than wall time) of each function, run in turns."""
    import resource

    for fn in (f for pair in pairs.values() for f in pair):
        fn()  # warm the page cache
    wall = {name: ([], []) for name in pairs}
    cpu = {name: ([], []) for name in pairs}
    for _ in range(rounds):
        for name, pair in pairs.items():
            for side, fn in enumerate(pair):
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t = time.perf_counter()
                fn()
                wall[name][side].append(time.perf_counter() - t)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name][side].append(after.ru_utime - before.ru_utime
                                       + after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def run(host_cmd: list[str] | None = None, rounds: int = 40) -> dict[str, tuple[float, float]]:
    host_cmd = host_cmd or SOURCE_HOST
    work = Path(tempfile.mkdtemp(prefix="cpsbridge-bench-"))
    try:
        pki = TestPKI.create()
        hsm = make_cards(work / "hsm", pki, ["dupont"])
        label = hsm.cards["dupont"]
        cid = pki.holders["dupont"].certificate_id
        env = {k: v for k, v in os.environ.items() if not k.startswith("CPSBRIDGE_")}
        env.update(hsm.env(), HOME=str(work), XDG_STATE_HOME=str(work / "state"),
                   CPSBRIDGE_ALLOWED_ORIGINS=ORIGIN, PCSCLITE_CSOCK_NAME=str(work / "no-pcscd"),
                   CPSBRIDGE_SYSTEM_CONFIG=str(work / "none.json"))
        data = work / "m.bin"
        data.write_bytes(os.urandom(64))

        tool = lambda: pkcs11_tool_sign(env, label, data)  # noqa: E731
        m = interleaved({
            "cold status": (lambda: cold_status(env, host_cmd),
                            lambda: run_once([sys.executable, "-c", "pass"], env)),
            "cold list + authenticate": (lambda: cold_list_authenticate(env, host_cmd, cid), tool),
            "python-pkcs11 floor": (lambda: python_pkcs11_floor(env), tool),
        }, rounds)
        warm = warm_figures(env, label, cid, blocks=rounds // 4, size=20)
        figure = lambda kind, name: tuple(_median_ms(s) for s in m[kind][name])  # noqa: E731
        return {
            "cold status": figure("wall", "cold status"),
            "cold list + authenticate": figure("wall", "cold list + authenticate"),
            "cold status (CPU)": figure("cpu", "cold status"),
            "cold list + authenticate (CPU)": figure("cpu", "cold list + authenticate"),
            "warm authenticate": (_median_ms(warm.host), _median_ms(warm.loop)),
            "warm authenticate (CPU)": (_median_ms(warm.host_cpu), _median_ms(warm.loop_cpu)),
            "python-pkcs11 floor": figure("wall", "python-pkcs11 floor"),
            "warm floor": (_median_ms(warm.host), _median_ms(warm.bare)),
            "peak RSS (MB)": (warm.rss_kb / 1024, 40.0),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(figures: dict[str, tuple[float, float]], title: str = "host (source)") -> bool:
    print(f"\n== {title} ==")
    print(f"{'measure':31} {'host':>10} {'baseline':>10} {'ratio':>7} {'target':>8}")
    ok = True
    for name, (value, base) in figures.items():
        if name in FLOORS:
            label, what = FLOORS[name]
            print(f"{label:31} {value:8.2f}ms {base:8.2f}ms {value / base:6.2f}× {'':>8} {what}")
            continue
        if name == "peak RSS (MB)":
            good = value <= base
            print(f"{name:31} {value:10.1f} {'≤ 40 MB':>10} {'':>7} {'ok' if good else 'MISSED':>8}")
        else:
            ratio = value / base
            good = ratio <= TARGETS[name]
            print(f"{name:31} {value:8.2f}ms {base:8.2f}ms {ratio:6.2f}× "
                  f"{'≤ %.1f×' % TARGETS[name]:>8} {'' if good else 'MISSED'}")
        ok &= good
    print("baselines: `<venv python> -c pass`; `pkcs11-tool --login --sign` on the same SoftHSM2 "
          "token; python-pkcs11 login+sign loop in one process. Medians of interleaved rounds; "
          "(CPU) = user+system time of the processes, which load on the machine does not "
          "inflate as it does wall time.")
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return ok


def main() -> int:
    return 0 if report(run()) else 1


if __name__ == "__main__":
    sys.exit(main())
