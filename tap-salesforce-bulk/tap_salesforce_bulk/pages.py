"""Result pages of a finished job, streamed: from the socket, or spooled ahead to disk in parallel.

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
import itertools
import logging
import queue
import shutil
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, cast

import requests
import urllib3.exceptions

from tap_salesforce_bulk.bulk import LAST_PAGE_LOCATOR, BulkApi, locator_of
from tap_salesforce_bulk.errors import (
    ResultCountMismatchError,
    SalesforceApiError,
    SalesforceRetriableError,
)

logger = logging.getLogger(__name__)

# Long text areas hold up to 131,072 characters; the csv module's default limit is exactly that.
csv.field_size_limit(1 << 30)
PAGE_READ_MAX_TRIES = 5
SPOOL_CHUNK_BYTES = 1 << 20
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

    def readable(self) -> bool:
        """Always: this is an input stream."""
        return True

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

    def _open(self) -> tuple[PageHeaders, IO[bytes], Callable[[], None]]:
        if self._first_copy is not None:
            headers, opener = self._first_copy
            self._first_copy = None
            body = opener()
            return headers, body, body.close
        response = self._bulk.open_results(self._job_id, self.locator, self._max_records)
        headers = PageHeaders.from_response(self.locator, response)
        return headers, cast(IO[bytes], ResponseBody(response)), response.close

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
            headers, body, close = self._open()
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
                if attempt == PAGE_READ_MAX_TRIES:
                    msg = f"page {self.locator or 'first'} of job {self._job_id} kept breaking: {exc!r}"
                    raise SalesforceRetriableError(msg) from None
                logger.warning(
                    "Result page %s of job %s broke off after %d rows (%s); fetching it again",
                    self.locator or "first",
                    self._job_id,
                    seen,
                    type(exc).__name__,
                )
                skip = set(sent_hashes)
                continue
            finally:
                close()
            expected = headers.number_of_records
            if expected is None or seen == expected:
                return
            if seen > expected or attempt == PAGE_READ_MAX_TRIES:
                msg = (
                    f"page {self.locator or 'first'} of job {self._job_id} held {seen} rows but "
                    f"Sforce-NumberOfRecords said {expected}"
                )
                raise ResultCountMismatchError(msg)
            skip = set(sent_hashes)
            logger.warning(
                "Result page %s of job %s came short (%d of %d rows); fetching it again",
                self.locator or "first",
                self._job_id,
                seen,
                expected,
            )
        msg = f"page {self.locator or 'first'} of job {self._job_id} could not be read"
        raise SalesforceRetriableError(msg)


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


class _Spooled:
    """A page body downloaded to a temporary file (bytes as sent: gzip stays gzip)."""

    def __init__(self, response: requests.Response, locator: str | None, directory: str) -> None:
        self.headers = PageHeaders.from_response(locator, response)
        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by the reader
        try:
            shutil.copyfileobj(ResponseBody(response), self.file, SPOOL_CHUNK_BYTES)
        finally:
            response.close()
        self.file.seek(0)

    def opener(self) -> IO[bytes]:
        return cast(IO[bytes], self.file)


def prefetched_pages(
    bulk: BulkApi,
    job_id: str,
    start_locator: str | None,
    max_records: int | None,
    *,
    parallel_downloads: int,
    use_result_pages: bool,
    spool_directory: str | None = None,
) -> Iterator[ResultPage]:
    """Pages in order, while up to ``parallel_downloads`` later pages download to disk.

    Page URLs come from ``resultPages`` (when asked and resuming from the start) or from the
    locator chain, where each page's ``Sforce-Locator`` names the next one.
    """
    directory = spool_directory or tempfile.gettempdir()
    slots = threading.Semaphore(parallel_downloads)
    ready: queue.Queue[Future[_Spooled] | BaseException | None] = queue.Queue()
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=parallel_downloads, thread_name_prefix="page")

    def spool(
        response: requests.Response, path: str, params: dict[str, Any] | None, locator: str | None
    ) -> _Spooled:
        for attempt in range(1, PAGE_READ_MAX_TRIES + 1):
            try:
                return _Spooled(response, locator, directory)
            except BROKEN_BODY_ERRORS as exc:
                if attempt == PAGE_READ_MAX_TRIES:
                    msg = f"page {locator or 'first'} of job {job_id} kept breaking: {exc!r}"
                    raise SalesforceRetriableError(msg) from None
                logger.warning(
                    "Download of page %s of job %s broke off (%s); fetching it again",
                    locator or "first",
                    job_id,
                    type(exc).__name__,
                )
                response = bulk.open_result_url(path, params)
        raise AssertionError("unreachable")  # pragma: no cover

    def start_download(path: str, params: dict[str, Any] | None, locator: str | None) -> str | None:
        # Only the headers are awaited here; the body downloads on a pool thread, so the next
        # page (named by this one's Sforce-Locator) can start at once.
        response = bulk.open_result_url(path, params)
        headers = PageHeaders.from_response(locator, response)
        ready.put(pool.submit(spool, response, path, params, locator))
        return headers.next_locator

    def plan_from_result_pages() -> bool:
        """Download what ``resultPages`` lists; False if the org does not offer it."""
        urls = bulk.result_page_urls(job_id)
        try:
            first = next(urls)
        except StopIteration:
            # No page listed: an empty result, or an answer we do not understand. The locator
            # chain is right either way (an empty job's first page is just its header).
            return False
        except (SalesforceApiError, AttributeError, TypeError, ValueError) as exc:
            logger.info("resultPages is not available (%s); following Sforce-Locator", exc)
            return False
        for url in itertools.chain([first], urls):
            if not _acquire(slots, stop):
                return True
            start_download(url, None, locator_of(url))
        return True

    def plan_from_locators() -> None:
        locator = start_locator
        results_path = f"jobs/query/{job_id}/results"
        while _acquire(slots, stop):
            params: dict[str, Any] = {"locator": locator} if locator else {}
            if max_records:
                params["maxRecords"] = max_records
            locator = start_download(results_path, params, locator)
            if locator is None:
                return

    def plan() -> None:
        try:
            if not (use_result_pages and start_locator is None and plan_from_result_pages()):
                plan_from_locators()
            ready.put(None)
        except BaseException as exc:  # handed to the consumer, which raises it
            ready.put(exc)

    planner = threading.Thread(target=plan, name=f"pages-{job_id}", daemon=True)
    planner.start()
    try:
        while True:
            item = ready.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            spooled = item.result()
            page = ResultPage(
                bulk,
                job_id,
                spooled.headers.locator,
                max_records,
                first_copy=(spooled.headers, spooled.opener),
            )
            try:
                yield page
            finally:
                spooled.file.close()
                slots.release()
    finally:
        stop.set()
        slots.release()
        pool.shutdown(wait=False, cancel_futures=True)


def _acquire(slots: threading.Semaphore, stop: threading.Event) -> bool:
    while not slots.acquire(timeout=0.5):
        if stop.is_set():
            return False
    return not stop.is_set()
