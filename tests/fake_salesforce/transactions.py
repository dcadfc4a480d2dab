"""Transactions still open: rows written with a SystemModstamp that nobody can read yet.

Salesforce sets ``SystemModstamp`` when a transaction writes a record, but other sessions see the
row only once the transaction commits, which for Apex, flows, large DML and data loads can be
minutes later. The row then appears with a stamp older than anything a reader asked for since it
was written. getUpdated's ``latestDateCovered`` is Salesforce's answer: "If Salesforce executes a
long-running transaction on your instance, the value in this field is the start time of that
long-running transaction until it completes"
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_getupdated_getupdatedresult.htm).

Here a transaction holds pending updates: nothing of them is in the object's overlay (so REST,
Bulk, ``truth`` and getUpdated never show them) until ``commit`` writes them with the stamps they
were given. A transaction started when it first wrote; its writes are stamped from then on.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tests.fake_salesforce.dataset import ObjectData
from tests.fake_salesforce.values import Typed


@dataclass(frozen=True)
class PendingUpdate:
    """One update a transaction made: rows, new values, and the stamp the write took."""

    data: ObjectData
    rows: tuple[int, ...]
    values: Mapping[str, Typed]
    stamp_ms: int


@dataclass
class OpenTransaction:
    """A transaction that has not committed yet."""

    id: str
    started_ms: int
    writes: list[PendingUpdate] = field(default_factory=list)


class Transactions:
    """The org's open transactions (instance-wide, as latestDateCovered is)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, OpenTransaction] = {}
        self._numbers = itertools.count(1)

    def begin(self, started_ms: int) -> str:
        """Open a transaction that started at ``started_ms``; returns its id."""
        with self._lock:
            tx_id = f"tx{next(self._numbers)}"
            self._open[tx_id] = OpenTransaction(tx_id, started_ms)
            return tx_id

    def _get(self, tx_id: str) -> OpenTransaction:
        transaction = self._open.get(tx_id)
        if transaction is None:
            raise KeyError(f"no open transaction {tx_id!r}")
        return transaction

    def started_ms(self, tx_id: str) -> int:
        """When an open transaction started."""
        with self._lock:
            return self._get(tx_id).started_ms

    def write(
        self,
        tx_id: str,
        data: ObjectData,
        rows: Sequence[int],
        values: Mapping[str, Typed],
        stamp_ms: int,
    ) -> None:
        """Record an update inside the transaction; nobody sees it before ``commit``."""
        with self._lock:
            transaction = self._get(tx_id)
            if stamp_ms < transaction.started_ms:
                raise ValueError("a transaction cannot write before it started")
            transaction.writes.append(PendingUpdate(data, tuple(rows), dict(values), stamp_ms))

    def commit(self, tx_id: str) -> list[PendingUpdate]:
        """Close the transaction and apply its writes, with their (older) stamps."""
        with self._lock:  # writes land before the transaction stops capping latestDateCovered
            transaction = self._get(tx_id)
            for write in transaction.writes:
                write.data.update(write.rows, write.values, write.stamp_ms)
            del self._open[tx_id]
        return transaction.writes

    def rollback(self, tx_id: str) -> None:
        """Close the transaction and forget its writes."""
        with self._lock:
            self._get(tx_id)
            del self._open[tx_id]

    def oldest_start_ms(self) -> int | None:
        """When the oldest open transaction started, or None when none is open."""
        with self._lock:
            return min((t.started_ms for t in self._open.values()), default=None)
