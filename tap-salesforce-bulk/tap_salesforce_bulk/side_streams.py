"""Side streams that keep a copy right where incremental sync cannot: new fields, formulas, purges.

Each object can have two helper streams, synced right after it (streams run in name order):

* ``<Object>__patch`` re-reads ``Id`` and a few columns of every row: a field added in Salesforce
  since the last run (rows that did not change have no value for it yet), and, with
  ``reconcile: ["formula_fields"]``, the formula and roll-up fields, whose values change without
  ``SystemModstamp`` moving. Its SCHEMA carries ``"x-singer-patch": {"stream": "<Object>"}``.
* ``<Object>__ids``, with ``reconcile: ["deletes"]``, lists every Id that still exists, then sends
  ``ACTIVATE_VERSION``. A row the warehouse has but the list lacks was deleted, also when it was
  purged from the recycle bin (which ``queryAll`` no longer shows). Its SCHEMA carries
  ``"x-singer-id-set": {"stream": "<Object>", "stamp_property": "SystemModstamp"}``; the version
  is the list's time (ms, Salesforce's clock), so rows changed after it are never marked.

target-postgres-upsert applies both to the object's table. Any other target simply loads them as
two small tables (Ids plus a few columns), which harms nothing and can be joined by hand.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping
from typing import Any

from singer_sdk import Tap
from singer_sdk.helpers._batch import BatchConfig
from singer_sdk.singerlib import ActivateVersionMessage, SchemaMessage
from typing_extensions import override

from tap_salesforce_bulk.base import BulkRecordStream
from tap_salesforce_bulk.salesforce.bulk import JobInfo, Operation
from tap_salesforce_bulk.salesforce.errors import SalesforceError, SalesforceRetriableError
from tap_salesforce_bulk.salesforce.timestamps import parse_datetime
from tap_salesforce_bulk.schema import FieldSpec, Kind
from tap_salesforce_bulk.settings import ReconcilePass
from tap_salesforce_bulk.soql import build_query
from tap_salesforce_bulk.streams import SObjectStream

PATCH_SUFFIX = "__patch"
ID_SET_SUFFIX = "__ids"


def patch_schema(base: SObjectStream) -> dict[str, Any]:
    """The object's schema (every property may be absent) marked as a patch of the object."""
    return {**base.spec.schema, "x-singer-patch": {"stream": base.name}}


def id_set_schema(base: SObjectStream) -> dict[str, Any]:
    """Just the Id, marked as the complete set of the object's existing Ids."""
    return {
        "type": "object",
        "properties": {"Id": {"type": ["string"]}},
        "required": ["Id"],
        "x-singer-id-set": {"stream": base.name, "stamp_property": base.replication_key},
    }


class _SideStream(BulkRecordStream):
    """Runs after its base object's stream and only when the base is selected."""

    def __init__(self, tap: Tap, base: SObjectStream, name: str, schema: dict[str, Any]) -> None:
        fields = {n: spec for n, spec in base.spec.fields.items() if n in schema["properties"]}
        super().__init__(tap, base.runtime, name=name, schema=schema, fields=fields)
        self.base = base
        self.primary_keys = ["Id"]
        self._forced: bool | None = None
        self._annotations = {k: v for k, v in schema.items() if k.startswith("x-singer-")}

    @override
    def _generate_schema_messages(self) -> Generator[SchemaMessage, None, None]:
        """The SDK's SCHEMA messages, with this stream's ``x-singer-*`` marker put back.

        The SDK rebuilds schemas through its own model, which keeps only standard keywords.
        """
        for message in super()._generate_schema_messages():
            message.schema = {**message.schema, **self._annotations}
            yield message

    @property  # type: ignore[explicit-override]  # marked below; mypy misses it with a setter
    @override
    def selected(self) -> bool:
        """Follows the base stream (catalog selection of side streams is ignored); never for an
        object this run skipped or gave up on."""
        if self._forced is not None:
            return self._forced
        gave_up = self.runtime.outcomes.gave_up_on(self.base.name)
        return self.base.selected and not gave_up and self.has_work()

    @selected.setter
    @override
    def selected(self, value: bool | None) -> None:
        self._forced = value

    def has_work(self) -> bool:
        """Whether this run has anything to send."""
        raise NotImplementedError

    @override
    def get_batch_config(self, config: Mapping[str, Any]) -> BatchConfig | None:
        """Side streams always send RECORD lines, also in the batch lane: they are narrow (Ids
        and a few columns), and their targets apply them as records (a version per record)."""
        return None

    @override
    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        """This stream's records; a failure ends the base object, not the run (``outcomes``)."""
        if self.ABORT_AT_RECORD_COUNT is not None:
            return
        try:
            yield from self.side_records()
        except (SalesforceError, SalesforceRetriableError) as exc:
            outcomes = self.runtime.outcomes
            every_object = self.runtime.settings.syncs_every_object
            if not outcomes.give_up(
                self.base.name, exc, every_object=every_object, logger=self.logger
            ):
                raise

    def side_records(self) -> Iterator[dict[str, Any]]:
        """The records to send."""
        raise NotImplementedError


class PatchStream(_SideStream):
    """``Id`` plus new fields and, on request, formula fields, of every row of the object."""

    def __init__(self, tap: Tap, base: SObjectStream) -> None:
        super().__init__(tap, base, base.name + PATCH_SUFFIX, patch_schema(base))

    def patch_fields(self) -> list[str]:
        """New fields (incremental runs), then formula fields when asked, in describe order."""
        if not self.base.incremental:
            return []  # the base just read every row in full
        wanted = set(self.base.new_fields)
        if ReconcilePass.FORMULA_FIELDS in self.runtime.settings.reconcile:
            selected = set(self.base.selected_fields())
            wanted |= {
                n for n, f in self.base.spec.fields.items() if f.calculated and n in selected
            }
        return [name for name in self.base.spec.fields if name in wanted and name != "Id"]

    @override
    def has_work(self) -> bool:
        """Only when there is something to re-read."""
        return bool(self.patch_fields())

    @override
    def side_records(self) -> Iterator[dict[str, Any]]:
        """Every row's Id and patch fields; then the base stream records its fields as synced."""
        fields = self.patch_fields()
        new = [f for f in fields if f in self.base.new_fields]
        self.logger.info(
            "%s: re-reading %s for every row (%s)",
            self.base.name,
            ", ".join(fields),
            "new fields"
            if new == fields
            else "formula fields"
            if not new
            else "new and formula fields",
        )
        soql = build_query(
            self.base.name,
            ["Id", *fields],
            described_fields=self.base.spec.fields.keys(),
            described_objects={self.base.name},
            live_only=self.base.live_only,
        )
        yield from self.read_whole_query(soql, operation=self.base.operation)
        self.base.record_synced_fields()


class IdSetStream(_SideStream):
    """Every Id that exists now, closed by ACTIVATE_VERSION."""

    def __init__(self, tap: Tap, base: SObjectStream) -> None:
        super().__init__(tap, base, base.name + ID_SET_SUFFIX, id_set_schema(base))
        self.fields = {"Id": FieldSpec("Id", "id", Kind.STRING)}

    @override
    def has_work(self) -> bool:
        """With ``reconcile: ["deletes"]``."""
        return ReconcilePass.DELETES in self.runtime.settings.reconcile

    @override
    def _plain_record_prefix(self) -> bytes | None:
        return None  # records carry a version: the SDK's path writes it

    @override
    def side_records(self) -> Iterator[dict[str, Any]]:
        """All Ids (a Bulk job of one column), then the ACTIVATE_VERSION that closes the set
        (never after a failure: an incomplete set would mark live rows deleted)."""
        # Every live Id: archived activities are live, and only queryAll lists them (with the
        # deleted rows, which the filter removes).
        archived = self.base.spec.has_archived_rows
        soql = build_query(
            self.base.name,
            ["Id"],
            described_fields=self.base.spec.fields.keys(),
            described_objects={self.base.name},
            live_only=archived,
        )
        operation = Operation.QUERY_ALL if archived else Operation.QUERY
        yield from self.read_whole_query(soql, self._take_version, operation)
        version = self._stream_version or self._initialized_at
        self._tap.write_message(ActivateVersionMessage(stream=self.name, version=version))

    def _take_version(self, job: JobInfo) -> None:
        created = parse_datetime(job.created_date) if job.created_date else None
        self._stream_version = int(created.timestamp() * 1000) if created else self._initialized_at
