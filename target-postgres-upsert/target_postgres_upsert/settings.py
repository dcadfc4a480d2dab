"""The settings: their declaration (shown by ``--about``) and the typed values the code reads."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import psycopg2.extensions
from singer_sdk import typing as th

from target_postgres_upsert.db import ConnectionSettings
from target_postgres_upsert.types import ColumnNaming

DEFAULT_SCHEMA = "public"
DEFAULT_MAX_BATCH_AGE_SECONDS = 30.0
DEFAULT_KEY_COLUMN_MAP: Mapping[str, str] = {"Id": "salesforce_id"}
BATCH_SIZE_ROWS_DEFAULT = 10_000  # the SDK's Sink.MAX_SIZE_DEFAULT, stated in --about
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


CONFIG_JSONSCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "database_url",
        th.StringType,
        secret=True,
        description=(
            "libpq connection URL, e.g. postgresql://user:pass@host:5432/db?sslmode=require."
            " The discrete settings below override its parts."
        ),
    ),
    th.Property("host", th.StringType, description="Server host name or address."),
    th.Property("port", th.IntegerType, description="Server port (libpq default 5432)."),
    th.Property("user", th.StringType, description="User name."),
    th.Property("password", th.StringType, secret=True, description="Password."),
    th.Property("database", th.StringType, description="Database name."),
    th.Property(
        "sslmode",
        th.StringType,
        allowed_values=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
        description="libpq sslmode.",
    ),
    th.Property("sslrootcert", th.StringType, description="Path of the CA certificate file."),
    th.Property("sslcert", th.StringType, description="Path of the client certificate file."),
    th.Property("sslkey", th.StringType, description="Path of the client private key file."),
    th.Property(
        "default_target_schema",
        th.StringType,
        default=DEFAULT_SCHEMA,
        description="Schema the tables (and _sdc_rejected_records) go in; created if missing.",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=BATCH_SIZE_ROWS_DEFAULT,
        description=(
            "Records per batch (one COPY + merge + commit). The SDK's setting; reaching it"
            " in any stream commits every stream and releases the latest STATE."
        ),
    ),
    th.Property(
        "max_batch_age_seconds",
        th.NumberType,
        default=DEFAULT_MAX_BATCH_AGE_SECONDS,
        description=(
            "Commit pending records once the oldest is this old, even if the batch is not"
            " full, so STATE keeps moving on slow streams."
        ),
    ),
    th.Property(
        "key_column_map",
        th.ObjectType(additional_properties=th.StringType),
        default=dict(DEFAULT_KEY_COLUMN_MAP),
        description=(
            "Key property -> column name. With the default, a stream keyed on Id is keyed"
            " on the column salesforce_id."
        ),
    ),
    th.Property(
        "column_naming",
        th.StringType,
        allowed_values=[n.value for n in ColumnNaming],
        default=ColumnNaming.SNAKE_CASE.value,
        description=(
            "snake_case: FirstName -> first_name, Contact -> contact; preserve: names as"
            " sent. Names over 63 bytes are shortened with a hash suffix."
        ),
    ),
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        description=(
            "Delete rows for deleted records (IsDeleted true or _sdc_deleted_at set) and for"
            " ACTIVATE_VERSION, instead of setting _sdc_deleted_at."
        ),
    ),
    th.Property(
        "add_record_metadata",
        th.BooleanType,
        default=True,
        description=(
            "Add _sdc_extracted_at, _sdc_received_at, _sdc_batched_at, _sdc_sequence and"
            " _sdc_sync_started_at columns. _sdc_table_version, and _sdc_deleted_at unless"
            " hard_delete, are kept either way: deletes and ACTIVATE_VERSION need them."
        ),
    ),
    th.Property(
        "interpret_content_encoding",
        th.BooleanType,
        default=False,
        description=(
            "Store string properties whose schema has contentEncoding base16 (hex, optional"
            " 0x) or base64 as bytea, decoded; a value that is not so encoded is rejected. Off:"
            " they are text, as sent. As MeltanoLabs target-postgres's setting of this name."
        ),
    ),
    th.Property(
        "on_invalid_record",
        th.StringType,
        allowed_values=["reject", "fail"],
        default="reject",
        description=(
            "reject: store a record that fails its schema in _sdc_rejected_records and go"
            " on; fail: commit what came before and stop with an error."
        ),
    ),
    th.Property(
        "keep_batch_files",
        th.BooleanType,
        default=False,
        description=(
            "Keep the files of BATCH messages after loading them. By default each file is"
            " deleted once its rows are committed, so the disk holds only files not yet loaded."
        ),
    ),
    th.Property(
        "batch_config",
        th.ObjectType(
            th.Property(
                "storage",
                th.ObjectType(
                    th.Property(
                        "root",
                        th.StringType,
                        description=(
                            "Directory (path or file:// URL) where this target finds BATCH"
                            " files, by name, when the tap's paths do not apply here."
                        ),
                    ),
                ),
                description="Where the batch files are.",
            ),
        ),
        description=(
            "The SDK's batch setting, as a target reads it: only storage.root is used (each"
            " BATCH message names its own encoding). Unset: files are read where the tap wrote"
            " them."
        ),
    ),
).to_dict()


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
    interpret_content_encoding: bool = False
    secrets: tuple[str, ...] = ()
    keep_batch_files: bool = False
    batch_storage_root: str | None = None  # batch_config.storage.root

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
            interpret_content_encoding=bool(get("interpret_content_encoding", False)),
            secrets=tuple(s for s in secrets if s),
            keep_batch_files=bool(get("keep_batch_files", False)),
            batch_storage_root=_storage_root(get("batch_config")),
        )


def _storage_root(batch_config: Any) -> str | None:
    """``batch_config.storage.root``, if set."""
    storage = batch_config.get("storage") if isinstance(batch_config, Mapping) else None
    root = storage.get("root") if isinstance(storage, Mapping) else None
    return str(root) if root else None
