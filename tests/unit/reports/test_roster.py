"""The roster file: CSV and YAML read alike, every problem reported with its location."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from reports.roster import (
    Member,
    RosterError,
    load_roster,
    members_from_records,
    parse_roster,
    roster_csv,
)

CSV = """annotator_id,display_name,squad,manager,vendor_id,start_date,level,tags
华数-0001,标注员 1 号,华数-一组,华数-组长-1,华数标注,2025-03-03,L2,night-shift;bilingual
apx-0007,Annotator 7,apx-a,apx-lead-1,apex-labeling,,L1,
ih-0012,,ih-a,,,2026-10-26,,
"""

YAML = """version: 1
annotators:
  - annotator_id: 华数-0001
    display_name: 标注员 1 号
    squad: 华数-一组
    manager: 华数-组长-1
    vendor_id: 华数标注
    start_date: 2025-03-03
    level: L2
    tags: [night-shift, bilingual]
  - annotator_id: apx-0007
    display_name: Annotator 7
    squad: apx-a
    manager: apx-lead-1
    vendor_id: apex-labeling
    level: L1
  - {annotator_id: ih-0012, squad: ih-a, start_date: 2026-10-26, tags: []}
"""

EXPECTED = (
    Member(
        "华数-0001",
        "华数-一组",
        "标注员 1 号",
        "华数-组长-1",
        "华数标注",
        date(2025, 3, 3),
        "L2",
        ("night-shift", "bilingual"),
    ),
    Member("apx-0007", "apx-a", "Annotator 7", "apx-lead-1", "apex-labeling", None, "L1", ()),
    Member("ih-0012", "ih-a", "", "", "", date(2026, 10, 26), "", ()),
)


def problems(text: str, name: str = "roster.csv") -> list[str]:
    with pytest.raises(RosterError) as caught:
        parse_roster(text.encode(), name)
    return caught.value.problems


def test_csv_and_yaml_read_the_same_roster() -> None:
    from_csv = parse_roster(CSV.encode(), "roster.csv")
    from_yaml = parse_roster(YAML.encode(), "roster.yaml")
    assert from_csv.members == EXPECTED
    assert from_yaml.members == EXPECTED
    assert from_csv.squads == ["apx-a", "ih-a", "华数-一组"]
    # A spreadsheet's byte-order mark and CRLF line ends are fine; columns in any order.
    bom = ("\ufeff" + "squad,annotator_id\r\napx-a,apx-0001\r\n").encode()
    assert parse_roster(bom, "r.csv").members == (Member("apx-0001", "apx-a"),)


def test_writing_and_reading_back_is_exact() -> None:
    assert parse_roster(roster_csv(EXPECTED).encode(), "again.csv").members == EXPECTED
    records = [
        {
            "annotator_id": "华数-0001",
            "squad": "华数-一组",
            "display_name": "标注员 1 号",
            "manager": "华数-组长-1",
            "vendor_id": "华数标注",
            "start_date": "2025-03-03",
            "level": "L2",
            "tags": ["night-shift", "bilingual"],
        }
    ]
    assert tuple(members_from_records(records)) == EXPECTED[:1]


def test_yaml_values_are_read_as_written() -> None:
    text = """annotators:
  - {annotator_id: 0012, squad: 007, display_name: "null", level: yes}
"""
    member = parse_roster(text.encode(), "r.yml").members[0]
    assert (member.annotator_id, member.squad, member.display_name, member.level) == (
        "0012",
        "007",
        "null",
        "yes",
    )


def test_every_csv_problem_with_its_line() -> None:
    text = (
        "annotator_id,squad,start_date,tags\n"
        "apx-0001,apx-a,2025-02-30,\n"  # line 2: no such day
        ",apx-a,,\n"  # line 3: no id
        "apx-0001,apx-b,,\n"  # line 4: listed twice
        "apx-0002,,26/10/2026,a;;b\n"  # line 5: no squad, a bad date, an empty tag
        "apx-0003,apx-a\n"  # line 6: two fields
        "apx-0004,apx-\u202ea,,\n"  # line 7: a bidi override
    )
    assert problems(text) == [
        "line 2, start_date: start_date '2025-02-30' is not a date (YYYY-MM-DD)",
        "line 3: annotator_id is required",
        "line 4: annotator_id apx-0001 is listed twice (first at line 2)",
        "line 5: squad is required",
        "line 5, tags: an empty tag",
        "line 5, start_date: start_date '26/10/2026' is not a date (YYYY-MM-DD)",
        "line 6: 2 fields, the header names 4",
        "line 7, squad: squad holds a control or invisible format character",
    ]


def test_csv_header_problems() -> None:
    assert problems("annotator_id,team\napx-0001,a\n") == [
        "line 1: unknown column 'team' (columns: annotator_id, display_name, squad, manager, "
        "vendor_id, start_date, level, tags)",
        "line 1: no squad column",
    ]
    assert problems("annotator_id,squad,squad\n") == ["line 1: column squad appears twice"]
    assert problems("") == ["line 1: no header line (the first line names the columns)"]
    assert problems("annotator_id,squad\n") == ["no annotators"]
    assert problems("annotator_id,squad\napx-1," + "x" * 201 + "\n") == [
        "line 2, squad: squad is longer than 200 characters"
    ]


def test_a_gbk_file_is_named_not_misread() -> None:
    data = "annotator_id,squad\n华数-0001,一组\n".encode("gbk")
    with pytest.raises(RosterError) as caught:
        parse_roster(data, "roster.csv")
    assert caught.value.problems == ["line 2: not UTF-8 (save the file as UTF-8; GBK is not read)"]


def test_every_yaml_problem_with_its_line_and_column() -> None:
    text = """version: 2
team: a
annotators:
  - annotator_id: apx-0001
    squad: apx-a
    shift: night
  - annotator_id: apx-0001
    squad: [a, b]
  - just text
  - annotator_id: apx-0002
    squad: apx-a
    tags: night
    start_date: tomorrow
"""
    assert problems(text, "roster.yaml") == [
        "line 1, column 10: version must be 1",
        "line 2, column 1: unknown key 'team' (expected version, annotators)",
        "line 6, column 5: unknown column 'shift' (columns: annotator_id, display_name, "
        "squad, manager, vendor_id, start_date, level, tags)",
        "line 8, column 12: squad must be a text",
        "line 7, column 5: squad is required",
        "line 7, column 5: annotator_id apx-0001 is listed twice (first at line 4, column 5)",
        "line 9, column 5: an annotator is a mapping of columns",
        "line 12, column 11: tags must be a list of texts",
        "line 13, column 17: start_date 'tomorrow' is not a date (YYYY-MM-DD)",
    ]


def test_yaml_shape_and_syntax_problems() -> None:
    assert problems("- a\n- b\n", "r.yaml") == [
        "line 1, column 1: expected a mapping with an annotators list"
    ]
    assert problems("version: 1\n", "r.yaml") == ["line 1: no annotators list"]
    assert problems("annotators: {a: 1}\n", "r.yaml") == [
        "line 1, column 13: annotators must be a list"
    ]
    syntax = problems("annotators: [\n", "r.yaml")
    assert len(syntax) == 1 and syntax[0].startswith("line 2: not valid YAML")
    bomb = "a: &a [" + ",".join(["x"] * 50) + "]\n"
    for level in "bcdef":
        bomb += f"{level}: &{level} [" + ",".join([f"*{chr(ord(level) - 1)}"] * 50) + "]\n"
    (problem,) = problems(bomb, "r.yaml")
    assert "aliases expand the document to more than" in problem


def test_load_names_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(RosterError) as caught:
        load_roster(tmp_path / "missing.csv")
    assert caught.value.problems[0].startswith(f"cannot read {tmp_path / 'missing.csv'}")
    path = tmp_path / "roster.yml"
    path.write_text(YAML, encoding="utf-8")
    assert load_roster(path).members == EXPECTED
