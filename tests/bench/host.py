"""Host benchmark: each figure beside a baseline measured in the same run, same machine.

- cold status (spawn -> answer -> exit) vs the same interpreter running `-c pass`;
- cold list-certificates + authenticate vs `pkcs11-tool --login --sign` on the same token;
- warm authenticate in an open host vs an in-process python-pkcs11 login + sign loop;
- peak RSS of the host (VmHWM) after a list and an authenticate.
"""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.testbed.hostproc import CHROME_ARGS, REPO, SOURCE_HOST, HostProcess, encode
from tests.testbed.pki import TestPKI
from tests.testbed.softcard import SOFTHSM_MODULE, make_cards

ORIGIN = "https://localhost:8443"
TARGETS = {"cold status": 3.0, "cold list + authenticate": 6.0, "warm authenticate": 1.2,
           "cold status (CPU)": 3.0, "cold list + authenticate (CPU)": 6.0}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _time(fn, runs: int) -> list[float]:
    fn()  # warm the page cache
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _cpu(fn, runs: int) -> list[float]:
    """CPU seconds (user + system) of the child processes fn starts: unlike wall time,
    not inflated by whatever else the machine is running."""
    import resource

    out = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        fn()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return out


def _nonce() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def cold_status(env: dict, host_cmd: list[str]) -> None:
    p = subprocess.run([*host_cmd, *CHROME_ARGS], input=encode({"id": "s", "command": "status"}),
                       capture_output=True, env=env, cwd=REPO, timeout=30)
    assert p.returncode == 0 and b'"result"' in p.stdout, p.stderr[-500:]


def cold_list_authenticate(env: dict, host_cmd: list[str], cid: str) -> None:
    with HostProcess(env, command=host_cmd) as h:
        assert "result" in h.request("list-certificates")
        assert "result" in h.request("authenticate", {
            "challengeNonce": _nonce(), "origin": ORIGIN, "certificateId": cid, "pin": "1234"})


def pkcs11_tool_sign(env: dict, label: str, data: Path) -> None:
    subprocess.run(["pkcs11-tool", "--module", SOFTHSM_MODULE, "--token-label", label, "--login",
                    "--pin", "1234", "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id",
                    "e828bd080f8025000001ff001002", "--input-file", str(data), "--output-file",
                    os.devnull], env=env, check=True, capture_output=True)


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
        key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex("e828bd080f8025000001ff001002"))
        key.sign(b"m" * 64, mechanism=Mechanism.SHA256_RSA_PKCS)
"""


def python_pkcs11_floor(env: dict) -> None:
    """What any Python host pays before doing anything of its own: start, import
    python-pkcs11 (its asn1crypto helpers deferred, as the host does), list and sign."""
    subprocess.run([sys.executable, "-c", FLOOR.format(repo=str(REPO), module=SOFTHSM_MODULE)],
                   env=env, check=True, capture_output=True)


def inprocess_loop(conf: str, label: str, runs: int) -> list[float]:
    """The floor: python-pkcs11 itself, login + find key + sign + logout, no host."""
    code = f"""
import os, sys, time, json
os.environ['SOFTHSM2_CONF'] = {conf!r}
import pkcs11
from pkcs11 import Mechanism, ObjectClass
lib = pkcs11.lib({SOFTHSM_MODULE!r})
token = lib.get_token(token_label={label!r})
out = []
for i in range({runs} + 1):
    t = time.perf_counter()
    with token.open(user_pin='1234') as s:
        key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=bytes.fromhex('e828bd080f8025000001ff001002'))
        key.sign(os.urandom(64), mechanism=Mechanism.SHA256_RSA_PKCS)
    out.append(time.perf_counter() - t)
print(json.dumps(out[1:]))
"""
    import json

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def warm_authenticate(env: dict, cid: str, runs: int) -> tuple[list[float], int]:
    with HostProcess(env) as h:
        h.request("list-certificates")
        h.request("authenticate", {"challengeNonce": _nonce(), "origin": ORIGIN,
                                   "certificateId": cid, "pin": "1234"})
        out = []
        for _ in range(runs):
            t = time.perf_counter()
            r = h.request("authenticate", {"challengeNonce": _nonce(), "origin": ORIGIN,
                                           "certificateId": cid, "pin": "1234"})
            out.append(time.perf_counter() - t)
            assert "result" in r
        rss_kb = next(int(line.split()[1]) for line in
                      Path(f"/proc/{h.proc.pid}/status").read_text().splitlines()
                      if line.startswith("VmHWM:"))
    return out, rss_kb


def run(host_cmd: list[str] | None = None, runs: int = 30) -> dict[str, tuple[float, float]]:
    host_cmd = host_cmd or SOURCE_HOST
    work = Path(tempfile.mkdtemp(prefix="cpsbridge-bench-"))
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

    run_pass = lambda: subprocess.run([sys.executable, "-c", "pass"], check=True)  # noqa: E731
    run_status = lambda: cold_status(env, host_cmd)  # noqa: E731
    run_tool = lambda: pkcs11_tool_sign(env, label, data)  # noqa: E731
    run_cold = lambda: cold_list_authenticate(env, host_cmd, cid)  # noqa: E731
    python_pass, status = _time(run_pass, runs), _time(run_status, runs)
    tool, cold = _time(run_tool, runs // 2), _time(run_cold, runs // 2)
    floor = _time(lambda: python_pkcs11_floor(env), runs // 2)
    cpu = {"cold status (CPU)": (_median_ms(_cpu(run_status, runs)), _median_ms(_cpu(run_pass, runs))),
           "cold list + authenticate (CPU)": (_median_ms(_cpu(run_cold, runs // 2)),
                                              _median_ms(_cpu(run_tool, runs // 2)))}
    loop = inprocess_loop(str(hsm.conf), label, runs * 3)
    warm, rss_kb = warm_authenticate(env, cid, runs * 3)
    return {
        "cold status": (_median_ms(status), _median_ms(python_pass)),
        "cold list + authenticate": (_median_ms(cold), _median_ms(tool)),
        **cpu,
        "warm authenticate": (_median_ms(warm), _median_ms(loop)),
        "python-pkcs11 floor": (_median_ms(floor), _median_ms(tool)),
        "peak RSS (MB)": (rss_kb / 1024, 40.0),
    }


def report(figures: dict[str, tuple[float, float]], title: str = "host (source)") -> bool:
    print(f"\n== {title} ==")
    print(f"{'measure':28} {'host':>10} {'baseline':>10} {'ratio':>7} {'target':>8}")
    ok = True
    for name, (value, base) in figures.items():
        if name == "python-pkcs11 floor":
            print(f"{'(python-pkcs11 floor)':28} {value:8.2f}ms {base:8.2f}ms {value / base:6.2f}× "
                  f"{'':>8} start + import + list + sign, no host: the least any Python host pays")
            continue
        if name == "peak RSS (MB)":
            good = value <= base
            print(f"{name:28} {value:10.1f} {'≤ 40 MB':>10} {'':>7} {'ok' if good else 'MISSED':>8}")
        else:
            ratio = value / base
            good = ratio <= TARGETS[name]
            print(f"{name:28} {value:8.2f}ms {base:8.2f}ms {ratio:6.2f}× "
                  f"{'≤ %.1f×' % TARGETS[name]:>8} {'' if good else 'MISSED'}")
        ok &= good
    print("baselines: `<venv python> -c pass`; `pkcs11-tool --login --sign` on the same SoftHSM2 "
          "token; python-pkcs11 login+sign loop in one process. Medians; (CPU) = user+system time "
          "of the processes, which load on the machine does not inflate as it does wall time.")
    print(f"load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    return ok


def main() -> int:
    return 0 if report(run()) else 1


if __name__ == "__main__":
    sys.exit(main())
