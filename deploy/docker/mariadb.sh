#!/usr/bin/env bash
# The Compose deployment's database: MariaDB initialised once (a fresh data volume) from
# init/*.sql, with the database and user of the .env settings (MYSQL_DATABASE,
# MYSQL_USER, MYSQL_PASSWORD, MYSQL_PORT), as the original stack's
# /docker-entrypoint-initdb.d did. Healthy (for the job) once the file READY exists.
set -euo pipefail
DATA=/var/lib/mysql-sluice
PORT="${MYSQL_PORT:-3306}"
SOCK=/run/mysqld/mysqld.sock
READY=/run/mysqld/sluice-ready
INITIALISED="$DATA/.sluice-initialised"   # written last: an interrupted init is redone
# the local clients go through the socket as localhost: MYSQL_HOST (in .env, for sluice)
# would otherwise send them over TCP to the default port
CLIENT=(--no-defaults --protocol=socket --host=localhost --socket="$SOCK" -uroot)
: "${MYSQL_DATABASE:?mariadb: set MYSQL_DATABASE in .env}" "${MYSQL_USER:?mariadb: set MYSQL_USER in .env}"
: "${MYSQL_PASSWORD:?mariadb: set MYSQL_PASSWORD in .env}"
mkdir -p /run/mysqld "$DATA"
rm -f "$READY"
if [ ! -d "$DATA/mysql" ]; then
    mariadb-install-db --no-defaults --datadir="$DATA" --user=root --auth-root-authentication-method=normal >/dev/null
fi
mariadbd --no-defaults --datadir="$DATA" --socket="$SOCK" --port="$PORT" --bind-address=127.0.0.1 --user=root \
    --skip-log-bin --local-infile=1 &
pid=$!
trap 'kill -TERM "$pid"; wait "$pid"' TERM INT
for _ in $(seq 1 240); do
    mariadb-admin "${CLIENT[@]}" ping >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "mariadb: the server exited while starting" >&2; exit 1; }
    sleep 0.5
done
if [ ! -f "$INITIALISED" ]; then
    # the password goes on stdin, never in a process argument; quotes doubled for SQL
    pw="${MYSQL_PASSWORD//\\/\\\\}"; pw="${pw//\'/\'\'}"
    db="${MYSQL_DATABASE//\`/\`\`}"; user="${MYSQL_USER//\'/\'\'}"
    mariadb "${CLIENT[@]}" <<SQL
CREATE DATABASE IF NOT EXISTS \`${db}\` CHARACTER SET utf8mb4;
CREATE OR REPLACE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${pw}';
CREATE OR REPLACE USER '${user}'@'localhost' IDENTIFIED BY '${pw}';
GRANT ALL ON \`${db}\`.* TO '${user}'@'127.0.0.1', '${user}'@'localhost';
GRANT RELOAD, PROCESS ON *.* TO '${user}'@'127.0.0.1', '${user}'@'localhost';
SQL
    for f in init/*.sql; do
        mariadb "${CLIENT[@]}" "$MYSQL_DATABASE" <"$f"
    done
    touch "$INITIALISED"
    echo "mariadb: initialised $MYSQL_DATABASE from init/*.sql" >&2
fi
touch "$READY"
echo "mariadb: ready on 127.0.0.1:$PORT" >&2
wait "$pid"
