#!/usr/bin/env bash
# Benchmark (issue 4): `sluice export` of orders and order_items against the wire floor
# (bench/wire_floor.c: the same queries on the same connections, rows read and dropped).
# Targets: wall time sluice/floor <= 1.25, peak RSS < 256 MB, at scale 1 and scale 5.
#
#   bash bench/export_bench.sh [--scale S] [--partitions N] [--repeat R] [--reseed]
#
# Seeds `sluice seed --scale S` into the database bench_export_s<S> of the local MariaDB
# (scripts/mariadb-local.sh; its own folder var/bench and port 3317 unless SLUICE_VAR /
# SLUICE_MARIADB_PORT say otherwise; buffer pool SLUICE_MARIADB_BUFFER_POOL, default 4G so
# scale 5 stays in memory), kept for the next run unless --reseed. Then, R times in turn,
# the floor and sluice (/usr/bin/time -v: wall, user+sys CPU, max RSS), after one untimed
# warm-up read; prints every run, and the medians of wall, CPU and of each run's ratio
# (sluice over the floor run just before it, which shares its share of the machine).
# SLUICE_BIN picks another sluice binary (default build/sluice).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SCALE=1 PARTS="$(nproc)" REPEAT=5 RESEED=0
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
make -s build/sluice bench >/dev/null
SLUICE_BIN="${SLUICE_BIN:-build/sluice}"
bash scripts/mariadb-local.sh start
set -a; eval "$(bash scripts/mariadb-local.sh env)"; set +a
DB="bench_export_s$(echo "$SCALE" | tr . _)"
export MYSQL_DATABASE="$DB"
sql() { MYSQL_PWD="$MYSQL_PASSWORD" env -u MYSQL_HOST -u MYSQL_PORT mariadb --no-defaults --protocol=socket \
            --socket="$MYSQL_SOCKET" -u"$MYSQL_USER" -N "$@"; }

want_orders=$(awk -v s="$SCALE" 'BEGIN { printf "%d", s * 1000000 + 0.5 }')
have=$(sql -e "SELECT COUNT(*) FROM $DB.orders" 2>/dev/null || echo 0)
if [ "$RESEED" = 1 ] || [ "$have" != "$want_orders" ]; then
    sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
    echo "seeding scale $SCALE into $DB ..." >&2
    build/sluice -q seed --scale "$SCALE" --anchor '2026-12-01 00:00:00'
fi
read -r n_orders n_items < <(sql -e "SELECT (SELECT COUNT(*) FROM $DB.orders), (SELECT COUNT(*) FROM $DB.order_items)")

OUT="$SLUICE_VAR/export-out"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP" "$OUT"' EXIT
# The biggest table first: the order sluice runs its tasks in.
TABLES=(order_items orders)

# "wall cpu rss_mb" from a /usr/bin/time -v report
measure() {
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
                /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident/ { r = $2 }
                END { printf "%.3f %.3f %.1f\n", w, u + s, r / 1024 }' "$1"
}

run_floor() {
    /usr/bin/time -v -o "$TMP/time" build/bench/wire_floor --partitions "$PARTS" "${TABLES[@]}" > "$TMP/floor.json"
    grep -q "\"rows\": $((n_orders + n_items))," "$TMP/floor.json" || { echo "floor read a wrong row count" >&2; cat "$TMP/floor.json" >&2; exit 1; }
    measure "$TMP/time"
}
run_sluice() {
    rm -rf "$OUT"
    /usr/bin/time -v -o "$TMP/time" "$SLUICE_BIN" -q export "${TABLES[@]/#/--table=}" --partitions "$PARTS" \
        --output "$OUT" --date 2026-12-01 --progress off
    rows=$(cat "$OUT"/raw/*/2026-12-01/_SUCCESS | grep -o '"total_rows": *[0-9]*' | awk -F: '{ s += $2 } END { print s }')
    [ "$rows" = "$((n_orders + n_items))" ] || { echo "sluice committed $rows rows" >&2; exit 1; }
    measure "$TMP/time"
}

echo "scale $SCALE: orders $n_orders rows, order_items $n_items rows; $PARTS partitions; $(nproc) cores" >&2
LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
run_floor > /dev/null    # warm-up: the buffer pool and the page cache
printf "%-4s %-7s %9s %9s %9s %7s\n" run reader wall_s cpu_s rss_mb ratio
: > "$TMP/sluice" ; : > "$TMP/floor"; : > "$TMP/ratio"
for i in $(seq 1 "$REPEAT"); do
    read -r fw fc fr < <(run_floor); echo "$fw $fc $fr" >> "$TMP/floor"
    printf "%-4s %-7s %9.2f %9.2f %9.1f\n" "$i" floor "$fw" "$fc" "$fr"
    read -r w c r < <(run_sluice); echo "$w $c $r" >> "$TMP/sluice"
    q=$(awk -v a="$w" -v b="$fw" 'BEGIN { printf "%.3f", a / b }'); echo "$q" >> "$TMP/ratio"
    printf "%-4s %-7s %9.2f %9.2f %9.1f %7.2f\n" "$i" sluice "$w" "$c" "$r" "$q"
done
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
sw=$(median "$TMP/sluice" 1) sc=$(median "$TMP/sluice" 2) sr=$(sort -n -k3 "$TMP/sluice" | tail -1 | awk '{ print $3 }')
fw=$(median "$TMP/floor" 1) fc=$(median "$TMP/floor" 2) ratio=$(median "$TMP/ratio" 1)
rows=$((n_orders + n_items))
echo
echo "load average before: $LOAD0; after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "| scale | rows | partitions | sluice wall s | sluice CPU s | sluice peak RSS MB | floor wall s | floor CPU s | wall sluice/floor | target |\n"
printf "|---|---|---|---|---|---|---|---|---|---|\n"
awk -v s="$SCALE" -v n="$rows" -v p="$PARTS" -v sw="$sw" -v sc="$sc" -v sr="$sr" -v fw="$fw" -v fc="$fc" -v ratio="$ratio" 'BEGIN {
    printf "| %s | %d | %d | %.2f | %.2f | %.1f | %.2f | %.2f | %.2f | ratio <= 1.25: %s, RSS < 256 MB: %s |\n",
        s, n, p, sw, sc, sr, fw, fc, ratio, ratio <= 1.25 ? "met" : "MISSED", sr < 256 ? "met" : "MISSED" }'
