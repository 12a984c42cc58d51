"""The README's configuration table is the settings model's, field for field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from pydantic import Field

from schemas.durations import parse_duration
from streams.settings import Duration, Settings
from streams.settings_doc import BEGIN, END, README, main, markdown_table, rows, with_table


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    _head, begin, rest = text.partition(BEGIN)
    table, end, _tail = rest.partition(END)
    assert begin and end, "README.md lost the settings table's markers"
    return table.strip()


def test_the_readme_table_is_the_models() -> None:
    assert _readme_table() == markdown_table(), (
        "README.md and streams/settings.py disagree: run `python -m streams.settings_doc`"
    )


def test_every_setting_documents_itself() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description and info.description.strip(), name
    table = markdown_table()
    assert all(f"`ANNOTEL_{name.upper()}`" in table for name in Settings.model_fields)
    assert len(rows()) == len(Settings.model_fields)


def test_a_row_says_values_default_and_meaning() -> None:
    by_variable = {row.split(" | ")[0].strip("| `"): row for row in rows()}
    assert by_variable["ANNOTEL_ALLOWED_LATENESS"] == (
        "| `ANNOTEL_ALLOWED_LATENESS` | duration | `2m` | Watermark = latest event time − this. |"
    )
    assert "| `auto`, `kafka`, `tansu` | `auto` |" in by_variable["ANNOTEL_KAFKA_FLAVOR"]
    assert "| integer 1–1024 | `4` |" in by_variable["ANNOTEL_KAFKA_PARTITIONS"]
    assert "| number > 0, ≤ 1 | `0.05` |" in by_variable["ANNOTEL_SELFMON_DEAD_LETTER_SHARE"]
    assert "| `true`, `false` | `true` |" in by_variable["ANNOTEL_CHDB_PROCESS"]
    assert "| text, never printed | unset |" in by_variable["ANNOTEL_CLICKHOUSE_URL"]
    assert "| existing file | unset |" in by_variable["ANNOTEL_CLICKHOUSE_CA_FILE"]


def test_duration_defaults_are_spelt_as_a_user_writes_them() -> None:
    for row in rows():
        variable, values, default, _meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        if values == "duration":
            name = variable.strip("`").removeprefix("ANNOTEL_").lower()
            assert parse_duration(default.strip("`")) == Settings.model_fields[name].default


def test_a_field_without_description_or_spelling_is_refused() -> None:
    class Undocumented(Settings):
        extra_timeout: Duration = 5.0

    with pytest.raises(ValueError, match="extra_timeout has no description"):
        rows(Undocumented)

    class Unknown(Settings):
        odd: Literal["a"] | complex = Field("a", description="x")

    with pytest.raises(TypeError, match="no documentation spelling"):
        rows(Unknown)


def test_the_command_checks_and_rewrites_a_stale_readme(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(f"# t\n\n{BEGIN}\n| old |\n{END}\n\nafter\n", encoding="utf-8")
    assert main(["--check", "--readme", str(stale)]) == 1
    assert "differs" in capsys.readouterr().err
    assert main(["--readme", str(stale)]) == 0
    text = stale.read_text(encoding="utf-8")
    assert text == with_table(f"# t\n\n{BEGIN}{END}\n\nafter\n", markdown_table())
    assert text.endswith(f"{END}\n\nafter\n") and "| old |" not in text
    assert main(["--check", "--readme", str(stale)]) == 0
    with pytest.raises(ValueError, match="markers"):
        with_table("no markers here", markdown_table())
