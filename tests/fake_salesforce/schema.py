"""Which fields of one object exist, and which of them the API user can see.

Fields change at runtime the way an admin changes them in Setup: a custom field is added or
deleted, and field-level security hides a field from the integration user or shows it again. A
hidden or deleted field is absent from describe and unknown to SOQL: the query fails with
INVALID_FIELD "No such column", the error of a misspelt name, because field-level security makes
a field invisible to the API user rather than forbidden. Deleted fields stay known here, so a
query job validated before the deletion can still render its column.

Rules kept from Setup (the emulator's reading; Setup's own pages are not API documentation):

* only custom fields can be deleted ("Client applications cannot define custom fields via the
  API" and custom fields carry ``custom=true``:
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/custom_fields.htm),
  a geolocation's ``__Latitude__s``/``__Longitude__s`` only with the geolocation, and not while
  a formula references the field (Setup answers "This custom field is referenced elsewhere");
* field-level security applies to fields whose describe says ``permissionable`` ("Indicates
  whether FieldPermissions can be specified for the field",
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_describesobjects_describesobjectresult.htm)
  and, for compound fields, to the compound as a whole.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable

from tests.fake_salesforce.fields import FieldSpec

_FORMULA_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Schema:
    """The fields of one sObject: every one ever defined, the existing ones, the visible ones."""

    def __init__(self, fields: Iterable[FieldSpec]) -> None:
        self._lock = threading.Lock()
        self._existing: dict[str, FieldSpec] = {spec.name.lower(): spec for spec in fields}
        self._removed: dict[str, FieldSpec] = {}
        self._hidden: set[str] = set()
        self.visible: tuple[FieldSpec, ...] = ()
        self.visible_by_name: dict[str, FieldSpec] = {}
        self._components: dict[str, list[FieldSpec]] = {}
        self._publish()

    def _publish(self) -> None:
        # Readers (HTTP threads) see either the old or the new tuple/dict, never a half-built one.
        visible = tuple(s for key, s in self._existing.items() if key not in self._hidden)
        components: dict[str, list[FieldSpec]] = {}
        for spec in {**self._removed, **self._existing}.values():
            if spec.compound_field_name is not None:
                components.setdefault(spec.compound_field_name, []).append(spec)
        self._components = components
        self.visible_by_name = {spec.name.lower(): spec for spec in visible}
        self.visible = visible

    # ---- lookups -------------------------------------------------------------------------------
    def existing(self, name: str) -> FieldSpec | None:
        """A field that exists, visible or hidden (what an admin sees in Setup)."""
        return self._existing.get(name.lower())

    def known(self, name: str) -> FieldSpec | None:
        """Any field ever defined, deleted ones included (for jobs validated before a deletion)."""
        key = name.lower()
        return self._existing.get(key) or self._removed.get(key)

    def existing_fields(self) -> list[FieldSpec]:
        """Every existing field, hidden ones included."""
        return list(self._existing.values())

    def components(self, compound: str) -> list[FieldSpec]:
        """The components of an address or geolocation field, deleted ones included."""
        return self._components.get(compound, [])

    # ---- changes -------------------------------------------------------------------------------
    def add(self, spec: FieldSpec) -> None:
        """Define a new field (visible)."""
        with self._lock:
            key = spec.name.lower()
            if key in self._existing:
                raise ValueError(f"a field named {self._existing[key].name} already exists")
            self._removed.pop(key, None)
            self._existing[key] = spec
            self._publish()

    def remove(self, name: str) -> list[FieldSpec]:
        """Delete a custom field (and a geolocation's components); returns what was deleted."""
        with self._lock:
            spec = self._require(name)
            if not spec.custom:
                raise ValueError(
                    f"{spec.name} is a standard field; only custom fields can be deleted"
                )
            if spec.compound_field_name is not None:
                raise ValueError(
                    f"{spec.name} is part of {spec.compound_field_name}; delete that field instead"
                )
            users = [
                other.name
                for other in self._existing.values()
                if other.formula and spec.name.lower() in _formula_names(other.formula)
            ]
            if users:
                raise ValueError(
                    f"This custom field is referenced elsewhere in salesforce.com: {', '.join(users)}"
                )
            gone = [spec, *self.components(spec.name)]
            for field in gone:
                key = field.name.lower()
                self._existing.pop(key, None)
                self._hidden.discard(key)
                self._removed[key] = field
            self._publish()
            return gone

    def relabel(self, name: str, label: str, help_text: str | None) -> FieldSpec:
        """An admin edits the field's label and help text in Setup: describe shows the new ones
        (the API name, and so every query, stays the same)."""
        with self._lock:
            spec = dataclasses.replace(self._require(name), label=label, help_text=help_text)
            self._existing[spec.name.lower()] = spec
            self._publish()
            return spec

    def hide(self, name: str) -> list[FieldSpec]:
        """Field-level security: make a field (and its components) invisible to the API user."""
        with self._lock:
            spec = self._require(name)
            if not spec.permissionable or spec.compound_field_name is not None:
                raise ValueError(f"field-level security cannot be set on {spec.name}")
            changed = [spec, *self.components(spec.name)]
            self._hidden.update(field.name.lower() for field in changed)
            self._publish()
            return changed

    def show(self, name: str) -> list[FieldSpec]:
        """Undo ``hide``: the field and its components are visible again."""
        with self._lock:
            spec = self._require(name)
            if spec.compound_field_name is not None:
                raise ValueError(f"field-level security is set on {spec.compound_field_name}")
            if spec.name.lower() not in self._hidden:
                raise ValueError(f"{spec.name} is not hidden")
            changed = [spec, *self.components(spec.name)]
            self._hidden.difference_update(field.name.lower() for field in changed)
            self._publish()
            return changed

    def _require(self, name: str) -> FieldSpec:
        spec = self._existing.get(name.lower())
        if spec is None:
            raise KeyError(f"no field {name}")
        return spec


def _formula_names(formula: str) -> set[str]:
    """Lower-cased names a formula mentions (functions and keywords included: harmless here)."""
    return {token.lower() for token in _FORMULA_NAME.findall(formula)}
