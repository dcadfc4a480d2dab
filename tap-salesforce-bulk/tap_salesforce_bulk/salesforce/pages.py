"""Result pages of a finished job, parsed as they stream in (from the socket or a spool file).

No page is ever held whole in memory. CSV is parsed by the ``csv`` module straight from the
decompressed byte stream (quoted fields may hold line breaks, so nothing splits on lines first).
A page that breaks off or comes short is fetched again by its locator, which Salesforce keeps
stable for the job's lifetime, and the rows already emitted are skipped, not sent twice.
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_job_results.htm
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

import requests
import urllib3.exceptions
from typing_extensions import override

from tap_salesforce_bulk.salesforce.bulk import LAST_PAGE_LOCATOR, BulkApi
from tap_salesforce_bulk.salesforce.errors import (
    ResultCountMismatchError,
    SalesforceRetriableError,
)

logger = logging.getLogger(__name__)

# Long text areas hold up to 131,072 characters; the csv module's default limit is exactly that.
csv.field_size_limit(1 << 30)
PAGE_READ_MAX_TRIES = 5
TEXT_CHUNK_BYTES = 1 << 20
# Errors that mean a body broke off or arrived damaged; the page is fetched again.
BROKEN_BODY_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.HTTPError,
    EOFError,
    gzip.BadGzipFile,
    csv.Error,
    UnicodeDecodeError,
    OSError,
)


def page_name(locator: str | None) -> str:
    """How logs and errors name a page: its locator, or "first"."""
    return locator or "first"


def give_up_or_warn(
    attempt: int, exc: BaseException, *, job_id: str, locator: str | None, what: str
) -> None:
    """After a page body broke (``what`` happened): raise once the tries are used up, else warn.

    Every page reader (streamed, spooled) retries a broken body with this one policy.
    """
    if attempt >= PAGE_READ_MAX_TRIES:
        msg = f"page {page_name(locator)} of job {job_id} kept breaking: {exc!r}"
        raise SalesforceRetriableError(msg) from None
    logger.warning(
        "Result page %s of job %s %s (%s); fetching it again",
        page_name(locator),
        job_id,
        what,
        type(exc).__name__,
    )


@dataclass(frozen=True)
class PageHeaders:
    """What a results response says about itself."""

    locator: str | None
    next_locator: str | None
    number_of_records: int | None
    gzipped: bool

    @classmethod
    def from_response(cls, locator: str | None, response: requests.Response) -> PageHeaders:
        """Read ``Sforce-Locator``, ``Sforce-NumberOfRecords`` and ``Content-Encoding``."""
        next_locator = response.headers.get("Sforce-Locator")
        count = response.headers.get("Sforce-NumberOfRecords")
        return cls(
            locator=locator,
            next_locator=None if next_locator in (None, "", LAST_PAGE_LOCATOR) else next_locator,
            number_of_records=int(count) if count and count.strip().isdigit() else None,
            gzipped="gzip" in response.headers.get("Content-Encoding", "").lower(),
        )


class ResponseBody(io.RawIOBase):
    """A streamed response body as a raw binary stream (bytes as sent, gzip not undone).

    urllib3's response closes itself at the end of the body, and ``io.BufferedReader`` then
    raises on the next read instead of seeing end-of-file; this adapter reports 0 bytes instead.
    A body that breaks off still raises (urllib3's ProtocolError), so truncation is never EOF.
    """

    def __init__(self, response: requests.Response) -> None:
        super().__init__()
        self._raw = response.raw
        self._raw.decode_content = False

    @override
    def readable(self) -> bool:
        """Always: this is an input stream."""
        return True

    @override
    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with what the socket has (at least one byte, or 0 at the end)."""
        if self._raw.closed:
            return 0
        data = self._raw.read1(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def text_stream(binary: IO[bytes], *, gzipped: bool) -> io.TextIOWrapper:
    """Decoded UTF-8 text over a (possibly gzip) byte stream; Salesforce sends no charset."""
    source = cast(io.RawIOBase, gzip.GzipFile(fileobj=binary, mode="rb") if gzipped else binary)
    reader = io.BufferedReader(source, buffer_size=TEXT_CHUNK_BYTES)
    text = io.TextIOWrapper(reader, encoding="utf-8-sig", newline="")
    # Decoding in 1 MiB pieces instead of the default 8 KiB makes the csv module ~25% faster.
    text._CHUNK_SIZE = TEXT_CHUNK_BYTES  # type: ignore[attr-defined]
    return text


class ResultPage:
    """One page: where it came from, and its rows (each a list of strings, header excluded)."""

    def __init__(
        self,
        bulk: BulkApi,
        job_id: str,
        locator: str | None,
        max_records: int | None,
        first_copy: tuple[PageHeaders, Callable[[], IO[bytes]]] | None = None,
    ) -> None:
        self._bulk = bulk
        self._job_id = job_id
        self.locator = locator
        self._max_records = max_records
        self._first_copy = first_copy
        self.headers: PageHeaders | None = first_copy[0] if first_copy else None

    def open_body(self) -> tuple[PageHeaders, IO[bytes], Callable[[], None]]:
        """The page's headers, its body (bytes as sent), and what closes it: the spooled copy
        first, then a new request each time (a re-fetch after a broken body)."""
        if self._first_copy is not None:
            headers, opener = self._first_copy
            self._first_copy = None
            body = opener()
            return headers, body, body.close
        response = self._bulk.open_results(self._job_id, self.locator, self._max_records)
        headers = PageHeaders.from_response(self.locator, response)
        return headers, cast(IO[bytes], ResponseBody(response)), response.close

    @property
    def job_id(self) -> str:
        """The job the page belongs to."""
        return self._job_id

    def rows(self) -> Iterator[tuple[list[str], list[str]]]:
        """Yield ``(header, row)`` pairs, re-fetching the page after a break without repeats.

        Rows already sent are recognised by their Id, not by their position: Salesforce promises
        the same set of rows for a locator, not the same order. Each sent row costs 8 bytes (the
        hash of its Id in an array), not a string in a set (~100 bytes: 200 MB for a page of two
        million rows); the set of hashes is built only when a page is fetched again.
        """
        sent_hashes = array("q")
        skip: set[int] | None = None
        sent = 0
        for attempt in range(1, PAGE_READ_MAX_TRIES + 1):
            headers, body, close = self.open_body()
            self.headers = headers
            seen = 0
            try:
                reader = csv.reader(text_stream(body, gzipped=headers.gzipped), strict=True)
                header = next(reader, None)
                if header is None:
                    if headers.number_of_records in (None, 0):
                        return
                    raise csv.Error("the page has no header row")
                id_at = _id_column(header)
                for row in reader:
                    seen += 1
                    if id_at is not None and len(row) > id_at:
                        key = hash(row[id_at])
                        if skip is not None and key in skip:
                            continue
                        sent_hashes.append(key)
                    elif seen <= sent:
                        continue  # no Id column: fall back to the position
                    sent += 1
                    yield header, row
            except BROKEN_BODY_ERRORS as exc:
                give_up_or_warn(
                    attempt,
                    exc,
                    job_id=self._job_id,
                    locator=self.locator,
                    what=f"broke off after {seen} rows",
                )
                skip = set(sent_hashes)
                continue
            finally:
                close()
            if self.complete(seen, headers.number_of_records, attempt):
                return
            skip = set(sent_hashes)
        msg = f"page {page_name(self.locator)} of job {self._job_id} could not be read"
        raise SalesforceRetriableError(msg)

    def complete(self, seen: int, expected: int | None, attempt: int) -> bool:
        """After a whole body of ``seen`` rows: True if the page is complete; False (with a
        warning) if it came short and is fetched again; raises once it cannot be made to add up.

        Every page reader (CSV rows, Arrow blocks) checks ``Sforce-NumberOfRecords`` this way.
        """
        if expected is None or seen == expected:
            return True
        if seen > expected or attempt == PAGE_READ_MAX_TRIES:
            msg = (
                f"page {page_name(self.locator)} of job {self._job_id} held {seen} rows but "
                f"Sforce-NumberOfRecords said {expected}"
            )
            raise ResultCountMismatchError(msg)
        logger.warning(
            "Result page %s of job %s came short (%d of %d rows); fetching it again",
            page_name(self.locator),
            self._job_id,
            seen,
            expected,
        )
        return False


def _id_column(header: list[str]) -> int | None:
    return next((i for i, name in enumerate(header) if name.lower() == "id"), None)


def streamed_pages(
    bulk: BulkApi, job_id: str, start_locator: str | None, max_records: int | None
) -> Iterator[ResultPage]:
    """Pages one after another, each parsed straight from its socket."""
    locator = start_locator
    while True:
        page = ResultPage(bulk, job_id, locator, max_records)
        yield page
        if page.headers is None or page.headers.next_locator is None:
            return
        locator = page.headers.next_locator
