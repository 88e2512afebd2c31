"""Shared fixtures: a fake clock, and migrated SQLite and PostgreSQL databases.

PostgreSQL tests run against the server at `SOKO_TEST_POSTGRES_URL` (default: the local one on
127.0.0.1:5432). When it is unreachable they are skipped, unless `SOKO_REQUIRE_POSTGRES=1` (set
by CI) makes that a failure: in CI a skipped PostgreSQL test would hide a broken store.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa

from fakes import FakeClock
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context
from soko.db import schema
from soko.db.engine import create_engine
from soko.db.metadata import metadata

# CI explores a fixed sequence of examples (SOKO_HYPOTHESIS_PROFILE=ci in .ci/run): a red CI is
# then a failure anyone can reproduce, not a roll of the dice; local runs keep exploring anew.
# No deadline in either: a property test asserts behaviour, not speed (a first example that
# warms caches on a busy two-core machine once failed one for taking over 200 ms); speed is
# for benchmarks/.
hypothesis.settings.register_profile("default", deadline=None)
hypothesis.settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
hypothesis.settings.load_profile(os.environ.get("SOKO_HYPOTHESIS_PROFILE", "default"))

POSTGRES_SERVER_URL = os.environ.get(
    "SOKO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("SOKO_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per test session; each test gets a copy (fast, isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    assert not path.with_name("template.db-wal").exists()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "soko.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    """A migrated database of our own on the PostgreSQL server, one per xdist worker.

    (`worker_id` is pytest-xdist's fixture: "master" when tests run in one process.)
    """
    # The process id keeps two test runs on one server (two checkouts, two sessions) apart.
    name = f"soko_test_{worker_id}_{os.getpid()}".replace("-", "_")
    server = sa.make_url(POSTGRES_SERVER_URL)
    admin = sa.create_engine(
        server.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL unreachable at {POSTGRES_SERVER_URL}: {error.orig}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied before each test."""
    engine = create_engine(postgres_database)
    tables = ", ".join(table.name for table in reversed(metadata.sorted_tables))
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    engine.dispose()
    return postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


#: argon2 at its minimum cost: PIN checks in tests take microseconds, not 50 ms.
FAST_PINS = {"pin_hash_time_cost": 1, "pin_hash_memory_kib": 8}


def _runtime(url: str, clock: FakeClock, **settings: object) -> Iterator[Runtime]:
    runtime = bootstrap.build(
        Settings(database_url=url, **(FAST_PINS | settings)),  # type: ignore[arg-type]
        clock=clock,
    )
    yield runtime
    runtime.close()


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime on a fresh SQLite database with the fake clock."""
    yield from _runtime(sqlite_url, clock)


@pytest.fixture
def any_runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime on SQLite, then on PostgreSQL: for the storage contract suite."""
    yield from _runtime(database_url, clock)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("postgresql-serializable", marks=pytest.mark.postgres),
    ]
)
def race_runtime(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Runtime]:
    """For race tests: SQLite, PostgreSQL with row locks (READ COMMITTED), and PostgreSQL in
    SERIALIZABLE with bounded retries, the mode CockroachDB and YugabyteDB run in. A race
    module opts in by overriding `any_runtime` with this."""
    if request.param == "sqlite":
        yield from _runtime(str(request.getfixturevalue("sqlite_url")), clock)
        return
    url = str(request.getfixturevalue("postgres_url"))
    isolation = "serializable" if request.param.endswith("serializable") else "read_committed"
    yield from _runtime(url, clock, isolation=isolation)


@pytest.fixture
def ctx(runtime: Runtime) -> Context:
    return runtime.context


@pytest.fixture
def any_ctx(any_runtime: Runtime) -> Context:
    return any_runtime.context


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped PostgreSQL test fails: a silently untested production store is a bug."""
    report = yield
    if REQUIRE_POSTGRES and report.skipped and item.get_closest_marker("postgres") is not None:
        report.outcome = "failed"
        report.longrepr = (
            f"PostgreSQL test skipped under SOKO_REQUIRE_POSTGRES=1: {report.longrepr}"
        )
    return report
