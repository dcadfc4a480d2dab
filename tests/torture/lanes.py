"""The batch lane in the torture suite: the same scenarios with the tap's ``batch_config``.

A scenario made for a lane carries the lane in its name ("batch parquet: ..."), writes its batch
files into a storage root of its own, and is held to the record lane's checks (exact table, no
STATE claiming an uncommitted row: ``claims.py`` reads the files a BATCH message named) plus the
batch lane's own: a run that succeeds leaves no file of its own behind, and no file is ever
named by two BATCH messages (a kill must not make a rerun load a file twice). Files a killed run
left behind are counted (``Outcome.batch_files_left``), not failed: the report shows them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.torture.claims import tap_messages


@dataclass(frozen=True)
class Lane:
    """A batch encoding, as the tap's ``batch_config.encoding`` names it."""

    label: str  # the scenario name's prefix
    encoding: Mapping[str, str] = field(default_factory=dict)

    def title(self, name: str) -> str:
        """The scenario name in this lane."""
        return f"{self.label}: {name}"

    def slug(self) -> str:
        """A directory-name friendly label."""
        return self.label.replace(" ", "-").replace(".", "")


PARQUET = Lane("batch parquet", {"format": "parquet", "compression": "none"})
JSONL_GZ = Lane("batch jsonl.gz", {"format": "jsonl", "compression": "gzip"})


def batch_config(lane: Lane, root: Path, batch_size: int) -> dict[str, Any]:
    """The tap's ``batch_config`` writing ``lane``'s files of ``batch_size`` rows into ``root``."""
    return {
        "encoding": dict(lane.encoding),
        "storage": {"root": str(root)},
        "batch_size": batch_size,
    }


def files_in(root: Path) -> set[str]:
    """Names of the files in the storage root (``.part`` files included)."""
    return {p.name for p in root.iterdir() if p.is_file()} if root.is_dir() else set()


def manifest_names(tap_out: Path) -> list[str]:
    """The file names every BATCH message in the tap's output named, in order."""
    if not tap_out.exists():
        return []
    return [
        Path(unquote(urlsplit(url).path)).name
        for message in tap_messages(tap_out)
        if message.get("type") == "BATCH"
        for url in message.get("manifest") or []
    ]


def batch_rows(message: Mapping[str, Any], archive: Path) -> Iterable[dict[str, Any]]:
    """The rows of the files a BATCH message named, from the links ``batch_tee.py`` kept."""
    from tests.integration.batch_lane import file_records

    for url in message.get("manifest") or []:
        path = archive / Path(unquote(urlsplit(url).path)).name
        if not path.exists():
            raise FileNotFoundError(f"BATCH file {path.name} was not kept by the batch tee")
        yield from file_records(path)


@dataclass
class BatchLedger:
    """What a scenario's runs did with batch files, checked run by run."""

    root: Path
    named: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)

    def start_run(self) -> None:
        """Before a run: what is in the root already (left by a killed run)."""
        self.before = files_in(self.root)

    def check_run(self, ok: bool, tap_out: Path | None) -> list[str]:
        """After a run: problems with its files (none named twice; none left if it succeeded)."""
        problems = []
        if tap_out is not None:
            for name in manifest_names(tap_out):
                if name in self.named:
                    problems.append(f"BATCH file {name} named twice (loaded again after a rerun)")
                self.named.add(name)
        if ok:
            left = sorted(files_in(self.root) - self.before)
            if left:
                shown = ", ".join(left[:3])
                problems.append(f"a successful run left {len(left)} batch files: {shown}")
        return problems

    def left(self) -> list[str]:
        """Files in the root now."""
        return sorted(files_in(self.root))


def describe_left(names: list[str]) -> str:
    """A note on leftover files: how many, how many of them unfinished ``.part`` files."""
    parts = sum(name.endswith(".part") for name in names)
    return f"{len(names)} batch files left in the storage root ({parts} .part)" + (
        f": {json.dumps(names[:4])}" if names else ""
    )
