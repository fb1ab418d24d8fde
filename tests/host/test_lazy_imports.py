"""The host's start-up measures (host/lazy_imports.py): what they promise, held in real
interpreters, since a later import anywhere in the host can quietly undo them."""

from __future__ import annotations

import ast
import gc
import subprocess
import sys
import threading

from host.lazy_imports import collector_paused
from tests.testbed.hostproc import REPO


def _python(code: str) -> dict:
    """Run `code` in a fresh interpreter from the repository; it prints one dict's repr
    (not JSON: `import json` would load what the probe looks for)."""
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout)


def test_collector_off_in_the_block_back_on_after_and_what_was_built_frozen():
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    try:
        with collector_paused():
            assert not gc.isenabled()
            built = [[i] for i in range(1000)]  # noqa: F841 (objects the block made)
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + 1000
    finally:
        gc.unfreeze()  # this test process's own objects go back to the collector


def test_a_collector_turned_off_before_stays_off():
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_blocks_overlapping_on_two_threads_leave_the_collector_on():
    # The main thread imports at start while the card worker may import python-pkcs11.
    inner_entered, outer_left = threading.Event(), threading.Event()

    def worker():
        with collector_paused():
            inner_entered.set()
            outer_left.wait(10)

    try:
        with collector_paused():
            thread = threading.Thread(target=worker)
            thread.start()
            assert inner_entered.wait(10)
        outer_left.set()
        thread.join(10)
        assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_card_layer_loads_with_the_collector_on_after_and_without_asn1crypto():
    # What the first card command does (host.__main__._card), in a fresh interpreter.
    got = _python(
        "import gc, sys\n"
        "from host import __main__ as main, config\n"
        "main._card(config.Settings())\n"
        "print(repr({'enabled': gc.isenabled(), 'frozen': gc.get_freeze_count(),\n"
        "                  'pkcs11': 'pkcs11._pkcs11' in sys.modules,\n"
        "                  'asn1crypto': any(m.startswith('asn1crypto') for m in sys.modules)}))\n")
    assert got["enabled"], "the collector stayed off after the card layer's import"
    assert got["frozen"] > 10000, "python-pkcs11's classes and enums were not frozen"
    assert got["pkcs11"]
    assert not got["asn1crypto"], "python-pkcs11's key-encoding helpers were loaded eagerly"


def test_status_loads_neither_python_pkcs11_nor_pyscards_python_layers():
    # What a `status` loads, in a fresh interpreter: the loop's modules, then the handler.
    got = _python(
        "import sys\n"
        "from host import config, service\n"
        "from host.handlers import Handlers\n"
        "def no_card(): raise AssertionError('status made the card layer')\n"
        "answer = Handlers(config.Settings(), no_card).status()\n"
        "print(repr({'answer': sorted(answer), 'heavy': sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] in ('pkcs11', 'smartcard', 'typing', 'json', 're')\n"
        "    and m != 'smartcard.scard._scard')}))\n")
    assert got["answer"] == ["pcsc", "pkcs11", "protocol", "version"]
    assert got["heavy"] == [], f"status now loads {got['heavy']}"
