"""Custom fields added at runtime: their describe attributes and a value for every existing row.

An admin adding a field in Setup touches no record, so no stamp moves; every row (generated,
changed or inserted) reads the new field from its own value pool, like the generated fields (see
``pools``): row *i* gets variant ``i % size``. Types are the API types of Setup's field types
("Field Types",
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm): Text is
``string`` (at most 255 characters), Checkbox ``boolean`` (never null, default false), Number
``double`` whatever its scale ("all numeric custom fields are handled as type double",
https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/custom_fields.htm),
and so on. Names follow Setup's rule for field names: a letter first, then letters, digits and
single underscores, at most 40 characters, and the ``__c`` suffix.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

from tests.fake_salesforce.coercion import coerce_value
from tests.fake_salesforce.contact_data import _ascii, _phone
from tests.fake_salesforce.contact_values import CITIES, LAST_NAMES
from tests.fake_salesforce.fields import FieldSpec, number, picklist, simple, text, textarea
from tests.fake_salesforce.pools import PoolGroup, build_group
from tests.fake_salesforce.stamps import BASE_SPAN_MS, BASE_START_MS
from tests.fake_salesforce.values import Typed
from tests.fake_salesforce.vocabulary import FieldType

POOL_SIZE = 1_021  # prime, unlike every generated pool's size, so rows decorrelate from them
FILL_RATE = 0.85  # share of non-null values the default generators produce
TEXT_MAX_LENGTH = 255
NUMBER_MAX_PRECISION = 18
NAME_MAX_LENGTH = 40  # without the __c suffix
DEFAULT_PICKLIST = ("Option A", "Option B", "Option C")
_API_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|_(?!_))*")
_NUMBER_SCALES = {FieldType.DOUBLE: 0, FieldType.CURRENCY: 2, FieldType.PERCENT: 2}
SUPPORTED_TYPES = (
    FieldType.STRING,
    FieldType.TEXTAREA,
    FieldType.EMAIL,
    FieldType.PHONE,
    FieldType.URL,
    FieldType.PICKLIST,
    FieldType.BOOLEAN,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.DOUBLE,
    FieldType.CURRENCY,
    FieldType.PERCENT,
)

# values: a sequence cycled over rows, or f(variant) for each of the POOL_SIZE variants
Values = Sequence[object] | Callable[[int], object]


def _check_name(name: str) -> None:
    stem = name.removesuffix("__c")
    if stem == name or not _API_NAME.fullmatch(stem) or stem.endswith("_"):
        raise ValueError(
            f"invalid custom field name {name!r}: a letter, then letters, digits and single "
            "underscores, not ending with an underscore, then __c"
        )
    if len(stem) > NAME_MAX_LENGTH:
        raise ValueError(f"custom field names have at most {NAME_MAX_LENGTH} characters before __c")


def custom_field(
    name: str,
    field_type: str,
    label: str | None = None,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
    picklist_values: Sequence[str] | None = None,
) -> FieldSpec:
    """The spec of a new custom field, with the describe attributes Setup gives that type."""
    _check_name(name)
    try:
        ftype = FieldType(field_type.lower())
    except ValueError:
        ftype = None
    if ftype not in SUPPORTED_TYPES:
        raise ValueError(
            f"unsupported field type {field_type!r}; use one of {[t.value for t in SUPPORTED_TYPES]}"
        )
    assert ftype is not None
    label = label or name.removesuffix("__c").replace("_", " ")
    group = f"added:{name}"
    if ftype is FieldType.STRING:
        size = TEXT_MAX_LENGTH if length is None else length
        if not 1 <= size <= TEXT_MAX_LENGTH:
            raise ValueError(f"a Text field holds 1 to {TEXT_MAX_LENGTH} characters")
        return text(name, label, size, group, custom=True)
    if ftype is FieldType.TEXTAREA:
        return textarea(name, label, TEXT_MAX_LENGTH, group, custom=True)
    if ftype is FieldType.PICKLIST:
        values = tuple(picklist_values or DEFAULT_PICKLIST)
        return picklist(name, label, values, group, custom=True)
    if ftype is FieldType.BOOLEAN:
        return simple(name, label, ftype, group, custom=True, nillable=False, default_value=False)
    if ftype in _NUMBER_SCALES:
        digits = NUMBER_MAX_PRECISION if precision is None else precision
        places = _NUMBER_SCALES[ftype] if scale is None else scale
        if not 0 <= places <= digits <= NUMBER_MAX_PRECISION or digits == 0:
            raise ValueError(f"need 0 <= scale <= precision <= {NUMBER_MAX_PRECISION}")
        return number(name, label, ftype, digits, places, group, custom=True)
    return simple(name, label, ftype, group, custom=True)


def new_field(
    object_name: str,
    seed: int,
    name: str,
    field_type: str,
    *,
    label: str | None = None,
    length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
    picklist_values: Sequence[str] | None = None,
    values: Values | None = None,
) -> tuple[FieldSpec, PoolGroup]:
    """The new field's spec and the pool its values come from.

    Without ``values`` a per-type generator fills the pool (deterministic per seed, mostly
    non-null); a picklist without ``picklist_values`` lists the distinct ``values`` given.
    """
    raw = None
    if values is not None:
        raw = [values(v) for v in range(POOL_SIZE)] if callable(values) else list(values)
        if not raw:
            raise ValueError("values must not be empty")
        if picklist_values is None and field_type.lower() == FieldType.PICKLIST.value:
            picklist_values = list(dict.fromkeys(str(v) for v in raw if v is not None))
    spec = custom_field(name, field_type, label, length, precision, scale, picklist_values)
    group_name = f"{object_name}.{spec.name}"
    if raw is None:
        generate = _default_generator(spec)
        pool = build_group(
            group_name, POOL_SIZE, [spec], lambda rng, v: {spec.name: generate(rng, v)}, seed
        )
        return spec, pool
    typed = [coerce_value(spec.type, value) for value in raw]
    if spec.type is FieldType.BOOLEAN:
        typed = [bool(v) for v in typed]  # a checkbox is never null
    pool = build_group(group_name, len(typed), [spec], lambda rng, v: {spec.name: typed[v]}, seed)
    return spec, pool


def _default_generator(spec: FieldSpec) -> Callable[[random.Random, int], Typed]:
    """A deterministic value per variant, mostly non-null, plausible for the field's type."""
    label = spec.label
    slug = _ascii(label)

    def value(rng: random.Random, variant: int) -> Typed:
        ftype = spec.type
        if ftype is FieldType.BOOLEAN:
            return rng.random() < 0.5
        if rng.random() >= FILL_RATE:
            return None
        if ftype is FieldType.STRING:
            return f"{rng.choice(LAST_NAMES)} {label} #{variant}"[: spec.length]
        if ftype is FieldType.TEXTAREA:
            return f"{label} for {rng.choice(CITIES)[0]},\nnote {variant}"
        if ftype is FieldType.EMAIL:
            return f"{slug}{variant}@example-health.org"
        if ftype is FieldType.PHONE:
            return _phone(rng)
        if ftype is FieldType.URL:
            return f"https://directory.example-health.org/{slug}/{variant}"
        if ftype is FieldType.PICKLIST:
            return rng.choice(spec.picklist)
        if ftype is FieldType.DATE:
            return (2020 - 1970) * 365 + rng.randrange(8 * 365)
        if ftype is FieldType.DATETIME:
            return BASE_START_MS + rng.randrange(BASE_SPAN_MS)
        top = min(10 ** (spec.precision - spec.scale), 100_000)
        return round(rng.uniform(0, top), spec.scale) if spec.scale else float(rng.randrange(top))

    return value
