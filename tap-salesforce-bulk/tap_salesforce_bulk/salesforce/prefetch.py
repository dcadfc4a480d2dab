"""Result pages downloaded ahead to disk in parallel, handed out in order.

While the tap parses one page, up to ``parallel_downloads`` later pages download to temporary
files (bytes as sent: gzip stays gzip). Page URLs come from ``resultPages`` (parallel result URLs,
API 58.0+) when asked and reading from the start, else from the ``Sforce-Locator`` chain, where
each page's header names the next one.
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_get_parallel_job_results.htm
"""

from __future__ import annotations

import itertools
import logging
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, cast

import requests

from tap_salesforce_bulk.salesforce.bulk import BulkApi, locator_of
from tap_salesforce_bulk.salesforce.errors import SalesforceApiError
from tap_salesforce_bulk.salesforce.pages import (
    BROKEN_BODY_ERRORS,
    PAGE_READ_MAX_TRIES,
    PageHeaders,
    ResponseBody,
    ResultPage,
    give_up_or_warn,
)

logger = logging.getLogger(__name__)

SPOOL_CHUNK_BYTES = 1 << 20
SLOT_WAIT_SECONDS = 0.5


class SpooledPage:
    """A page body downloaded to a temporary file."""

    def __init__(self, response: requests.Response, locator: str | None, directory: str) -> None:
        self.headers = PageHeaders.from_response(locator, response)
        self.file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - closed by the reader
        try:
            shutil.copyfileobj(ResponseBody(response), self.file, SPOOL_CHUNK_BYTES)
        finally:
            response.close()
        self.file.seek(0)

    def opener(self) -> IO[bytes]:
        """The spooled body, from its start."""
        return cast(IO[bytes], self.file)


# What the planner thread hands the reader: a download, a failure to raise, or None (the end).
Planned = Future[SpooledPage] | BaseException | None


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
                spooled = item.result()
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
                    spooled.file.close()
                    self._slots.release()
        finally:
            self._stop.set()
            self._slots.release()
            self._pool.shutdown(wait=False, cancel_futures=True)

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
        headers = PageHeaders.from_response(locator, response)
        self._ready.put(self._pool.submit(self._spool, response, path, params, locator))
        return headers.next_locator

    def _spool(
        self,
        response: requests.Response,
        path: str,
        params: dict[str, Any] | None,
        locator: str | None,
    ) -> SpooledPage:
        for attempt in range(1, PAGE_READ_MAX_TRIES + 1):
            try:
                return SpooledPage(response, locator, self._directory)
            except BROKEN_BODY_ERRORS as exc:
                give_up_or_warn(
                    attempt, exc, job_id=self._job_id, locator=locator, what="download broke off"
                )
                response = self._bulk.open_result_url(path, params)
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_slot(self) -> bool:
        """Wait for a free download slot; False once the reader has stopped."""
        while not self._slots.acquire(timeout=SLOT_WAIT_SECONDS):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()
