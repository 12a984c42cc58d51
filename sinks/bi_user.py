"""The read-only user BI tools and ``annotel report`` read a ClickHouse server as.

Why a module of its own: it is the only DDL built from a caller's values
(``annotel migrate --bi-user``), and ClickHouse takes no query parameters in
``CREATE USER``, so its checks live beside it and nowhere else.
"""

from __future__ import annotations

import hashlib
import re

_USER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def read_only_user_sql(user: str, password: str, database: str = "default") -> list[str]:
    """DDL for a read-only BI user (server only; chDB has no access control).

    ClickHouse takes no query parameters in ``CREATE USER``, so nothing from
    the caller is spliced in raw: the name must be a plain identifier and the
    password travels only as its SHA-256 hex digest.
    """
    for label, value in (("user", user), ("database", database)):
        if not _USER_NAME.match(value):
            raise ValueError(f"{label} name {value!r} is not a plain identifier")
    if len(password) < 12:
        raise ValueError("the BI user's password must have at least 12 characters")
    digest = hashlib.sha256(password.encode()).hexdigest()
    return [
        f"CREATE USER IF NOT EXISTS {user} IDENTIFIED WITH sha256_hash BY '{digest}' "
        "SETTINGS readonly = 1",
        f"GRANT SELECT ON {database}.* TO {user}",
    ]
