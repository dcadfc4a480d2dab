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
from collections.abc import Iterator
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from typing_extensions import override

from tap_salesforce_bulk.salesforce.errors import (
    ResultCountMismatchError,
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


class QuoteCountingBody(io.RawIOBase):
    """A CSV body that raises EOFError when it ends inside a quoted value.

    pyarrow reads an unterminated quote at the end of its input as a complete value (the csv
    module, strict, refuses it), so a body cut inside a text field would pass for a short last
    row. Every quoted field holds an even number of quote characters (open, close, and doubled
    ones inside), so a body that ends cleanly has an even count.
    """

    def __init__(self, source: IO[bytes]) -> None:
        super().__init__()
        self._source = source
        self._quotes = 0

    @override
    def readable(self) -> bool:
        """Always: this is an input stream."""
        return True

    @override
    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer``; at the end, check that no quoted value was left open."""
        data = self._source.read1(len(buffer))  # type: ignore[attr-defined]
        if not data:
            if self._quotes % 2:
                raise EOFError("the page body ended inside a quoted value")
            return 0
        buffer[: len(data)] = data
        self._quotes += data.count(QUOTE)
        return len(data)


def _open_csv(
    body: IO[bytes], *, gzipped: bool
) -> tuple[list[str] | None, pcsv.CSVStreamingReader | None]:
    """The page's header (None: an empty body) and a streaming reader of its data rows."""
    source = cast(IO[bytes], gzip.GzipFile(fileobj=body, mode="rb") if gzipped else body)
    buffered = io.BufferedReader(QuoteCountingBody(source), buffer_size=TEXT_CHUNK_BYTES)
    first = buffered.readline()
    if not first.strip():
        return None, None
    header = next(csv.reader([first.removeprefix(UTF8_BOM).decode("utf-8")]))
    if not buffered.peek(1):
        return header, None  # a header and no rows
    reader = pcsv.open_csv(
        buffered,
        read_options=pcsv.ReadOptions(column_names=header, block_size=BLOCK_BYTES),
        parse_options=_PARSE,
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    return header, reader


def _id_column(header: list[str]) -> str | None:
    return next((name for name in header if name.lower() == "id"), None)


def arrow_batches(page: ResultPage) -> Iterator[pa.RecordBatch]:
    """The page's rows as record batches of text columns (header names, null for empty cells).

    A batch once yielded is never yielded again: after a break the page is fetched again and the
    rows already yielded are left out (by Id; by position if the page has no Id column).
    """
    sent_ids: list[pa.Array] = []
    sent = 0
    locator, job_id = page.locator, page.job_id
    for attempt in range(1, PAGE_READ_MAX_TRIES + 1):
        headers, body, close = page.open_body()
        page.headers = headers
        seen = 0
        skip = pa.concat_arrays(sent_ids) if sent_ids else None
        try:
            header, reader = _open_csv(body, gzipped=headers.gzipped)
            if header is None and headers.number_of_records not in (None, 0):
                raise csv.Error("the page has no header row")
            id_at = _id_column(header) if header else None
            for batch in reader or ():
                start, seen = seen, seen + batch.num_rows
                if id_at is not None:
                    if skip is not None:
                        batch = batch.filter(pc.invert(pc.is_in(batch[id_at], value_set=skip)))
                    sent_ids.append(batch[id_at])
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
        expected = headers.number_of_records
        if expected is None or seen == expected:
            return
        if seen > expected or attempt == PAGE_READ_MAX_TRIES:
            msg = (
                f"page {page_name(locator)} of job {job_id} held {seen} rows but "
                f"Sforce-NumberOfRecords said {expected}"
            )
            raise ResultCountMismatchError(msg)
        page.log_short(seen, expected)
    msg = f"page {page_name(locator)} of job {job_id} could not be read"
    raise SalesforceRetriableError(msg)
