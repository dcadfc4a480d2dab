"""Result pages downloaded ahead to disk in parallel, handed out in order.

While the tap parses one page, up to ``parallel_downloads`` later pages download to temporary
files (bytes as sent: gzip stays gzip). The page being parsed is read from its file while it is
still downloading, so its first rows do not wait for its last byte (a page Salesforce sizes
itself can hold hundreds of megabytes). A download that breaks off surfaces where the reader
reaches the break, and the page reader fetches the page again as it would from the socket.

Page URLs come from ``resultPages`` (parallel result URLs, API 58.0+) when asked and reading from
the start, else from the ``Sforce-Locator`` chain, where each page's header names the next one.
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_parallel_job_results.htm
"""

from __future__ import annotations

import io
import itertools
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, cast

import requests
from typing_extensions import override

from tap_salesforce_bulk.salesforce.bulk import BulkApi, locator_of
from tap_salesforce_bulk.salesforce.errors import SalesforceApiError
from tap_salesforce_bulk.salesforce.pages import (
    PageHeaders,
    ResponseBody,
    ResultPage,
)

logger = logging.getLogger(__name__)

SPOOL_CHUNK_BYTES = 1 << 20
SLOT_WAIT_SECONDS = 0.5


class SpooledPage:
    """A page body downloading to a temporary file, readable while it grows."""

    def __init__(self, headers: PageHeaders, directory: str) -> None:
        self.headers = headers
        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by close()
        self._written = 0
        self._done = False
        self._failure: BaseException | None = None
        self._cancelled = False
        self._grown = threading.Condition()

    def download(self, response: requests.Response) -> None:
        """Copy the body to the file (a pool thread); a failure is raised to the reader."""
        body = ResponseBody(response)
        try:
            while not self._cancelled:
                chunk = body.read(SPOOL_CHUNK_BYTES)
                if not chunk:
                    break
                self.file.write(chunk)
                self.file.flush()
                with self._grown:
                    self._written += len(chunk)
                    self._grown.notify_all()
        except BaseException as exc:  # handed to the reader, which raises it
            self._failure = exc
        finally:
            response.close()
            with self._grown:
                self._done = True
                abandoned = self._cancelled
                self._grown.notify_all()
            if abandoned:
                self.file.close()

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes from ``offset``, waiting for the download to get there; b"" at
        the end of a complete body."""
        with self._grown:
            while offset >= self._written and not self._done:
                self._grown.wait()
            if offset >= self._written and self._failure is not None:
                raise self._failure
            available = self._written - offset
        return os.pread(self.file.fileno(), min(size, available), offset) if available > 0 else b""

    def opener(self) -> IO[bytes]:
        """The body from its start, as it downloads."""
        return cast(IO[bytes], io.BufferedReader(_GrowingBody(self), SPOOL_CHUNK_BYTES))

    def close(self) -> None:
        """Stop the download (if still running); the file goes once nothing writes to it."""
        with self._grown:
            self._cancelled = True
            finished = self._done
        if finished:
            self.file.close()  # else the download closes it at its next chunk


class _GrowingBody(io.RawIOBase):
    """A raw stream over a ``SpooledPage`` from its start."""

    def __init__(self, page: SpooledPage) -> None:
        super().__init__()
        self._page = page
        self._offset = 0

    @override
    def readable(self) -> bool:
        """Always: this is an input stream."""
        return True

    @override
    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` with what has downloaded (waiting for at least one byte; 0 at the end)."""
        data = self._page.read_at(self._offset, len(buffer))
        buffer[: len(data)] = data
        self._offset += len(data)
        return len(data)


# What the planner thread hands the reader: a page, a failure to raise, or None (the end).
Planned = SpooledPage | BaseException | None


class PrefetchedPages:
    """Iterate to get the job's pages in order while later ones download in the background."""

    def __init__(
        self,
        bulk: BulkApi,
        job_id: str,
        start_locator: str | None,
        max_records: int | None,
        *,
        parallel_downloads: int,
        use_result_pages: bool,
        spool_directory: str | None = None,
    ) -> None:
        self._bulk = bulk
        self._job_id = job_id
        self._start_locator = start_locator
        self._max_records = max_records
        self._use_result_pages = use_result_pages
        self._directory = spool_directory or tempfile.gettempdir()
        self._slots = threading.Semaphore(parallel_downloads)
        self._ready: queue.Queue[Planned] = queue.Queue()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=parallel_downloads, thread_name_prefix="page")

    def __iter__(self) -> Iterator[ResultPage]:
        planner = threading.Thread(target=self._plan, name=f"pages-{self._job_id}", daemon=True)
        planner.start()
        try:
            while True:
                item = self._ready.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                spooled = item
                page = ResultPage(
                    self._bulk,
                    self._job_id,
                    spooled.headers.locator,
                    self._max_records,
                    first_copy=(spooled.headers, spooled.opener),
                )
                try:
                    yield page
                finally:
                    spooled.close()
                    self._slots.release()
        finally:
            self._stop.set()
            self._slots.release()
            while True:  # pages downloaded ahead that will not be read
                try:
                    item = self._ready.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, SpooledPage):
                    item.close()
            self._pool.shutdown(wait=False)

    # --- the planner thread ---

    def _plan(self) -> None:
        try:
            from_result_pages = self._use_result_pages and self._start_locator is None
            if not (from_result_pages and self._plan_from_result_pages()):
                self._plan_from_locators()
            self._ready.put(None)
        except BaseException as exc:  # handed to the reader, which raises it
            self._ready.put(exc)

    def _plan_from_result_pages(self) -> bool:
        """Download what ``resultPages`` lists; False if the org does not offer it."""
        urls = self._bulk.result_page_urls(self._job_id)
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
            if not self._take_slot():
                return True
            self._start_download(url, None, locator_of(url))
        return True

    def _plan_from_locators(self) -> None:
        locator = self._start_locator
        results_path = f"jobs/query/{self._job_id}/results"
        while self._take_slot():
            params: dict[str, Any] = {"locator": locator} if locator else {}
            if self._max_records:
                params["maxRecords"] = self._max_records
            locator = self._start_download(results_path, params, locator)
            if locator is None:
                return

    def _start_download(
        self, path: str, params: dict[str, Any] | None, locator: str | None
    ) -> str | None:
        """Open a page and hand its body to a pool thread; return the next page's locator.

        Only the headers are awaited here, so the next page can be asked for at once.
        """
        response = self._bulk.open_result_url(path, params)
        try:
            spooled = SpooledPage(PageHeaders.from_response(locator, response), self._directory)
            self._pool.submit(spooled.download, response)
        except BaseException:
            response.close()
            raise
        self._ready.put(spooled)
        return spooled.headers.next_locator

    def _take_slot(self) -> bool:
        """Wait for a free download slot; False once the reader has stopped."""
        while not self._slots.acquire(timeout=SLOT_WAIT_SECONDS):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()
