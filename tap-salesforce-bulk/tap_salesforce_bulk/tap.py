"""tap-salesforce-bulk: settings and stream discovery. HTTP lives in the modules this one calls."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    STREAM_MAPS_CONFIG,
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.mapper import PluginMapper
from singer_sdk.singerlib import Catalog
from typing_extensions import override

from tap_salesforce_bulk.base import BulkRecordStream
from tap_salesforce_bulk.batch_config import BATCH_CONFIG_PROPERTY, parse_batch_config
from tap_salesforce_bulk.batch_config import refusal as batch_refusal
from tap_salesforce_bulk.catalog import reconcile_catalog
from tap_salesforce_bulk.discovery import discover_object_specs
from tap_salesforce_bulk.jobs import JobRequest
from tap_salesforce_bulk.outcomes import ObjectOutcomes
from tap_salesforce_bulk.runtime import SyncRuntime
from tap_salesforce_bulk.salesforce.errors import (
    ObjectsFailedError,
    SalesforceError,
    SalesforceRetriableError,
)
from tap_salesforce_bulk.schema import ObjectSpec
from tap_salesforce_bulk.settings import CONFIG_JSONSCHEMA, ReconcilePass, SettingError
from tap_salesforce_bulk.side_streams import IdSetStream, PatchStream
from tap_salesforce_bulk.streams import SObjectStream
from tap_salesforce_bulk.unknown_settings import unknown_setting_warnings
from tap_salesforce_bulk.writer import StateFlushingWriter


class TapSalesforceBulk(Tap):
    """Salesforce sObjects through Bulk API 2.0 query jobs."""

    name = "tap-salesforce-bulk"
    config_jsonschema = CONFIG_JSONSCHEMA
    message_writer_class = StateFlushingWriter
    # What the tap does, each held to a behaviour by tests/integration/test_capabilities.py (which
    # also says why the others are left out): no ACTIVATE_VERSION (a target would delete rows an
    # incremental run did not re-read), no schema-flattening (every record is flat: Bulk API 2.0
    # cannot return compound fields). BATCH is the batch lane (``batch_config``).
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        TapCapabilities.TEST,
        PluginCapabilities.ABOUT,
        PluginCapabilities.BATCH,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """The SDK settings of the declared capabilities only (stream maps, and batch_config as
        declared in ``batch_config.py``, with its batch_size). The SDK's own version adds the
        flattening settings whatever a tap declares."""
        for name, schema in STREAM_MAPS_CONFIG["properties"].items():
            config_jsonschema["properties"].setdefault(name, schema)
        config_jsonschema["properties"].setdefault(
            BATCH_CONFIG_PROPERTY.name, BATCH_CONFIG_PROPERTY.to_dict()[BATCH_CONFIG_PROPERTY.name]
        )

    @override
    def setup_mapper(self) -> None:
        """The SDK's mapper, given only the settings the tap declares (an unknown key such as
        ``flattening_enabled`` is ignored, as the warning about it says), before discovery.

        ``batch_config`` is checked here, at start: with stream maps (or flattening) it stops
        the run with one line, and a parquet lane without pyarrow names the extra to install.
        """
        refused = batch_refusal(self.config)
        if refused:
            raise SettingError(refused)
        parse_batch_config(self.config)
        known = self.config_jsonschema["properties"]
        for warning in unknown_setting_warnings(self.config, known, self.name):
            self.logger.warning("%s", warning)
        plugin_config = {key: value for key, value in self.config.items() if key in known}
        self.mapper = PluginMapper(plugin_config=plugin_config, logger=self.logger)
        self.mapper.register_raw_streams_from_catalog(self.catalog)

    _runtime: SyncRuntime | None = None
    _run_outcomes: ClassVar[ObjectOutcomes | None] = None
    _specs: list[ObjectSpec] | None = None
    _reconciled_catalog: Catalog | None = None

    @property
    def runtime(self) -> SyncRuntime:
        """Settings, client and job pipeline shared by the streams (no HTTP until used)."""
        if self._runtime is None:
            self._runtime = SyncRuntime(self.config)
            self._runtime.plan_jobs_with(self._plan_jobs)
            # Tap.sync_all is final: ``invoke`` reads the outcomes once it returns.
            TapSalesforceBulk._run_outcomes = self._runtime.outcomes
        return self._runtime

    def described_objects(self) -> list[ObjectSpec]:
        """Salesforce's describe of every configured object (asked once per run)."""
        if self._specs is None:
            settings = self.runtime.settings
            self._specs = discover_object_specs(
                self.runtime.client,
                settings.objects,
                include_formula_fields=settings.include_formula_fields,
            )
        return self._specs

    @override
    def discover_streams(self) -> Sequence[BulkRecordStream]:
        """One stream per configured object, typed from describe, and its side streams."""
        streams: list[BulkRecordStream] = []
        id_sets = ReconcilePass.DELETES in self.runtime.settings.reconcile
        for spec in self.described_objects():
            base = SObjectStream(self, self.runtime, spec)
            streams += [base, PatchStream(self, base)]
            if id_sets:
                streams.append(IdSetStream(self, base))
        return streams

    @property
    @override
    def input_catalog(self) -> Catalog | None:
        """The given catalog with each stream's schema replaced by today's describe."""
        given = super().input_catalog
        if given is None:
            return None
        if self._reconciled_catalog is None:
            specs = {spec.name: spec for spec in self.described_objects()}
            self._reconciled_catalog = Catalog.from_dict(reconcile_catalog(given.to_dict(), specs))
        return self._reconciled_catalog

    def selected_objects(self) -> list[SObjectStream]:
        """The selected object streams (side streams left out)."""
        return [s for s in self.streams.values() if isinstance(s, SObjectStream) and s.selected]

    def _plan_jobs(self) -> list[JobRequest]:
        """Every selected stream's jobs, in the order the streams will read them."""
        return [
            request for stream in self.selected_objects() for request in stream.planned_requests()
        ]

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
        ctx.exit(run_preflight(tap.runtime, tap.selected_objects))

    @classmethod
    @override
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
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the tap; known Salesforce failures end with one line, not a traceback."""
        try:
            super().invoke(*args, **kwargs)
            failed = cls._run_outcomes.failed if cls._run_outcomes is not None else {}
            if failed:  # the other objects are synced and their state written
                raise ObjectsFailedError(failed)
        except ObjectsFailedError as exc:
            cls.logger.error("%s", exc)
            for line in exc.lines:  # one line per failed object, each with its error
                cls.logger.error("%s", line)
            sys.exit(1)
        except SalesforceError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        except SalesforceRetriableError as exc:  # still failing after every retry
            cls.logger.error(
                "%s (gave up after retrying; rerun to resume from the last state)", exc
            )
            sys.exit(1)
        except BrokenPipeError:
            cls.logger.error(
                "The target stopped reading the tap's output (it exited or was killed); see its "
                "log, then rerun to resume from the last state"
            )
            # Nothing more can reach the pipe; keep the interpreter's final flush from failing.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)


if __name__ == "__main__":
    TapSalesforceBulk.cli()
