"""Side streams applied to another stream's table: patches and Id sets.

A tap can send, next to an object's stream, streams whose SCHEMA is marked:

* ``"x-singer-patch": {"stream": "Contact"}``: each RECORD holds the key plus some columns of a
  ``Contact`` row to update in place. An absent property means "leave the column alone", not
  null; rows the table does not have are not inserted. ``PatchSink`` groups a batch's records by
  the properties they hold and runs one COPY + ``UPDATE ... FROM`` per group.
* ``"x-singer-id-set": {"stream": "Contact", "stamp_property": "SystemModstamp"}``: the RECORDs
  list every key that exists, and ACTIVATE_VERSION closes the list; its version is the time
  (epoch ms) the list was taken. ``IdSetSink`` collects the keys in a table of their own and, on
  ACTIVATE_VERSION, marks deleted (or, with ``hard_delete``, deletes) the rows of ``Contact``'s
  table that the list lacks and that did not change since it was taken (SQL in
  ``db/reconcile.py``).

Neither creates a table of its own name. The table is the one the base stream loads into (its
sink's, when the base stream came in this run; else the one its name maps to, if it exists);
without one, the side stream is skipped with a warning.
"""

from __future__ import annotations

from target_postgres_upsert.side_streams.base import (
    ID_SET_MARKER,
    PATCH_MARKER,
    is_side_sink,
    side_stream_base,
)
from target_postgres_upsert.side_streams.id_set import IdSetSink
from target_postgres_upsert.side_streams.patch import PatchSink

__all__ = [
    "ID_SET_MARKER",
    "PATCH_MARKER",
    "IdSetSink",
    "PatchSink",
    "is_side_sink",
    "side_stream_base",
]
