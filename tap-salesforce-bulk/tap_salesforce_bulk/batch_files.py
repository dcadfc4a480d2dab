"""The batch lane's files: each result page's rows written to files of at most ``batch_size`` rows.

A file is handed out (and named in a BATCH message) only once it is complete and renamed from
its ``.part`` name, and a file never spans two pages, so the STATE written after a page's last
BATCH covers exactly the files already named. Rows reach the files through the page readers
that skip what they already handed out when a broken body is fetched again (parquet:
``salesforce/arrow_pages.py``; jsonl: ``ResultPage.rows``), so a re-fetched page adds no row
twice: the rows of a file not yet complete are kept in it, not thrown away.

* parquet: pyarrow reads the CSV and ``arrow_records.py`` types each column, no Python object
  per record; datetimes are UTC timestamps (ms), dates dates, times ``HH:mm:ss.SSSZ`` text.
* jsonl: the record lane's typed records (``records.py``), one JSON object per line, gzip level 1
  when compressed (the SDK's writer uses level 9, several times slower for little gain).

A stream's first files are smaller: ``FIRST_FILE_ROWS``, then twice as many each file up to
``batch_size``, so the target starts loading while the tap writes on (with files of 50,000 rows
the target would wait for the first 50,000).

The disk stays bounded: before starting a file, the writer waits while ``PENDING_FILES_MAX`` of
the files it named still exist (target-postgres-upsert removes each once its rows are
committed). A target that keeps files is recognised by removing none while the tap waits, and is
then no longer waited for (in the whole run).
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import re
import select
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, cast

import msgspec

from tap_salesforce_bulk.batch_config import BatchFormat, BatchSettings
from tap_salesforce_bulk.records import RecordBuilder
from tap_salesforce_bulk.salesforce.pages import ResultPage
from tap_salesforce_bulk.schema import FieldSpec

JSONL_GZIP_LEVEL = 1
JSONL_LINES_PER_WRITE = 1000
PART_SUFFIX = ".part"
FIRST_FILE_ROWS = 5_000
# Files named in BATCH messages and still on disk before the tap waits for the target to load
# (and remove) one: the disk holds at most this many files plus the one being written.
PENDING_FILES_MAX = 4
PENDING_POLL_SECONDS = 0.05
# How long to wait for a removal before concluding the target keeps its files (another target,
# or keep_batch_files): never seen one remove a file / seen it remove files before.
KEEPING_TARGET_SECONDS = 10.0
STALLED_TARGET_SECONDS = 300.0
# A run that is killed leaves the files it named but its target never loaded (and a ``.part``).
# No rerun names them again; the next run removes this tap's files older than this, so crashes
# cannot fill the disk. An age, not a lock: another run sharing the root may still be loading
# its files, and no run keeps a file unloaded for a day.
LEFTOVER_AGE_SECONDS = 24 * 3600
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True)
class BatchFile:
    """A complete batch file: where it is and how many rows it holds."""

    path: Path
    rows: int

    @property
    def url(self) -> str:
        """The ``file://`` URL a BATCH manifest names."""
        return self.path.as_uri()


def reader_gone() -> bool:
    """True when stdout is a pipe whose reader (the target, or Meltano) has exited.

    The tap may wait for the target to remove files without writing a byte, so it would not see
    the broken pipe a write reports; poll reports it (POLLERR) whatever the events asked for.
    """
    if not hasattr(select, "poll"):
        return False
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (an embedding program)
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


class _PartFile:
    """A file being written under its ``.part`` name; renamed when finished, removed if not."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path = path
        self.part = path.with_name(path.name + PART_SUFFIX)
        self.rows = 0
        self.limit = limit  # rows at most

    @property
    def full(self) -> bool:
        return self.rows >= self.limit

    def finish(self) -> BatchFile:
        os.replace(self.part, self.path)
        return BatchFile(self.path, self.rows)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)


def leftover_pattern(prefix: str, tap_name: str) -> re.Pattern[str]:
    """The names this tap gives its files (see ``BatchFileWriter``), finished or ``.part``."""
    return re.compile(
        rf"{re.escape(prefix + tap_name)}--.+-[0-9a-f]{{12}}-\d{{5}}"
        rf"\.(parquet|jsonl|jsonl\.gz)({re.escape(PART_SUFFIX)})?"
    )


def remove_leftovers(
    settings: BatchSettings, *, tap_name: str, logger: logging.Logger, now: float
) -> int:
    """Remove this tap's files older than ``LEFTOVER_AGE_SECONDS`` from the storage directory
    (left by killed runs); nothing else there is touched. Returns how many were removed."""
    pattern = leftover_pattern(settings.prefix, tap_name)
    removed = size = 0
    for path in settings.directory.iterdir():
        if not pattern.fullmatch(path.name):
            continue
        try:
            stat = path.stat()
            if now - stat.st_mtime < LEFTOVER_AGE_SECONDS:
                continue
            path.unlink()
        except FileNotFoundError:
            continue  # another run removed it first
        removed += 1
        size += stat.st_size
    if removed:
        logger.info(
            "Removed %d batch file(s) (%.1f MB) that killed runs left in %s more than %d h ago",
            removed,
            size / 1e6,
            settings.directory,
            LEFTOVER_AGE_SECONDS // 3600,
        )
    return removed


class BatchFileWriter:
    """Writes the pages of one stream to batch files (see the module docstring)."""

    # What the run learned about the target, for every stream: it removes files / it keeps them.
    removals_seen: ClassVar[bool] = False
    target_keeps_files: ClassVar[bool] = False
    leftovers_swept: ClassVar[bool] = False

    def __init__(
        self,
        settings: BatchSettings,
        *,
        tap_name: str,
        stream_name: str,
        fields: Mapping[str, FieldSpec],
        logger: logging.Logger,
    ) -> None:
        self.settings = settings
        self.fields = fields
        self.logger = logger
        self.stream_name = stream_name
        self._stem = f"{settings.prefix}{tap_name}--{stream_name}-{uuid.uuid4().hex[:12]}"
        self._count = 0
        self._warned_unknown = False
        self._pending: list[Path] = []  # named, perhaps not yet removed by the target
        settings.directory.mkdir(parents=True, exist_ok=True)
        if not BatchFileWriter.leftovers_swept:
            BatchFileWriter.leftovers_swept = True
            remove_leftovers(settings, tap_name=tap_name, logger=logger, now=time.time())

    def _named(self, part: _PartFile) -> BatchFile:
        """Finish a file and remember it until the target removes it."""
        done = part.finish()
        self._pending.append(done.path)
        return done

    def _still_pending(self) -> int:
        before = len(self._pending)
        self._pending = [path for path in self._pending if path.exists()]
        if len(self._pending) < before:
            BatchFileWriter.removals_seen = True
        return len(self._pending)

    def _wait_for_room(self) -> None:
        """Wait while the target has ``PENDING_FILES_MAX`` files to load (module docstring)."""
        if self.target_keeps_files or self._still_pending() < PENDING_FILES_MAX:
            return
        limit = STALLED_TARGET_SECONDS if self.removals_seen else KEEPING_TARGET_SECONDS
        last_removal = time.monotonic()
        while True:
            time.sleep(PENDING_POLL_SECONDS)
            if reader_gone():
                msg = "the target stopped reading the tap's output (it exited)"
                raise BrokenPipeError(errno.EPIPE, msg)
            before = len(self._pending)
            if self._still_pending() < before:
                last_removal = time.monotonic()
            if len(self._pending) < PENDING_FILES_MAX:
                return
            if time.monotonic() - last_removal > limit:
                BatchFileWriter.target_keeps_files = True
                self._pending.clear()
                self.logger.info(
                    "%s: the target removed no batch file in %.0f s: it keeps them (or is "
                    "stalled); writing on without waiting for it, so files accumulate in %s",
                    self.stream_name,
                    limit,
                    self.settings.directory,
                )
                return

    def _new_file(self) -> _PartFile:
        """The next file, once there is room for it; its row limit ramps up (module docstring)."""
        self._wait_for_room()
        self._count += 1
        if self.settings.format is BatchFormat.PARQUET:
            suffix = ".parquet"
        else:
            suffix = ".jsonl.gz" if self.settings.gzip else ".jsonl"
        path = self.settings.directory / f"{self._stem}-{self._count:05d}{suffix}"
        return _PartFile(path, file_rows_limit(self._count, self.settings.batch_size))

    def _warn_unknown(self, columns: list[str]) -> None:
        if columns and not self._warned_unknown:
            self._warned_unknown = True
            self.logger.warning(
                "%s: ignoring result columns not in the schema: %s",
                self.stream_name,
                ", ".join(columns),
            )

    def page_files(self, page: ResultPage) -> Iterator[BatchFile]:
        """The page's rows as complete files, each yielded once written (RecordValueError on a
        value that does not fit its field)."""
        if self.settings.format is BatchFormat.PARQUET:
            return self._parquet_files(page)
        return self._jsonl_files(page)

    # --- parquet --------------------------------------------------------------------------------

    def _parquet_files(self, page: ResultPage) -> Iterator[BatchFile]:
        import pyarrow.parquet as pq

        from tap_salesforce_bulk.arrow_records import ArrowTyper
        from tap_salesforce_bulk.salesforce.arrow_pages import arrow_batches

        compression = "gzip" if self.settings.gzip else "snappy"
        typer: ArrowTyper | None = None
        header: list[str] | None = None
        current: _PartFile | None = None
        writer: Any = None
        try:
            for batch in arrow_batches(page):
                if typer is None or batch.schema.names != header:
                    header = batch.schema.names
                    typer = ArrowTyper(header, self.fields)
                    self._warn_unknown(typer.unknown_columns)
                typed = typer.typed(batch)
                if writer is not None and current is not None and writer.schema != typed.schema:
                    writer.close()  # the header changed at a re-fetch: a new file
                    writer = None
                    yield self._named(current)
                    current = None
                offset = 0
                while offset < typed.num_rows:
                    if writer is None or current is None:
                        current = self._new_file()
                        writer = pq.ParquetWriter(
                            current.part, typed.schema, compression=compression
                        )
                    take = min(current.limit - current.rows, typed.num_rows - offset)
                    writer.write_batch(typed.slice(offset, take))
                    current.rows += take
                    offset += take
                    if current.full:
                        writer.close()
                        writer = None
                        yield self._named(current)
                        current = None
            if writer is not None and current is not None:
                writer.close()
                writer = None
                yield self._named(current)
                current = None
        finally:
            if writer is not None:
                writer.close()
            if current is not None:
                current.discard()

    # --- jsonl ----------------------------------------------------------------------------------

    def _open_jsonl(self, current: _PartFile) -> IO[bytes]:
        if self.settings.gzip:
            return cast(IO[bytes], gzip.open(current.part, "wb", compresslevel=JSONL_GZIP_LEVEL))
        return current.part.open("wb")

    def _jsonl_files(self, page: ResultPage) -> Iterator[BatchFile]:
        builder: RecordBuilder | None = None
        last_header: list[str] | None = None
        current: _PartFile | None = None
        out: IO[bytes] | None = None
        lines: list[bytes] = []
        try:
            for header, row in page.rows():
                if builder is None or header is not last_header:
                    builder, last_header = RecordBuilder(header, self.fields), header
                    self._warn_unknown(builder.unknown_columns)
                if out is None or current is None:
                    current = self._new_file()
                    out = self._open_jsonl(current)
                lines.append(_ENCODER.encode(builder.build(row)) + b"\n")
                current.rows += 1
                if len(lines) >= JSONL_LINES_PER_WRITE or current.full:
                    out.writelines(lines)
                    lines.clear()
                if current.full:
                    out.close()
                    out = None
                    yield self._named(current)
                    current = None
            if out is not None and current is not None:
                out.writelines(lines)
                out.close()
                out = None
                yield self._named(current)
                current = None
        finally:
            if out is not None:
                out.close()
            if current is not None:
                current.discard()


def file_rows_limit(number: int, batch_size: int) -> int:
    """Rows at most in a stream's ``number``-th file (from 1): ``FIRST_FILE_ROWS``, doubling up
    to ``batch_size``."""
    return min(batch_size, FIRST_FILE_ROWS << min(number - 1, 32))
