"""The Singer SDK's standard target tests, run in-process against the live database.

All sixteen tests of ``get_target_test_class`` run with the default settings except one:
``record_missing_key_property`` expects the target to raise ``MissingKeyPropertiesError``,
while our default (``on_invalid_record: reject``) files such a record in
``_sdc_rejected_records`` and goes on (tested in ``test_target_bad_input.py``). It runs here
in its own class with ``on_invalid_record: fail``, where raising is the documented behaviour.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from psycopg2 import sql
from singer_sdk.testing import SuiteConfig, get_target_test_class
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.target_tests import TargetRecordMissingKeyProperty

from target_postgres_upsert.target import TargetPostgresUpsert
from tests.conftest import DEFAULT_DATABASE_URL

DATABASE_URL = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
SCHEMA = f"sdk_{uuid.uuid4().hex[:10]}"
FAIL_SCHEMA = f"{SCHEMA}_fail"


def _schema_resource(database_url: str, name: str) -> Iterator[None]:
    yield
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    conn.close()


StandardTests = get_target_test_class(
    TargetPostgresUpsert,
    config={"database_url": DATABASE_URL, "default_target_schema": SCHEMA},
    suite_config=SuiteConfig(),
)


class TestTargetPostgresUpsertStandard(StandardTests):  # type: ignore[misc, valid-type]
    """The SDK's standard target tests (record_missing_key_property: see the class below)."""

    @pytest.fixture(scope="class")
    @classmethod
    def resource(cls, database_url: str) -> Iterator[None]:
        """The tests' schema, dropped at the end (the target creates it)."""
        yield from _schema_resource(database_url, SCHEMA)

    @pytest.fixture(autouse=True)
    def _skip_expected_difference(self, request: pytest.FixtureRequest) -> None:
        if "record_missing_key_property" in request.node.name:
            pytest.skip("default on_invalid_record=reject files the record; see the fail class")


FailTests = get_target_test_class(
    TargetPostgresUpsert,
    config={
        "database_url": DATABASE_URL,
        "default_target_schema": FAIL_SCHEMA,
        "on_invalid_record": "fail",
    },
    custom_suites=[SingerTestSuite(kind="target", tests=[TargetRecordMissingKeyProperty])],
    include_target_tests=False,
)


class TestTargetPostgresUpsertFailMode(FailTests):  # type: ignore[misc, valid-type]
    """With on_invalid_record=fail, a record without its key raises MissingKeyPropertiesError."""

    @pytest.fixture(scope="class")
    @classmethod
    def resource(cls, database_url: str) -> Iterator[None]:
        """The tests' schema, dropped at the end."""
        yield from _schema_resource(database_url, FAIL_SCHEMA)
