"""Render result rows as Bulk API 2.0 CSV, fast.

For each job a row renderer is generated as Python source: one f-string per row whose pieces are
list lookups into the pre-quoted value pools (consecutive fields of one pool pre-joined into a
single segment), pre-formatted timestamp cells and the id function. Rows changed through the
emulator (the overlay) take a slower, generic path. See ``values`` for the CSV format rules.
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
        elif spec.name == "IsDeleted":
            pieces.append(
                f"(QT if (i * {DELETED_MULTIPLIER} + {data.seed}) % {DELETED_MODULUS} == 0 else QF)"
            )
        elif spec.name in _STAMP_CELLS:
            name = f"STAMP{len(pieces)}"
            namespace[name] = getattr(data.stamps, _STAMP_CELLS[spec.name])
            first_stamp = "t := " if "t := " not in "".join(pieces) else ""
            pieces.append(
                f"{name}[({first_stamp}i // {TIE_GROUP_ROWS})]" if first_stamp else f"{name}[t]"
            )
        elif spec.name in data.serials:
            serial = data.serials[spec.name]
            pieces.append(
                f"Q + str({serial.base} + (i * {serial.multiplier} + {serial.offset}) % {serial.span}) + Q"
            )
        else:
            raise KeyError(spec.name)
        k += 1
    row = "{D}".join("{" + piece + "}" for piece in pieces) + "{EOL}"

    def slow(row_number: int, change: OverlayRow) -> str:
        cells = [csv_cell(text_of(s.type, data.typed(s.name, row_number, change))) for s in fields]
        return delimiter.join(cells) + eol

    namespace["SLOW"] = slow
    source = (
        "def render(rows, overlay):\n"
        "    if not overlay:\n"
        f"        return ''.join([f\"{row}\" for i in rows])\n"
        f"    return ''.join([SLOW(i, overlay[i]) if i in overlay else f\"{row}\" for i in rows])\n"
    )
    exec(compile(source, f"<csv renderer {data.name}>", "exec"), namespace)  # noqa: S102 - code built above
    return namespace["render"]  # type: ignore[return-value]


def render_blocks(
    render: BlockRenderer,
    rows: Sequence[int],
    overlay: Mapping[int, OverlayRow],
    block_rows: int = RENDER_BLOCK_ROWS,
) -> Iterator[str]:
    """CSV text of ``rows`` in blocks of ``block_rows`` rows."""
    for start in range(0, len(rows), block_rows):
        yield render(rows[start : start + block_rows], overlay)
