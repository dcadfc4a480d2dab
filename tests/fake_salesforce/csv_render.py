"""Render result rows as Bulk API 2.0 CSV, fast.

For each job a row renderer is generated as Python source: one f-string per row whose pieces are
list lookups into the pre-quoted value pools (consecutive fields of one pool pre-joined into a
single segment), pre-formatted timestamp cells and the id function. A row changed through the
emulator (the overlay) is rendered cell by cell from the same lookups, and only the cells its
change can alter (its values, stamps, deletion) are rendered from typed values, once per change
and query shape (kept in ``ObjectData.rendered_changes`` for the next job). Rendering every cell
from its typed value (``generic_row``) made a job with 3% of its rows changed three times slower
to serve (94,000 rows/s against 275,000), which the pipeline benchmarks then measured instead of
the plugins. See ``values`` for the CSV format rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from tests.fake_salesforce.dataset import (
    DELETED_MODULUS,
    DELETED_MULTIPLIER,
    ObjectData,
    OverlayRow,
)
from tests.fake_salesforce.fields import FieldSpec
from tests.fake_salesforce.stamps import TIE_GROUP_ROWS
from tests.fake_salesforce.values import csv_cell, text_of

RENDER_BLOCK_ROWS = 1_000
_STAMP_CELLS = {
    "SystemModstamp": "modstamp_cells",
    "LastModifiedDate": "last_modified_cells",
    "CreatedDate": "created_cells",
}

BlockRenderer = Callable[[Sequence[int], Mapping[int, OverlayRow]], str]


def header_line(fields: Sequence[FieldSpec], delimiter: str, eol: str) -> str:
    """The header row: every field name quoted, in query order."""
    return delimiter.join(csv_cell(spec.name) for spec in fields) + eol


def compile_renderer(
    data: ObjectData, fields: Sequence[FieldSpec], delimiter: str, eol: str, total_rows: int
) -> BlockRenderer:
    """A function rendering a block of rows (given a frozen overlay) to CSV text."""
    namespace: dict[str, object] = {
        "D": delimiter,
        "EOL": eol,
        "QT": '"true"',
        "QF": '"false"',
        "Q": '"',
    }
    pieces: list[str] = []
    cells: list[str] = []  # one expression per field, for changed rows
    k = 0
    while k < len(fields):
        spec = fields[k]
        group = data.group_of.get(spec.name)
        if group is not None:
            run = [spec]
            while k + 1 < len(fields) and data.group_of.get(fields[k + 1].name) is group:
                k += 1
                run.append(fields[k])
            segment = [
                delimiter.join(cells)
                for cells in zip(*(group.cells[f.name] for f in run), strict=True)
            ]
            name = f"SEG{len(pieces)}"
            namespace[name] = segment
            pieces.append(f"{name}[i % {group.size}]")
            for member in run:
                pool = f"CELL{len(cells)}"
                namespace[pool] = group.cells[member.name]
                cells.append(f"{pool}[i % {group.size}]")
        elif spec.name == "Id":
            # id = head + 3 high digits + 2 low digits + fixed suffix + checksum letter; the letter
            # depends on both halves, so tails are tabulated per high-digit bit pattern (8 x 3844).
            head, highs, high_bits, lows, low_bits, suffixes, base = data.ids.render_tables(
                total_rows
            )
            namespace["IDHEAD"] = ['"' + head + high for high in highs]
            namespace["IDHB"] = high_bits
            namespace["IDTAIL"] = [
                [
                    low + suffixes[bits | low_bit] + '"'
                    for low, low_bit in zip(lows, low_bits, strict=True)
                ]
                for bits in range(8)
            ]
            # two f-string fields; the outer braces come from the row template below
            pieces.append(
                f"IDHEAD[(h := (i + {base}) // 3844)]}}{{IDTAIL[IDHB[h]][(i + {base}) % 3844]"
            )
            cells.append(
                f"IDHEAD[(h := (i + {base}) // 3844)] + IDTAIL[IDHB[h]][(i + {base}) % 3844]"
            )
        elif spec.name == "IsDeleted":
            pieces.append(
                f"(QT if (i * {DELETED_MULTIPLIER} + {data.seed}) % {DELETED_MODULUS} == 0 else QF)"
            )
            cells.append(pieces[-1])
        elif spec.name in _STAMP_CELLS:
            name = f"STAMP{len(pieces)}"
            stamp_cells: list[str] = getattr(data.stamps, _STAMP_CELLS[spec.name])
            namespace[name] = stamp_cells
            first_stamp = "t := " if "t := " not in "".join(pieces) else ""
            pieces.append(
                f"{name}[({first_stamp}i // {TIE_GROUP_ROWS})]" if first_stamp else f"{name}[t]"
            )
            # A row inserted through the emulator is past the table; its change sets the stamps.
            cells.append(
                f"({name}[q] if (q := i // {TIE_GROUP_ROWS}) < {len(stamp_cells)} else '')"
            )
        elif spec.name in data.serials:
            serial = data.serials[spec.name]
            pieces.append(
                f"Q + str({serial.base} + (i * {serial.multiplier} + {serial.offset}) % {serial.span}) + Q"
            )
            cells.append(pieces[-1])
        else:
            raise KeyError(spec.name)
        k += 1
    row = "{D}".join("{" + piece + "}" for piece in pieces) + "{EOL}"

    index = {spec.name: at for at, spec in enumerate(fields)}
    stamps = [name for name in ("SystemModstamp", "LastModifiedDate", "IsDeleted") if name in index]

    shape = (tuple(spec.name for spec in fields), delimiter, eol)
    rendered = data.rendered_changes.setdefault(shape, {})

    def changed(row_number: int, change: OverlayRow) -> str:
        cached = rendered.get(row_number)
        if cached is not None and cached[0] is change:
            return cached[1]
        text = render_changed(row_number, change)
        rendered[row_number] = (change, text)
        return text

    def render_changed(row_number: int, change: OverlayRow) -> str:
        row_cells = base_cells(row_number)
        names = [*stamps, *change.values]
        if change.created_ms is not None:
            names.append("CreatedDate")
        for name in names:
            at = index.get(name)
            if at is not None:
                value = data.typed(name, row_number, change)
                row_cells[at] = csv_cell(text_of(fields[at].type, value))
        return delimiter.join(row_cells) + eol

    namespace["SLOW"] = changed
    source = (
        f"def base_cells(i):\n    return [{', '.join(cells)}]\n"
        "def render(rows, overlay):\n"
        "    if not overlay:\n"
        f"        return ''.join([f\"{row}\" for i in rows])\n"
        f"    return ''.join([SLOW(i, overlay[i]) if i in overlay else f\"{row}\" for i in rows])\n"
    )
    exec(compile(source, f"<csv renderer {data.name}>", "exec"), namespace)  # noqa: S102 - code built above
    base_cells: Callable[[int], list[str]] = namespace["base_cells"]  # type: ignore[assignment]
    return namespace["render"]  # type: ignore[return-value]


def generic_row(
    data: ObjectData,
    fields: Sequence[FieldSpec],
    row_number: int,
    change: OverlayRow | None,
    delimiter: str,
    eol: str,
) -> str:
    """A row rendered cell by cell from typed values: what the compiled renderer must match."""
    cells = [csv_cell(text_of(s.type, data.typed(s.name, row_number, change))) for s in fields]
    return delimiter.join(cells) + eol


def render_blocks(
    render: BlockRenderer,
    rows: Sequence[int],
    overlay: Mapping[int, OverlayRow],
    block_rows: int = RENDER_BLOCK_ROWS,
) -> Iterator[str]:
    """CSV text of ``rows`` in blocks of ``block_rows`` rows."""
    for start in range(0, len(rows), block_rows):
        yield render(rows[start : start + block_rows], overlay)
