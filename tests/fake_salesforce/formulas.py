"""Formula drift: a formula field changes value while the record's stamps stay where they were.

A formula is evaluated when it is read ("sObject fields that contain formulas return the value of
the field at the time the SOQL or SOSL query was issued",
https://developer.salesforce.com/docs/atlas.en-us.apexcode.meta/apexcode/langCon_apex_SOQL_working_with_results.htm),
so editing the formula, or a record or setting it references, changes what queries return without
writing the record: neither LastModifiedDate nor SystemModstamp moves (formula changes are not
among the automated updates that move SystemModstamp,
https://help.salesforce.com/s/articleView?id=000387261&type=1). An incremental sync filtering
on SystemModstamp therefore never sees the new value; only a full resync does.

The emulator's recalculation is deterministic: each call is one "revision" of the object's
(text) formulas, and every recalculated row shows its value with a `` (rev N)`` suffix for
revision N.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tests.fake_salesforce.dataset import ObjectData
from tests.fake_salesforce.values import Typed, text_of

_REVISION = re.compile(r" \(rev \d+\)$")


def formula_fields(data: ObjectData) -> list[str]:
    """Names of the object's text formula fields (hidden ones too: they still compute)."""
    return [
        spec.name for spec in data.schema.existing_fields() if spec.calculated and spec.type.is_text
    ]


def revised(value: str | None, revision: int, max_length: int) -> str:
    """The value a formula shows after revision ``revision`` (previous suffixes replaced)."""
    base = _REVISION.sub("", value or "")
    suffix = f" (rev {revision})"
    return base[: max(0, max_length - len(suffix))] + suffix


def recalculate(data: ObjectData, rows: Sequence[int]) -> None:
    """Give ``rows`` new formula values; no stamp moves."""
    names = formula_fields(data)
    if not names:
        raise ValueError(f"{data.name} has no text formula field")
    with data.lock:
        data.formula_revision += 1
        revision = data.formula_revision
        for row in rows:
            change = data.overlay.get(row)
            values: dict[str, Typed] = {}
            for name in names:
                spec = data.known_field(name)
                assert spec is not None
                current = text_of(spec.type, data.typed(name, row, change))
                values[name] = revised(current, revision, spec.length or 1300)
            data.set_quietly([row], values)
