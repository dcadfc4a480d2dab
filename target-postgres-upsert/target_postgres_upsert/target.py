"""The Target: its settings (declared in ``settings.py``) and sink class, and when batches flush
and STATE is released.

STATE safety
------------
A STATE message is written to stdout only when every record that came before it, in every stream,
is committed. Two rules give that:

1. The target *queues* a STATE on the loader (``loader.py``) only when no sink holds a record that
   came before it: at once if every sink is empty when the STATE arrives, else right after the next
   flush of all sinks. Only the latest such STATE is kept (each STATE supersedes the previous one).
2. The loader runs batches and STATEs in queue order and writes a STATE only after committing
   every batch queued before it; after any failure it writes nothing more.

Flushes: all sinks are flushed together when one of them is full (``batch_size_rows``), when the
oldest unflushed record is older than ``max_batch_age_seconds`` (checked per message and, while the
tap is quiet, once a second by the reader), at end of input, and before the target stops on bad
input. Flushing all sinks together is what lets a STATE out: a slow stream's few records would
otherwise hold back every STATE behind them. A stream's own pending rows are also flushed before a
changed SCHEMA or an ACTIVATE_VERSION for it, so they are applied in input order.

Side streams (``side_streams/``): a SCHEMA marked ``x-singer-patch`` or ``x-singer-id-set`` gets a
sink that applies the stream to its base stream's table instead of loading a table of its own.
Their batches are queued after every other stream's in a flush (so a patch meets the rows it
patches), and an Id set's ACTIVATE_VERSION first flushes all streams (the sweep must see every
row the tap sent before it).
"""

from __future__ import annotations

import copy
import signal
import sys
import time
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any, cast

import msgspec
from singer_sdk.exceptions import RecordsWithoutSchemaException
from singer_sdk.helpers.capabilities import (
    ACTIVATE_VERSION_CONFIG,
    TARGET_BATCH_SIZE_ROWS_CONFIG,
    PluginCapabilities,
    TargetCapabilities,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.sinks import Sink
from singer_sdk.target_base import Target
from typing_extensions import override

from target_postgres_upsert import db
from target_postgres_upsert.errors import (
    DatabaseError,
    TargetError,
    TerminationRequested,
    redact,
)
from target_postgres_upsert.host import SinkHost
from target_postgres_upsert.loader import Loader
from target_postgres_upsert.reader import NumberedReader, RecordMessage, decode_json
from target_postgres_upsert.settings import CONFIG_JSONSCHEMA, Settings
from target_postgres_upsert.side_streams import (
    ID_SET_MARKER,
    PATCH_MARKER,
    IdSetSink,
    PatchSink,
    is_side_sink,
    side_stream_base,
)
from target_postgres_upsert.sinks import PostgresUpsertSink
from target_postgres_upsert.types import table_name, with_hash_suffix
from target_postgres_upsert.unknown_settings import unknown_setting_warnings

_STATE_ENCODER = msgspec.json.Encoder(decimal_format="number")
EXIT_FAILURE = 1
GIL_SWITCH_INTERVAL_SECONDS = 0.001
AGE_CHECK_EVERY_RECORDS = 500  # the clock is read every so many records, not for each one
_UNKNOWN: Any = object()
EXIT_SIGNAL_BASE = 128  # shell convention: killed by signal N exits 128 + N


class TargetPostgresUpsert(Target):
    """Singer target that upserts any Singer stream into PostgreSQL."""

    name = "target-postgres-upsert"
    default_sink_class = PostgresUpsertSink
    message_reader_class = NumberedReader
    # What the target does, each held to a behaviour by tests/integration/test_capabilities.py
    # (which also says why the others are left out).
    capabilities = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.SOFT_DELETE,  # _sdc_deleted_at, the default
        TargetCapabilities.HARD_DELETE,  # hard_delete: true
        TargetCapabilities.TARGET_SCHEMA,  # default_target_schema
        TargetCapabilities.DATATYPE_FAILSAFE,  # a schema we cannot type loads as jsonb or text
        PluginCapabilities.BATCH,
    ]

    config_jsonschema = CONFIG_JSONSCHEMA

    def __init__(self, **kwargs: Any) -> None:
        """Read the settings and start the loader thread (it connects on first use)."""
        super().__init__(**kwargs)
        for warning in unknown_setting_warnings(
            self.config, self.config_jsonschema["properties"], self.name
        ):
            self.logger.warning("%s", warning)
        self.settings = Settings.from_config(self.config)
        self.max_parallelism = 1  # sinks only queue batches; the loader thread does the work
        self.loader = Loader(
            connect=self._connect,
            write_state=self._emit_state,
            redact=lambda text: redact(text, self.settings.secrets),
        )
        self._tables: dict[str, str] = {}
        self._state_to_release: dict[str, Any] | None = None
        self._oldest_pending_at: float | None = None
        self._stopping = False
        self._connected = False
        self._records_to_age_check = AGE_CHECK_EVERY_RECORDS
        # stream -> its sink when records go straight to it (no stream map), else None.
        self._plain_sinks: dict[str, Any] = {}
        self._sink_schemas: dict[str, dict[str, Any]] = {}  # for get_sink_class
        self._id_set_streams: set[str] = set()  # Id set streams whose set was started
        self._batch_lane: BatchLane | None = None  # made by the first BATCH message
        self.reader.on_idle = self._on_idle

    @classmethod
    @override
    def append_builtin_config(cls, config_jsonschema: dict[str, Any]) -> None:
        """Add the SDK settings we honour (not ``load_method`` or ``validate_records``)."""
        for builtin in (TARGET_BATCH_SIZE_ROWS_CONFIG, ACTIVATE_VERSION_CONFIG):
            for name, schema in builtin["properties"].items():
                config_jsonschema["properties"].setdefault(name, schema)
        super(Target, cls).append_builtin_config(config_jsonschema)

    # --- things the sinks use -------------------------------------------------------------------

    @property
    def reader(self) -> NumberedReader:
        """The message reader (line numbers for rejects and errors)."""
        reader = self.message_reader
        assert isinstance(reader, NumberedReader)
        return reader

    @property
    def line_number(self) -> int:
        """The input line being processed."""
        return self.reader.line_number

    @property
    def current_line(self) -> str:
        """The raw input line being processed."""
        return self.reader.current_line

    def claim_table(self, stream_name: str) -> str:
        """The table for a stream; a second stream whose name maps to the same table gets a
        hashed name instead of sharing it."""
        name = table_name(stream_name, self.settings.column_naming)
        owner = self._tables.setdefault(name, stream_name)
        if owner != stream_name:
            name = with_hash_suffix(name, stream_name)
            self.logger.warning(
                "Streams %r and %r map to the same table; %r loads into %r",
                owner,
                stream_name,
                stream_name,
                name,
            )
            self._tables[name] = stream_name
        return name

    def base_sink(self, stream_name: str) -> PostgresUpsertSink | None:
        """The sink loading ``stream_name`` in this run, if any (a side stream's base)."""
        sink = self._sinks_active.get(stream_name)
        return sink if isinstance(sink, PostgresUpsertSink) else None

    def first_id_set_sink(self, stream_name: str) -> bool:
        """True the first time an Id set stream sets up in this run (its set starts empty)."""
        first = stream_name not in self._id_set_streams
        self._id_set_streams.add(stream_name)
        return first

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, Any] | None = None,
        schema: dict[str, Any] | None = None,
        key_properties: Any = None,
    ) -> Sink:
        """The SDK's, remembering the schema so ``get_sink_class`` can read its markers."""
        if schema is not None:
            self._sink_schemas[stream_name] = schema
        return super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )

    @override
    def get_sink_class(self, stream_name: str) -> type[Sink]:
        """A patch or Id set sink for a marked schema, else the upsert sink."""
        schema = self._sink_schemas.get(stream_name) or {}
        if side_stream_base(schema, PATCH_MARKER) is not None:
            return PatchSink
        if side_stream_base(schema, ID_SET_MARKER) is not None:
            return IdSetSink
        return PostgresUpsertSink

    def _connect(self) -> db.Database:
        return db.Database(db.connect(self.settings.connection))

    def _emit_state(self, state: dict[str, Any]) -> None:
        """Runs on the loader thread once everything before this STATE is committed."""
        sys.stdout.write(_STATE_ENCODER.encode(state).decode("utf-8") + "\n")
        sys.stdout.flush()

    @override
    def _write_state_message(self, state: dict[str, Any]) -> None:
        """The SDK's ``drain_all`` writes STATE directly; route it through the loader instead."""
        self.loader.submit_state(copy.deepcopy(state))

    # --- flushing -------------------------------------------------------------------------------

    def _sinks(self) -> list[Any]:
        """Every sink; side streams' last, so their batches apply after the rows they touch."""
        sinks = [*self._sinks_to_clear, *self._sinks_active.values()]
        return [s for s in sinks if not is_side_sink(s)] + [s for s in sinks if is_side_sink(s)]

    def _has_pending(self) -> bool:
        if self._batch_lane is not None and self._batch_lane.busy:
            return True  # a BATCH's last chunk may still need the record lane
        return any(sink.current_size for sink in self._sinks())

    def _settle_batches(self) -> None:
        """Finish the last BATCH message before anything that must come after its rows."""
        if self._batch_lane is not None and self._batch_lane.busy:
            self._batch_lane.settle()

    def _on_idle(self) -> None:
        """The tap is quiet: finish the last BATCH (its STATE goes out) and check ages."""
        self._settle_batches()
        self._check_age()

    def _flush_all(self) -> None:
        """Queue every sink's pending rows, then the STATE that this makes safe."""
        self._settle_batches()
        for sink in self._sinks():
            self.drain_one(sink)
        for sink in self._sinks_to_clear:
            sink.clean_up()
        self._sinks_to_clear = []
        self._oldest_pending_at = None
        if self._batch_lane is None or not self._batch_lane.busy:
            self._release_state()  # (not while a refused BATCH chunk is being redone)

    def _release_state(self) -> None:
        if self._state_to_release is not None:
            self.loader.submit_state(self._state_to_release)
            self._state_to_release = None

    def _check_age(self) -> None:
        started = self._oldest_pending_at
        if (
            started is not None
            and time.monotonic() - started >= self.settings.max_batch_age_seconds
        ):
            self.logger.info(
                "Records have waited %.0f s (max_batch_age_seconds); committing all streams",
                time.monotonic() - started,
            )
            self._flush_all()

    # --- messages -------------------------------------------------------------------------------

    @override
    def _process_record_message(self, message: RecordMessage | dict[str, Any]) -> None:
        if isinstance(message, dict):  # not from our reader: decode like it would
            message = RecordMessage(
                type="RECORD",
                stream=message.get("stream"),
                record=msgspec.Raw(_STATE_ENCODER.encode(message.get("record"))),
                time_extracted=message.get("time_extracted"),
                version=message.get("version"),
            )
        if self._batch_lane is not None and self._batch_lane.busy:
            self._batch_lane.settle()  # the rows of a BATCH before this record come first
        stream_name = message.stream
        raw = message.record
        if not isinstance(stream_name, str) or bytes(memoryview(raw)[:1]) != b"{":
            msg = "a RECORD message needs a 'stream' name and a 'record' object"
            raise InvalidInputLine(msg)
        stream_maps = self.mapper.stream_maps.get(stream_name)
        if stream_maps is None:
            msg = f"RECORD for stream {stream_name!r} before its SCHEMA"
            raise RecordsWithoutSchemaException(msg)
        if self._oldest_pending_at is None:
            self._oldest_pending_at = time.monotonic()
        sink = self._plain_sinks.get(stream_name, _UNKNOWN)
        if sink is _UNKNOWN:
            sink = self._plain_sinks[stream_name] = (
                self._sinks_active[stream_name]
                if self._plain_stream(stream_name, stream_maps)
                else None
            )
        if sink is not None:
            if sink.envelope_decoder is not None:
                # The next RECORD lines of this stream are decoded whole, typed, by the reader.
                self.reader.use_fast_path(
                    stream_name, sink.envelope_decoder.decode, partial(self._add_decoded, sink)
                )
            if sink.add_raw(raw, message.time_extracted, message.version):
                self._flush_all()
        else:
            self._process_mapped_record(message, stream_maps)
        self._records_to_age_check -= 1
        if self._records_to_age_check <= 0:
            self._records_to_age_check = AGE_CHECK_EVERY_RECORDS
            self._check_age()

    def _add_decoded(self, sink: PostgresUpsertSink, message: Any) -> None:
        """A RECORD line the reader decoded with ``sink``'s typed decoder (the fast path)."""
        if self._oldest_pending_at is None:
            self._oldest_pending_at = time.monotonic()
        if sink.add_values(message.record, message.time_extracted, message.version):
            self._flush_all()
        self._records_to_age_check -= 1
        if self._records_to_age_check <= 0:
            self._records_to_age_check = AGE_CHECK_EVERY_RECORDS
            self._check_age()

    @staticmethod
    def _plain_stream(stream_name: str, stream_maps: list[Any]) -> bool:
        """True if no stream map or flattening changes this stream's records."""
        if len(stream_maps) != 1:
            return False
        only = stream_maps[0]
        return (
            type(only) is SameRecordTransform
            and only.stream_alias == stream_name
            and not only.flattening_enabled
        )

    def _process_mapped_record(self, message: RecordMessage, stream_maps: list[Any]) -> None:
        record = decode_json(message.record)
        several = len(stream_maps) > 1
        for stream_map in stream_maps:
            transformed = stream_map.transform(copy.copy(record) if several else record)
            if transformed is None:
                continue  # filtered out by a stream map
            sink = cast("PostgresUpsertSink", self._sinks_active[stream_map.stream_alias])
            if sink.add_record(transformed, message.time_extracted, message.version):
                self._flush_all()

    @override
    def _process_schema_message(self, message_dict: dict[str, Any]) -> None:
        stream_name = message_dict.get("stream")
        schema = message_dict.get("schema")
        if not isinstance(stream_name, str) or not isinstance(schema, dict):
            msg = "a SCHEMA message needs a 'stream' name and a 'schema' object"
            raise InvalidInputLine(msg)
        self._settle_batches()
        stream_maps = self.mapper.stream_maps.get(stream_name)
        if stream_maps and (
            stream_maps[0].raw_schema != schema
            or stream_maps[0].raw_key_properties != message_dict.get("key_properties")
        ):
            # Rows formatted for the old table shape are committed before the table changes.
            for stream_map in stream_maps:
                sink = self._sinks_active.get(stream_map.stream_alias)
                if sink is not None:
                    self.drain_one(sink)
            if not self._has_pending():
                self._release_state()
        if not self._connected:
            # Connect before the SDK sets up a sink, so a connection error is our one-line
            # error rather than an SDK "Error initializing target sink" plus ours.
            self.loader.call(lambda _db: None)
            self._connected = True
        super()._process_schema_message(message_dict)
        self._plain_sinks.clear()
        self.reader.clear_fast_path()
        for sink in self._sinks_to_clear:
            sink.clean_up()
        self._sinks_to_clear = []

    @override
    def _process_state_message(self, message_dict: dict[str, Any]) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if state == self._latest_state:
            return
        self._latest_state = state
        self._state_to_release = state
        if not self._has_pending():
            self._release_state()
        self._check_age()

    @override
    def _process_activate_version_message(self, message_dict: dict[str, Any]) -> None:
        stream_name = message_dict.get("stream")
        version = message_dict.get("version")
        if not isinstance(stream_name, str) or type(version) is not int:
            msg = "an ACTIVATE_VERSION message needs a 'stream' name and an integer 'version'"
            raise InvalidInputLine(msg)
        self._settle_batches()
        stream_maps = self.mapper.stream_maps.get(stream_name)
        if stream_maps is None:
            msg = f"ACTIVATE_VERSION for stream {stream_name!r} before its SCHEMA"
            raise RecordsWithoutSchemaException(msg)
        for stream_map in stream_maps:
            sink = self._sinks_active[stream_map.stream_alias]
            if not sink.process_activate_version_messages:
                self.logger.warning("Ignoring ACTIVATE_VERSION for %r (disabled)", stream_name)
                continue
            if isinstance(sink, IdSetSink):
                self._flush_all()  # every row sent before the set is closed, then the sweep
            else:
                self.drain_one(sink)  # the new version's rows first, then the sweep
            sink.activate_version(version)
        if not self._has_pending():
            self._release_state()

    @override
    def _process_batch_message(self, message_dict: dict[str, Any]) -> None:
        """Load the message's files in input order (``batch_lane.py``), not the SDK's way."""
        if self._batch_lane is None:
            from target_postgres_upsert.batch_lane import BatchLane

            self._batch_lane = BatchLane(self)
        self._batch_lane.process(message_dict)

    @override
    def process_endofpipe(self) -> None:
        """Commit everything, write the last safe STATE, close the connection."""
        self._flush_all()
        for sink in self._sinks_active.values():
            if isinstance(sink, IdSetSink):
                sink.finish()
            sink.clean_up()
        self.loader.close()

    # --- stopping -------------------------------------------------------------------------------

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """SIGTERM/SIGINT: unwind the read loop; ``invoke`` then commits and stops."""
        if not self._stopping:
            self._stopping = True
            raise TerminationRequested(signum)

    def stop(self, reason: BaseException) -> int:
        """After an error: commit what came before (unless the database failed); exit code."""
        self._stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        message = str(reason)
        if isinstance(reason, DatabaseError) or self.loader.failed:
            self.loader.abort()
        elif not self.loader.closed:
            try:
                self._flush_all()
                self.loader.close()
            except TargetError as exc:
                message = f"{message}; then {exc}"
        if isinstance(reason, TerminationRequested):
            self.logger.error("Stopped by signal %d; committed what came before", reason.signum)
            return EXIT_SIGNAL_BASE + reason.signum
        self.logger.error("%s", message)
        return EXIT_FAILURE

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        file_input: Any = None,
    ) -> None:
        """Run the target; known failures end with a one-line error and a non-zero exit."""
        super(Target, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        # The loader thread needs the GIL briefly after each statement; the busy main thread
        # would otherwise keep it for up to 5 ms each time while PostgreSQL sits idle.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
        target = cls(
            config=config.config if config is not None else None,
            validate_config=True,
            parse_env_config=config.parse_env if config is not None else False,
        )
        try:
            target.listen(file_input)
        except (TargetError, TerminationRequested) as exc:
            sys.exit(target.stop(exc))


# The SDK builds the sinks (untyped); here mypy checks that the target gives them what they use.
_SINK_HOST: type[SinkHost] = TargetPostgresUpsert
if TYPE_CHECKING:
    from target_postgres_upsert.batch_lane import BatchLane
    from target_postgres_upsert.host import BatchHost

    _BATCH_HOST: type[BatchHost] = TargetPostgresUpsert
