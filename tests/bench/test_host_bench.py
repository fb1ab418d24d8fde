"""The host benchmark's machinery runs: every figure measured, on a tiny sample. Not a
timing test (the figures are only printed by `./run bench`): this catches a benchmark
that broke, which would otherwise go unnoticed until someone needs its figures."""

from __future__ import annotations

from tests.bench import host


def test_the_host_benchmark_measures_every_figure(capsys):
    figures = host.run(rounds=4)  # one warm block of twenty turns
    assert set(figures) == {*host.TARGETS, *host.FLOORS, "peak RSS (MB)"}
    for name, (value, baseline) in figures.items():
        assert value > 0 and baseline > 0, name
    host.report(figures)
    printed = capsys.readouterr().out
    for name in (*host.TARGETS, "peak RSS (MB)", *(label for label, _ in host.FLOORS.values())):
        assert name in printed, name
