"""Write each plugin's settings table (from ``--about --format=markdown``) into its README.

    .venv/bin/python scripts/settings_tables.py          # rewrite the tables
    .venv/bin/python scripts/settings_tables.py --check  # exit 1 if a README is out of date

The table sits between ``<!-- settings:PLUGIN:start -->`` and ``<!-- settings:PLUGIN:end -->``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PLUGINS = ("tap-salesforce-bulk", "target-postgres-upsert")
# Each plugin's table lives once, in its own README; the root README links there.
READMES = (
    ROOT / "tap-salesforce-bulk" / "README.md",
    ROOT / "target-postgres-upsert" / "README.md",
)


def settings_table(plugin: str) -> str:
    """The ``| Setting | Required | Default | Description |`` table of one plugin."""
    about = subprocess.run(
        [str(BIN / plugin), "--about", "--format=markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = about.split("## Settings", 1)[1].strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    return "\n".join(table)


def rewrite(text: str, plugin: str, table: str) -> str:
    """``text`` with the block between the plugin's markers replaced by ``table``."""
    start, end = f"<!-- settings:{plugin}:start -->", f"<!-- settings:{plugin}:end -->"
    if start not in text or end not in text:
        return text
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{table}\n{end}{tail}"


def main() -> int:
    check = "--check" in sys.argv
    tables = {plugin: settings_table(plugin) for plugin in PLUGINS}
    stale = []
    for readme in (r for r in READMES if r.exists()):
        text = readme.read_text()
        updated = text
        for plugin, table in tables.items():
            updated = rewrite(updated, plugin, table)
        if updated != text:
            stale.append(readme)
            if not check:
                readme.write_text(updated)
    for readme in stale:
        print(f"{'out of date' if check else 'updated'}: {readme.relative_to(ROOT)}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
