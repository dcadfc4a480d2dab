"""SIGKILL of the tap, of the target, or of PostgreSQL at a random moment; then a rerun.

Each seed draws its own settings (page size, streamed or prefetched pages, windows, deletes,
batch size) and whether the killed run is a first full sync or an incremental one after changes.
The moment is a random line of the tap's output (or, for line 0, a random delay: during login,
discovery or job polling). After the kill, the last STATE the target printed must not claim a row
that is not in the table, and one rerun from it must make the table exact.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable

from tests.fake_salesforce import FakeSalesforce
from tests.torture.common import (
    WINDOW_DAYS_FIVE_JOBS,
    change_records,
    contacts,
    emulator,
    in_lane,
    make_plan,
    pages_of,
    seeded_flow,
)
from tests.torture.context import Context
from tests.torture.lanes import Lane
from tests.torture.outcome import Outcome
from tests.torture.pipeline import Running, Trigger
from tests.torture.scenario import Scenario
from tests.torture.sync import Sync, converge

FAMILY = "crashes"
FULL_SEEDS = tuple(range(1, 21))
EARLY_KILL_SECONDS = (0.2, 2.5)
MAX_RERUNS_AFTER_CRASH = 2


def _settings(rng: random.Random) -> tuple[dict[str, object], dict[str, object]]:
    include_deleted = rng.random() < 0.4
    tap: dict[str, object] = {
        "page_size": rng.choice((100, 200, 500)),
        "max_parallel_downloads": rng.choice((1, 3)),
        "include_deleted": include_deleted,
    }
    if rng.random() < 0.3:
        tap["window_days"] = WINDOW_DAYS_FIVE_JOBS
    target: dict[str, object] = {
        "batch_size_rows": rng.choice((100, 300, 1000)),
        "max_batch_age_seconds": rng.choice((0.5, 2)),
        "hard_delete": include_deleted and rng.random() < 0.5,
    }
    return tap, target


def _moment(rng: random.Random, lines: int, action: Callable[[Running], str]) -> Trigger:
    """A random line of the tap's output, or a random early delay for line 0."""
    at = rng.randrange(0, lines + 1)
    if at == 0:
        return Trigger(action, after_seconds=rng.uniform(*EARLY_KILL_SECONDS))
    return Trigger(action, after_lines=at)


def _batch_lines(rows: int, page_size: int, batch_size: int) -> int:
    """About how many lines the tap writes for ``rows`` rows in the batch lane: per page, a
    BATCH message per file and a STATE."""
    return pages_of(rows, page_size) * (-(-page_size // batch_size) + 1)


def _batch_moment(
    rng: random.Random, lines: int, rows: int, sf: FakeSalesforce, action: Callable[[Running], str]
) -> Trigger:
    """The batch lane writes a few lines per page: a random line as in the record lane, or
    (half the time) the moment the emulator has served a random number of rows, which falls
    inside a page being written to files."""
    if rng.random() < 0.5:
        return _moment(rng, lines, action)
    served = int(sf.counters["rows_served"]) + rng.randrange(1, max(2, rows))
    return Trigger(action, when=lambda: int(sf.counters["rows_served"]) >= served)


def crash(
    victim: str,
    lane: Lane | None = None,
    full_seeds: tuple[int, ...] = FULL_SEEDS,
    quick_seeds: tuple[int, ...] = (3,),
) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(zlib.crc32(f"{victim}:{seed}".encode()))
        cluster = ctx.cluster() if victim == "postgres" else None
        url = cluster.url() if cluster else ctx.database_url
        count = contacts(ctx)
        with emulator(seed, count) as sf, ctx.schema(url) as schema:
            tap, target = _settings(rng)
            plan = make_plan(sf, schema, url, flow=seeded_flow(seed), tap=tap, target=target)
            directory = ctx.directory(f"crash-{victim}", seed)
            in_lane(plan, lane, directory, random.Random(seed))
            sync = Sync(ctx, directory, plan, outcome)
            page_size = int(str(tap["page_size"]))
            lines = count + count // page_size
            rows = count
            if rng.random() < 0.4:
                setup = sync.run(counted=False)
                if not setup.ok:
                    outcome.fail("the full sync before the incremental one failed")
                    return
                changes = rng.randrange(20, 200)
                outcome.notes.append(
                    "incremental: "
                    + change_records(
                        sf, rng, plan, updates=changes, inserts=changes // 4, deletes=changes // 8
                    )
                )
                lines = changes * 2
                rows = changes + changes // 4
            batch = plan.tap_config.get("batch_config")
            outcome.notes.append(f"settings: tap {tap}, batch {batch}, target {target}")

            def kill(running: Running) -> str:
                return cluster.crash() if cluster else running.kill(victim)

            def restart() -> str | None:
                if cluster is None:
                    return None
                cluster.start()
                return "postgres restarted (crash recovery)"

            if lane is None:
                trigger = _moment(rng, lines, kill)
            else:
                size = int(plan.tap_config["batch_config"]["batch_size"])
                trigger = _batch_moment(rng, _batch_lines(rows, page_size, size), rows, sf, kill)
            converge(
                sync,
                triggers=[trigger],
                heal=restart,
                max_failed_reruns=MAX_RERUNS_AFTER_CRASH,
            )

    name = f"SIGKILL {victim} at a random moment, rerun"
    return Scenario(
        lane.title(name) if lane else name,
        FAMILY,
        run,
        full_seeds=full_seeds,
        quick_seeds=quick_seeds,
    )


SCENARIOS: list[Scenario] = [crash("tap"), crash("target"), crash("postgres")]
