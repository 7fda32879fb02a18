"""Session fixtures for sluice's integration tests: a real MariaDB started by the
project's own script (scripts/mariadb-local.sh) in a test data folder, fresh
databases per test, and a runner for the sluice binary.

Settings: SLUICE_TEST_MARIADB_PORT (default 3308), SLUICE_BIN (default build/sluice).
"""
import os
import subprocess
import uuid
from pathlib import Path

import pymysql
import pytest

ROOT = Path(__file__).resolve().parents[2]
SLUICE = Path(os.environ.get("SLUICE_BIN", ROOT / "build" / "sluice"))
TOOLS = ROOT / "build" / "tools"


class MariaDB:
    def __init__(self, var_dir: Path, port: int, tls=True, buffer_pool="256M"):
        self.var_dir = var_dir
        self.port = port
        self.script = ROOT / "scripts" / "mariadb-local.sh"
        self.script_env = dict(os.environ, SLUICE_VAR=str(var_dir), SLUICE_MARIADB_PORT=str(port),
                               SLUICE_MARIADB_BUFFER_POOL=buffer_pool, SLUICE_MARIADB_TLS="1" if tls else "0")
        # the test CA, server and client certificates the script makes (scripts/mariadb-local.sh)
        self.tls_dir = var_dir / "mariadb" / "tls"

    def run_script(self, *args):
        return subprocess.run(["bash", str(self.script), *args], env=self.script_env,
                              capture_output=True, text=True, check=True)

    def start(self):
        self.run_script("start")
        self.env = {}
        for line in self.run_script("env").stdout.splitlines():
            k, _, v = line.partition("=")
            self.env[k] = v

    def stop(self):
        self.run_script("stop")

    def connect(self, database=None, **kw):
        return pymysql.connect(host="127.0.0.1", port=self.port, user=self.env["MYSQL_USER"],
                               password=self.env["MYSQL_PASSWORD"], database=database,
                               charset="utf8mb4", autocommit=True, local_infile=True, **kw)

    def create_database(self, name=None):
        name = name or "t_" + uuid.uuid4().hex[:12]
        with self.connect() as c, c.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return name

    def drop_database(self, name):
        with self.connect() as c, c.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")

    def sluice_env(self, database, **extra):
        """A clean environment for the sluice binary pointing at `database`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "AWS_"))}
        env.update(self.env)
        env["MYSQL_DATABASE"] = database
        env.update({k: str(v) for k, v in extra.items()})
        return env


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    port = int(os.environ.get("SLUICE_TEST_MARIADB_PORT", "3308"))
    var_dir = ROOT / "var" / f"test-{port}"
    db = MariaDB(var_dir, port)
    db.start()
    yield db
    if not os.environ.get("SLUICE_KEEP_MARIADB"):
        db.stop()


@pytest.fixture
def fresh_db(mariadb):
    """A new, empty database; dropped after the test."""
    name = mariadb.create_database()
    yield name
    mariadb.drop_database(name)


def clean_env(extra):
    """The process environment without MYSQL_/AWS_/S3_ settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "MYSQL_"))}
    env.update(extra)
    return env


def run_sluice(args, env, cwd=None, timeout=600, check=None):
    """Runs build/sluice; returns the CompletedProcess (text mode)."""
    assert SLUICE.exists(), f"{SLUICE} is not built; run make"
    p = subprocess.run([str(SLUICE), *args], env=env, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if check is not None:
        assert p.returncode == check, f"sluice {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


@pytest.fixture
def sluice():
    return run_sluice


@pytest.fixture(scope="session")
def moto():
    """moto's S3 server with signature checking (tests/integration/s3_fixtures.py)."""
    from s3_fixtures import Moto, free_port
    m = Moto(int(os.environ.get("SLUICE_TEST_MOTO_PORT") or free_port()))
    yield m
    m.stop()


@pytest.fixture(scope="session")
def moto_small():
    """A second moto server that takes 64 KiB parts (S3_UPLOAD_PART_MIN_SIZE), so that
    small outputs upload in many parts; sluice then needs S3_MIN_PART_SIZE=65536."""
    from s3_fixtures import Moto, free_port
    m = Moto(free_port(), S3_UPLOAD_PART_MIN_SIZE=64 << 10)
    yield m
    m.stop()


@pytest.fixture
def bucket(moto):
    return moto.new_bucket()


@pytest.fixture
def fault_proxy(moto):
    from s3_fixtures import FaultProxy
    p = FaultProxy(moto.port)
    yield p
    p.stop()


def schema_sql():
    """The source schema from init/*.sql, statement by statement."""
    stmts = []
    for f in sorted((ROOT / "init").glob("*.sql")):
        text = "\n".join(l for l in f.read_text().splitlines() if not l.lstrip().startswith("--"))
        stmts += [s.strip() for s in text.split(";") if s.strip()]
    return stmts


def create_schema(mariadb, db):
    """The source tables of init/*.sql, empty, in db."""
    with mariadb.connect(db) as c, c.cursor() as cur:
        for s in schema_sql():
            cur.execute(s)
