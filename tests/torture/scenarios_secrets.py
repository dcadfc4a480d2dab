"""Secrets never leave the configuration; TLS is checked; a least-privilege PostgreSQL role works.

The emulator gets distinctive credentials, the target a PostgreSQL role with a distinctive
password (on the private cluster, where other roles must authenticate with scram-sha-256, so the
password is really used). After the runs every byte the pipeline left behind is searched for each
secret: stderr, stdout (the STATE lines), state files, and for Meltano its system database and
logs. The configuration files we wrote ourselves are the only place a secret may be, and the
refresh token file the tap keeps (``refresh_token_path``): the emulator rotates refresh tokens
and times sessions out, so the refresh_token run logs in again with rotated tokens, which are
searched for too.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from psycopg2 import sql

from tests.fake_salesforce import FakeSalesforce, keys
from tests.fake_salesforce.auth import Credentials
from tests.integration.tap_runner import tap_config
from tests.torture.common import FLOWS, change_records, emulator
from tests.torture.context import Context
from tests.torture.outcome import Outcome
from tests.torture.pipeline import run_tap_alone
from tests.torture.scenario import Scenario
from tests.torture.scenarios_meltano import meltano_env
from tests.torture.sync import Plan, Sync, error_lines
from tests.torture.tls import self_signed, tls_front

FAMILY = "secrets, TLS, privileges"
CONTACTS = 600
CONFIG_FILES = {"tap.json", "target.json"}  # written by the suite: the secrets are meant there
TOKEN_FILE = (
    "refresh-token.secret"  # the tap's refresh_token_path: the rotated token is meant there
)
# Sessions shorter than a run, so a run logs in again mid-way with the newest refresh token.
SESSION_TIMEOUT_SECONDS = 1.5
PEM_LINE_CHARS = 64
# A certificate that fails verification will not verify on a retry: the tap should say so at
# once. A minute is generous (startup is ~2 s).
TLS_REFUSAL_SECONDS = 60
TLS_REFUSAL_SECONDS_QUICK = 20


def distinctive_credentials() -> Credentials:
    """Emulator credentials no log line could contain by chance."""
    tag = secrets.token_hex(6)
    return Credentials(
        username=f"torture.{tag}@example-health.org",
        password=f"TorturePassword{tag}",
        security_token=f"TortureSecurityToken{tag}",
        client_id=f"3MVG9TortureClientId{tag}",
        client_secret=f"TortureClientSecret{tag}",
        refresh_token=f"5AepTortureRefreshToken{tag}",
        private_key_pem=keys.private_key_pem(),
    )


def secret_values(
    creds: Credentials,
    pg_password: str,
    tokens: Iterable[str],
    refresh_tokens: Iterable[str] = (),
) -> dict[str, str]:
    """Every secret by name (access tokens and rotated refresh tokens too); the private key by
    each full line of its PEM body."""
    found = {
        "password": creds.password,
        "security_token": creds.security_token,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "refresh_token": creds.refresh_token,
        "postgres password": pg_password,
    }
    body = [line for line in creds.private_key_pem.splitlines() if len(line) == PEM_LINE_CHARS]
    found |= {f"private_key line {i}": line for i, line in enumerate(body)}
    found |= {f"access token {i}": token for i, token in enumerate(tokens)}
    found |= {f"rotated refresh token {i}": token for i, token in enumerate(refresh_tokens)}
    return found


def leaks(files: Iterable[Path], values: Mapping[str, str]) -> list[str]:
    """``secret in file`` for every secret found in any of ``files`` (raw bytes)."""
    found = []
    for path in files:
        data = path.read_bytes()
        found += [f"{name} in {path.name}" for name, v in values.items() if v.encode() in data]
    return found


def record_tokens(sf: FakeSalesforce) -> list[str]:
    """Every access token the emulator issues from now on (they are secrets too)."""
    issued: list[str] = []
    issue = sf.tokens.issue

    def recording(chain: str | None = None) -> str:
        token = issue(chain)
        issued.append(token)
        return token

    sf.tokens.issue = recording  # type: ignore[method-assign]
    return issued


def restricted_role(ctx: Context, url: str, schema: str) -> tuple[str, str]:
    """A login role that may only create (and use) objects in ``schema``; nothing on public."""
    user, password = f"torture_{secrets.token_hex(4)}", f"PgTorturePassword{secrets.token_hex(6)}"
    ctx.execute(
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(user), sql.Literal(password)
        ),
        url=url,
    )
    ctx.execute(
        sql.SQL("GRANT CREATE, USAGE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(user)
        ),
        url=url,
    )
    ctx.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC", url=url)
    return user, password


def _output_files(directory: Path) -> list[Path]:
    meant = {*CONFIG_FILES, TOKEN_FILE}
    return [p for p in directory.rglob("*") if p.is_file() and p.name not in meant]


def _secrets_pipe(ctx: Context, seed: int, outcome: Outcome) -> None:
    """Five runs, one per login flow (a full sync, then incremental ones), into a least-privilege
    role, on an org that rotates refresh tokens and times sessions out; then every output byte
    is searched."""
    cluster = ctx.cluster()
    creds = distinctive_credentials()
    rng = random.Random(seed)
    org = {"refresh_token_rotation": True, "session_timeout_seconds": SESSION_TIMEOUT_SECONDS}
    with (
        emulator(seed, CONTACTS, credentials=creds, **org) as sf,
        ctx.schema(cluster.url()) as schema,
    ):
        tokens = record_tokens(sf)
        user, pg_password = restricted_role(ctx, cluster.url(), schema)
        plan = Plan(sf, schema, cluster.url(), {}, {})
        sync = Sync(ctx, ctx.directory("secrets-pipe", seed), plan, outcome)
        for number, flow in enumerate(FLOWS):
            if number:  # the later runs are incremental and read these changes
                change_records(sf, rng, plan, updates=10, inserts=3, deletes=0)
            plan.tap_config = tap_config(sf, flow, page_size=200)
            if flow == "refresh_token":  # the newest token lives in the file, not the config
                plan.tap_config["refresh_token_path"] = str(sync.directory / TOKEN_FILE)
            plan.target_config = {
                "database_url": cluster.url(user, pg_password),
                "default_target_schema": schema,
            }
            run = sync.run()
            if not run.ok:
                errors = error_lines(run.stderr("tap") + run.stderr("target"))
                outcome.fail(f"the {flow} run failed: {errors[-1:]}")
        comparison = sync.compare()
        outcome.rows_expected, outcome.rows_found = comparison.rows_expected, comparison.rows_found
        outcome.problems += comparison.summary()
        rotated = sf.oauth.issued_refresh_tokens
        values = secret_values(creds, pg_password, tokens, rotated)
        found = leaks(_output_files(sync.directory), values)
        outcome.secrets_found = len(found)
        outcome.problems += [f"secret leaked: {leak}" for leak in found]
        if not rotated:
            outcome.fail("the refresh_token run never rotated its token")
        outcome.notes.append(
            f"searched for {len(tokens)} access tokens and {len(rotated)} rotated refresh tokens"
        )


def _secrets_meltano(ctx: Context, seed: int, outcome: Outcome) -> None:
    """``meltano run`` twice (full, then incremental) with the secrets in environment variables
    and the target's connection as discrete settings; then Meltano's records are searched too."""
    cluster = ctx.cluster()
    creds = distinctive_credentials()
    project = ctx.meltano()
    rng = random.Random(seed)
    with emulator(seed, CONTACTS, credentials=creds) as sf, ctx.schema(cluster.url()) as schema:
        tokens = record_tokens(sf)
        user, pg_password = restricted_role(ctx, cluster.url(), schema)
        url = urlsplit(cluster.url())
        target = {
            "host": url.hostname,
            "port": url.port,
            "user": user,
            "password": pg_password,
            "database": url.path.lstrip("/"),
            "default_target_schema": schema,
        }
        plan = Plan(sf, schema, cluster.url(), tap_config(sf, "jwt", page_size=200), target)
        env = meltano_env(plan)
        directory = ctx.directory("secrets-meltano", seed)
        suffix = f"torture-secrets-{secrets.token_hex(4)}"
        for number in (1, 2):
            if number > 1:
                change_records(sf, rng, plan, updates=10, inserts=3, deletes=0)
            run = project.run(directory / f"run{number}", suffix, env)
            outcome.runs += 1
            if not run.ok:
                errors = error_lines(run.stderr.read_text(errors="replace"))
                outcome.fail(f"meltano run {number} exited {run.returncode}: {errors[-1:]}")
        state = project.command(["state", "list"]).stdout + str(project.state(suffix))
        (directory / "meltano-state.txt").write_text(state)
        comparison = Sync(ctx, directory, plan, outcome).compare()
        outcome.rows_expected, outcome.rows_found = comparison.rows_expected, comparison.rows_found
        outcome.problems += comparison.summary()
        values = secret_values(creds, pg_password, tokens)
        found = leaks([*_output_files(directory), *project.system_files()], values)
        outcome.secrets_found = len(found)
        outcome.problems += [f"secret leaked: {leak}" for leak in found]
        leftover = leaks(project.leftover_run_files(), values)
        if leftover:
            outcome.notes.append(f"Meltano left generated configs with secrets: {leftover}")


def _tls(ctx: Context, seed: int, outcome: Outcome) -> None:
    """An https login_url with a self-signed certificate is refused at once, in one clear error
    line; trusting the certificate (REQUESTS_CA_BUNDLE) makes the same login work."""
    directory = ctx.directory("tls", seed)
    cert, key = self_signed(directory)
    with emulator(seed, 100) as sf, tls_front(int(urlsplit(sf.url).port or 0), cert, key) as https:
        config = tap_config(sf, "password", login_url=https)
        limit = TLS_REFUSAL_SECONDS_QUICK if ctx.quick else TLS_REFUSAL_SECONDS
        refused = run_tap_alone(directory, config, {}, limit)
        trusted = run_tap_alone(directory, config, {"REQUESTS_CA_BUNDLE": str(cert)}, 120)
        outcome.runs = 2
    errors = error_lines(refused.stderr)
    if refused.returncode == -1:
        retries = refused.stderr.count("Retrying in")
        outcome.fail(
            f"no refusal within {limit} s: the certificate failure is retried "
            f"({retries} retries logged as {refused.stderr.splitlines()[-2][-90:]!r})"
        )
    elif refused.returncode == 0 or refused.records():
        outcome.fail("the tap accepted a self-signed certificate")
    if "Traceback" in refused.stderr:
        outcome.fail("the refusal printed a traceback")
    if refused.returncode != -1 and not any("certificate" in line.lower() for line in errors):
        outcome.fail(f"no error line names the certificate problem: {errors[-2:]}")
    elif len(errors) > 1:
        outcome.notes.append(f"{len(errors)} error lines: {errors}")
    outcome.rows_expected = sum(1 for _ in sf.truth("Contact"))
    outcome.rows_found = len({r["Id"] for r in trusted.records("Contact")})
    if trusted.returncode != 0 or outcome.rows_found != outcome.rows_expected:
        outcome.fail(
            f"with the certificate trusted the sync failed: {error_lines(trusted.stderr)[-1:]}"
        )


def _least_privilege(ctx: Context, seed: int, outcome: Outcome) -> None:
    """A role with CREATE and USAGE on its own schema only loads everything, creates nothing
    elsewhere; one without the database's TEMPORARY privilege is probed and reported."""
    cluster = ctx.cluster()
    with emulator(seed, CONTACTS) as sf, ctx.schema(cluster.url()) as schema:
        user, password = restricted_role(ctx, cluster.url(), schema)
        plan = Plan(
            sf,
            schema,
            cluster.url(),
            tap_config(sf, "client_credentials", page_size=200),
            {"database_url": cluster.url(user, password), "default_target_schema": schema},
        )
        sync = Sync(ctx, ctx.directory("least-privilege", seed), plan, outcome)
        run = sync.run()
        if not run.ok:
            outcome.fail(f"the run failed: {error_lines(run.stderr('target'))[-1:]}")
        comparison = sync.compare()
        outcome.rows_expected, outcome.rows_found = comparison.rows_expected, comparison.rows_found
        outcome.problems += comparison.summary()
        conn = ctx.connect(cluster.url())
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace WHERE pg_get_userbyid(c.relowner) = %s"
                    " AND n.nspname <> %s AND n.nspname NOT LIKE 'pg_temp%%'"
                    " AND n.nspname NOT LIKE 'pg_toast%%'",
                    (user, schema),
                )
                elsewhere = cur.fetchall()
        finally:
            conn.close()
        if elsewhere:
            outcome.fail(f"the role created objects outside its schema: {elsewhere}")


SCENARIOS: list[Scenario] = [
    Scenario("secrets: tap | target, 5 login flows", FAMILY, _secrets_pipe, (101,), (101,)),
    Scenario("secrets: meltano run (full + incremental)", FAMILY, _secrets_meltano, (102,), ()),
    Scenario(
        "TLS: self-signed login_url refused by default",
        FAMILY,
        _tls,
        (103,),
        (103,),
    ),
    Scenario(
        "PostgreSQL role that may only create in its own schema",
        FAMILY,
        _least_privilege,
        (104,),
        (104,),
    ),
]
