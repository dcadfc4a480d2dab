"""What every scenario gets: the PostgreSQL to load into, a work directory, and costly helpers
(the private cluster, the Meltano project) created on first use and shared by the whole run."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg2
from psycopg2 import sql

from tests.torture.pgcluster import PrivateCluster

if TYPE_CHECKING:
    from tests.torture.meltano import MeltanoProject

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


class Context:
    """Shared resources of one suite run; ``close()`` removes them."""

    def __init__(
        self, database_url: str | None = None, workdir: Path | None = None, *, quick: bool = False
    ) -> None:
        self.quick = quick  # smaller data sets for the CI subset
        self.database_url = database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="torture-"))
        self._cluster: PrivateCluster | None = None
        self._meltano: dict[bool, MeltanoProject] = {}

    def directory(self, name: str, seed: int) -> Path:
        """A fresh directory for one scenario run."""
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
        path = self.workdir / f"{slug}-{seed}-{uuid.uuid4().hex[:6]}"
        path.mkdir(parents=True)
        return path

    def connect(self, url: str | None = None) -> psycopg2.extensions.connection:
        """An autocommit connection (to the main database unless ``url`` names another)."""
        conn = psycopg2.connect(url or self.database_url)
        conn.autocommit = True
        return conn

    @contextlib.contextmanager
    def schema(self, url: str | None = None) -> Iterator[str]:
        """A new, empty schema, dropped afterwards."""
        name = f"torture_{uuid.uuid4().hex[:10]}"
        self.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)), url=url)
        try:
            yield name
        finally:
            # A new connection: the server may have been crashed and restarted meanwhile.
            with contextlib.suppress(psycopg2.Error):
                drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                self.execute(drop, url=url)

    def execute(self, statement: str | sql.Composable, *, url: str | None = None) -> None:
        """Run one statement on a connection of its own."""
        conn = self.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def cluster(self) -> PrivateCluster:
        """The private PostgreSQL cluster (initdb on first use)."""
        if self._cluster is None:
            self._cluster = PrivateCluster().init()
        return self._cluster

    def meltano(self, *, parquet: bool = False) -> MeltanoProject:
        """The throwaway Meltano project (``meltano install`` on first use); ``parquet``: one
        whose plugins have their ``[parquet]`` extras (the batch lane's parquet files)."""
        if parquet not in self._meltano:
            from tests.torture.meltano import MeltanoProject

            name = "meltano-project-parquet" if parquet else "meltano-project"
            self._meltano[parquet] = MeltanoProject.create(self.workdir / name, parquet=parquet)
        return self._meltano[parquet]

    def close(self) -> None:
        """Stop the cluster and remove the work directory (if this context made it)."""
        if self._cluster is not None:
            self._cluster.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
