"""``python -m bench.memory`` on a small stream: the probe's figures add up and name the state."""

from __future__ import annotations

from bench.memory import FIELDS, probe, render


def test_probe_samples_and_census_on_the_real_stack() -> None:
    result = probe(events=4_000, annotators=50, census_at=2_000, every=0.1)
    assert result["samples"] >= 5
    peak = result["at_peak_sample"]
    assert set(peak) == {*FIELDS, "t"}
    # The inside view is a split of what the process holds, not an estimate beside it.
    assert peak["pymalloc_arenas"] > 0 and peak["glibc_heap"] > 0 and peak["file"] > 0
    assert peak["glibc_heap_used"] <= peak["glibc_heap"]
    assert peak["anon"] == (
        peak["pymalloc_arenas"] + peak["glibc_heap"] + peak["glibc_mapped"] + peak["other_anon"]
    )
    census = result["census"]
    assert census is not None and census["messages"] >= 2_000
    parts = census["parts"]
    # Every accepted event left a dedup mark (an int in a set); windows are held;
    # the alert stage, frozen at start-up, was found.
    assert parts["state.marks.seen"]["objects"] >= 2_000
    assert parts["state.store.windows"]["objects"] > 50
    # Every audit is a piece of work with a version that counts (streams.entities).
    assert parts["state.entities.records"]["objects"] > 100
    assert parts["alerts.evaluator"]["objects"] > 0
    assert census["pymalloc_allocated_mib"] <= census["pymalloc_arenas_mib"]
    text = render(result)
    assert "census after" in text and "pymalloc_arenas" in text
