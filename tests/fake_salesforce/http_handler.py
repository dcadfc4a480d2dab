"""The HTTP request handler: classify, apply faults, authenticate, count, route, write.

HTTP/1.1 with keep-alive. JSON errors use Salesforce's shapes; results pages stream with chunked
transfer encoding, gzip-compressed (zlib level 1) when the request says ``Accept-Encoding: gzip``
("Use Compression for Bulk API 2.0 Query Responses",
https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/query_compression.htm).
"""

from __future__ import annotations

import contextlib
import queue
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.fake_salesforce import faults, routes_bulk, routes_control, routes_rest
from tests.fake_salesforce.csv_render import RENDER_BLOCK_ROWS
from tests.fake_salesforce.errors import SalesforceError, invalid_session, not_found
from tests.fake_salesforce.http_types import JSON_TYPE, CsvPage, Request, Response
from tests.fake_salesforce.vocabulary import (
    BULK_QUERY_MIN_VERSION,
    MAX_API_VERSION,
    MIN_API_VERSION,
    RESULT_PAGES_MIN_VERSION,
    RETIRED_API_VERSIONS,
)

if TYPE_CHECKING:
    from tests.fake_salesforce.emulator import FakeSalesforce

GZIP_LEVEL = 1  # cheap on CPU: the benchmarks share two cores with the tap, target and PostgreSQL
GZIP_WBITS = 31  # gzip container
GZIP_MEM_LEVEL = 9  # measured ~15% faster than the default 8 at level 1
PIPELINE_BLOCKS = 3  # rendered blocks waiting for compression/sending
# "In each REST call, the maximum length for the combined URI and headers is 16,384 bytes": more
# gets 431, a URI that alone is longer gets 414.
# https://help.salesforce.com/s/articleView?id=000386264&type=1
MAX_URI_AND_HEADERS_BYTES = 16_384
_VERSION = re.compile(r"^v(\d+)\.0$")
_JOB_ID = re.compile(r"^750[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?$")

Route = Callable[["FakeSalesforce", Request], "Response | CsvPage"]


def _data_route(request: Request) -> tuple[str, Route | None]:
    """Kind and route of a ``/services/data/vXX.X/...`` request."""
    parts, method = request.parts, request.method
    head = parts[0] if parts else ""
    if not parts:
        return "resources", routes_rest.resources if method == "GET" else None
    if head == "limits":
        if len(parts) == 1:
            return "limits", routes_rest.limits if method == "GET" else None
        if parts[1:] == ["recordCount"]:
            return "limits", routes_rest.record_count if method == "GET" else None
    if head == "sobjects":
        if len(parts) == 1:
            return "describe", routes_rest.sobjects if method == "GET" else None
        if len(parts) == 3 and parts[2] == "describe":
            return "describe", routes_rest.sobject_describe if method == "GET" else None
        if len(parts) == 3 and parts[2] == "deleted":
            return "deleted", routes_rest.deleted if method == "GET" else None
        if len(parts) == 3 and parts[2] == "updated":
            return "updated", routes_rest.updated if method == "GET" else None
    if head in ("query", "queryAll") and len(parts) <= 2 and method == "GET":
        return "query", routes_rest.query
    if parts[:2] == ["jobs", "query"]:
        return _job_route(request)
    return "other", None


def _job_route(request: Request) -> tuple[str, Route | None]:
    parts, method = request.parts, request.method
    if len(parts) == 2:
        return (
            ("job_create", routes_bulk.create_job)
            if method == "POST"
            else (("job_list", routes_bulk.list_jobs) if method == "GET" else ("other", None))
        )
    request.job_id = parts[2]
    if len(parts) == 3:
        routes: dict[str, tuple[str, Route]] = {
            "GET": ("job_status", routes_bulk.get_job),
            "PATCH": ("job_abort", routes_bulk.abort_job),
            "DELETE": ("job_delete", routes_bulk.delete_job),
        }
        kind, route = routes.get(method, ("other", None))
        return kind, route
    if len(parts) == 4 and method == "GET" and parts[3] == "results":
        return "results", routes_bulk.results
    if len(parts) == 4 and method == "GET" and parts[3] == "resultPages":
        return "result_pages", routes_bulk.result_pages
    return "other", None


class Handler(BaseHTTPRequestHandler):
    """Serves one connection of the emulator."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeSalesforce/1.0"
    sf: FakeSalesforce  # set on the subclass the server builds

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read counters, not access logs."""

    def do_GET(self) -> None:
        """GET."""
        self._dispatch("GET")

    def do_POST(self) -> None:
        """POST."""
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        """PATCH."""
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        """DELETE."""
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        """PUT."""
        self._dispatch("PUT")

    # ---- dispatch ----------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        request = Request(
            method,
            unquote(split.path),
            dict(parse_qsl(split.query, keep_blank_values=True)),
            self.headers,
            self._read_body(),
        )
        try:
            if request.path.startswith("/__emulator/"):
                self._send(routes_control.handle(self.sf, request))
                return
            if self._too_long():
                return
            route = self._classify(request)
            self.sf.counter_store.count_kind(request.kind)
            if self._request_faults(request):
                return
            if route is None:
                raise not_found()
            if request.version is not None:
                self._gatekeep(request)
            outcome = route(self.sf, request)
            if self._after_faults(request):
                return
            if isinstance(outcome, CsvPage):
                self._send_page(request, outcome)
            else:
                self._send(outcome)
        except SalesforceError as exc:
            self._send(Response(exc.status, exc.body(), JSON_TYPE, exc.headers))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _too_long(self) -> bool:
        """414 for a URI over the limit, 431 for URI plus headers over it (the front end's
        answer: plain text, no Salesforce error body)."""
        uri = len(self.path.encode("latin-1", "replace"))
        headers = sum(len(f"{name}: {value}\r\n".encode()) for name, value in self.headers.items())
        if uri > MAX_URI_AND_HEADERS_BYTES:
            status, text = 414, b"URI Too Long"
        elif uri + headers > MAX_URI_AND_HEADERS_BYTES:
            status, text = 431, b"Request Header Fields Too Large"
        else:
            return False
        self.sf.counter_store.count_kind(f"refused_{status}")
        self._send(Response(status, text, "text/plain"))
        return True

    def _after_faults(self, request: Request) -> bool:
        """Faults that strike once a request was handled; True when one answered instead."""
        for fault in self.sf.faults.fire(faults.AFTER, request.kind, request.job_id):
            if isinstance(fault, faults.FailAfterCommit):
                if fault.status == 0:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return True
                error = SalesforceError(
                    fault.status, fault.error_code, fault.message, dict(fault.headers)
                )
                self._send(Response(error.status, error.body(), JSON_TYPE, error.headers))
                return True
        return False

    def _classify(self, request: Request) -> Route | None:
        path = request.path.rstrip("/")
        segments = [s for s in path.split("/") if s]
        if path == "/services/oauth2/token":
            request.kind = "token"
            return routes_rest.token if request.method == "POST" else None
        if segments[:3] == ["services", "Soap", "u"]:
            request.kind = "soap"
            request.parts = segments[3:]
            return routes_rest.soap_login if request.method == "POST" else None
        if segments[:1] == ["id"] and len(segments) == 3:
            request.kind = "identity"
            request.parts = segments[1:]
            return self._authenticated(routes_rest.identity)
        if segments == ["services", "data"]:
            request.kind = "versions"
            return routes_rest.versions if request.method == "GET" else None
        if segments[:2] != ["services", "data"] or len(segments) < 3:
            return None
        match = _VERSION.match(segments[2])
        if match is None:
            return None
        number = int(match.group(1))
        if number in RETIRED_API_VERSIONS:
            raise SalesforceError(410, "GONE", f"API version {number}.0 has been retired")
        if not MIN_API_VERSION <= number <= MAX_API_VERSION:
            return None
        request.version = f"{number}.0"
        request.parts = segments[3:]
        kind, route = _data_route(request)
        request.kind = kind
        if kind.startswith("job") or kind in ("results", "result_pages"):
            minimum = RESULT_PAGES_MIN_VERSION if kind == "result_pages" else BULK_QUERY_MIN_VERSION
            if number < minimum:
                return None
        return route

    def _authenticated(self, route: Route) -> Route:
        def guarded(sf: FakeSalesforce, request: Request) -> Response | CsvPage:
            self._check_token()
            return route(sf, request)

        return guarded

    def _check_token(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not self.sf.tokens.valid(token.strip()):
            raise invalid_session()

    def _gatekeep(self, request: Request) -> None:
        """Token, API access and the daily request limit, in that order."""
        self._check_token()
        if not self.sf.api_enabled:
            raise SalesforceError(
                403, "API_DISABLED_FOR_ORG", "API is not enabled for this Organization or Partner"
            )
        if not self.sf.limits.take("DailyApiRequests"):
            raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        self.sf.counter_store.add("api_calls")

    def _request_faults(self, request: Request) -> bool:
        """Apply request-phase faults; True when one of them already answered."""
        for fault in self.sf.faults.fire(faults.REQUEST, request.kind, request.job_id):
            if isinstance(fault, faults.Slow):
                time.sleep(fault.seconds)
            elif isinstance(fault, faults.ExpireToken):
                self.sf.expire_tokens()
            elif isinstance(fault, faults.HttpError):
                if request.kind == "results":
                    self.sf.counter_store.add("result_requests")
                error = SalesforceError(
                    fault.status, fault.error_code, fault.message, dict(fault.headers)
                )
                self._send(Response(error.status, error.body(), JSON_TYPE, error.headers))
                return True
        return False

    # ---- writing -----------------------------------------------------------------------------
    def _limit_header(self) -> str:
        api = self.sf.limits["DailyApiRequests"]
        return f"api-usage={api['Max'] - api['Remaining']}/{api['Max']}"

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Sforce-Limit-Info", self._limit_header())
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    def _send_page(self, request: Request, page: CsvPage) -> None:
        body_faults = self.sf.faults.fire(faults.BODY, "results", request.job_id)
        gzip_on = self.sf.gzip and "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        self.send_response(200)
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.send_header("Sforce-Limit-Info", self._limit_header())
        if gzip_on:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        writer = PageWriter(self, gzip_on, body_faults)
        rows_written = writer.write(page)
        if writer.dropped:
            return
        counters = self.sf.counter_store
        counters.add("pages_served")
        counters.add("rows_served", rows_written)
        counters.add("bytes_served", writer.bytes_out)


class PageWriter:
    """Writes a CSV page as HTTP chunks, applying body faults (drop, short, malformed, slow).

    Rendering (GIL-bound) runs in the handler thread; compression and socket writes, which release
    the GIL, run in a second thread fed through a short queue, so the two overlap.
    """

    def __init__(self, handler: Handler, gzip_on: bool, body_faults: list[faults.Fault]) -> None:
        self.handler = handler
        self.compressor = (
            zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS, GZIP_MEM_LEVEL)
            if gzip_on
            else None
        )
        self.drop_after = next(
            (f.after_bytes for f in body_faults if isinstance(f, faults.DropConnection)), None
        )
        self.missing = sum(f.missing_rows for f in body_faults if isinstance(f, faults.ShortPage))
        self.malformed = any(isinstance(f, faults.MalformedCsv) for f in body_faults)
        self.reordered = any(isinstance(f, faults.ReorderedPage) for f in body_faults)
        self.pause = sum(f.seconds for f in body_faults if isinstance(f, faults.Slow))
        self.bytes_out = 0
        self.dropped = False
        self.failed = False

    def _chunk(self, data: bytes) -> None:
        if not data or self.dropped:
            return
        if self.drop_after is not None and self.bytes_out + len(data) > self.drop_after:
            keep = max(0, self.drop_after - self.bytes_out)
            self.handler.wfile.write(b"%X\r\n" % len(data) + data[:keep])
            self.handler.wfile.flush()
            self.bytes_out += keep
            self.dropped = True
            self.handler.close_connection = True
            with contextlib.suppress(OSError):
                self.handler.connection.shutdown(socket.SHUT_RDWR)
            return
        self.handler.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.bytes_out += len(data)

    def _drain(self, pending: queue.Queue[bytes | None]) -> None:
        try:
            while (raw := pending.get()) is not None:
                if not self.dropped and not self.failed:
                    self._chunk(self.compressor.compress(raw) if self.compressor else raw)
            if not self.dropped and not self.failed:
                if self.compressor is not None:
                    self._chunk(self.compressor.flush())
                self.handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.failed = True
            self.handler.close_connection = True
            while pending.get() is not None:
                pass

    def write(self, page: CsvPage) -> int:
        """Write the header and rows; returns the number of data rows written."""
        pending: queue.Queue[bytes | None] = queue.Queue(maxsize=PIPELINE_BLOCKS)
        drainer = threading.Thread(
            target=self._drain, args=(pending,), name="fake-sf-page", daemon=True
        )
        drainer.start()
        written = 0
        try:
            pending.put(page.header_line.encode())
            rows = page.rows[::-1] if self.reordered else page.rows
            rows = rows[: max(0, len(rows) - self.missing)]
            broken_at = len(rows) // 2 if self.malformed else -1
            for start in range(0, len(rows), RENDER_BLOCK_ROWS):
                if self.dropped or self.failed:
                    break
                block = list(rows[start : start + RENDER_BLOCK_ROWS])
                if start <= broken_at < start + len(block):
                    cut = broken_at - start
                    text = (
                        page.render(block[:cut], page.overlay)
                        + '"unterminated quoted field'
                        + page.line_ending
                        + page.render(block[cut:], page.overlay)
                    )
                else:
                    text = page.render(block, page.overlay)
                pending.put(text.encode())
                written += len(block)
                if self.pause and start == 0:
                    time.sleep(self.pause)
        finally:
            pending.put(None)
            drainer.join()
        if self.failed:
            raise ConnectionResetError("client went away")
        return written
