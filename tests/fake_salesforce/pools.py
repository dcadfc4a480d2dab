"""Value pools: how 600,000 rows exist without being stored.

Each field belongs to a *group*. A group holds ``size`` pre-generated variants (``size`` prime,
different per group so combinations repeat only after their product); row ``i`` uses variant
``i % size`` for every field of the group, so fields of one group stay mutually consistent and a
row costs one modulo per group. Each variant
is kept three ways: typed (for SOQL and REST), text (for ``truth()``) and as a ready CSV cell
(quoting memoised per distinct text), so rendering a page is mostly list indexing and joins.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.fake_salesforce.fields import FieldSpec
from tests.fake_salesforce.values import Typed, csv_cell, text_of

# generator(rng, variant) -> {field name: typed value} for every field of the group
Generator = Callable[[random.Random, int], dict[str, Typed]]


def stable_hash(*parts: object) -> int:
    """A process-independent hash (Python's ``hash`` of str is salted per process)."""
    return zlib.crc32(repr(parts).encode())


@dataclass
class PoolGroup:
    """The pre-generated variants of one group of fields."""

    name: str
    size: int
    multiplier: int
    offset: int
    fields: tuple[FieldSpec, ...]
    typed: dict[str, list[Typed]]
    texts: dict[str, list[str | None]]
    cells: dict[str, list[str]]
    _text_rows: list[tuple[str | None, ...]] | None = None

    def text_rows(self) -> list[tuple[str | None, ...]]:
        """Per variant, the texts of the group's non-compound fields in field order (cached)."""
        if self._text_rows is None:
            names = [f.name for f in self.fields if not f.is_compound]
            self._text_rows = (
                list(zip(*(self.texts[n] for n in names), strict=True)) if names else []
            )
        return self._text_rows

    def variant(self, row: int) -> int:
        """The variant row ``row`` uses."""
        return (row * self.multiplier + self.offset) % self.size


def build_group(
    name: str, size: int, fields: Sequence[FieldSpec], generator: Generator, seed: int
) -> PoolGroup:
    """Generate ``size`` variants of a group, deterministically for ``seed``."""
    rng = random.Random(stable_hash(seed, name))
    multiplier, offset = 1, 0  # the seeded generator already shuffles variants
    typed: dict[str, list[Typed]] = {spec.name: [] for spec in fields}
    for variant in range(size):
        values = generator(rng, variant)
        for spec in fields:
            typed[spec.name].append(values.get(spec.name))
    cell_memo: dict[str | None, str] = {}
    texts: dict[str, list[str | None]] = {}
    cells: dict[str, list[str]] = {}
    for spec in fields:
        text_memo: dict[Typed, str | None] = {}
        field_texts: list[str | None] = []
        for value in typed[spec.name]:
            key = value if not isinstance(value, dict) else None
            if key not in text_memo:
                text_memo[key] = text_of(spec.type, value)
            field_texts.append(text_memo[key])
        texts[spec.name] = field_texts
        field_cells = []
        for text in field_texts:
            cell = cell_memo.get(text)
            if cell is None:
                cell = csv_cell(text)
                cell_memo[text] = cell
            field_cells.append(cell)
        cells[spec.name] = field_cells
    return PoolGroup(name, size, multiplier, offset, tuple(fields), typed, texts, cells)
