"""The tap's client layer (``tap_salesforce_bulk/salesforce/``) takes plain values: it imports
neither singer_sdk nor the tap's Singer layer, so it can be read, tested and reused on its own."""

from __future__ import annotations

import ast
from pathlib import Path

import tap_salesforce_bulk

CLIENT_LAYER = Path(tap_salesforce_bulk.__file__).parent / "salesforce"
CLIENT_PACKAGE = "tap_salesforce_bulk.salesforce"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_client_layer_imports_nothing_of_the_singer_layer() -> None:
    modules = sorted(CLIENT_LAYER.glob("*.py"))
    assert len(modules) > 10
    wrong = {
        f"{path.name}: {module}"
        for path in modules
        for module in imported_modules(path)
        if module.split(".")[0] == "singer_sdk"
        or (module.startswith("tap_salesforce_bulk") and not module.startswith(CLIENT_PACKAGE))
    }
    assert not wrong, f"the client layer must take plain values: {sorted(wrong)}"
