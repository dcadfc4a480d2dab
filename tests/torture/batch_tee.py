"""``tee`` for the batch lane: copies the tap's output to a file and to the target, and keeps a
hard link to every file a BATCH message names before the target can read (and remove) it.

The target deletes a batch file once its rows are committed, so without the link a check made
after a kill could not tell which rows a STATE vouched for. A link costs no copy and leaves the
storage root as the target sees it. Standalone (stdlib only): ``python batch_tee.py OUT ARCHIVE``.
"""

from __future__ import annotations

import json
import os
import select
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit


def keep_files(line: bytes, archive: Path) -> None:
    """Hard-link the files of a BATCH message into ``archive`` (other lines are left alone)."""
    if b'"BATCH"' not in line:
        return
    try:
        message = json.loads(line)
    except ValueError:
        return
    if not isinstance(message, dict) or message.get("type") != "BATCH":
        return
    for url in message.get("manifest") or []:
        path = Path(unquote(urlsplit(url).path))
        try:
            os.link(path, archive / path.name)
        except OSError as exc:  # reported by the claim check as a file it cannot read
            print(f"batch_tee: cannot keep {path}: {exc}", file=sys.stderr, flush=True)


def exit_when_the_target_dies() -> None:
    """End the tee as soon as its reader (the target) is gone, as a shell pipe would show it.

    Waiting for the target to remove files, the tap writes nothing, so the tee would wait on
    stdin forever and hide the dead target from the tap (which watches its own reader: the tee).
    """
    poller = select.poll()
    poller.register(sys.stdout.fileno(), 0)  # POLLERR comes whatever the mask: no reader left
    poller.poll()
    os._exit(1)


def main(out_path: str, archive_dir: str) -> int:
    """Copy stdin to ``out_path`` and stdout line by line, linking batch files on the way."""
    archive = Path(archive_dir)
    archive.mkdir(parents=True, exist_ok=True)
    threading.Thread(target=exit_when_the_target_dies, daemon=True).start()
    with open(out_path, "wb") as out:
        for line in sys.stdin.buffer:
            out.write(line)
            out.flush()
            keep_files(line, archive)  # before the target sees the message
            try:
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
            except BrokenPipeError:
                return 1  # the target died: the tap gets EPIPE next, as with tee
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
