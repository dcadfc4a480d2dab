"""Start-up: the parts of singer-sdk a target never runs are imported only if something asks.

Every run pays the interpreter's start-up and its imports before the first row moves, and an
incremental run that loads a few thousand rows spends a large part of its time there. Importing
any ``singer_sdk`` module first runs the package's ``__init__``, which imports the whole SDK: the
tap side too (streams, the REST and GraphQL clients, ``requests``). ``target_base`` imports
``joblib`` for parallel drains (this target drains on one thread) and the batch helpers import
``upath`` and ``fsspec`` for remote batch storage (this target reads local files itself). Measured
with ``python -X importtime`` and CPU time: those are about a third of the import time.

``defer_unused_sdk_imports`` (run by the package's ``__init__``, before anything imports the SDK):

* registers ``singer_sdk`` without running its ``__init__``; its submodules import as usual, and
  the first use of a name the ``__init__`` defines (``singer_sdk.Stream``, ...) runs it then;
* imports ``singer_sdk.target_base`` (and so the batch helpers) while ``joblib`` and ``upath``
  are stand-ins whose few names it binds (``Parallel``, ``delayed``, ``parallel_config``,
  ``UPath``) import the real module when called. The stand-ins are removed right after: any
  other ``import joblib`` or ``import upath`` gets the real module, and a stand-in asked for
  another name imports the real module and answers from it.

Nothing changes in what the SDK does: every name resolves to the same object or callable when
used; only when the import happens differs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

SDK_PACKAGE = "singer_sdk"
#: Module -> names the SDK modules imported at start bind from it, deferred until first call.
DEFERRED_NAMES = {
    "joblib": ("Parallel", "delayed", "parallel_config"),  # singer_sdk.target_base
    "upath": ("UPath",),  # singer_sdk.helpers._batch
}
_LOCK = threading.RLock()


def defer_unused_sdk_imports() -> None:
    """Register the lazy SDK package and import the target's SDK modules (see the docstring)."""
    if SDK_PACKAGE in sys.modules:
        return  # imported already (e.g. by a test runner's plugin): nothing to gain
    spec = importlib.util.find_spec(SDK_PACKAGE)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _package_getattr(package, spec)  # type: ignore[method-assign]
    sys.modules[SDK_PACKAGE] = package
    stand_ins = {
        name: _stand_in(name, names)
        for name, names in DEFERRED_NAMES.items()
        if name not in sys.modules
    }
    sys.modules.update(stand_ins)
    try:
        importlib.import_module("singer_sdk.target_base")
    finally:
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]


def _package_getattr(
    package: types.ModuleType, spec: importlib.machinery.ModuleSpec
) -> Callable[[str], Any]:
    """``singer_sdk.__getattr__`` until the package's ``__init__`` has run."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"{SDK_PACKAGE}.{name}") is not None:
            return importlib.import_module(f"{SDK_PACKAGE}.{name}")  # a submodule
        with _LOCK:
            if package.__dict__.get("__getattr__") is __getattr__:
                del package.__getattr__
                assert spec.loader is not None
                spec.loader.exec_module(package)  # the SDK's own __init__, now
        return getattr(package, name)

    return __getattr__


def _stand_in(module: str, names: tuple[str, ...]) -> types.ModuleType:
    """A module whose ``names`` import ``module`` when called; any other name imports it now."""
    stand_in = types.ModuleType(module, f"Stand-in for {module}, imported on first use.")

    def real() -> types.ModuleType:
        with _LOCK:
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]
            return importlib.import_module(module)

    def deferred(name: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            return getattr(real(), name)(*args, **kwargs)

        call.__name__ = call.__qualname__ = name
        return call

    for name in names:
        setattr(stand_in, name, deferred(name))

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(real(), name)

    stand_in.__getattr__ = __getattr__  # type: ignore[method-assign]
    return stand_in
