"""One emulated object's rows: generated base data plus a small overlay of emulated changes.

Base rows are never stored (see ``pools`` and ``stamps``). Changes made through the control API
(update, insert, soft delete, purge, formula recalculation) live in ``overlay``: row number ->
frozen ``OverlayRow``. A job's snapshot is the row count plus a shallow copy of that dict, so
later changes cannot reach a job that already started processing. Which fields exist and which
the API user sees is ``schema``'s job; a field added at runtime reads its own value pool.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tests.fake_salesforce.coercion import coerce_value
from tests.fake_salesforce.fields import FieldSpec
from tests.fake_salesforce.ids import IdSpace
from tests.fake_salesforce.pools import PoolGroup
from tests.fake_salesforce.schema import Schema
from tests.fake_salesforce.stamps import TIE_GROUP_ROWS, BaseStamps
from tests.fake_salesforce.values import Typed, text_of
from tests.fake_salesforce.vocabulary import FieldType

# Soft-deleted base rows: row r is deleted when (r * DELETED_MULTIPLIER + seed) % DELETED_MODULUS == 0.
DELETED_MULTIPLIER = 7919
DELETED_MODULUS = 211
STAMP_FIELDS = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


@dataclass(frozen=True)
class SerialField:
    """A per-row unique number rendered as text (e.g. an NPI): base + (row*mult + offset) % span."""

    base: int
    span: int
    multiplier: int
    offset: int

    def text(self, row: int) -> str:
        """The value of row ``row``."""
        return str(self.base + (row * self.multiplier + self.offset) % self.span)


@dataclass(frozen=True)
class OverlayRow:
    """A row as changed by the emulator: field overrides, new stamps, deleted and purged flags."""

    modstamp_ms: int
    last_modified_ms: int
    created_ms: int | None = None  # None: keep the base CreatedDate
    deleted: bool = False
    values: Mapping[str, Typed] = field(default_factory=dict)
    deleted_ms: int | None = None  # when it was deleted (the delete log's deletedDate)
    purged: bool = False  # hard-deleted: gone from every query, queryAll included


@dataclass(frozen=True)
class Snapshot:
    """What a query job sees: the row count and overlay at the moment it started processing."""

    total_rows: int
    overlay: Mapping[int, OverlayRow]
    taken_at_ms: int


class ObjectData:
    """Rows of one sObject, generated lazily, with emulated changes in an overlay."""

    def __init__(
        self,
        name: str,
        fields: Sequence[FieldSpec],
        rows: int,
        seed: int,
        id_space: IdSpace,
        groups: Mapping[str, PoolGroup],
        serials: Mapping[str, SerialField] | None = None,
    ) -> None:
        self.name = name
        self.schema = Schema(fields)
        self.base_rows = rows
        self.seed = seed
        self.ids = id_space
        self.groups = dict(groups)
        self.group_of = {spec.name: groups[spec.group] for spec in fields if spec.group in groups}
        self.serials = dict(serials or {})
        self.stamps = BaseStamps(rows, seed)
        self.overlay: dict[int, OverlayRow] = {}
        # CSV of changed rows already rendered, per query shape (fields, delimiter, line ending):
        # row -> (the change it was rendered from, its text); a later change is another object.
        self.rendered_changes: dict[tuple[object, ...], dict[int, tuple[OverlayRow, str]]] = {}
        self.total_rows = rows
        self.lock = threading.RLock()
        self._mutations = 0
        self.formula_revision = 0  # recalculations so far (see ``formulas``)

    # ---- fields ------------------------------------------------------------------------
    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """The fields the API user sees (describe order)."""
        return self.schema.visible

    def field(self, name: str) -> FieldSpec | None:
        """The visible field named ``name`` (case-insensitive, as SOQL resolves names)."""
        return self.schema.visible_by_name.get(name.lower())

    def known_field(self, name: str) -> FieldSpec | None:
        """Any field ever defined, hidden and deleted ones included (jobs validated earlier)."""
        return self.schema.known(name)

    def add_field(self, spec: FieldSpec, pool: PoolGroup) -> None:
        """Define a field at runtime whose values come from ``pool`` (no record changes)."""
        with self.lock:
            self.schema.add(spec)
            self.groups[pool.name] = pool
            self.group_of[spec.name] = pool

    # ---- base values -------------------------------------------------------------------
    def base_deleted(self, row: int) -> bool:
        """Whether generated row ``row`` is soft-deleted."""
        return (
            row < self.base_rows and (row * DELETED_MULTIPLIER + self.seed) % DELETED_MODULUS == 0
        )

    def base_typed(self, name: str, row: int) -> Typed:
        """The generated value of a non-compound field."""
        group = self.group_of.get(name)
        if group is not None:
            return group.typed[name][(row * group.multiplier + group.offset) % group.size]
        if name == "Id":
            return self.ids.id_of(row)
        if name == "IsDeleted":
            return self.base_deleted(row)
        if name in STAMP_FIELDS:
            tie = min(row, self.base_rows - 1) // TIE_GROUP_ROWS if self.base_rows else 0
            if name == "SystemModstamp":
                return self.stamps.modstamp_ms[tie]
            if name == "LastModifiedDate":
                return self.stamps.last_modified_ms[tie]
            return self.stamps.created_ms[tie]
        if name in self.serials:
            return self.serials[name].text(row)
        raise KeyError(name)

    def typed(self, name: str, row: int, change: OverlayRow | None) -> Typed:
        """A field's value for a row, with its overlay change applied."""
        if change is not None:
            if name in change.values:
                return change.values[name]
            if name == "SystemModstamp":
                return change.modstamp_ms
            if name == "LastModifiedDate":
                return change.last_modified_ms
            if name == "CreatedDate" and change.created_ms is not None:
                return change.created_ms
            if name == "IsDeleted":
                return change.deleted
        return self.base_typed(name, row)

    def compound(self, spec: FieldSpec, row: int, change: OverlayRow | None) -> Typed:
        """The JSON object REST returns for an address or geolocation field."""
        components = self.schema.components(spec.name)
        values = {f.name: self.typed(f.name, row, change) for f in components}
        if spec.type is FieldType.LOCATION:
            lat = next(v for k, v in values.items() if k.endswith("__Latitude__s"))
            lon = next(v for k, v in values.items() if k.endswith("__Longitude__s"))
            return None if lat is None and lon is None else {"latitude": lat, "longitude": lon}
        prefix = spec.name.removesuffix("Address")
        keys = {
            "Street": "street",
            "City": "city",
            "State": "state",
            "PostalCode": "postalCode",
            "Country": "country",
            "Latitude": "latitude",
            "Longitude": "longitude",
            "GeocodeAccuracy": "geocodeAccuracy",
        }
        result = {json_key: values.get(prefix + suffix) for suffix, json_key in keys.items()}
        return (
            None
            if all(v is None for v in result.values())
            else {**result, "countryCode": None, "stateCode": None}
        )

    def deleted(self, row: int, overlay: Mapping[int, OverlayRow]) -> bool:
        """Whether ``row`` is soft-deleted, given an overlay."""
        change = overlay.get(row)
        return change.deleted if change is not None else self.base_deleted(row)

    # ---- snapshots and changes ---------------------------------------------------------
    def snapshot(self, now_ms: int) -> Snapshot:
        """Freeze the current state for a job."""
        with self.lock:
            return Snapshot(self.total_rows, dict(self.overlay), now_ms)

    def _pick_rows(self, count: int) -> list[int]:
        self._mutations += 1
        rng = random.Random(self.seed * 1_000_003 + self._mutations)
        rows: list[int] = []
        seen: set[int] = set()
        limit = self.total_rows
        attempts = 0
        while len(rows) < min(count, limit) and attempts < count * 50 + 1000:
            attempts += 1
            row = rng.randrange(limit)
            if row in seen or self.deleted(row, self.overlay):
                continue
            seen.add(row)
            rows.append(row)
        return rows

    def rows_of(self, ids: Sequence[str]) -> list[int]:
        """Row numbers of ids; unknown ids raise ``KeyError``."""
        rows = []
        for record_id in ids:
            row = self.ids.row_of(record_id)
            change = self.overlay.get(row) if row is not None else None
            if row is None or row >= self.total_rows or (change is not None and change.purged):
                raise KeyError(f"no {self.name} with id {record_id}")
            rows.append(row)
        return rows

    def coerce(self, name: str, value: object) -> tuple[str, Typed]:
        """Validate a field name and convert a control-API value to the typed form."""
        spec = self.schema.existing(name)  # hidden fields too: an admin still sees them
        if spec is None or spec.is_compound or spec.system or spec.name == "Id":
            raise KeyError(f"{self.name}.{name} cannot be set")
        return spec.name, coerce_value(spec.type, value)

    def update(self, rows: Sequence[int], values: Mapping[str, Typed], stamp_ms: int) -> None:
        """Change fields (possibly none) and move SystemModstamp/LastModifiedDate to ``stamp_ms``."""
        with self.lock:
            for row in rows:
                old = self.overlay.get(row) or self._unchanged(row)
                self.overlay[row] = replace(
                    old,
                    modstamp_ms=stamp_ms,
                    last_modified_ms=stamp_ms,
                    values={**old.values, **values},
                )

    def set_quietly(self, rows: Sequence[int], values: Mapping[str, Typed]) -> None:
        """Change values without moving any stamp (a formula recalculated, not a record edit)."""
        with self.lock:
            for row in rows:
                old = self.overlay.get(row) or self._unchanged(row)
                self.overlay[row] = replace(old, values={**old.values, **values})

    def _unchanged(self, row: int) -> OverlayRow:
        """The overlay form of a generated row nobody has changed yet (its base stamps)."""
        tie = row // TIE_GROUP_ROWS
        deleted = self.base_deleted(row)
        modstamp = self.stamps.modstamp_ms[tie]
        return OverlayRow(
            modstamp,
            self.stamps.last_modified_ms[tie],
            None,
            deleted,
            {},
            modstamp if deleted else None,
        )

    def insert(self, count: int, stamp_ms: int) -> list[int]:
        """Append ``count`` new rows created at ``stamp_ms``."""
        with self.lock:
            first = self.total_rows
            for row in range(first, first + count):
                self.overlay[row] = OverlayRow(stamp_ms, stamp_ms, stamp_ms, False, {})
            self.total_rows += count
            return list(range(first, first + count))

    def delete(self, rows: Sequence[int], stamp_ms: int) -> None:
        """Soft-delete rows: IsDeleted becomes true and SystemModstamp moves."""
        with self.lock:
            for row in rows:
                old = self.overlay.get(row)
                if old is None:
                    old = OverlayRow(stamp_ms, stamp_ms)
                self.overlay[row] = replace(
                    old, modstamp_ms=stamp_ms, deleted=True, deleted_ms=stamp_ms
                )

    def purge(self, rows: Sequence[int], now_ms: int) -> None:
        """Hard-delete rows (deleted and emptied from the Recycle Bin): gone from every query.

        The delete log keeps them; a row soft-deleted earlier keeps its first deletion time.
        """
        with self.lock:
            for row in rows:
                old = self.overlay.get(row) or (
                    self._unchanged(row) if row < self.base_rows else OverlayRow(now_ms, now_ms)
                )
                deleted_ms = old.deleted_ms if old.deleted and old.deleted_ms else now_ms
                self.overlay[row] = OverlayRow(
                    old.modstamp_ms,
                    old.last_modified_ms,
                    old.created_ms,
                    deleted=True,
                    deleted_ms=deleted_ms,
                    purged=True,
                )

    def pick_rows(self, count: int) -> list[int]:
        """Choose ``count`` distinct live rows, deterministically per seed and call."""
        with self.lock:
            return self._pick_rows(count)

    # ---- truth ---------------------------------------------------------------------------
    def truth_rows(
        self, include_deleted: bool = False
    ) -> tuple[list[str], Iterator[tuple[str | None, ...]]]:
        """Field names and every row as a tuple of CSV texts (None for null), in that name order.

        Only fields the API user sees are included; purged rows never are.
        """
        snap = self.snapshot(0)
        visible = {spec.name for spec in self.fields if not spec.is_compound}
        names: list[str] = ["Id", "IsDeleted", "SystemModstamp", "LastModifiedDate", "CreatedDate"]
        serials = [serial for name, serial in self.serials.items() if name in visible]
        names += [name for name in self.serials if name in visible]
        pooled: list[tuple[int, list[tuple[str | None, ...]]]] = []
        for group in self.groups.values():
            pool_names = [f.name for f in group.fields if not f.is_compound]
            keep = [k for k, name in enumerate(pool_names) if name in visible]
            if not keep:
                continue
            texts = group.text_rows()
            if len(keep) < len(pool_names):
                texts = [tuple(variant[k] for k in keep) for variant in texts]
            names += [pool_names[k] for k in keep]
            pooled.append((group.size, texts))
        specs = [spec for spec in (self.field(name) for name in names) if spec is not None]

        def rows() -> Iterator[tuple[str | None, ...]]:
            stamps = self.stamps
            id_of = self.ids.id_of
            for row in range(snap.total_rows):
                change = snap.overlay.get(row)
                if change is None:
                    deleted = self.base_deleted(row)
                    if deleted and not include_deleted:
                        continue
                    tie = row // TIE_GROUP_ROWS
                    values: tuple[str | None, ...] = (
                        id_of(row),
                        "true" if deleted else "false",
                        stamps.modstamp_cells[tie][1:-1],
                        stamps.last_modified_cells[tie][1:-1],
                        stamps.created_cells[tie][1:-1],
                        *(serial.text(row) for serial in serials),
                    )
                    for size, texts in pooled:
                        values += texts[row % size]
                    yield values
                elif not change.purged and (include_deleted or not change.deleted):
                    yield tuple(text_of(s.type, self.typed(s.name, row, change)) for s in specs)

        return names, rows()

    def truth(self, include_deleted: bool = False) -> Iterator[dict[str, str | None]]:
        """Every row as the CSV renders it (text, None for null); compound fields omitted."""
        names, rows = self.truth_rows(include_deleted)
        for values in rows:
            yield dict(zip(names, values, strict=True))
