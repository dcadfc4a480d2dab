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

from tests.torture.common import (
    WINDOW_DAYS_FIVE_JOBS,
    change_records,
    contacts,
    emulator,
    make_plan,
    seeded_flow,
)
from tests.torture.context import Context
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


def _crash(victim: str) -> Scenario:
    def run(ctx: Context, seed: int, outcome: Outcome) -> None:
        rng = random.Random(zlib.crc32(f"{victim}:{seed}".encode()))
        cluster = ctx.cluster() if victim == "postgres" else None
        url = cluster.url() if cluster else ctx.database_url
        count = contacts(ctx)
        with emulator(seed, count) as sf, ctx.schema(url) as schema:
            tap, target = _settings(rng)
            plan = make_plan(sf, schema, url, flow=seeded_flow(seed), tap=tap, target=target)
            sync = Sync(ctx, ctx.directory(f"crash-{victim}", seed), plan, outcome)
            lines = count + count // int(str(tap["page_size"]))
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
            outcome.notes.append(f"settings: tap {tap}, target {target}")

            def kill(running: Running) -> str:
                return cluster.crash() if cluster else running.kill(victim)

            def restart() -> str | None:
                if cluster is None:
                    return None
                cluster.start()
                return "postgres restarted (crash recovery)"

            converge(
                sync,
                triggers=[_moment(rng, lines, kill)],
                heal=restart,
                max_failed_reruns=MAX_RERUNS_AFTER_CRASH,
            )

    return Scenario(
        f"SIGKILL {victim} at a random moment, rerun",
        FAMILY,
        run,
        full_seeds=FULL_SEEDS,
        quick_seeds=(3,),
    )


SCENARIOS: list[Scenario] = [_crash("tap"), _crash("target"), _crash("postgres")]
