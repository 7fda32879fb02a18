#!/usr/bin/env bash
# Benchmark (issue 15): an incremental `sluice export` of orders after 1% of the orders
# changed, against a full export of the same table, measured side by side in one run.
#
#   bash bench/incremental_bench.sh [--scale S] [--partitions N] [--repeat R] [--reseed]
#
# Seeds `sluice seed --scale S` (default 5) into the database bench_incr_s<S> of the local
# MariaDB (scripts/mariadb-local.sh; var/bench and port 3317 unless SLUICE_VAR /
# SLUICE_MARIADB_PORT say otherwise), kept for the next run unless --reseed, and gives
# orders an indexed `updated_at DATETIME(6)` column (all rows at the seed's anchor). Then
# one untimed first incremental run (a full copy: it sets the watermark), and R times in
# turn: a full export of orders (no --incremental), then 1% of the orders changed (status
# and updated_at, a different 1% each time, untimed) and an incremental run. Each run is
# timed with /usr/bin/time -v (wall, CPU, max RSS); the server's Handler_read_* counters
# give the rows it read. Prints every run, the medians and the ratio full/incremental.
# SLUICE_BIN picks another sluice binary (default build/sluice).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCALE=5 PARTS="$(nproc)" REPEAT=3 RESEED=0
while [ $# -gt 0 ]; do
    case "$1" in
        --scale) SCALE="$2"; shift 2 ;;
        --partitions) PARTS="$2"; shift 2 ;;
        --repeat) REPEAT="$2"; shift 2 ;;
        --reseed) RESEED=1; shift ;;
        *) echo "usage: $0 [--scale S] [--partitions N] [--repeat R] [--reseed]" >&2; exit 2 ;;
    esac
done
[ "$PARTS" -gt 16 ] && PARTS=16
export SLUICE_VAR="${SLUICE_VAR:-$ROOT/var/bench}" SLUICE_MARIADB_PORT="${SLUICE_MARIADB_PORT:-3317}"
export SLUICE_MARIADB_BUFFER_POOL="${SLUICE_MARIADB_BUFFER_POOL:-4G}"
make -s build/sluice >/dev/null
SLUICE_BIN="${SLUICE_BIN:-build/sluice}"
bash scripts/mariadb-local.sh start
set -a; eval "$(bash scripts/mariadb-local.sh env)"; set +a
DB="bench_incr_s$(echo "$SCALE" | tr . _)"
export MYSQL_DATABASE="$DB"
sql() { MYSQL_PWD="$MYSQL_PASSWORD" env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket \
            --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" -N "$@"; }

ANCHOR='2026-12-01 00:00:00'
want=$(awk -v s="$SCALE" 'BEGIN { printf "%d", s * 1000000 + 0.5 }')
have=$(sql -e "SELECT COUNT(*) FROM $DB.orders" 2>/dev/null || echo 0)
if [ "$RESEED" = 1 ] || [ "$have" != "$want" ]; then
    sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
    echo "seeding scale $SCALE into $DB ..." >&2
    "$SLUICE_BIN" -q seed --scale "$SCALE" --anchor "$ANCHOR"
fi
if [ "$(sql -e "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '$DB' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'updated_at'")" = 0 ]; then
    echo "adding orders.updated_at (indexed) ..." >&2
    sql -e "ALTER TABLE $DB.orders ADD COLUMN updated_at DATETIME(6) NOT NULL DEFAULT '$ANCHOR', ADD KEY (updated_at)"
fi
sql -e "UPDATE $DB.orders SET updated_at = '$ANCHOR' WHERE updated_at <> '$ANCHOR'"   # a rerun starts afresh
n=$(sql -e "SELECT COUNT(*) FROM $DB.orders")
changed=$((n / 100))

OUT="$SLUICE_VAR/incr-out" FULL="$SLUICE_VAR/incr-full"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP" "$OUT" "$FULL"' EXIT
rm -rf "$OUT" "$FULL"

measure() {
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
                /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
                END { printf "%.3f %.3f %.1f\n", w, u + s, r / 1024 }' "$1"
}
handler_reads() { sql -e "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME LIKE 'HANDLER_READ%'"; }
# "wall cpu rss rows server_reads" of one export; $1: the output, then sluice's options
timed_export() {
    local out="$1"; shift
    local h0 h1
    h0=$(handler_reads)
    /usr/bin/time -v -o "$TMP/time" "$SLUICE_BIN" -q export --table orders --partitions "$PARTS" --output "$out" \
        --date 2026-12-02 --progress off "$@"
    h1=$(handler_reads)
    rows=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print(m.get('incremental', {}).get('rows', m['rows']))" \
           "$out/raw/orders/2026-12-02/_SUCCESS")
    echo "$(measure "$TMP/time") $rows $((h1 - h0))"
}

echo "scale $SCALE: orders $n rows, 1% = $changed rows changed per run; $PARTS partitions; $(nproc) cores" >&2
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
timed_export "$OUT" --incremental updated_at > /dev/null   # the first run: a full copy, sets the watermark
printf "%-4s %-12s %9s %9s %9s %10s %12s\n" run export wall_s cpu_s rss_mb rows server_reads
: > "$TMP/full"; : > "$TMP/incr"; : > "$TMP/ratio"
for i in $(seq 1 "$REPEAT"); do
    rm -rf "$FULL"
    read -r fw fc fr frows freads < <(timed_export "$FULL")
    [ "$frows" = "$n" ] || { echo "the full export read $frows rows, not $n" >&2; exit 1; }
    echo "$fw $fc $fr" >> "$TMP/full"
    printf "%-4s %-12s %9.2f %9.2f %9.1f %10d %12d\n" "$i" full "$fw" "$fc" "$fr" "$frows" "$freads"
    # 1% of the orders change: a different 1% each time, updated_at moved past the watermark
    sql -e "UPDATE $DB.orders SET status = IF(status = 'paid', 'shipped', 'paid'),
                   updated_at = TIMESTAMP'2026-12-02 00:00:00' + INTERVAL $i HOUR + INTERVAL order_id MICROSECOND
            WHERE order_id % 100 = $i"
    read -r w c r rows reads < <(timed_export "$OUT" --incremental updated_at)
    expect=$(sql -e "SELECT COUNT(*) FROM $DB.orders WHERE order_id % 100 = $i")
    [ "$rows" = "$expect" ] || { echo "the incremental run read $rows rows, not $expect" >&2; exit 1; }
    echo "$w $c $r" >> "$TMP/incr"
    q=$(awk -v a="$fw" -v b="$w" 'BEGIN { printf "%.2f", a / b }'); echo "$q" >> "$TMP/ratio"
    printf "%-4s %-12s %9.2f %9.2f %9.1f %10d %12d %6sx\n" "$i" incremental "$w" "$c" "$r" "$rows" "$reads" "$q"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fw=$(median "$TMP/full" 1) fc=$(median "$TMP/full" 2) iw=$(median "$TMP/incr" 1) ic=$(median "$TMP/incr" 2)
ratio=$(median "$TMP/ratio" 1)
echo
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "| scale | orders | changed | partitions | full wall s | full CPU s | incremental wall s | incremental CPU s | full/incremental wall |\n"
printf "|---|---|---|---|---|---|---|---|---|\n"
printf "| %s | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.1fx |\n" "$SCALE" "$n" "$changed" "$PARTS" "$fw" "$fc" "$iw" "$ic" "$ratio"
