"""Bad input to the tap: broken CSV pages, short pages, unknown describe types, bad settings.

A page broken once is read again inside the run. A page that stays broken (malformed, or shorter
than its ``Sforce-NumberOfRecords``) must stop the run clearly, every rerun must stop at the same
page without a STATE that skips it, and once Salesforce heals one more rerun must converge.
"""

from __future__ import annotations

import contextlib
import copy
import random
from collections.abc import Callable, Iterator
from typing import Any

from tests.fake_salesforce import faults, routes_rest
from tests.integration.tap_runner import tap_config
from tests.torture.common import (
    contacts,
    emulator,
    in_lane,
    make_plan,
    pages_of,
    point_nth,
    seeded_flow,
)
from tests.torture.compare import salesforce_types
from tests.torture.context import Context
from tests.torture.lanes import Lane
from tests.torture.outcome import Outcome
from tests.torture.pipeline import run_tap_alone
from tests.torture.scenario import Scenario
from tests.torture.scenarios_faults import POINTS, one_clear_error
from tests.torture.sync import Sync, converge, error_lines

FAMILY = "bad input to the tap"
PERSISTENT_TIMES = 10**6
FAILED_RUNS_BEFORE_HEALING = 2

BROKEN_PAGES: dict[str, tuple[Callable[..., faults.Fault], str]] = {
    "malformed CSV": (lambda **kw: faults.MalformedCsv(**kw), r"kept breaking"),
    "short page": (
        lambda **kw: faults.ShortPage(missing_rows=7, **kw),
        r"held \d+ rows but Sforce-NumberOfRecords said \d+",
    ),
}


def broken_page(kind: str, point: str, *, persistent: bool, lane: Lane | None = None) -> Scenario:
    make_fault, message = BROKEN_PAGES[kind]

    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(seed)
        with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
            plan = make_plan(
                sf,
                schema,
                ctx.database_url,
                flow=seeded_flow(seed),
                tap={"max_parallel_downloads": rng.choice((1, 3))},
            )
            directory = ctx.directory(f"{kind}-{point}", seed)
            in_lane(plan, lane, directory, rng)
            nth = point_nth(point, pages_of(sum(1 for _ in sf.truth("Contact"))))
            times = PERSISTENT_TIMES if persistent else 1
            sf.inject(make_fault(on="results", nth=nth, times=times))
            sync = Sync(ctx, directory, plan, outcome)
            failures = 0

            def heal() -> str | None:
                nonlocal failures
                failures += 1
                if failures < FAILED_RUNS_BEFORE_HEALING:
                    return None
                sf.clear_faults()
                return "Salesforce healed: the page is whole again"

            if persistent:
                converge(
                    sync,
                    heal=heal,
                    max_failed_reruns=FAILED_RUNS_BEFORE_HEALING,
                    on_failure=one_clear_error(message),
                )
                if len(sync.runs) != FAILED_RUNS_BEFORE_HEALING + 1:
                    outcome.fail(
                        f"{len(sync.runs)} runs; expected {FAILED_RUNS_BEFORE_HEALING} to stop at "
                        "the broken page and one to converge after healing"
                    )
            else:
                converge(sync)

    mode = "persistent, healed after 2 failed runs" if persistent else "once"
    name = f"{kind} ({mode}) on {point} page"
    quick = persistent and kind == "short page" and lane is None
    return Scenario(
        lane.title(name) if lane else name,
        FAMILY,
        run,
        full_seeds=(41 + POINTS.index(point),),
        quick_seeds=(41,) if quick else (),
    )


@contextlib.contextmanager
def rewritten_describe(types: dict[str, str]) -> Iterator[None]:
    """Serve describe with some fields' ``type`` replaced (the emulator's ``add_field`` refuses
    types it does not model, so the describe route is wrapped in-process instead)."""
    original = routes_rest.describe_object

    def describe(*args: Any, **kwargs: Any) -> Any:
        body = copy.deepcopy(original(*args, **kwargs))
        for field in (body or {}).get("fields", []):
            if field.get("name") in types:
                field["type"] = types[field["name"]]
        return body

    routes_rest.describe_object = describe  # type: ignore[assignment]
    try:
        yield
    finally:
        routes_rest.describe_object = original  # type: ignore[assignment]


def _unknown_types(ctx: Context, seed: int, outcome: Outcome) -> None:
    """A type the tap does not know is synced as text with a warning; base64 is left out."""
    unknown = {"Pharmacy_Code__c": "fancynewtype", "Office_Hours__c": "base64"}
    with emulator(seed, contacts(ctx)) as sf, ctx.schema() as schema:
        sf.add_field("Contact", "Pharmacy_Code__c", type="string", label="Pharmacy Code")
        outcome.notes.append(
            "the emulator's add_field refuses unknown types; describe is rewritten in-process"
        )
        plan = make_plan(sf, schema, ctx.database_url)
        types = salesforce_types(sf)
        types["Pharmacy_Code__c"] = "string"  # expected as text
        del types["Office_Hours__c"]  # expected left out
        plan.field_types = types
        sync = Sync(ctx, ctx.directory("unknown-types", seed), plan, outcome)
        with rewritten_describe(unknown):
            converge(sync)
        warnings = sync.runs[0].stderr("tap")
        if "fancynewtype" not in warnings or "Pharmacy_Code__c" not in warnings:
            outcome.fail("no warning names the unknown type and its field")


# The first six are the list; CI's subset runs only those.
BAD_SETTINGS_QUICK = 6
BAD_SETTING_SECONDS = 60
BAD_SETTINGS: list[tuple[str, dict[str, Any], str]] = [
    ("start_date", {"start_date": "yesterday"}, "password"),
    ("api_version", {"api_version": "40"}, "password"),
    ("page_size", {"page_size": -1}, "password"),
    ("auth_flow", {"auth_flow": "oauth"}, "password"),
    ("objects", {"objects": ["Con tact"]}, "password"),
    ("private_key", {"private_key": "-----BEGIN PRIVATE KEY-----\nnot a key\n"}, "jwt"),
    ("private_key_path", {"private_key": None, "private_key_path": "/nonexistent.pem"}, "jwt"),
    ("max_wait_time", {"max_wait_time": 0}, "password"),
    ("window_days", {"window_days": -2}, "password"),
    ("lag_seconds", {"lag_seconds": -5}, "password"),
    ("login_url", {"login_url": "ftp://example.org"}, "password"),
    ("include_deleted", {"include_deleted": "yes"}, "password"),
    ("max_parallel_downloads", {"max_parallel_downloads": 0}, "password"),
    ("reconcile", {"reconcile": ["bogus"]}, "password"),
    ("max_api_usage_percent", {"max_api_usage_percent": 150}, "password"),
]


def _bad_settings(ctx: Context, seed: int, outcome: Outcome) -> None:
    """Each bad value: exit non-zero before any record, one ERROR line naming the setting."""
    directory = ctx.directory("bad-settings", seed)
    with emulator(seed, 50) as sf:
        for setting, values, flow in BAD_SETTINGS[: BAD_SETTINGS_QUICK if ctx.quick else None]:
            config = tap_config(sf, flow, **values)
            config = {k: v for k, v in config.items() if v is not None}
            run = run_tap_alone(directory, config, {}, BAD_SETTING_SECONDS)
            outcome.runs += 1
            naming = [line for line in error_lines(run.stderr) if setting in line]
            where = f"{setting}={values.get(setting)!r}"
            if run.returncode == 0:
                outcome.fail(f"{where}: the tap exited 0")
            if '"type":"RECORD"' in run.stdout.replace(" ", ""):
                outcome.fail(f"{where}: records were emitted")
            if "Traceback" in run.stderr:
                outcome.fail(f"{where}: a traceback was printed")
            if len(naming) != 1:
                last = error_lines(run.stderr)[-2:]
                outcome.fail(f"{where}: {len(naming)} error lines name the setting; last: {last}")
            elif len(error_lines(run.stderr)) > 1:
                outcome.notes.append(f"{where}: also {error_lines(run.stderr)[1:]}")


SCENARIOS: list[Scenario] = [
    *(broken_page(kind, point, persistent=False) for kind in BROKEN_PAGES for point in POINTS),
    *(broken_page(kind, "middle", persistent=True) for kind in BROKEN_PAGES),
    Scenario("unknown and base64 types in describe", FAMILY, _unknown_types, (51,), (51,)),
    Scenario("bad settings, one tap run per value", FAMILY, _bad_settings, (52,), (52,)),
]
