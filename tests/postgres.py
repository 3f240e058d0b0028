"""Where the PostgreSQL tests get their database, and how each gets a schema of its own.

Tests that need PostgreSQL read the DSN from ``OMNIORDER_TEST_POSTGRES_DSN`` and are skipped
without it, unless ``OMNIORDER_REQUIRE_POSTGRES=1`` (CI sets both): then a missing or unreachable
database is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import uuid

import pytest

DSN_VARIABLE = "OMNIORDER_TEST_POSTGRES_DSN"


def postgres_dsn() -> str:
    """The test database's DSN; skips (or fails, when required) without a reachable one."""
    dsn = os.environ.get(DSN_VARIABLE, "")
    required = os.environ.get("OMNIORDER_REQUIRE_POSTGRES") == "1"
    reason = ""
    if not dsn:
        reason = f"set {DSN_VARIABLE} to run the PostgreSQL tests"
    else:
        try:
            import psycopg

            with psycopg.connect(dsn, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
        except ImportError:
            reason = 'PostgreSQL tests need the "postgres" extra'
        except Exception as error:  # any failure to connect is the reason
            reason = f"cannot reach PostgreSQL at {DSN_VARIABLE}: {error}"
    if reason:
        if required:
            pytest.fail(f"OMNIORDER_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    return dsn


def new_schema() -> str:
    """A fresh, unique schema name for one test."""
    return f"omniorder_t_{uuid.uuid4().hex[:16]}"


def drop_schema(dsn: str, schema: str) -> None:
    """Drop a test's schema and everything in it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
