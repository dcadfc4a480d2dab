"""``FakeSalesforce``: the emulator's Python API and its HTTP server.

A ``ThreadingHTTPServer`` on 127.0.0.1 (port 0 by default) in a daemon thread serves the
Salesforce APIs the tap uses (see README.md for the list) plus the ``/__emulator/`` control API.
Login URL and instance URL are both ``sf.url``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from http.server import ThreadingHTTPServer
from types import TracebackType

from tests.fake_salesforce import added_fields, formulas, keys
from tests.fake_salesforce.auth import Credentials, OAuthServer, TokenStore
from tests.fake_salesforce.clock import EmulatorClock
from tests.fake_salesforce.coercion import to_epoch_ms
from tests.fake_salesforce.counters import Counters
from tests.fake_salesforce.dataset import ObjectData
from tests.fake_salesforce.faults import Fault, FaultInjector
from tests.fake_salesforce.http_handler import Handler
from tests.fake_salesforce.jobs import JobStore, QueryJob
from tests.fake_salesforce.limits import Limits
from tests.fake_salesforce.org import Org
from tests.fake_salesforce.routes_rest import Cursors
from tests.fake_salesforce.soql_check import check
from tests.fake_salesforce.transactions import Transactions
from tests.fake_salesforce.vocabulary import MAX_API_VERSION, ColumnDelimiter, LineEnding, Operation

DEFAULT_JOB_PROCESSING_SECONDS = 0.5
SHUTDOWN_POLL_SECONDS = 0.05  # how often serve_forever checks for stop(); keeps test teardown quick


def default_credentials(seed: int) -> Credentials:
    """Fixed-per-seed credentials (the private key is per process)."""
    return Credentials(
        username=f"integration.user{seed}@example-health.org",
        password="Emulat0r-Pa55word",
        security_token="SECTOKEN"
        + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(17)),
        client_id="3MVG9FAKE" + secrets.token_hex(20),
        client_secret=secrets.token_hex(32).upper(),
        refresh_token="5Aep861FAKE" + secrets.token_urlsafe(48),
        private_key_pem=keys.private_key_pem(),
    )


class _Server(ThreadingHTTPServer):
    """Threaded server that remembers open connections, so stop() can close idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type[Handler]) -> None:
        super().__init__(address, handler)
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a killed tap, a dropped keep-alive) is not an error here."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every connection still open (idle keep-alive ones included)."""
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class FakeSalesforce:
    """A Salesforce org over real HTTP on loopback: OAuth, SOAP login, REST and Bulk API 2.0 query."""

    def __init__(
        self,
        contacts: int = 2_000,
        accounts: int = 200,
        seed: int = 1,
        job_processing_seconds: float = DEFAULT_JOB_PROCESSING_SECONDS,
        default_page_records: int | None = None,
        shuffle_results: bool = True,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        gzip: bool = True,
        api_enabled: bool = True,
        soap_login_enabled: bool = True,
        credentials: Credentials | None = None,
        tasks: int = 0,
        events: int = 0,
        restricted_objects: bool = False,
        type_zoo: int = 0,
        licenses: int = 0,
        refresh_token_rotation: bool = False,
        session_timeout_seconds: float | None = None,
        username_password_flow: bool = True,
        view_setup_permission: bool = True,
    ) -> None:
        self.org = Org(
            contacts,
            accounts,
            seed,
            tasks=tasks,
            events=events,
            restricted_objects=restricted_objects,
            type_zoo_rows=type_zoo,
            licenses=licenses,
        )
        self.seed = seed
        self.clock = EmulatorClock()
        self.limits = Limits()
        self._counters = Counters()
        self.faults = FaultInjector()
        self.credentials = credentials or default_credentials(seed)
        self.tokens = TokenStore(self.org.org_id, self.clock.now_ms, session_timeout_seconds)
        self.jobs = JobStore(
            self.clock,
            self.limits,
            seed,
            job_processing_seconds,
            shuffle_results,
            default_page_records,
        )
        self.cursors = Cursors()
        self.transactions = Transactions()
        self.gzip = gzip
        self.api_enabled = api_enabled
        self.soap_login_enabled = soap_login_enabled
        # The integration user's profile: without View Setup and Configuration, /limits and
        # /limits/recordCount are refused.
        self.view_setup_permission = view_setup_permission
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.oauth = OAuthServer(
            self.credentials,
            self.tokens,
            "",
            self.org.integration_user_id,
            self.clock.now_ms,
            rotate_refresh_tokens=refresh_token_rotation,
            username_password_flow=username_password_flow,
        )

    # ---- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeSalesforce:
        """Listen and serve in a daemon thread; returns self."""
        handler = type("BoundHandler", (Handler,), {"sf": self})
        self._server = _Server((self._host, self._port), handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.oauth.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="fake-sf-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and stop the job thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        self.jobs.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (standalone use)."""
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> FakeSalesforce:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- observation -------------------------------------------------------------------------
    @property
    def counters(self) -> dict[str, object]:
        """api_calls, auth_calls (by grant), jobs_created, jobs_by_state, pages_served, rows_served,
        bytes_served, result_requests, queries, aborted_jobs, deleted_jobs, requests_by_kind,
        faults_fired."""
        return self._counters.snapshot(self.jobs.states(), dict(self.faults.fired))

    @property
    def counter_store(self) -> Counters:
        """The mutable counters (for the handler and routes)."""
        return self._counters

    def reset_counters(self) -> None:
        """Zero every counter (jobs_by_state keeps describing existing jobs)."""
        self._counters.reset()

    def set_limit(self, name: str, max: int | None = None, remaining: int | None = None) -> None:
        """Set an org limit, e.g. ``set_limit("DailyBulkV2QueryJobs", max=10000, remaining=0)``."""
        self.limits.set(name, max=max, remaining=remaining)

    def job(self, job_id: str) -> QueryJob:
        """A query job (for assertions)."""
        return self.jobs.get(job_id)

    def create_query_job(
        self, soql: str, *, created_by: str | None = None, stuck: bool = False
    ) -> str:
        """Create a query job as another client would (the integration user by default; a job
        that never completes with ``stuck``); returns its id. Not counted in ``jobs_created``."""
        job = self.jobs.create(
            check(soql, self.org, bulk=True),
            Operation.QUERY,
            created_by or self.org.integration_user_id,
            f"{MAX_API_VERSION}.0",
            ColumnDelimiter.COMMA,
            LineEnding.LF,
            "stuck" if stuck else "complete",
            "",
        )
        return job.id

    def truth(
        self, object_name: str, include_deleted: bool = False
    ) -> Iterator[dict[str, str | None]]:
        """Current rows exactly as the CSV renders each field (None for null); compound fields omitted."""
        return self._data(object_name).truth(include_deleted)

    def truth_rows(
        self, object_name: str, include_deleted: bool = False
    ) -> tuple[list[str], Iterator[tuple[str | None, ...]]]:
        """Like ``truth`` but faster: field names, then each row as a tuple in that order."""
        return self._data(object_name).truth_rows(include_deleted)

    # ---- control -------------------------------------------------------------------------------
    def _data(self, object_name: str) -> ObjectData:
        data = self.org.object(object_name)
        if data is None:
            raise KeyError(f"unknown object {object_name!r}")
        return data

    def update_records(
        self,
        object_name: str,
        count: int | None = None,
        ids: Sequence[str] | None = None,
        fields: Mapping[str, object] | None = None,
        system_modstamp: dt.datetime | str | int | None = None,
        transaction: str | None = None,
    ) -> list[str]:
        """Change records: SystemModstamp and LastModifiedDate move to now (or to an explicit,
        possibly earlier, ``system_modstamp``); returns the ids changed.

        Inside an open ``transaction`` (see ``begin_transaction``) the change is stamped with the
        transaction's start unless ``system_modstamp`` says otherwise, and nobody sees it until
        ``commit_transaction``."""
        data = self._data(object_name)
        values = dict(data.coerce(name, value) for name, value in (fields or {}).items())
        rows = data.rows_of(ids) if ids is not None else data.pick_rows(count or 0)
        if system_modstamp is not None:
            stamp = to_epoch_ms(system_modstamp)
        elif transaction is not None:
            stamp = self.transactions.started_ms(transaction)
        else:
            stamp = self.clock.now_ms()
        if transaction is not None:
            self.transactions.write(transaction, data, rows, values, stamp)
        else:
            data.update(rows, values, stamp)
        return [data.ids.id_of(row) for row in rows]

    def begin_transaction(self, started_at: dt.datetime | str | int | None = None) -> str:
        """Open a long-running transaction that began at ``started_at`` (default now); returns
        its id. Until it commits, its updates are invisible to every query and getUpdated's
        latestDateCovered stays at or before its start (for every object: it is instance-wide)."""
        started = to_epoch_ms(started_at) if started_at is not None else self.clock.now_ms()
        return self.transactions.begin(started)

    def commit_transaction(self, transaction: str) -> list[str]:
        """Commit: the transaction's updates appear, with the (older) stamps they were written
        with; returns the ids changed."""
        writes = self.transactions.commit(transaction)
        return [write.data.ids.id_of(row) for write in writes for row in write.rows]

    def rollback_transaction(self, transaction: str) -> None:
        """Roll back: the transaction's updates are forgotten."""
        self.transactions.rollback(transaction)

    def set_replicateable(self, object_name: str, replicateable: bool) -> None:
        """Describe's ``replicateable`` for an object; getUpdated refuses one that is not."""
        name = self._data(object_name).name
        if replicateable:
            self.org.not_replicateable.discard(name)
        else:
            self.org.not_replicateable.add(name)

    def insert_records(self, object_name: str, count: int) -> list[str]:
        """Create ``count`` records (values generated like the others, stamped now)."""
        data = self._data(object_name)
        rows = data.insert(count, self.clock.now_ms())
        return [data.ids.id_of(row) for row in rows]

    def delete_records(self, object_name: str, ids: Sequence[str]) -> list[str]:
        """Soft-delete: IsDeleted=true, SystemModstamp moves; visible only to queryAll."""
        data = self._data(object_name)
        data.delete(data.rows_of(ids), self.clock.now_ms())
        return list(ids)

    def purge_records(self, object_name: str, ids: Sequence[str]) -> list[str]:
        """Hard-delete, as when deleted and emptied from the Recycle Bin: gone from query,
        queryAll, recordCount and ``truth`` (deleted ones included), still in getDeleted's log.
        Soft-deleted rows can be purged too; jobs that already took their snapshot keep them."""
        data = self._data(object_name)
        data.purge(data.rows_of(ids), self.clock.now_ms())
        return list(ids)

    def recalculate_formulas(
        self, object_name: str, count: int | None = None, ids: Sequence[str] | None = None
    ) -> list[str]:
        """Change the formula values of ``count`` live rows (or of ``ids``) without moving any
        stamp, as an edited formula or referenced record does; returns the ids recalculated."""
        data = self._data(object_name)
        rows = data.rows_of(ids) if ids is not None else data.pick_rows(count or 0)
        formulas.recalculate(data, rows)
        return [data.ids.id_of(row) for row in rows]

    def add_field(
        self,
        object_name: str,
        name: str,
        type: str = "string",  # the describe attribute's name (shadows the builtin here only)
        *,
        label: str | None = None,
        length: int | None = None,
        precision: int | None = None,
        scale: int | None = None,
        picklist_values: Sequence[str] | None = None,
        values: added_fields.Values | None = None,
    ) -> dict[str, object]:
        """Add a custom field (``type``: string, textarea, email, phone, url, picklist, boolean,
        date, datetime, double, currency, percent). Every row gets a value, no stamp moves.
        ``values`` is a sequence cycled over rows (row *i* gets ``values[i % len]``) or
        ``f(variant)`` for 1,021 variants; without it a per-type generator fills it in.
        Returns the field's describe entry."""
        data = self._data(object_name)
        spec, pool = added_fields.new_field(
            data.name,
            self.seed,
            name,
            type,
            label=label,
            length=length,
            precision=precision,
            scale=scale,
            picklist_values=picklist_values,
            values=values,
        )
        data.add_field(spec, pool)
        return spec.describe()

    def relabel_field(
        self, object_name: str, name: str, label: str, help_text: str | None = None
    ) -> dict[str, object]:
        """Edit a field's label and help text (``inlineHelpText``), as in Setup; the API name
        stays. Returns the field's describe entry."""
        return self._data(object_name).schema.relabel(name, label, help_text).describe()

    def remove_field(self, object_name: str, name: str) -> list[str]:
        """Delete a custom field (a geolocation with its components): gone from describe,
        SOQL naming it fails with INVALID_FIELD; returns the field names removed."""
        return [spec.name for spec in self._data(object_name).schema.remove(name)]

    def hide_field(self, object_name: str, name: str) -> list[str]:
        """Field-level security hides a field from the API user (like removal, but reversible)."""
        return [spec.name for spec in self._data(object_name).schema.hide(name)]

    def show_field(self, object_name: str, name: str) -> list[str]:
        """Undo ``hide_field``."""
        return [spec.name for spec in self._data(object_name).schema.show(name)]

    def advance_clock(self, seconds: float) -> None:
        """Move emulator time forward, e.g. past the minute getDeleted has not covered yet or
        beyond its 15-day window; later stamps, job dates and deletions follow."""
        self.clock.advance(int(seconds * 1000))

    def expire_tokens(self) -> None:
        """Every issued access token becomes invalid (requests get 401 INVALID_SESSION_ID)."""
        self.tokens.expire_all()

    def inject(self, fault: Fault) -> Fault:
        """Add a fault (see ``faults``); it fires ``fault.times`` times, then heals."""
        return self.faults.inject(fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()
