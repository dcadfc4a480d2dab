"""BATCH messages read and checked, and the COPY path's rules for parquet columns (pure code)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_postgres_upsert.arrow_files import (
    ChunkMetadata,
    CopyMaker,
    Rule,
    TableShape,
    json_lines,
    rule_for,
)
from target_postgres_upsert.batch_manifest import BatchFormat, read_batch_message
from target_postgres_upsert.db import CopyChunk, PgType
from target_postgres_upsert.types import ValueKind


def _message(**overrides: Any) -> dict[str, Any]:
    return {
        "type": "BATCH",
        "stream": "Contact",
        "encoding": {"format": "parquet", "compression": "gzip"},
        "manifest": ["file:///tmp/batches/a%20b=1.parquet.gz"],
        **overrides,
    }


def test_a_batch_message_names_local_files_decoded_from_their_urls() -> None:
    request = read_batch_message(_message(version=7), None)
    assert request.stream == "Contact"
    assert request.format is BatchFormat.PARQUET
    assert request.paths == (Path("/tmp/batches/a b=1.parquet.gz"),)
    assert request.version == 7


def test_plain_absolute_paths_and_localhost_urls_are_local_files() -> None:
    manifest = ["/data/x.json.gz", "file://localhost/data/y.json.gz"]
    fmt = {"format": "jsonl", "compression": None}
    request = read_batch_message(_message(manifest=manifest, encoding=fmt), None)
    assert request.paths == (Path("/data/x.json.gz"), Path("/data/y.json.gz"))
    assert request.version is None


def test_a_storage_root_finds_the_files_by_name_under_it() -> None:
    request = read_batch_message(_message(), "file:///mnt/shared")
    assert request.paths == (Path("/mnt/shared/a b=1.parquet.gz"),)
    assert read_batch_message(_message(), "/srv/b").paths == (Path("/srv/b/a b=1.parquet.gz"),)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"manifest": ["s3://bucket/x.parquet"]}, "only local files"),
        ({"manifest": ["file://otherhost/x.parquet"]}, "on host 'otherhost'"),
        ({"manifest": ["relative/x.parquet"]}, "not an absolute path"),
        ({"manifest": "file:///x.parquet"}, "'manifest' list"),
        ({"stream": None}, "'stream' name"),
        ({"encoding": {"format": "avro"}}, "format 'avro' is not supported"),
        ({"encoding": {"format": "jsonl", "compression": "zstd"}}, "compression 'zstd'"),
    ],
)
def test_a_bad_batch_message_is_refused_with_what_is_wrong(
    overrides: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidInputLine, match=words):
        read_batch_message(_message(**overrides), None)


STRING = frozenset({ValueKind.STRING})
DATE_TIME = frozenset({ValueKind.DATE_TIME})
DATE = frozenset({ValueKind.DATE})
NUMBER = frozenset({ValueKind.NUMBER})
INTEGER = frozenset({ValueKind.INTEGER})
BOOLEAN = frozenset({ValueKind.BOOLEAN})


@pytest.mark.parametrize(
    ("kinds", "column", "arrow", "rule"),
    [
        (STRING, PgType.TEXT, pa.string(), Rule.KEEP),
        (STRING, PgType.TEXT, pa.large_string(), Rule.KEEP),
        (STRING, PgType.TEXT, pa.dictionary(pa.int32(), pa.string()), Rule.KEEP),
        (STRING, PgType.TEXT, pa.int64(), None),  # the record lane refuses a number for text
        (DATE_TIME, PgType.TIMESTAMPTZ, pa.timestamp("ms", tz="UTC"), Rule.UTC),
        (DATE_TIME, PgType.TIMESTAMPTZ, pa.timestamp("us"), Rule.KEEP),
        (DATE_TIME, PgType.TIMESTAMPTZ, pa.date32(), Rule.KEEP),
        (DATE_TIME, PgType.TIMESTAMPTZ, pa.string(), Rule.DATE_TIME_TEXT),
        (DATE, PgType.DATE, pa.string(), Rule.DATE_TEXT),
        (DATE, PgType.DATE, pa.timestamp("ms"), None),  # a date-time is not a date
        (BOOLEAN, PgType.BOOLEAN, pa.bool_(), Rule.KEEP),
        (BOOLEAN, PgType.BOOLEAN, pa.string(), None),  # "false" must not become a boolean
        (INTEGER, PgType.BIGINT, pa.uint32(), Rule.KEEP),
        (INTEGER, PgType.BIGINT, pa.float64(), None),
        (NUMBER, PgType.NUMERIC, pa.float64(), Rule.KEEP),
        (NUMBER, PgType.NUMERIC, pa.decimal128(10, 2), Rule.KEEP),
        (STRING, PgType.JSONB, pa.string(), None),  # a widened column: the record lane
        (frozenset(), PgType.JSONB, pa.struct([("a", pa.int64())]), None),
        (BOOLEAN, PgType.BOOLEAN, pa.null(), Rule.KEEP),
    ],
)
def test_a_column_takes_the_copy_path_only_when_its_arrow_type_fits(
    kinds: frozenset[ValueKind], column: PgType, arrow: pa.DataType, rule: Rule | None
) -> None:
    assert rule_for(kinds, column, arrow) is rule


SHAPE = TableShape(
    properties=("Id", "Name", "Seen", "Born", "At"),
    kinds=(STRING, STRING, DATE_TIME, DATE, frozenset({ValueKind.TIME})),
    column_types=(PgType.TEXT, PgType.TEXT, PgType.TIMESTAMPTZ, PgType.DATE, PgType.TIME),
    key_properties=("Id",),
    metadata=("_sdc_deleted_at", "_sdc_table_version"),
)
META = ChunkMetadata(received_at="2026-01-02T03:04:05Z", sequence=1, version=5)


def _copy(batch: pa.RecordBatch) -> CopyChunk | str:
    maker = CopyMaker(SHAPE, batch.schema)
    assert maker.unfit is None
    return maker.make(batch, META)


def test_a_chunk_becomes_csv_in_column_order_with_its_metadata() -> None:
    stamp = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=datetime.UTC)
    batch = pa.record_batch(
        {
            "Born": pa.array(["1999-12-31", None]),
            "Id": ["a", "b"],
            "Seen": pa.array([stamp, None], pa.timestamp("ms", tz="America/New_York")),
            "IsDeleted": [False, True],
            "Other": [1, 2],
        }
    )
    chunk = _copy(batch)
    assert isinstance(chunk, CopyChunk)
    assert chunk.rows == 2
    lines = chunk.data.decode().splitlines()
    # Name is absent (NULL); Seen in UTC whatever its zone; IsDeleted sets _sdc_deleted_at.
    assert lines == [
        "a\t\\N\t2024-01-02 03:04:05.678\t1999-12-31\t\\N\t\\N\t5",
        "b\t\\N\t\\N\t\\N\t\\N\t2026-01-02T03:04:05Z\t5",
    ]


def test_text_that_copy_would_read_as_structure_is_escaped() -> None:
    awkward = 'tab\there "quoted"\nline\r\\N back\\slash'
    chunk = _copy(pa.record_batch({"Id": ["a", "b"], "Name": [awkward, ""]}))
    assert isinstance(chunk, CopyChunk)
    first, second = chunk.data.decode().splitlines()
    assert first.split("\t")[1] == r"tab\there \042quoted\042\nline\r\\N back\\slash"
    assert second.split("\t")[1] == ""  # an empty string, not NULL (\N)


def test_nul_characters_are_removed_and_counted() -> None:
    chunk = _copy(pa.record_batch({"Id": ["a\x00", "b"], "Name": ["x\x00y\x00", ""]}))
    assert isinstance(chunk, CopyChunk)
    assert chunk.nul_removed == 3
    assert b"\x00" not in chunk.data
    assert chunk.data.splitlines()[0].startswith(b"a\txy\t")


@pytest.mark.parametrize(
    ("columns", "words"),
    [
        ({"Id": ["a", None]}, "key property 'Id' is missing or null"),
        ({"Name": ["no key"]}, "key property 'Id' is missing or null"),
        ({"Id": ["a", "a"]}, "key property 'Id' repeats a value"),
        ({"Id": ["a"], "Seen": ["yesterday"]}, "property 'Seen'"),
        ({"Id": ["a"], "Seen": ["2024-01-02T03:04:05.000Z"], "Born": ["2024-01-02"]}, None),
        ({"Id": ["a", "b"], "Seen": ["2024-01-02T03:04:05Z", "2024-01-02"]}, "property 'Seen'"),
        ({"Id": ["a"], "Born": ["2024-02-30"]}, "property 'Born'"),
        ({"Id": ["a"], "Born": ["20240102"]}, "property 'Born'"),
        ({"Id": ["a", "b"], "At": ["10:00:00.000Z", "23:59:59"]}, None),
        ({"Id": ["a"], "At": ["24:00:00"]}, "property 'At'"),
    ],
)
def test_a_chunk_that_fails_a_check_goes_to_the_record_lane(
    columns: dict[str, list[Any]], words: str | None
) -> None:
    made = _copy(pa.record_batch(columns))
    if words is None:
        assert isinstance(made, CopyChunk)
    else:
        assert isinstance(made, str)
        assert words in made


def test_a_file_whose_column_does_not_fit_is_unfit_for_copy() -> None:
    maker = CopyMaker(SHAPE, pa.schema([("Id", pa.string()), ("Name", pa.int64())]))
    assert maker.unfit is not None
    assert "'Name'" in maker.unfit


def test_rows_for_the_record_lane_keep_values_json_cannot_hold() -> None:
    batch = pa.record_batch(
        {
            "Id": ["a", "b"],
            "Amount": [float("nan"), 1.5],
            "Seen": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None], pa.timestamp("ns")),
            "Born": pa.array([datetime.date(1999, 12, 31), None], pa.date32()),
        }
    )
    assert json_lines(batch) == [
        b'{"Id":"a","Amount":"nan","Seen":"2024-01-02T03:04:05","Born":"1999-12-31"}',
        b'{"Id":"b","Amount":"1.5","Seen":null,"Born":null}',
    ]
