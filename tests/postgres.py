"""A PostgreSQL server for the tests, when one is given: STAGECOACH_TEST_DATABASE_URL.

`.ci/run` starts a real server on 127.0.0.1 and sets it. Without it the PostgreSQL half of a
test is skipped, and pytest's summary says why. Each test gets a schema of its own, dropped
afterwards, so tests never see each other's rows.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import pytest

URL_VARIABLE = "STAGECOACH_TEST_DATABASE_URL"
SKIP_REASON = (f"PostgreSQL not tested: no server given. Set {URL_VARIABLE}=postgresql://… "
               "(.ci/run starts one and sets it).")


def server_url() -> str | None:
    return os.environ.get(URL_VARIABLE) or None


def require_server() -> str:
    url = server_url()
    if url is None:
        pytest.skip(SKIP_REASON)
    return url


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema; the schema goes afterwards."""
    import psycopg

    schema = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
