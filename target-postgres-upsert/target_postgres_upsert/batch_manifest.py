"""A BATCH message read and checked: its stream, encoding, version and the local files it names.

The Singer SDK's BATCH message (https://sdk.meltano.com/en/latest/batch.html):
``{"type": "BATCH", "stream": ..., "encoding": {"format": "jsonl" | "parquet", "compression":
"gzip" | "none" | null}, "manifest": ["file:///abs/path", ...]}``. A jsonl file holds one record
(not a Singer message) per line; the SDK's own writer gzips it whatever ``compression`` says, so
gzip is recognised by the file's first bytes rather than trusted. A parquet file carries its own
compression inside.

Only local files are read (``file://`` URLs or absolute paths), so tap and target share a
filesystem. With the SDK's ``batch_config.storage.root`` set in the target's settings, each file
is looked up by its name under that directory instead, as the SDK's own targets do: the place
where the tap wrote it may be mounted elsewhere for the target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from singer_sdk.singerlib.exceptions import InvalidInputLine

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
LOCAL_HOSTS = ("", "localhost")
COMPRESSIONS = (None, "none", "gzip")


class BatchFormat(StrEnum):
    """The encodings of BATCH files this target reads."""

    JSONL = "jsonl"
    PARQUET = "parquet"


@dataclass(frozen=True)
class BatchRequest:
    """What one BATCH message asks the target to load."""

    stream: str
    format: BatchFormat
    paths: tuple[Path, ...]
    version: int | None  # the message's ``version`` (full-table syncs), as a RECORD's


def read_batch_message(message: Mapping[str, Any], storage_root: str | None) -> BatchRequest:
    """Check a BATCH message and find its files.

    Raises:
        InvalidInputLine: the message is malformed or names a file that cannot be used here.
    """
    stream = message.get("stream")
    encoding = message.get("encoding")
    manifest = message.get("manifest")
    if (
        not isinstance(stream, str)
        or not isinstance(encoding, Mapping)
        or not isinstance(manifest, list)
        or not all(isinstance(url, str) and url for url in manifest)
    ):
        msg = (
            "a BATCH message needs a 'stream' name, an 'encoding' object and a 'manifest'"
            " list of file URLs"
        )
        raise InvalidInputLine(msg)
    fmt = encoding.get("format")
    if fmt not in tuple(BatchFormat):
        msg = f"BATCH encoding format {fmt!r} is not supported: send jsonl or parquet files"
        raise InvalidInputLine(msg)
    compression = encoding.get("compression")
    if compression not in COMPRESSIONS:
        msg = f"BATCH compression {compression!r} is not supported: use gzip or none"
        raise InvalidInputLine(msg)
    root = local_path(storage_root, "batch_config.storage.root") if storage_root else None
    paths = []
    for url in manifest:
        path = local_path(url, "BATCH file")
        paths.append(root / path.name if root is not None else path)
    version = message.get("version")
    return BatchRequest(
        stream=stream,
        format=BatchFormat(fmt),
        paths=tuple(paths),
        version=version if type(version) is int else None,
    )


def local_path(url: str, what: str) -> Path:
    """The local path of a ``file://`` URL or an absolute path.

    Raises:
        InvalidInputLine: another scheme (``s3://``, ...), another host, or a relative path.
    """
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in LOCAL_HOSTS:
            msg = f"{what} {url!r} is on host {parts.netloc!r}: only local files can be read"
            raise InvalidInputLine(msg)
        path = Path(url2pathname(unquote(parts.path)))
    elif not parts.scheme:
        path = Path(url)
    else:
        msg = (
            f"{what} {url!r}: only local files (file:// URLs) can be read; write the batch"
            " files to a directory the target can read"
        )
        raise InvalidInputLine(msg)
    if not path.is_absolute():
        msg = f"{what} {url!r} is not an absolute path"
        raise InvalidInputLine(msg)
    return path
