"""Rules and silences files: aliases are counted once expanded, and a bomb is refused unexpanded.

The assertions are on the refusal itself (the node limit named in the error),
not on how long it took: the limit is what makes the time bounded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.rules import RulesError, check_file, load_rules, parse_rules
from alerts.silences import SilencesError, load_silences
from annotel.cli import build_parser
from schemas.yaml_load import MAX_NODES, YamlTooLarge, expanded_size, load_bounded


def laughs(levels: int = 9, fan_out: int = 9) -> str:
    """The classic "billion laughs": each level lists the previous one ``fan_out`` times."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = ["version: 1", "a: &a [" + ",".join(["lol"] * fan_out) + "]"]
    for level in range(1, levels):
        items = ",".join([f"*{names[level - 1]}"] * fan_out)
        lines.append(f"{names[level]}: &{names[level]} [{items}]")
    lines.append("rules: [" + ",".join([f"*{names[levels - 1]}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


BOMB = laughs()


def test_the_bomb_is_small_and_would_expand_past_a_billion() -> None:
    assert len(BOMB.encode()) <= 410
    root = yaml.compose(BOMB, Loader=yaml.SafeLoader)
    assert root is not None
    assert expanded_size(root, limit=10**12) > 10**9  # counted over the shared nodes, quickly


def test_a_bomb_is_refused_by_the_node_limit() -> None:
    with pytest.raises(YamlTooLarge, match=f"more than {MAX_NODES:,} nodes"):
        load_bounded(BOMB)


def test_rules_check_and_load_report_the_bomb(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(BOMB)
    [problem] = check_file(path)
    assert problem.startswith("YAML refused: aliases expand the document to more than 100,000")
    with pytest.raises(RulesError, match="more than 100,000 nodes"):
        load_rules(path)
    args = build_parser().parse_args(["rules", "check", str(path)])
    assert args.func(args) == 1


def test_a_silences_file_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silences.yaml"
    path.write_text(laughs().replace("version: 1\n", "").replace("rules:", "items:"))
    with pytest.raises(SilencesError, match="more than 100,000 nodes"):
        load_silences(path)


def test_a_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlTooLarge, match="recursive alias at line 1"):
        load_bounded("a: &a [1, *a]\n")
    with pytest.raises(YamlTooLarge, match="recursive alias"):
        load_bounded("a: &a {b: {c: *a}}\n")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(YamlTooLarge, match="nested too deeply"):
        load_bounded("[" * 5_000 + "]" * 5_000)


def test_expanded_size_counts_every_alias_use() -> None:
    root = yaml.compose("a: &x [1, 2]\nb: *x\nc: [*x, *x]\n", Loader=yaml.SafeLoader)
    assert root is not None
    # mapping 1 + keys a, b, c (3) + [1, 2] three-node list used 4 times (12) + list c (1)
    assert expanded_size(root) == 17
    with pytest.raises(YamlTooLarge, match="more than 16 nodes"):
        expanded_size(root, limit=16)


def test_the_limit_is_exact() -> None:
    root, data = load_bounded("[" + ", ".join(["1"] * 999) + "]", limit=1000)
    assert root is not None and len(data) == 999
    with pytest.raises(YamlTooLarge):
        load_bounded("[" + ", ".join(["1"] * 1000) + "]", limit=1000)


def test_ordinary_aliases_still_work() -> None:
    ruleset = parse_rules(
        """
version: 1
rules:
  - name: a
    metric: audit_pass_rate
    window: 5m
    op: "<"
    threshold: 0.8
    annotations: &notes {summary: "pass rate {value:.0%}"}
    receivers: &to [log]
  - name: b
    metric: gold_accuracy
    window: 5m
    op: "<"
    threshold: 0.9
    annotations: *notes
    receivers: *to
receivers:
  log: {type: stdout}
"""
    )
    assert [r.annotations for r in ruleset.rules] == [{"summary": "pass rate {value:.0%}"}] * 2
    assert [r.receivers for r in ruleset.rules] == [("log",), ("log",)]


def test_line_numbers_survive_the_single_parse(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "version: 1\nrules:\n  - name: r\n    metric: nope\n    window: 5m\n"
        '    op: "<"\n    threshold: 1\n'
    )
    assert check_file(path) == [
        "line 4: rules[0] (r).metric: unknown metric 'nope'; expected one of "
        + check_file(path)[0].split("expected one of ", 1)[1]
    ]
