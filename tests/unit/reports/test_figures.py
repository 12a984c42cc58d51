"""Figures of a group: sums combined, rates derived last (values read as ``schemas.units``
spells them: tests/unit/schemas/test_units.py)."""

from __future__ import annotations

import pytest

from reports.figures import Figures, combine, vendor_key
from tests.unit.reports.rows import HUASHU, IN_HOUSE, MEDICAL, sums


def test_combine_sums_counts_and_keeps_the_maxima() -> None:
    rows = [
        sums(
            project_id=MEDICAL, tasks_submitted=12, handle_time_sum_s=300.5, handle_time_max_s=90.0
        ),
        sums(
            project_id=MEDICAL, tasks_submitted=8, handle_time_sum_s=99.5, handle_time_max_s=140.0
        ),
    ]
    total = combine(rows)
    assert total["tasks_submitted"] == 20
    assert total["handle_time_sum_s"] == 400.0
    assert total["handle_time_max_s"] == 140.0  # the larger, not 230
    assert total["audits"] == 0


def test_combine_of_nothing_is_all_zero_and_has_no_rates() -> None:
    figures = Figures(combine([]), 3600)
    assert set(figures.sums.values()) == {0.0}
    assert figures.rate("audit_pass_rate") is None
    assert figures.rate("aht_s") is None
    assert figures.rate("throughput_per_hour") == 0.0


def test_rates_divide_summed_numerators_by_summed_denominators() -> None:
    # Two groups: 9 of 10 audits approved, and 10 of 40. The rate of the whole is
    # 19 / 50 = 0.38, not the mean of the two rates (0.575).
    figures = Figures(
        combine(
            [
                sums(audits=10, audits_approved=9, tasks_submitted=30, handle_time_sum_s=600.0),
                sums(audits=40, audits_approved=10, tasks_submitted=10, handle_time_sum_s=1000.0),
            ]
        ),
        seconds=1800,
    )
    assert figures.rate("audit_pass_rate") == pytest.approx(0.38)
    assert figures.rate("aht_s") == pytest.approx(40.0)  # 1600 s / 40 tasks
    assert figures.rate("throughput_per_hour") == pytest.approx(80.0)  # 40 tasks in half an hour
    assert figures.samples("audit_pass_rate") == 50
    assert figures.samples("gold_accuracy") == 0


def test_throughput_of_a_span_without_length_is_undefined() -> None:
    assert Figures(combine([sums(tasks_submitted=5)]), 0).rate("throughput_per_hour") is None


def test_vendor_key_names_in_house_staff_and_machine_labels() -> None:
    assert vendor_key({"vendor_id": HUASHU, "source": "human"}) == "华数标注"
    assert vendor_key({"vendor_id": IN_HOUSE, "source": "human"}) == "(in-house)"
    assert vendor_key({"vendor_id": None, "source": "hybrid"}) == "(in-house)"
    assert vendor_key({"vendor_id": HUASHU, "source": "machine"}) == "(machine labels)"
