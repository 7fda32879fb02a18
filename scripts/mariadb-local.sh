#!/usr/bin/env bash
# A throwaway MariaDB server for tests and the demo: user-space mariadbd with its
# data under var/ (git-ignored), a unix socket and a loopback port (default 3307, so
# no clash with a system server on 3306). No systemd, no service.
#
#   scripts/mariadb-local.sh start|stop|status|env|restart|wipe
#
# Settings: SLUICE_VAR (default <repo>/var), SLUICE_MARIADB_PORT (default 3307),
# SLUICE_MARIADB_TLS (default 1: TLS with a test CA made here; 0: a server without TLS).
# `env` prints MYSQL_* lines for `eval "$(scripts/mariadb-local.sh env)"` or a .env.
#
# TLS material (openssl, under <var>/mariadb/tls/, made once): ca.pem (the test CA),
# server-cert.pem for IP 127.0.0.1 only (so a check of the name "localhost" fails, on
# purpose), client-cert.pem/client-key.pem (CN sluice-client, for REQUIRE X509 users) and
# other-ca.pem, a second CA that signed nothing here (a wrong CA for tests).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VAR="${SLUICE_VAR:-$ROOT/var}"
# A relative SLUICE_VAR is relative to the caller's folder; mariadbd and its clients need
# absolute paths (mariadb-install-db resolves a relative --datadir against its basedir).
case "$VAR" in /*) ;; *) VAR="$PWD/$VAR" ;; esac
PORT="${SLUICE_MARIADB_PORT:-3307}"
DIR="$VAR/mariadb"
DATA="$DIR/data"
SOCK="$DIR/mysqld.sock"
PIDF="$DIR/mysqld.pid"
LOG="$DIR/mysqld.log"
PWF="$DIR/password"
DB="${SLUICE_MARIADB_DATABASE:-sluice}"
USER_NAME=sluice
TLS="${SLUICE_MARIADB_TLS:-1}"
TLSDIR="$DIR/tls"

find_bin() {
    for b in "$@"; do
        if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
        for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
            [ -x "$d/$b" ] && { echo "$d/$b"; return 0; }
        done
    done
    echo "mariadb-local: none of '$*' is installed; run scripts/install-deps.sh" >&2
    exit 3
}

is_running() {
    [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null
}

ping_ok() {
    "$ADMIN" --no-defaults --socket="$SOCK" --user=root --connect-timeout=2 ping >/dev/null 2>&1
}

client() {
    "$CLIENT" --no-defaults --socket="$SOCK" --user=root "$@"
}

# A throwaway PKI: RSA 2048, SHA-256, valid 10 years; keys readable by the owner only.
make_tls() {
    [ -s "$TLSDIR/client-key.pem" ] && return 0
    command -v openssl >/dev/null 2>&1 || { echo "mariadb-local: openssl is not installed" >&2; exit 3; }
    mkdir -p "$TLSDIR"
    (
        set -e
        umask 077
        cd "$TLSDIR"
        q() { openssl "$@" >/dev/null 2>&1; }
        for ca in ca other-ca; do
            q req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout "$ca-key.pem" -out "$ca.pem" \
                -subj "/CN=sluice test $ca" -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign"
        done
        printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
        printf 'extendedKeyUsage=clientAuth\n' > client.ext
        for who in server client; do
            q req -newkey rsa:2048 -nodes -sha256 -keyout "$who-key.pem" -out "$who.csr" -subj "/CN=sluice-$who"
            q x509 -req -in "$who.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -sha256 \
                -extfile "$who.ext" -out "$who-cert.pem"
        done
        rm -f ./*.csr ./*.ext ca.srl
    ) || { echo "mariadb-local: making the test certificates with openssl failed" >&2; exit 1; }
}

cmd_start() {
    MARIADBD="$(find_bin mariadbd mysqld)"
    INSTALL_DB="$(find_bin mariadb-install-db mysql_install_db)"
    if is_running && ping_ok; then
        echo "mariadb-local: already running (pid $(cat "$PIDF"), port $PORT, socket $SOCK)" >&2
        return 0
    fi
    mkdir -p "$DIR"
    if [ ! -d "$DATA/mysql" ]; then
        echo "mariadb-local: initialising $DATA" >&2
        local userarg=()
        [ "$(id -u)" -eq 0 ] && userarg=(--user=root)
        "$INSTALL_DB" --no-defaults --datadir="$DATA" "${userarg[@]}" \
            --auth-root-authentication-method=normal --skip-test-db >"$DIR/install.log" 2>&1 || {
            echo "mariadb-local: mariadb-install-db failed; see $DIR/install.log" >&2; exit 1; }
    fi
    local userarg=() tlsarg=(--skip-ssl)
    [ "$(id -u)" -eq 0 ] && userarg=(--user=root)
    if [ "$TLS" = 1 ]; then
        make_tls
        tlsarg=(--ssl-ca="$TLSDIR/ca.pem" --ssl-cert="$TLSDIR/server-cert.pem" --ssl-key="$TLSDIR/server-key.pem")
    fi
    # Throwaway server: durability traded for speed (no binlog, lazy log flush).
    setsid "$MARIADBD" --no-defaults --datadir="$DATA" --socket="$SOCK" --port="$PORT" \
        --bind-address=127.0.0.1 --pid-file="$PIDF" --log-error="$LOG" "${userarg[@]}" \
        --skip-log-bin --local-infile=1 --max-allowed-packet=256M \
        --innodb-buffer-pool-size="${SLUICE_MARIADB_BUFFER_POOL:-1G}" --innodb-log-file-size=512M \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --skip-name-resolve \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "${tlsarg[@]}" \
        </dev/null >/dev/null 2>&1 &
    for _ in $(seq 1 120); do
        if ping_ok; then break; fi
        sleep 0.25
    done
    if ! ping_ok; then
        echo "mariadb-local: server did not start; last lines of $LOG:" >&2
        tail -20 "$LOG" >&2 || true
        exit 1
    fi
    if [ ! -s "$PWF" ]; then
        (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$PWF")
    fi
    local pw; pw="$(cat "$PWF")"
    client <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB\` CHARACTER SET utf8mb4;
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$USER_NAME'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$USER_NAME'@'127.0.0.1' WITH GRANT OPTION;
SQL
    echo "mariadb-local: running (pid $(cat "$PIDF"), port $PORT, socket $SOCK)" >&2
}

cmd_stop() {
    if ! is_running; then
        echo "mariadb-local: not running" >&2
        return 0
    fi
    local pid; pid="$(cat "$PIDF")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    rm -f "$PIDF"
    echo "mariadb-local: stopped" >&2
}

cmd_status() {
    if is_running && ping_ok; then
        echo "running (pid $(cat "$PIDF"), port $PORT, socket $SOCK, data $DATA)"
    else
        echo "not running"
        return 1
    fi
}

cmd_env() {
    if [ ! -s "$PWF" ]; then
        echo "mariadb-local: not initialised; run '$0 start' first" >&2
        exit 1
    fi
    echo "MYSQL_HOST=127.0.0.1"
    echo "MYSQL_PORT=$PORT"
    echo "MYSQL_SOCKET=$SOCK"
    echo "MYSQL_DATABASE=$DB"
    echo "MYSQL_USER=$USER_NAME"
    echo "MYSQL_PASSWORD=$(cat "$PWF")"
}

ADMIN="$(find_bin mariadb-admin mysqladmin)"
CLIENT="$(find_bin mariadb mysql)"
case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    env) cmd_env ;;
    wipe) cmd_stop; rm -rf "$DIR"; echo "mariadb-local: removed $DIR" >&2 ;;
    *) echo "usage: $0 start|stop|restart|status|env|wipe" >&2; exit 2 ;;
esac
