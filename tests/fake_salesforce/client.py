"""A minimal ``requests`` client for the emulator's own tests and benchmarks (not the tap)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from tests.fake_salesforce.auth import Credentials

DEFAULT_VERSION = "62.0"
POLL_SECONDS = 0.01
WAIT_TIMEOUT_SECONDS = 30.0
TERMINAL_STATES = ("JobComplete", "Failed", "Aborted")


@dataclass
class Page:
    """One results page as received."""

    status: int
    headers: requests.structures.CaseInsensitiveDict[str]
    header: list[str]
    rows: list[list[str]]
    raw: bytes


class EmulatorClient:
    """Logs in with the password grant and drives Bulk API 2.0 query jobs."""

    def __init__(self, url: str, credentials: Credentials, version: str = DEFAULT_VERSION) -> None:
        self.url = url
        self.credentials = credentials
        self.version = version
        self.session = requests.Session()
        self.login()

    @property
    def base(self) -> str:
        """``{url}/services/data/v{version}``."""
        return f"{self.url}/services/data/v{self.version}"

    def login(self) -> str:
        """Password grant; stores and returns the access token."""
        c = self.credentials
        reply = requests.post(
            f"{self.url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": c.client_id,
                "client_secret": c.client_secret,
                "username": c.username,
                "password": c.password + c.security_token,
            },
            timeout=10,
        )
        reply.raise_for_status()
        token = str(reply.json()["access_token"])
        self.session.headers["Authorization"] = f"Bearer {token}"
        return token

    def create_job(self, query: str, operation: str = "query", **options: str) -> requests.Response:
        """POST a query job (the raw response)."""
        return self.session.post(
            f"{self.base}/jobs/query",
            json={"operation": operation, "query": query, **options},
            timeout=10,
        )

    def job(self, job_id: str) -> dict[str, object]:
        """Job info."""
        reply = self.session.get(f"{self.base}/jobs/query/{job_id}", timeout=10)
        reply.raise_for_status()
        return dict(reply.json())

    def wait(self, job_id: str, timeout: float = WAIT_TIMEOUT_SECONDS) -> dict[str, object]:
        """Poll until the job is terminal."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info["state"] in TERMINAL_STATES or time.monotonic() > deadline:
                return info
            time.sleep(POLL_SECONDS)

    def page(
        self,
        job_id: str,
        locator: str | None = None,
        max_records: int | None = None,
        gzip: bool = False,
        version: str | None = None,
    ) -> Page:
        """GET one results page and parse it with the csv module (UTF-8, newline='')."""
        params: dict[str, str | int] = {}
        if locator:
            params["locator"] = locator
        if max_records:
            params["maxRecords"] = max_records
        headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
        base = f"{self.url}/services/data/v{version or self.version}"
        reply = self.session.get(
            f"{base}/jobs/query/{job_id}/results", params=params, headers=headers, timeout=60
        )
        rows: list[list[str]] = []
        header: list[str] = []
        if reply.status_code == 200:
            parsed = list(csv.reader(io.StringIO(reply.content.decode("utf-8"), newline="")))
            header, rows = (parsed[0], parsed[1:]) if parsed else ([], [])
        return Page(reply.status_code, reply.headers, header, rows, reply.content)

    def pages(
        self, job_id: str, max_records: int | None = None, gzip: bool = False
    ) -> Iterator[Page]:
        """Every page of a completed job, following Sforce-Locator until ``null``."""
        locator: str | None = None
        while True:
            page = self.page(job_id, locator, max_records, gzip)
            yield page
            locator = page.headers.get("Sforce-Locator")
            if page.status != 200 or locator in (None, "null"):
                return

    def run(
        self, query: str, operation: str = "query", max_records: int | None = None, **options: str
    ) -> tuple[dict[str, object], list[Page]]:
        """Create, wait, fetch every page."""
        created = self.create_job(query, operation, **options)
        created.raise_for_status()
        job_id = str(created.json()["id"])
        info = self.wait(job_id)
        return info, list(self.pages(job_id, max_records))


def csv_records(pages: list[Page]) -> list[dict[str, str]]:
    """Rows of every page as dicts keyed by the header."""
    return [dict(zip(page.header, row, strict=True)) for page in pages for row in page.rows]
