"""tap-salesforce-bulk: settings and stream discovery. HTTP lives in the modules this one calls."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities
from singer_sdk.singerlib import Catalog

from tap_salesforce_bulk.base import BulkRecordStream
from tap_salesforce_bulk.catalog import reconcile_catalog
from tap_salesforce_bulk.config import DEFAULT_API_VERSION, AuthFlow
from tap_salesforce_bulk.discovery import ALL_OBJECTS, discover_object_specs
from tap_salesforce_bulk.errors import SalesforceError, SalesforceRetriableError
from tap_salesforce_bulk.jobs import JobPipeline
from tap_salesforce_bulk.reconcile import RECONCILE_DELETES, IdSetStream, PatchStream
from tap_salesforce_bulk.runtime import SyncRuntime
from tap_salesforce_bulk.schema import ObjectSpec
from tap_salesforce_bulk.streams import SObjectStream
from tap_salesforce_bulk.writer import StateFlushingWriter

SETTINGS = th.PropertiesList(
    th.Property(
        "auth_flow",
        th.StringType,
        allowed_values=[flow.value for flow in AuthFlow],
        description="How to log in: jwt or client_credentials (recommended), refresh_token, "
        "password (OAuth username-password, retired by Salesforce on 2027-02-20) or soap "
        "(SOAP login(), retired from API 65.0 on; the tap uses API 64.0 for it). Inferred from "
        "the credentials given when unset.",
    ),
    th.Property(
        "username", th.StringType, description="Salesforce username (jwt, password, soap)."
    ),
    th.Property("password", th.StringType, secret=True, description="Password (password, soap)."),
    th.Property(
        "security_token",
        th.StringType,
        secret=True,
        description="Security token, appended to the password (password, soap); not needed "
        "when the login IP is trusted.",
    ),
    th.Property(
        "client_id",
        th.StringType,
        secret=True,
        description="Connected app consumer key (every flow but soap).",
    ),
    th.Property(
        "client_secret",
        th.StringType,
        secret=True,
        description="Connected app consumer secret (client_credentials, password; "
        "refresh_token when the app requires it).",
    ),
    th.Property("refresh_token", th.StringType, secret=True, description="OAuth refresh token."),
    th.Property(
        "private_key",
        th.StringType,
        secret=True,
        description="PEM text of the RSA key whose certificate is on the connected app (jwt). "
        "Literal \\n sequences are accepted.",
    ),
    th.Property(
        "private_key_path",
        th.StringType,
        description="Path of a PEM key file, instead of private_key (jwt).",
    ),
    th.Property(
        "domain",
        th.StringType,
        default="login",
        description="login (production), test (sandbox), or your My Domain such as acme.my "
        "(required for client_credentials).",
    ),
    th.Property(
        "login_url",
        th.StringType,
        description="Full base URL for logins, overriding domain (e.g. https://acme.my.salesforce.com).",
    ),
    th.Property(
        "api_version",
        th.StringType,
        default=DEFAULT_API_VERSION,
        description="Salesforce API version for REST and Bulk 2.0 calls.",
    ),
    th.Property(
        "objects",
        th.ArrayType(th.StringType),
        default=["Contact"],
        description='sObject API names to sync; ["*"] means every object Bulk API 2.0 can query.',
    ),
    th.Property(
        "start_date",
        th.StringType,
        description="Sync records modified at or after this ISO 8601 date/timestamp, or within "
        "the last N days written as 7d. Unset means the whole history.",
    ),
    th.Property(
        "include_deleted",
        th.BooleanType,
        default=False,
        description="Use queryAll and emit deleted (recycle bin) rows with IsDeleted=true.",
    ),
    th.Property(
        "include_formula_fields",
        th.BooleanType,
        default=True,
        description="Emit formula and roll-up fields. Their values can change without "
        "SystemModstamp moving, so incremental runs can leave them stale.",
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        description="maxRecords per result page. Unset lets Salesforce choose and enables "
        "parallel result URLs (resultPages, API 58.0+).",
    ),
    th.Property(
        "max_wait_time",
        th.IntegerType,
        default=3600,
        description="Seconds a Bulk job may take before the tap aborts it and fails.",
    ),
    th.Property(
        "lag_seconds",
        th.NumberType,
        default=300,
        description="Safety margin: a bookmark never passes a job's creation time minus this, "
        "so records committed late with an earlier SystemModstamp are read next run.",
    ),
    th.Property(
        "window_days",
        th.NumberType,
        description="Split each object into SystemModstamp windows of this many days, one job "
        "each (parallel jobs, and the bookmark moves after each window). Unset: one job.",
    ),
    th.Property(
        "max_parallel_jobs",
        th.IntegerType,
        default=3,
        description="Bulk jobs alive at once (objects or windows Salesforce runs ahead).",
    ),
    th.Property(
        "max_parallel_downloads",
        th.IntegerType,
        default=3,
        description="Result pages downloaded ahead to disk in parallel; 1 streams each page "
        "straight from its socket.",
    ),
    th.Property(
        "reconcile",
        th.ArrayType(th.StringType),
        default=[],
        description='Extra passes after each object: "deletes" lists every existing Id (one '
        "Id-only Bulk job) so the target can mark rows deleted or purged in Salesforce; "
        '"formula_fields" re-reads formula and roll-up fields, which change without '
        "SystemModstamp. Fields added in Salesforce are backfilled on every incremental run.",
    ),
    th.Property(
        "max_api_usage_percent",
        th.NumberType,
        default=80,
        description="Stop (with resumable state) before creating a job once an org allocation "
        "(DailyApiRequests, DailyBulkV2QueryJobs, DailyBulkV2QueryFileStorageMB) is this much used.",
    ),
).to_dict()


class TapSalesforceBulk(Tap):
    """Salesforce sObjects through Bulk API 2.0 query jobs."""

    name = "tap-salesforce-bulk"
    config_jsonschema = SETTINGS
    message_writer_class = StateFlushingWriter
    # No BATCH (it bypasses the bookmark and typing rules here) and no ACTIVATE_VERSION (a
    # target would delete rows an incremental run did not re-read).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    _runtime: SyncRuntime | None = None
    _pipeline: JobPipeline | None = None
    _specs: list[ObjectSpec] | None = None
    _reconciled_catalog: Catalog | None = None

    @property
    def runtime(self) -> SyncRuntime:
        """Settings, client and job pipeline shared by the streams (no HTTP until used)."""
        if self._runtime is None:
            self._runtime = SyncRuntime(self.config)
        return self._runtime

    def described_objects(self) -> list[ObjectSpec]:
        """Salesforce's describe of every configured object (asked once per run)."""
        if self._specs is None:
            self._specs = discover_object_specs(
                self.runtime.client,
                self.config.get("objects") or ["Contact"],
                include_formula_fields=self.config.get("include_formula_fields", True),
            )
        return self._specs

    @property
    def syncs_every_object(self) -> bool:
        """``objects: ["*"]``: objects Bulk refuses are skipped, not fatal."""
        return list(self.config.get("objects") or []) == [ALL_OBJECTS]

    def discover_streams(self) -> Sequence[BulkRecordStream]:
        """One stream per configured object, typed from describe, and its side streams."""
        streams: list[BulkRecordStream] = []
        id_sets = RECONCILE_DELETES in self.runtime.settings.reconcile
        for spec in self.described_objects():
            base = SObjectStream(self, spec)
            streams += [base, PatchStream(self, base)]
            if id_sets:
                streams.append(IdSetStream(self, base))
        return streams

    @property
    def input_catalog(self) -> Catalog | None:
        """The given catalog with each stream's schema replaced by today's describe."""
        given = super().input_catalog
        if given is None:
            return None
        if self._reconciled_catalog is None:
            specs = {spec.name: spec for spec in self.described_objects()}
            self._reconciled_catalog = Catalog.from_dict(reconcile_catalog(given.to_dict(), specs))
        return self._reconciled_catalog

    def ensure_pipeline(self) -> JobPipeline:
        """Plan every selected stream's jobs on first use, so jobs run ahead in Salesforce."""
        if self._pipeline is None:
            requests = [
                request
                for stream in self.streams.values()
                if isinstance(stream, SObjectStream) and stream.selected
                for request in stream.plan_requests()
            ]
            self._pipeline = self.runtime.start_pipeline(requests)
        return self._pipeline

    @classmethod
    def cb_preflight(cls, ctx: click.Context, param: click.Option, value: bool) -> None:
        """``--preflight``: check login, limits and record counts, then exit."""
        if not value:
            return
        from tap_salesforce_bulk.preflight import run_preflight

        config = ctx.params.get("config")
        try:
            tap = cls(
                config=config.config if config else None,
                parse_env_config=bool(config and config.parse_env),
            )
        except (SalesforceError, ConfigValidationError) as exc:  # login happens in discovery
            click.echo(f"FAILED: {exc}")
            ctx.exit(1)
        ctx.exit(run_preflight(tap))

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """The SDK's command plus ``--preflight``."""
        command = super().get_singer_command()
        command.params.append(
            click.Option(
                ["--preflight"],
                is_flag=True,
                help="Check login, API limits, record counts and sample records, then exit.",
                callback=cls.cb_preflight,
                expose_value=False,
            )
        )
        return command

    @classmethod
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the tap; known Salesforce failures end with one line, not a traceback."""
        try:
            super().invoke(*args, **kwargs)
        except SalesforceError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        except SalesforceRetriableError as exc:  # still failing after every retry
            cls.logger.error(
                "%s (gave up after retrying; rerun to resume from the last state)", exc
            )
            sys.exit(1)


if __name__ == "__main__":
    TapSalesforceBulk.cli()
