"""The validated configuration as typed values with their defaults (declared in ``target.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg2.extensions

from target_postgres_upsert.db import ConnectionSettings
from target_postgres_upsert.types import ColumnNaming

DEFAULT_SCHEMA = "public"
DEFAULT_MAX_BATCH_AGE_SECONDS = 30.0
DEFAULT_KEY_COLUMN_MAP: Mapping[str, str] = {"Id": "salesforce_id"}
# Setting name -> libpq parameter name (the rest are spelled the same).
LIBPQ_PARAMS = {
    "host": "host",
    "port": "port",
    "user": "user",
    "password": "password",
    "database": "dbname",
    "sslmode": "sslmode",
    "sslrootcert": "sslrootcert",
    "sslcert": "sslcert",
    "sslkey": "sslkey",
}


class InvalidRecordPolicy(StrEnum):
    """What to do with a record that fails its schema."""

    REJECT = "reject"
    FAIL = "fail"


@dataclass(frozen=True)
class Settings:
    """Everything the sinks and the loader read from the configuration."""

    connection: ConnectionSettings
    default_target_schema: str = DEFAULT_SCHEMA
    max_batch_age_seconds: float = DEFAULT_MAX_BATCH_AGE_SECONDS
    key_column_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_KEY_COLUMN_MAP))
    column_naming: ColumnNaming = ColumnNaming.SNAKE_CASE
    hard_delete: bool = False
    add_record_metadata: bool = True
    on_invalid_record: InvalidRecordPolicy = InvalidRecordPolicy.REJECT
    secrets: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Read the (already schema-validated) configuration, applying defaults."""
        url = config.get("database_url") or None
        params = {
            libpq: config[name]
            for name, libpq in LIBPQ_PARAMS.items()
            if config.get(name) not in (None, "")
        }
        secrets = [str(config.get("password") or "")]
        if url:
            secrets.append(url)
            # A URL libpq cannot parse is refused at connect time; the whole URL is redacted.
            with contextlib.suppress(psycopg2.ProgrammingError):
                secrets.append(psycopg2.extensions.parse_dsn(url).get("password", ""))
        get = config.get
        key_map: Mapping[str, str] | None = get("key_column_map")
        return cls(
            connection=ConnectionSettings(database_url=url, params=params),
            default_target_schema=get("default_target_schema") or DEFAULT_SCHEMA,
            max_batch_age_seconds=float(
                get("max_batch_age_seconds") or DEFAULT_MAX_BATCH_AGE_SECONDS
            ),
            key_column_map=dict(DEFAULT_KEY_COLUMN_MAP if key_map is None else key_map),
            column_naming=ColumnNaming(get("column_naming") or ColumnNaming.SNAKE_CASE),
            hard_delete=bool(get("hard_delete", False)),
            add_record_metadata=bool(get("add_record_metadata", True)),
            on_invalid_record=InvalidRecordPolicy(
                get("on_invalid_record") or InvalidRecordPolicy.REJECT
            ),
            secrets=tuple(s for s in secrets if s),
        )
