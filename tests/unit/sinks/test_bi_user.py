"""The read-only BI user's DDL: nothing from the caller spliced in raw, the password never."""

from __future__ import annotations

import hashlib

import pytest

from sinks.bi_user import read_only_user_sql

PASSWORD = "correct horse battery"


def test_the_user_reads_one_database_and_the_password_travels_as_its_digest() -> None:
    create, grant = read_only_user_sql("bi_reader", PASSWORD, "analytics")
    digest = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert create == (
        f"CREATE USER IF NOT EXISTS bi_reader IDENTIFIED WITH sha256_hash BY '{digest}' "
        "SETTINGS readonly = 1"
    )
    assert grant == "GRANT SELECT ON analytics.* TO bi_reader"
    assert PASSWORD not in create + grant


@pytest.mark.parametrize(
    ("user", "database"),
    [
        ("bi; DROP USER default", "default"),
        ("bi_reader", "default.* TO x; GRANT ALL ON *"),
        ("1bi", "default"),
        ("bi-reader", "default"),
        ("b" * 65, "default"),
        ("", "default"),
    ],
)
def test_names_that_are_not_plain_identifiers_are_refused(user: str, database: str) -> None:
    with pytest.raises(ValueError, match="is not a plain identifier"):
        read_only_user_sql(user, PASSWORD, database)


def test_a_short_password_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValueError, match="at least 12 characters") as refused:
        read_only_user_sql("bi_reader", "short-pw-11")
    assert "short-pw-11" not in str(refused.value)
