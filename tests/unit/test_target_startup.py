"""Start-up: the SDK's tap side, joblib and upath are not imported until used, and still work.

Each check runs in a fresh interpreter (``sys.modules`` of the test process already holds the
SDK), importing the target as its console script does.
"""

from __future__ import annotations

import subprocess
import sys

NOT_AT_START = ("singer_sdk.streams", "requests", "joblib", "upath", "fsspec")


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_the_target_starts_without_the_sdk_modules_it_never_runs() -> None:
    loaded = _python(
        "import sys, target_postgres_upsert.target\n"
        f"print(','.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    )
    assert loaded == ""


def test_deferred_names_still_resolve_to_the_real_objects() -> None:
    out = _python(
        "import target_postgres_upsert.target, singer_sdk, sys\n"
        "from singer_sdk.helpers._batch import StorageTarget\n"
        "import singer_sdk.target_base as tb\n"
        "from singer_sdk.streams import Stream\n"
        "assert singer_sdk.Stream is Stream  # the package's own __init__ ran on first use\n"
        "path = StorageTarget('file:///tmp/x')._root_path  # upath, imported on first call\n"
        "assert type(path).__module__.startswith('upath'), type(path)\n"
        "import joblib, upath\n"
        "assert type(joblib.Parallel) is type and joblib.__file__ and upath.UPath\n"
        "with tb.parallel_config(backend='threading', n_jobs=2):\n"
        "    print(tb.Parallel()(tb.delayed(abs)(x) for x in (-1, -2)))\n"
    )
    assert out == "[1, 2]"
