"""The refresh token file: read at start, rewritten whenever Salesforce rotates the token.

With Refresh Token Rotation on, every exchange returns a new refresh token and invalidates the one
sent; sending an invalidated token again revokes the new one too. The token a run ends with must
therefore reach the next run, and a half-written file would lose it: the new token goes to a
temporary file in the same directory (created with mode 0600, never readable by others), is
flushed to disk, and then replaces the old file in one rename.
https://help.salesforce.com/s/articleView?id=005316711&type=1
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

TOKEN_FILE_MODE = 0o600


class TokenFileError(OSError):
    """The token file cannot be read or written; the message names the path, never the token."""


def read_token_file(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace removed)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        msg = f"cannot read {path} ({exc.strerror or type(exc).__name__})"
        raise TokenFileError(msg) from None
    if not text:
        msg = f"{path} is empty; put the refresh token in it"
        raise TokenFileError(msg)
    return text


def check_writable(path: Path) -> None:
    """Raise unless a new token could be written to ``path`` (its directory exists and may be
    written: the rename needs that, even when the file itself already exists)."""
    directory = path.parent
    if not directory.is_dir():
        msg = f"the directory {directory} does not exist"
        raise TokenFileError(msg)
    if not os.access(directory, os.W_OK | os.X_OK):
        msg = f"the directory {directory} is not writable by this user"
        raise TokenFileError(msg)


def write_token_file(path: Path, token: str) -> None:
    """Replace the file's content with ``token`` atomically, the file readable by its owner only."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        _sync_directory(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        msg = f"cannot write {path} ({exc.strerror or type(exc).__name__})"
        raise TokenFileError(msg) from None


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
