"""`./run bench`: every benchmark, each printing its figures beside a baseline measured in
the same run. Exit status 1 when a target is missed (the figures are printed anyway)."""

from __future__ import annotations

import importlib
import sys
import time

# (module, what it measures)
BENCHMARKS = [
    ("tests.bench.host", "native host: cold status, cold list+authenticate, warm authenticate, RSS"),
    ("tests.bench.frozen", "frozen host: cold status beside the source host's"),
    ("tests.bench.verify", "verifier: verifications per second beside the bare signature check"),
    ("tests.bench.extension", "extension: click to token beside the warm host authenticate"),
]


def main(argv: list[str]) -> int:
    chosen = [b for b in BENCHMARKS if not argv or any(a in b[0] for a in argv)]
    failed = []
    for name, what in chosen:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"\n== {name}: not present in this checkout ==")
                failed.append(name)
                continue
            raise
        print(f"\n#### {what}", flush=True)
        started = time.monotonic()
        status = module.main()
        print(f"({name} took {time.monotonic() - started:.0f} s)", flush=True)
        if status:
            failed.append(name)
    if failed:
        print(f"\ntargets missed or benchmark missing: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
