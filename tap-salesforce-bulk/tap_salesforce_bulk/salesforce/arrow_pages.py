"""A result page read by pyarrow's CSV reader: Arrow record batches of strings, no row objects.

The batch lane's counterpart of :meth:`ResultPage.rows`, with the same guarantees: a body that
breaks off (or fails to parse) is fetched again, the rows already handed out are skipped by
their Id (Salesforce promises the same rows for a locator, not the same order), and the rows
must add up to ``Sforce-NumberOfRecords``. Every column is read as text with empty cells as
null; typing the values is the caller's job. Imported only with pyarrow installed (the
optional extra ``tap-salesforce-bulk[parquet]``).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from tap_salesforce_bulk.salesforce.errors import (
    SalesforceRetriableError,
)
from tap_salesforce_bulk.salesforce.pages import (
    BROKEN_BODY_ERRORS,
    PAGE_READ_MAX_TRIES,
    TEXT_CHUNK_BYTES,
    ResultPage,
    give_up_or_warn,
    page_name,
)

# Arrow batches of about this much CSV: big enough that pyarrow's per-block cost is nothing.
BLOCK_BYTES = 4 << 20
UTF8_BOM = b"\xef\xbb\xbf"
QUOTE = b'"'
# pyarrow raises ArrowInvalid for a row with too few columns or bytes that are not UTF-8.
ARROW_BROKEN_BODY_ERRORS = (*BROKEN_BODY_ERRORS, pa.ArrowInvalid)
_PARSE = pcsv.ParseOptions(newlines_in_values=True)  # text fields hold line breaks


def row_end(block: bytes) -> int:
    """Where the last complete row of ``block`` ends (after its line break), or -1.

    ``block`` starts at a row boundary. Every quoted field holds an even number of quote
    characters (open, close, and doubled ones inside), so a line break is a row boundary when
    the quotes before it are even in number. Walks back from the end one quote at a time (each
    step in C), so a block costs one pass whatever its line breaks inside text fields.
    """
    end = len(block)
    quotes = block.count(QUOTE)
    while end > 0:
        last_quote = block.rfind(QUOTE, 0, end)
        if quotes % 2 == 0:  # after ``last_quote`` we are outside quotes: any newline ends a row
            newline = block.rfind(b"\n", last_quote + 1, end)
            if newline >= 0:
                return newline + 1
        if last_quote < 0:
            return -1
        end = last_quote
        quotes -= 1
    return -1


def csv_blocks(body: IO[bytes], *, gzipped: bool) -> tuple[list[str] | None, Iterator[bytes]]:
    """The page's header (None: an empty body) and its data rows in blocks of whole rows.

    pyarrow's own streaming reader reads 30-50 MB ahead of the batch it hands out; cutting the
    blocks here keeps memory to one block and hands out each block's rows before reading on.
    A body that ends inside a quoted value raises EOFError: pyarrow would read an unterminated
    quote at the end of its input as a complete value.
    """
    source = cast(IO[bytes], gzip.GzipFile(fileobj=body, mode="rb") if gzipped else body)
    buffered = io.BufferedReader(cast(io.RawIOBase, source), buffer_size=TEXT_CHUNK_BYTES)
    first = buffered.readline()
    if not first.strip():
        return None, iter(())
    header = next(csv.reader([first.removeprefix(UTF8_BOM).decode("utf-8")]))

    def blocks() -> Iterator[bytes]:
        carry = b""
        while data := buffered.read(BLOCK_BYTES):
            block = carry + data if carry else data
            cut = row_end(block)
            if cut < 0:
                carry = block
                continue
            yield block[:cut]
            carry = block[cut:]
        if carry.strip():
            if carry.count(QUOTE) % 2:
                raise EOFError("the page body ended inside a quoted value")
            yield carry

    return header, blocks()


def _parse(block: bytes, header: list[str]) -> pa.Table:
    """One block of whole rows as text columns (empty cells null)."""
    return pcsv.read_csv(
        io.BytesIO(block),
        read_options=pcsv.ReadOptions(
            column_names=header, block_size=len(block) + 1, use_threads=False
        ),
        parse_options=_PARSE,
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _batches(blocks: Iterator[bytes], header: list[str]) -> Iterator[pa.RecordBatch]:
    for block in blocks:
        yield from _parse(block, header).to_batches()


def _id_column(header: list[str]) -> str | None:
    return next((name for name in header if name.lower() == "id"), None)


class SentIds:
    """The Ids of the rows a page has handed out, spooled to a temporary file.

    Salesforce chooses the page size when ``page_size`` is unset, and a page can hold millions of
    rows: kept in memory their Ids would grow the tap by about 22 bytes a row (44 MB for two
    million). The file (Arrow IPC, in the system's temporary directory, gone when closed) is read
    back only when the page is fetched again.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._writer: Any = None

    def add(self, ids: pa.Array) -> None:
        """Remember ``ids`` as handed out."""
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="tap-salesforce-bulk-ids-")  # noqa: SIM115
            self._writer = pa.ipc.new_stream(self._file, pa.schema([("Id", ids.type)]))
        self._writer.write_batch(pa.record_batch([ids], names=["Id"]))

    def read(self) -> pa.Array | None:
        """Every Id handed out so far (None: none yet)."""
        if self._file is None:
            return None
        self._file.flush()
        size = os.fstat(self._file.fileno()).st_size
        data = os.pread(self._file.fileno(), size, 0)
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        return table.column(0).combine_chunks()

    def close(self) -> None:
        """Remove the file."""
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        self._writer = self._file = None


def arrow_batches(page: ResultPage) -> Iterator[pa.RecordBatch]:
    """The page's rows as record batches of text columns (header names, null for empty cells).

    A batch once yielded is never yielded again: after a break the page is fetched again and the
    rows already yielded are left out (by Id; by position if the page has no Id column).
    """
    sent_ids = SentIds()
    try:
        yield from _arrow_batches(page, sent_ids)
    finally:
        sent_ids.close()


def _arrow_batches(page: ResultPage, sent_ids: SentIds) -> Iterator[pa.RecordBatch]:
    sent = 0
    locator, job_id = page.locator, page.job_id
    for attempt in range(1, PAGE_READ_MAX_TRIES + 1):
        headers, body, close = page.open_body()
        page.headers = headers
        seen = 0
        skip = sent_ids.read() if attempt > 1 else None
        try:
            header, blocks = csv_blocks(body, gzipped=headers.gzipped)
            if header is None and headers.number_of_records not in (None, 0):
                raise csv.Error("the page has no header row")
            id_at = _id_column(header) if header else None
            for batch in _batches(blocks, header or []):
                start, seen = seen, seen + batch.num_rows
                if id_at is not None:
                    if skip is not None:
                        batch = batch.filter(pc.invert(pc.is_in(batch[id_at], value_set=skip)))
                    sent_ids.add(batch[id_at])
                elif seen <= sent:
                    continue  # no Id column: fall back to the position
                elif start < sent:
                    batch = batch.slice(sent - start)
                if batch.num_rows:
                    sent += batch.num_rows
                    yield batch
        except ARROW_BROKEN_BODY_ERRORS as exc:
            give_up_or_warn(
                attempt, exc, job_id=job_id, locator=locator, what=f"broke off after {seen} rows"
            )
            continue
        finally:
            close()
        if page.complete(seen, headers.number_of_records, attempt):
            return
    msg = f"page {page_name(locator)} of job {job_id} could not be read"
    raise SalesforceRetriableError(msg)
