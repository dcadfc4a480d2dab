"""The batch lane: BATCH messages, whose files hold the records, loaded in input order.

A BATCH message is handled where it stands in the input, like the RECORD messages it replaces:

1. the stream's pending records are queued first (they came before the files);
2. each file is loaded, chunk by chunk (``batch_size_rows`` rows): a parquet chunk whose columns
   fit the table goes to PostgreSQL by COPY (``arrow_files.py`` makes the CSV on this thread while
   the loader thread COPYs and merges the chunk before it, one transaction per chunk, the record
   lane's stage and merge); any other chunk, every jsonl line, and a chunk PostgreSQL refused
   (rolled back whole) go through the record lane (``Target._process_record_message``), so the
   same checks, dedupe, rejects and stream maps apply and one bad row costs nothing else;
3. the stream's rows are queued, then a job that removes the files (unless ``keep_batch_files``):
   the loader runs it after their last commit.

The next chunk is submitted only once the one before it is committed or has been redone through
the record lane, and this method returns only then: a STATE that follows the BATCH is queued
after every row of its files, and the loader writes it after their commits (``target.py``,
STATE safety). Memory stays flat: one chunk being made, one being loaded.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_postgres_upsert.batch_manifest import (
    GZIP_MAGIC,
    BatchFormat,
    BatchRequest,
    read_batch_message,
)
from target_postgres_upsert.db import CopyChunk, Database, LoadResult, Refused
from target_postgres_upsert.errors import first_line
from target_postgres_upsert.host import BatchHost
from target_postgres_upsert.reader import RecordMessage
from target_postgres_upsert.settings import BATCH_SIZE_ROWS_DEFAULT
from target_postgres_upsert.sinks import PostgresUpsertSink

LOGGER = logging.getLogger(__name__)
PARQUET_EXTRA = "pip install 'target-postgres-upsert[parquet]'"
READ_CHUNK_BYTES = 4 << 20


@dataclass(frozen=True)
class _Where:
    """Where a BATCH message's rows came from: what rejects name, what follows its last chunk."""

    request: BatchRequest
    line_number: int  # of the BATCH message
    line: str  # the BATCH message


@dataclass
class _InFlight:
    """A COPY chunk queued on the loader, kept until it is committed (or redone)."""

    future: Future[LoadResult | Refused]
    batch: Any  # the Arrow record batch, for the record lane if PostgreSQL refuses it
    sink: PostgresUpsertSink
    where: _Where
    label: str
    redone: int = 0  # rows handed to the record lane after PostgreSQL refused the chunk


def _counted(rows: Sequence[bytes], flight: _InFlight) -> Iterator[bytes]:
    """``rows``, counting in ``flight.redone`` each one handed over."""
    for row in rows:
        yield row
        flight.redone += 1


class BatchLane:
    """Loads the files of BATCH messages (see the module docstring)."""

    def __init__(self, host: BatchHost) -> None:
        """Nothing is loaded yet; pyarrow is imported with the first parquet file."""
        self._host = host
        self._settings = host.settings
        self._in_flight: _InFlight | None = None
        self._finish: Callable[[], None] | None = None  # what the last BATCH still has to do
        self._settling = False  # a redo's own flushes must not settle again
        self._arrow: ModuleType | None = None

    @property
    def busy(self) -> bool:
        """True while the last BATCH's last chunk may still need the record lane (``settle``)."""
        return self._in_flight is not None or self._finish is not None

    def settle(self) -> None:
        """Finish the last BATCH: wait for its chunk in flight (redo it through the record lane
        if PostgreSQL refused it), queue its rows and the removal of its files.

        The target calls this before anything that must come after the BATCH's rows: a RECORD,
        a SCHEMA, an ACTIVATE_VERSION, a flush that releases STATE, the end of input, an idle
        tick. A STATE is only held meanwhile (``busy`` counts as pending rows), so the next
        BATCH's first chunk is made while the last one loads.
        """
        if self._settling:
            return
        self._settling = True
        try:
            self._settle_chunk()
            finish, self._finish = self._finish, None
            if finish is not None:
                finish()
        finally:
            self._settling = False

    def process(self, message: Mapping[str, Any]) -> None:
        """Load every file of one BATCH message (raises ``InvalidInputLine`` on bad input)."""
        host = self._host
        request = read_batch_message(message, self._settings.batch_storage_root)
        stream_maps = host.mapper.stream_maps.get(request.stream)
        if stream_maps is None:
            msg = f"BATCH for stream {request.stream!r} before its SCHEMA"
            raise RecordsWithoutSchemaException(msg)
        for path in request.paths:
            if not path.is_file():
                msg = (
                    f"BATCH file {path} not found: the tap must write its batch files where the"
                    " target can read them (or set batch_config.storage.root to that directory)"
                )
                raise InvalidInputLine(msg)
        where = _Where(request, host.reader.line_number, host.reader.current_line)
        found = (host._sinks_active.get(m.stream_alias) for m in stream_maps)
        sinks = [sink for sink in found if sink is not None]
        direct = self._direct_sink(request.stream, stream_maps)
        if direct is None or request.format is BatchFormat.JSONL:
            self.settle()  # the record lane runs now: what came before goes first
        for sink in sinks:
            host.drain_one(sink)  # records that came before the files are applied first
        # batch_size_rows: rows per chunk, as per batch of records
        rows = int(sinks[0].max_size) if sinks else BATCH_SIZE_ROWS_DEFAULT
        for path in request.paths:
            started = time.monotonic()
            if request.format is BatchFormat.PARQUET:
                copied, recorded = self._parquet(path, where, direct, rows)
            else:
                copied, recorded = 0, self._jsonl(path, where, direct)
            LOGGER.info(
                "BATCH file %s of stream %r: %d rows by COPY, %d through the record lane (%.2f s)",
                path.name,
                request.stream,
                copied,
                recorded,
                time.monotonic() - started,
            )
        host.reader.show_line(where.line)
        self._finish = partial(self._finish_batch, sinks, request.paths)
        if self._in_flight is None:
            self.settle()
        else:
            # The next RECORD must reach Target._process_record_message, which settles first.
            host.reader.clear_fast_path()

    def _finish_batch(self, sinks: Sequence[Any], paths: Sequence[Path]) -> None:
        """Queue the stream's rows, then the removal of the files; release a held STATE."""
        host = self._host
        for sink in sinks:
            host.drain_one(sink)
        if not self._settings.keep_batch_files:
            host.loader.submit_job(partial(remove_files, paths))
        if not host._has_pending():
            host._release_state()

    def _direct_sink(self, stream: str, stream_maps: list[Any]) -> PostgresUpsertSink | None:
        """The stream's upsert sink when its rows may skip the record lane (no stream map)."""
        if not self._host._plain_stream(stream, stream_maps):
            return None
        sink = self._host._sinks_active.get(stream)
        return sink if isinstance(sink, PostgresUpsertSink) else None

    # --- jsonl ----------------------------------------------------------------------------------

    def _jsonl(self, path: Path, where: _Where, sink: PostgresUpsertSink | None) -> int:
        """Every line of a jsonl(.gz) file through the record lane; the rows read."""
        rows = 0

        def objects(read: Callable[[int], bytes]) -> Iterator[bytes]:
            nonlocal rows
            for number, line in _lines(read):
                if line[:1] != b"{":
                    msg = f"BATCH file {path} line {number}: not a JSON object"
                    raise InvalidInputLine(msg)
                rows += 1
                yield line

        try:
            with path.open("rb") as raw:
                compressed = raw.read(len(GZIP_MAGIC)) == GZIP_MAGIC
                raw.seek(0)
                stream = gzip.GzipFile(fileobj=raw) if compressed else raw
                self._records(where.request, objects(stream.read), sink)
        except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
            msg = f"BATCH file {path} cannot be read: {first_line(str(exc))}"
            raise InvalidInputLine(msg) from None
        return rows

    def _records(
        self, request: BatchRequest, lines: Iterable[bytes], sink: PostgresUpsertSink | None
    ) -> None:
        """Rows (JSON objects) through the record lane, as RECORDs of the stream.

        With the stream's own upsert sink (no stream map), straight to it as the target's
        ``_process_record_message`` would hand them, without a message object per row.
        """
        host = self._host
        reader = host.reader
        if sink is None:
            for line in lines:
                reader.show_line(line)  # what a reject quotes
                host._process_record_message(
                    RecordMessage(
                        type="RECORD",
                        stream=request.stream,
                        record=msgspec.Raw(line),
                        time_extracted=None,
                        version=request.version,
                    )
                )
            return
        add, version, raw = sink.add_raw, request.version, msgspec.Raw
        for line in lines:
            reader.show_line(line)
            if add(raw(line), None, version):
                host._flush_all()

    # --- parquet --------------------------------------------------------------------------------

    def _parquet(
        self, path: Path, where: _Where, sink: PostgresUpsertSink | None, rows: int
    ) -> tuple[int, int]:
        """Load a parquet file, ``rows`` at a time; (rows sent by COPY, through the record lane).

        Each chunk is made while the one before it loads; the last one is left in flight.
        """
        arrow = self._arrow_module(path)
        copied = recorded = 0
        try:
            source = arrow.open_parquet(path)
            maker = None
            if sink is not None:
                maker = arrow.CopyMaker(_table_shape(sink), source.schema_arrow)
                if maker.unfit is not None:
                    LOGGER.info(
                        "BATCH file %s goes through the record lane: %s", path.name, maker.unfit
                    )
                    maker = None
            columns = maker.columns if maker is not None else source.schema_arrow.names
            first = 1
            for batch in arrow.chunks(source, rows, columns):
                label = f"{path.name} rows {first}-{first + batch.num_rows - 1}"
                first += batch.num_rows
                made = maker.make(batch, _metadata(where.request.version)) if maker else None
                self.settle()  # the chunk before (and the BATCH before) first
                if isinstance(made, CopyChunk) and sink is not None:
                    future: Future[LoadResult | Refused] = Future()
                    job = partial(_load_chunk, sink, made, label)
                    self._host.loader.submit_batch(job, future=future)
                    self._in_flight = _InFlight(future, batch, sink, where, label)
                    copied += batch.num_rows
                    continue
                if isinstance(made, str):
                    LOGGER.info("%s go through the record lane: %s", label, made)
                self._records(where.request, arrow.json_lines(batch), sink)
                recorded += batch.num_rows
                if sink is not None:
                    self._host.drain_one(sink)  # queued before the next chunk's COPY
        except arrow.ARROW_ERRORS as exc:
            msg = f"BATCH file {path} is not a readable parquet file: {first_line(str(exc))}"
            raise InvalidInputLine(msg) from None
        return copied, recorded

    def _settle_chunk(self) -> None:
        """Wait for the chunk in flight; redo it through the record lane if it was refused.

        The chunk stays in flight until it is done with, so a signal that stops the target in
        the middle (``stop`` settles again) neither loses its rows nor hands one over twice.
        """
        flight = self._in_flight
        if flight is None:
            return
        result = flight.future.result()  # a loader failure raises here
        if isinstance(result, LoadResult):
            self._in_flight = None
            flight.sink.record_counter_metric.increment(result.rows)
            return
        if not flight.redone:
            LOGGER.info(
                "PostgreSQL refused a row of %s (%s); they go through the record lane",
                flight.label,
                result.reason,
            )
        assert self._arrow is not None
        reader = self._host.reader
        number, line = reader.line_number, reader.current_line
        reader.line_number = flight.where.line_number  # rejects name the BATCH message's line
        rows = self._arrow.json_lines(flight.batch)[flight.redone :]
        self._records(flight.where.request, _counted(rows, flight), flight.sink)
        reader.line_number = number
        reader.show_line(line)
        self._in_flight = None
        self._host.drain_one(flight.sink)

    def _arrow_module(self, path: Path) -> ModuleType:
        """``arrow_files`` (pyarrow), or a one-line error naming the extra to install."""
        if self._arrow is None:
            try:
                from target_postgres_upsert import arrow_files
            except ModuleNotFoundError as exc:
                if (exc.name or "").split(".")[0] != "pyarrow":
                    raise
                msg = (
                    f"BATCH file {path.name} is parquet, which needs pyarrow: {PARQUET_EXTRA}"
                    " (or have the tap write jsonl batch files)"
                )
                raise InvalidInputLine(msg) from None
            self._arrow = arrow_files
        return self._arrow


def _table_shape(sink: PostgresUpsertSink) -> Any:
    """The ``arrow_files.TableShape`` of a sink's table."""
    from target_postgres_upsert.arrow_files import TableShape

    specs = {spec.prop: spec for spec in sink.column_specs}
    plan = sink.plan
    properties = plan.row_names[: len(specs)]
    return TableShape(
        properties=properties,
        kinds=tuple(specs[p].kinds for p in properties),
        column_types=tuple(specs[p].column_type for p in properties),
        key_properties=tuple(sink.key_properties),
        metadata=plan.row_names[len(specs) :],
    )


def _metadata(version: int | None) -> Any:
    """The metadata of a chunk read now (``arrow_files.ChunkMetadata``)."""
    from target_postgres_upsert.arrow_files import ChunkMetadata

    now = time.time()
    return ChunkMetadata(
        received_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        sequence=int(now * 1000),
        version=version,
    )


def _load_chunk(
    sink: PostgresUpsertSink, chunk: CopyChunk, label: str, db: Database
) -> LoadResult | Refused:
    """Runs on the loader thread: COPY, merge and commit one chunk (or report a refusal)."""
    plan = sink.plan
    result = db.load_chunk(plan, chunk)
    if isinstance(result, LoadResult):
        if result.nul_removed:
            sink.logger.warning(
                "Removed %d NUL characters from values (PostgreSQL text cannot hold them)",
                result.nul_removed,
            )
        sink.logger.info(
            "Committed %d rows into %s.%s from %s: %d inserted or changed, %d deleted (%.2f s%s)",
            result.rows,
            plan.schema,
            plan.table,
            label,
            result.written,
            result.deleted,
            result.seconds,
            ", COPY straight into the empty table" if result.direct else "",
        )
    return result


def remove_files(paths: Sequence[Path], db: Database) -> None:
    """Runs on the loader thread after the files' rows are committed: delete the files."""
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            LOGGER.warning("Could not remove BATCH file %s after loading it: %s", path, exc)


def _lines(read: Callable[[int], bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, stripped non-empty line) of a file, read in large blocks by ``read``."""
    number = 0
    tail = b""
    while block := read(READ_CHUNK_BYTES):
        lines = (tail + block).split(b"\n")
        tail = lines.pop()
        for line in lines:
            number += 1
            line = line.strip()
            if line:
                yield number, line
    if tail.strip():
        yield number + 1, tail.strip()
