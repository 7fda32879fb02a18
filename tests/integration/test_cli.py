"""The CLI contract: --help, --version, exit codes, and `sluice check` against a
real MariaDB (wrong password, unreachable server, missing column)."""
import os
import socket
import subprocess

import pytest

from conftest import ROOT, run_sluice


def load_schema(mariadb, db):
    with mariadb.connect(db) as c, c.cursor() as cur:
        for f in ("01_schema.sql", "02_additional_tables.sql"):
            for stmt in (ROOT / "init" / f).read_text().split(";"):
                if stmt.strip() and not all(l.strip().startswith("--") or not l.strip() for l in stmt.splitlines()):
                    cur.execute(stmt)


def test_help_and_version():
    p = run_sluice(["--help"], env=os.environ, check=0)
    assert "check" in p.stdout and "Exit codes" in p.stdout
    p = run_sluice(["--version"], env=os.environ, check=0)
    assert p.stdout.startswith("sluice version ")
    p = run_sluice(["check", "--help"], env=os.environ, check=0)
    assert "Usage: sluice check" in p.stdout


def test_version_names_the_commit_it_was_built_from():
    """`make` (run by `make test` before this) rebuilds what prints the build id when the
    commit changes: --version names the checkout's commit, not an earlier build's."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: the build id is 'unknown'")
    p = run_sluice(["--version"], env=os.environ, check=0)
    assert p.stdout.strip().endswith(f"(build {head.stdout.strip()})"), p.stdout


def test_unknown_command_and_option_are_usage_errors():
    assert run_sluice(["frobnicate"], env=os.environ).returncode == 2
    assert run_sluice(["check", "--bogus"], env=os.environ).returncode == 2
    assert run_sluice([], env=os.environ).returncode == 2


def test_check_ok_on_full_schema(mariadb, fresh_db):
    load_schema(mariadb, fresh_db)
    p = run_sluice(["check"], env=mariadb.sluice_env(fresh_db), check=0)
    assert "schema: ok" in p.stdout
    assert "server: " in p.stdout and "MariaDB" in p.stdout
    for t in ("customers", "products", "orders", "order_items", "warehouses", "inventory"):
        assert f"table {t}" in p.stdout


def test_check_names_missing_column_and_table(mariadb, fresh_db):
    load_schema(mariadb, fresh_db)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("ALTER TABLE inventory DROP COLUMN last_updated")
        cur.execute("DROP TABLE warehouses")
    p = run_sluice(["check"], env=mariadb.sluice_env(fresh_db))
    assert p.returncode == 5, p.stderr
    assert "inventory.last_updated" in p.stderr
    assert "table warehouses" in p.stderr


def test_wrong_password_exit_code_and_no_secret(mariadb, fresh_db):
    secret = "Wr0ng-S3cret-xyzzy"
    p = run_sluice(["check"], env=mariadb.sluice_env(fresh_db, MYSQL_PASSWORD=secret))
    assert p.returncode == 4, p.stderr
    assert "refused the credentials" in p.stderr
    assert secret not in p.stderr and secret not in p.stdout
    assert mariadb.env["MYSQL_PASSWORD"] not in p.stderr


def test_wrong_password_from_env_file_not_printed(mariadb, fresh_db, tmp_path):
    secret = "An0ther-S3cret-plugh"
    envf = tmp_path / "x.env"
    lines = [f"{k}={v}" for k, v in mariadb.env.items() if k != "MYSQL_PASSWORD"]
    lines += [f"MYSQL_DATABASE={fresh_db}", f"export MYSQL_PASSWORD='{secret}'"]
    envf.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYSQL_")}
    p = run_sluice(["--env-file", str(envf), "check"], env=env)
    assert p.returncode == 4
    assert secret not in p.stderr + p.stdout


def test_unreachable_host(mariadb, fresh_db):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = run_sluice(["check"], env=mariadb.sluice_env(fresh_db, MYSQL_PORT=port, MYSQL_SOCKET=""))
    assert p.returncode == 4
    assert f"127.0.0.1:{port}" in p.stderr


def test_unknown_database_is_configuration_error(mariadb):
    p = run_sluice(["check"], env=mariadb.sluice_env("no_such_db_here"))
    assert p.returncode == 3
    assert "no_such_db_here" in p.stderr and "MYSQL_DATABASE" in p.stderr


def test_malformed_env_file_names_line(mariadb, tmp_path):
    envf = tmp_path / "bad.env"
    envf.write_text("MYSQL_HOST=127.0.0.1\nMYSQL_PASSWORD=\"unterminated\n")
    p = run_sluice(["--env-file", str(envf), "check"], env={"PATH": os.environ["PATH"]})
    assert p.returncode == 3
    assert f"{envf}:2" in p.stderr
    assert "unterminated" in p.stderr


def test_missing_env_file_is_configuration_error(tmp_path):
    p = run_sluice(["--env-file", str(tmp_path / "nope.env"), "check"], env={"PATH": os.environ["PATH"]})
    assert p.returncode == 3
    assert "nope.env" in p.stderr


def test_mariadb_local_relative_var(mariadb):
    """SLUICE_VAR may be relative (to the caller's folder): the paths the script uses and
    prints are absolute (a relative one made mariadb-install-db fail under /usr)."""
    rel = os.path.relpath(mariadb.var_dir, ROOT)
    env = dict(mariadb.script_env, SLUICE_VAR=rel)
    p = subprocess.run(["bash", str(mariadb.script), "env"], env=env, cwd=ROOT, capture_output=True, text=True,
                       check=True)
    sock = dict(l.split("=", 1) for l in p.stdout.splitlines())["MYSQL_SOCKET"]
    assert os.path.isabs(sock) and os.path.exists(sock), sock
    s = subprocess.run(["bash", str(mariadb.script), "status"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert s.returncode == 0 and "running" in s.stdout
