"""TLS to MySQL (README "TLS to MySQL"): every MYSQL_SSL_MODE against the local MariaDB,
which scripts/mariadb-local.sh starts with a test CA and a server certificate for IP
127.0.0.1 only; a wrong CA, a wrong host name, a client certificate (a REQUIRE X509
user), REQUIRED and VERIFY_CA against a second server started without TLS, and the
cleartext password plugin refused, shown with a rogue server that asks for it.

The oracle for "encrypted" is the server's own view of the session (Ssl_version and
Ssl_cipher of information_schema.SESSION_STATUS), written by the connection under test
(build/tools/my_exec, which connects as sluice does) and read back with pymysql.
"""
import os
import socket
import struct
import subprocess
import threading
import uuid

import pytest

from conftest import ROOT, TOOLS, MariaDB, run_sluice

MODES = ["DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def my_exec(env, *sql):
    return subprocess.run([str(TOOLS / "my_exec"), *sql], env=env, capture_output=True, text=True, timeout=60)


def server_view(mariadb, db, env):
    """(Ssl_version, Ssl_cipher) of the session opened by the code under test, as the server sees it."""
    t = "tls_" + uuid.uuid4().hex[:8]
    p = my_exec(env, f"CREATE TABLE `{db}`.`{t}` AS SELECT VARIABLE_NAME AS n, VARIABLE_VALUE AS v FROM "
                     "information_schema.SESSION_STATUS WHERE VARIABLE_NAME IN ('Ssl_version', 'Ssl_cipher')")
    assert p.returncode == 0, p.stderr
    with mariadb.connect(db) as c, c.cursor() as cur:
        cur.execute(f"SELECT n, v FROM `{t}`")
        got = {n.lower(): v for n, v in cur.fetchall()}
        cur.execute(f"DROP TABLE `{t}`")
    return got["ssl_version"], got["ssl_cipher"], p.stdout


def tls_env(mariadb, db, mode=None, ca=None, **extra):
    env = mariadb.sluice_env(db, **extra)
    if mode:
        env["MYSQL_SSL_MODE"] = mode
    if ca:
        env["MYSQL_SSL_CA"] = str(mariadb.tls_dir / ca)
    return env


def check(env, *flags):
    return run_sluice([*flags, "check"], env=env, timeout=60)


def tls_line(out):
    return next(line for line in out.splitlines() if line.startswith("tls: "))


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_against_the_tls_server(mariadb, fresh_db, mode):
    env = tls_env(mariadb, fresh_db, mode, "ca.pem" if mode.startswith("VERIFY") else None)
    version, cipher, out = server_view(mariadb, fresh_db, env)
    p = check(env)
    assert p.returncode == 5, p.stderr  # connected; the empty database lacks the source schema
    line = tls_line(p.stdout)
    assert f"MYSQL_SSL_MODE={mode}" in line
    if mode == "DISABLED":
        assert (version, cipher) == ("", "")
        assert line.startswith("tls: not encrypted")
    else:
        assert version.startswith("TLSv1.") and cipher, (version, cipher)
        assert line.startswith(f"tls: {version} {cipher} ")
        assert f"tls: {version} {cipher}" in out  # the tool's own description agrees


def test_default_is_preferred_and_encrypts(mariadb, fresh_db):
    env = mariadb.sluice_env(fresh_db)
    assert "MYSQL_SSL_MODE" not in env
    version, cipher, _ = server_view(mariadb, fresh_db, env)
    assert version.startswith("TLSv1.") and cipher
    assert "MYSQL_SSL_MODE=PREFERRED" in tls_line(check(env).stdout)


def test_flag_over_environment_over_env_file(mariadb, fresh_db, tmp_path):
    (tmp_path / ".env").write_text("MYSQL_SSL_MODE=REQUIRED\n")
    env = tls_env(mariadb, fresh_db)
    p = run_sluice(["check"], env=env, cwd=tmp_path, timeout=60)
    assert "MYSQL_SSL_MODE=REQUIRED" in tls_line(p.stdout)
    env["MYSQL_SSL_MODE"] = "DISABLED"
    p = run_sluice(["check"], env=env, cwd=tmp_path, timeout=60)
    assert tls_line(p.stdout).startswith("tls: not encrypted (MYSQL_SSL_MODE=DISABLED)")
    p = run_sluice(["--mysql-ssl-mode", "VERIFY_IDENTITY", "check", f"--mysql-ssl-ca={mariadb.tls_dir / 'ca.pem'}"],
                   env=env, cwd=tmp_path, timeout=60)
    assert "MYSQL_SSL_MODE=VERIFY_IDENTITY" in tls_line(p.stdout) and "not encrypted" not in p.stdout


@pytest.mark.parametrize("mode", ["VERIFY_CA", "VERIFY_IDENTITY"])
def test_wrong_ca_fails_with_exit_4_naming_the_cause(mariadb, fresh_db, mode):
    p = check(tls_env(mariadb, fresh_db, mode, "other-ca.pem"))
    assert p.returncode == 4, p.stderr
    assert "certificate" in p.stderr and "MYSQL_SSL_CA" in p.stderr and f"MYSQL_SSL_MODE={mode}" in p.stderr
    assert "tls:" not in p.stdout


def test_wrong_host_name_fails_only_when_identity_is_verified(mariadb, fresh_db):
    # The server's certificate names IP 127.0.0.1 only; over the socket the host is "localhost".
    env = tls_env(mariadb, fresh_db, "VERIFY_IDENTITY", "ca.pem", MYSQL_HOST="localhost")
    p = check(env)
    assert p.returncode == 4, p.stderr
    assert "does not carry the host name 'localhost'" in p.stderr
    # the control: the same CA and host with VERIFY_CA (chain only) connects, encrypted
    env["MYSQL_SSL_MODE"] = "VERIFY_CA"
    p = check(env)
    assert p.returncode == 5 and tls_line(p.stdout).startswith("tls: TLSv1."), p.stderr
    # and by the name the certificate carries, identity verification passes
    p = check(tls_env(mariadb, fresh_db, "VERIFY_IDENTITY", "ca.pem", MYSQL_HOST="127.0.0.1"))
    assert p.returncode == 5 and tls_line(p.stdout).startswith("tls: TLSv1."), p.stderr


@pytest.mark.parametrize("mode", ["VERIFY_CA", "VERIFY_IDENTITY"])
def test_verify_without_a_ca_is_a_configuration_error(mariadb, fresh_db, mode):
    p = check(tls_env(mariadb, fresh_db, mode))
    assert p.returncode == 3 and "MYSQL_SSL_CA" in p.stderr, p.stderr


@pytest.mark.parametrize("bad,word", [({"MYSQL_SSL_MODE": "verify"}, "MYSQL_SSL_MODE"),
                                      ({"MYSQL_SSL_CERT": "/nonexistent.pem"}, "MYSQL_SSL_KEY"),
                                      ({"MYSQL_SSL_MODE": "DISABLED", "MYSQL_SSL_CA": "/x.pem"}, "DISABLED")])
def test_bad_settings_exit_3(mariadb, fresh_db, bad, word):
    p = check(tls_env(mariadb, fresh_db, **bad))
    assert p.returncode == 3 and word in p.stderr, p.stderr


def test_missing_flag_value_is_a_usage_error(mariadb, fresh_db):
    p = run_sluice(["check", "--mysql-ssl-mode"], env=mariadb.sluice_env(fresh_db))
    assert p.returncode == 2 and "--mysql-ssl-mode" in p.stderr
    for cmd in (["--help"], ["check", "--help"], ["export", "--help"], ["run", "--help"]):
        out = run_sluice(cmd, env={}).stdout
        for flag in ("--mysql-ssl-mode", "--mysql-ssl-ca", "--mysql-ssl-cert", "--mysql-ssl-key", "VERIFY_IDENTITY"):
            assert flag in out, (cmd, flag)
    assert "not encrypted" in run_sluice(["check", "--help"], env={}).stdout


@pytest.fixture
def x509_user(mariadb, fresh_db):
    user, pw = "x509_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    with mariadb.connect() as c, c.cursor() as cur:
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s REQUIRE X509", (pw,))
            cur.execute(f"GRANT SELECT ON `{fresh_db}`.* TO '{user}'@'{host}'")
    yield {"MYSQL_USER": user, "MYSQL_PASSWORD": pw}
    with mariadb.connect() as c, c.cursor() as cur:
        cur.execute(f"DROP USER '{user}'@'127.0.0.1', '{user}'@'localhost'")


def test_client_certificate_for_a_require_x509_user(mariadb, fresh_db, x509_user, tmp_path):
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))")
        cur.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    env = tls_env(mariadb, fresh_db, "VERIFY_IDENTITY", "ca.pem", **x509_user)
    # without a certificate the server refuses the account: exit 4
    p = check(env)
    assert p.returncode == 4 and "refused the credentials" in p.stderr, p.stderr
    tls = mariadb.tls_dir
    flags = ["--mysql-ssl-cert", str(tls / "client-cert.pem"), "--mysql-ssl-key", str(tls / "client-key.pem")]
    p = check(env, *flags)
    assert p.returncode == 5 and tls_line(p.stdout).startswith("tls: TLSv1."), p.stderr
    # the data path over TLS with the client certificate: two connections in one snapshot
    p = run_sluice([*flags, "export", "--table", "t", "--partitions", "2", "--consistency", "none",
                    "--output", str(tmp_path), "--date", "2024-01-02"], env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    import pyarrow.parquet as pq
    rows = sorted(r["id"] for f in (tmp_path / "raw" / "t" / "2024-01-02").glob("*.parquet")
                  for r in pq.read_table(f).to_pylist())
    assert rows == [1, 2, 3]


# ---------------------------------------------------------------------------------------
# a second, small server without TLS

@pytest.fixture(scope="module")
def plain_server():
    port = free_port()
    db = MariaDB(ROOT / "var" / f"test-plain-{port}", port, tls=False, buffer_pool="16M")
    db.start()
    yield db
    db.stop()
    subprocess.run(["rm", "-rf", str(db.var_dir)], check=False)


@pytest.mark.parametrize("mode", ["REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"])
def test_encryption_required_against_a_server_without_tls_fails(mariadb, plain_server, mode):
    db = plain_server.create_database()
    env = plain_server.sluice_env(db, MYSQL_SSL_MODE=mode, MYSQL_SSL_CA=str(mariadb.tls_dir / "ca.pem"))
    p = check(env)
    assert p.returncode == 4, (p.stdout, p.stderr)
    assert "TLS" in p.stderr and f"MYSQL_SSL_MODE={mode}" in p.stderr
    p = my_exec(env, "SELECT 1")
    assert p.returncode == 4 and "ok" not in p.stdout


def test_preferred_against_a_server_without_tls_is_not_encrypted(plain_server):
    db = plain_server.create_database()
    p = check(plain_server.sluice_env(db))
    assert p.returncode == 5, p.stderr
    assert tls_line(p.stdout).startswith("tls: not encrypted (MYSQL_SSL_MODE=PREFERRED)")


# ---------------------------------------------------------------------------------------
# the cleartext password plugin: a rogue server asks for the password itself

CLIENT_LONG_PASSWORD, CLIENT_CONNECT_WITH_DB, CLIENT_PROTOCOL_41 = 0x1, 0x8, 0x200
CLIENT_TRANSACTIONS, CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH = 0x2000, 0x8000, 0x80000


class RogueServer(threading.Thread):
    """Speaks the MySQL handshake (v10, no CLIENT_SSL) and asks for `plugin`, either in the
    greeting or in an AuthSwitchRequest after the client's first answer; records every
    byte the client sends, then refuses it."""

    def __init__(self, plugin, switch):
        super().__init__(daemon=True)
        self.plugin, self.switch = plugin.encode(), switch
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.start()

    def packet(self, conn, seq, payload):
        conn.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)

    def read_packet(self, conn):
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None, None
            head += chunk
        n, seq = int.from_bytes(head[:3], "little"), head[3]
        body = b""
        while len(body) < n:
            chunk = conn.recv(n - len(body))
            if not chunk:
                break
            body += chunk
        self.received += head + body
        return seq, body

    def run(self):
        self.sock.settimeout(30)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            caps = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
                    | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH)
            scramble = os.urandom(20).replace(b"\0", b"x")
            first = b"mysql_native_password" if self.switch else self.plugin
            greeting = (b"\x0a" + b"5.5.5-10.11.0-rogue\0" + struct.pack("<I", 7) + scramble[:8] + b"\0"
                        + struct.pack("<H", caps & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
                        + struct.pack("<H", caps >> 16) + bytes([21]) + b"\0" * 10 + scramble[8:] + b"\0"
                        + first + b"\0")
            self.packet(conn, 0, greeting)
            try:
                seq, _ = self.read_packet(conn)
                if seq is not None and self.switch:
                    self.packet(conn, seq + 1, b"\xfe" + self.plugin + b"\0" + scramble + b"\0")
                    seq, _ = self.read_packet(conn)
                if seq is not None:
                    self.packet(conn, seq + 1, b"\xff" + struct.pack("<H", 1045) + b"#28000Access denied (rogue)")
            except OSError:
                pass


@pytest.mark.parametrize("plugin", ["mysql_clear_password", "dialog"])
@pytest.mark.parametrize("switch", [False, True], ids=["greeting", "auth-switch"])
@pytest.mark.parametrize("mode", ["PREFERRED", "DISABLED"])
def test_cleartext_plugin_is_refused_unless_verified(mode, switch, plugin):
    secret = "pw-" + uuid.uuid4().hex
    rogue = RogueServer(plugin, switch)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "AWS_"))}
    env.update(MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(rogue.port), MYSQL_USER="victim", MYSQL_PASSWORD=secret,
               MYSQL_DATABASE="d", MYSQL_SSL_MODE=mode, MYSQL_CONNECT_TIMEOUT="5")
    p = run_sluice(["check"], env=env, timeout=60)
    rogue.join(15)
    assert secret.encode() not in rogue.received
    assert p.returncode == 4, (p.stdout, p.stderr)
    assert "clear text" in p.stderr and "VERIFY_IDENTITY" in p.stderr
    assert secret not in p.stderr
    if switch:  # the control: the server did receive the client's first answer
        assert b"victim" in rogue.received


def test_rogue_server_receives_a_native_answer(tmp_path):
    """The control for the test above: the rogue server's native-password path works and the
    client answers it (a scramble, not the password), so an absent password means a refusal."""
    secret = "pw-" + uuid.uuid4().hex
    rogue = RogueServer("mysql_native_password", False)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "AWS_"))}
    env.update(MYSQL_HOST="127.0.0.1", MYSQL_PORT=str(rogue.port), MYSQL_USER="victim", MYSQL_PASSWORD=secret,
               MYSQL_DATABASE="d")
    p = run_sluice(["check"], env=env, timeout=60)
    rogue.join(15)
    assert p.returncode == 4 and "refused the credentials" in p.stderr, p.stderr
    assert b"victim" in rogue.received and secret.encode() not in rogue.received


def test_multi_statements_are_refused(mariadb, fresh_db):
    """CLIENT_MULTI_STATEMENTS is off: one text can never carry a second statement."""
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE victim (id INT)")
    env = mariadb.sluice_env(fresh_db)
    p = my_exec(env, "SELECT 1", "SELECT 1; DROP TABLE victim")
    assert p.returncode == 1 and "1064" in p.stderr, (p.stdout, p.stderr)
    with mariadb.connect(fresh_db) as c, c.cursor() as cur:
        cur.execute("SHOW TABLES LIKE 'victim'")
        assert cur.fetchall() == (("victim",),)
