/* my_plan.c - chunk planning from the key's MIN/MAX and the server's range estimates,
 * and the shared consistent snapshot (as mydumper does it: a brief global read lock
 * while every worker opens its transaction). Identifiers are quoted; bound values come
 * from the server as integers. No query here reads the table's rows: MIN/MAX and
 * EXPLAIN are index dives on an indexed key. */
#include "my_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/sl_alloc.h"
#include "my_conn.h"

void my_plan_opts_default(my_plan_opts *o)
{
    o->connections = 1;
    o->chunks_per_conn = 8;
    o->min_chunk_rows = 64;
    o->max_probes = 512;
    o->tail_halves = 0;
}

/* A piece of the key space while planning: [lo, hi], both ends included, so that no
 * bound ever needs MAX + 1 (which may not exist). */
typedef struct piece {
    int64_t lo, hi, est;
} piece;

typedef struct planner {
    MYSQL *m;
    const char *table;
    char qt[300], qc[300];
    int probes;                /* queries run */
    int estimates, max_probes; /* range estimates made, and their cap */
    piece *v;
    int n, cap;
} planner;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sl_code parse_i64(const char *s, int64_t *v, sl_err *err)
{
    char *end;
    errno = 0;
    *v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return sl_err_set(err, SL_E_SCHEMA, "the partition column's value '%.40s' is not a 64-bit integer", s);
    return SL_OK;
}

/* Runs sql and returns its first row (NULL for none) in *res; the caller frees *res. */
static sl_code query_row(planner *p, const char *sql, MYSQL_RES **res, MYSQL_ROW *row, sl_err *err)
{
    *res = NULL;
    *row = NULL;
    p->probes++;
    if (mysql_real_query(p->m, sql, (unsigned long)strlen(sql)) != 0) return my_error(p->m, err, "planning chunks");
    *res = mysql_store_result(p->m);
    if (!*res) return my_error(p->m, err, "planning chunks");
    *row = mysql_fetch_row(*res);
    return SL_OK;
}

/* The optimizer's estimate of the rows with lo <= key <= hi: EXPLAIN's `rows`, which
 * InnoDB and MyISAM compute for an index range by diving to both ends of it. */
static sl_code estimate(planner *p, int64_t lo, int64_t hi, int64_t *est, sl_err *err)
{
    char sql[1000];
    MYSQL_RES *res;
    MYSQL_ROW row;
    snprintf(sql, sizeof sql, "EXPLAIN SELECT 1 FROM %s WHERE %s BETWEEN %lld AND %lld", p->qt, p->qc, (long long)lo,
             (long long)hi);
    p->estimates++;
    SL_TRY(query_row(p, sql, &res, &row, err));
    unsigned nf = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    *est = 0;
    for (unsigned i = 0; row && i < nf; i++)
        if (strcmp(f[i].name, "rows") == 0 && row[i]) *est = atoll(row[i]);
    mysql_free_result(res);
    return SL_OK;
}

enum { EST_BATCH = 64 }; /* the ranges of one EXPLAIN */

/* The estimates of v[0..n) in one round trip: EXPLAIN of the ranges' SELECTs joined by
 * UNION ALL gives one row per SELECT, its `id` the SELECT's place and its `rows` the
 * same estimate as the SELECT's own EXPLAIN. A result of any other shape is asked again
 * one range at a time. */
static sl_code estimate_many(planner *p, piece *v, int n, sl_err *err)
{
    if (n == 1) return estimate(p, v[0].lo, v[0].hi, &v[0].est, err);
    /* per SELECT: the identifiers, two 20-character integers and 50 characters of SQL */
    size_t cap = (size_t)n * (strlen(p->qt) + strlen(p->qc) + 100) + 16, len = 0;
    char *sql = sl_malloc(cap);
    if (!sql) return sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", p->table);
    len += (size_t)snprintf(sql, cap, "EXPLAIN ");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%sSELECT 1 FROM %s WHERE %s BETWEEN %lld AND %lld",
                                i ? " UNION ALL " : "", p->qt, p->qc, (long long)v[i].lo, (long long)v[i].hi);
    p->estimates += n;
    p->probes++;
    int rc = mysql_real_query(p->m, sql, (unsigned long)len);
    sl_free(sql);
    if (rc != 0) return my_error(p->m, err, "planning chunks");
    MYSQL_RES *res = mysql_store_result(p->m);
    if (!res) return my_error(p->m, err, "planning chunks");
    unsigned nf = mysql_num_fields(res);
    MYSQL_FIELD *f = mysql_fetch_fields(res);
    int col_id = -1, col_rows = -1, got = 0, shape = 1;
    for (unsigned i = 0; i < nf; i++) {
        if (strcmp(f[i].name, "id") == 0) col_id = (int)i;
        if (strcmp(f[i].name, "rows") == 0) col_rows = (int)i;
    }
    for (int i = 0; i < n; i++) v[i].est = -1;
    MYSQL_ROW row;
    while (shape && col_id >= 0 && col_rows >= 0 && (row = mysql_fetch_row(res))) {
        long id = row[col_id] ? atol(row[col_id]) : 0;
        if (id < 1 || id > n || v[id - 1].est >= 0) {
            shape = 0;
            break;
        }
        v[id - 1].est = row[col_rows] ? atoll(row[col_rows]) : 0;
        got++;
    }
    mysql_free_result(res);
    if (shape && got == n) return SL_OK;
    p->estimates -= n; /* not the shape asked for: one range at a time, counted there */
    for (int i = 0; i < n; i++) SL_TRY(estimate(p, v[i].lo, v[i].hi, &v[i].est, err));
    return SL_OK;
}

/* x's two halves by key width (x.lo < x.hi), not yet estimated. */
static void halve(piece x, piece ab[2])
{
    int64_t mid = (int64_t)((uint64_t)x.lo + ((uint64_t)x.hi - (uint64_t)x.lo) / 2);
    ab[0] = (piece){x.lo, mid, 0};
    ab[1] = (piece){mid + 1, x.hi, 0};
}

static sl_code push(planner *p, piece x, sl_err *err)
{
    if (p->n == p->cap) {
        int nc = p->cap ? p->cap * 2 : 64;
        piece *v = sl_realloc(p->v, (size_t)nc * sizeof *v);
        if (!v) return sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", p->table);
        p->v = v;
        p->cap = nc;
    }
    p->v[p->n++] = x;
    return SL_OK;
}

/* Halves x by key width until each half is estimated at most 1.5 x `target` rows (the
 * slack keeps equal-width chunks of an evenly spread key whole), or cannot be halved, or
 * the probe budget is spent, appending the pieces in key order. The depth is at most
 * 64: each level halves a width below 2^64. */
static sl_code split(planner *p, piece x, int64_t target, sl_err *err)
{
    if (x.est <= target + target / 2 || x.lo == x.hi || p->estimates + 2 > p->max_probes) return push(p, x, err);
    piece ab[2];
    halve(x, ab);
    SL_TRY(estimate_many(p, ab, 2, err));
    SL_TRY(split(p, ab[0], target, err));
    return split(p, ab[1], target, err);
}

/* 1 when `column` leads an index of `table` (so MIN/MAX and range estimates are dives). */
static sl_code leads_index(planner *p, const char *column, int *yes, sl_err *err)
{
    char et[300], ec[300], sql[1000];
    MYSQL_RES *res;
    MYSQL_ROW row;
    if (strlen(p->table) > 128 || strlen(column) > 128)
        return sl_err_set(err, SL_E_USAGE, "table or column name too long: %.40s.%.40s", p->table, column);
    mysql_real_escape_string(p->m, et, p->table, (unsigned long)strlen(p->table));
    mysql_real_escape_string(p->m, ec, column, (unsigned long)strlen(column));
    snprintf(sql, sizeof sql,
             "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '%s' "
             "AND column_name = '%s' AND seq_in_index = 1 LIMIT 1",
             et, ec);
    SL_TRY(query_row(p, sql, &res, &row, err));
    *yes = row != NULL;
    mysql_free_result(res);
    return SL_OK;
}

sl_code my_plan_whole(my_plan *out, sl_err *err)
{
    memset(out, 0, sizeof *out);
    out->chunks = sl_calloc(1, sizeof *out->chunks);
    if (!out->chunks) return sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks");
    out->count = 1;
    out->chunks[0].est_rows = -1;
    out->est_rows = -1;
    return SL_OK;
}

void my_plan_free(my_plan *p)
{
    if (!p) return;
    sl_free(p->chunks);
    p->chunks = NULL;
    p->count = 0;
}

static sl_code plan_pieces(planner *p, const my_plan_opts *o, my_plan *out, sl_err *err)
{
    char sql[1000];
    MYSQL_RES *res;
    MYSQL_ROW row;
    sl_code rc = SL_OK;
    snprintf(sql, sizeof sql, "SELECT MIN(%s), MAX(%s) FROM %s", p->qc, p->qc, p->qt);
    SL_TRY(query_row(p, sql, &res, &row, err));
    out->has_keys = row && row[0] && row[1];
    if (out->has_keys) {
        rc = parse_i64(row[0], &out->min, err);
        if (rc == SL_OK) rc = parse_i64(row[1], &out->max, err);
    }
    mysql_free_result(res);
    SL_TRY(rc);
    if (!out->has_keys) return SL_OK; /* empty, or only NULL keys: one chunk */

    int conns = o->connections < 1 ? 1 : o->connections;
    int per = o->chunks_per_conn < 1 ? 1 : o->chunks_per_conn;
    unsigned __int128 width = (unsigned __int128)((uint64_t)out->max - (uint64_t)out->min) + 1;
    int64_t c = out->indexed ? (int64_t)conns * per : conns;
    if ((unsigned __int128)c > width) c = (int64_t)width;
    /* Equal key widths: piece i starts at min + width * i / c. */
    piece *first = sl_calloc((size_t)c, sizeof *first);
    if (!first) return sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", p->table);
    int64_t total = 0;
    for (int64_t i = 0; i < c; i++) {
        first[i].lo = (int64_t)((uint64_t)out->min + (uint64_t)(width * (unsigned __int128)i / (unsigned)c));
        first[i].hi = i + 1 < c ? (int64_t)((uint64_t)out->min +
                                            (uint64_t)(width * (unsigned __int128)(i + 1) / (unsigned)c) - 1)
                                : out->max;
        first[i].est = -1;
    }
    for (int64_t i = 0; out->indexed && rc == SL_OK && i < c; i += EST_BATCH) {
        int k = c - i < EST_BATCH ? (int)(c - i) : EST_BATCH;
        rc = estimate_many(p, first + i, k, err);
        for (int j = 0; rc == SL_OK && j < k; j++) total += first[i + j].est;
    }
    int64_t target = total / ((int64_t)conns * per);
    if (target < o->min_chunk_rows) target = o->min_chunk_rows;
    for (int64_t i = 0; rc == SL_OK && i < c; i++)
        rc = out->indexed ? split(p, first[i], target, err) : push(p, first[i], err);
    sl_free(first);
    SL_TRY(rc);
    if (!out->indexed) return SL_OK;
    /* Neighbours that fit the target together become one chunk: the empty stretches
     * of a gappy or skewed key cost no queries of their own. */
    int w = 0;
    for (int i = 1; i < p->n; i++) {
        if (p->v[w].est + p->v[i].est <= target) {
            p->v[w].hi = p->v[i].hi;
            p->v[w].est += p->v[i].est;
        } else {
            p->v[++w] = p->v[i];
        }
    }
    p->n = w + 1;
    return SL_OK;
}

/* Step 5 of my_plan_chunks: each of the last k pieces estimated at MY_PLAN_TAIL_MIN_ROWS
 * or more (and wider than one key) becomes its two halves by key width, all estimated
 * in one query, within the estimates' cap. */
static int tail_halved(const piece *x) { return x->est >= MY_PLAN_TAIL_MIN_ROWS && x->lo < x->hi; }

static sl_code halve_tail(planner *p, int k, sl_err *err)
{
    int from = p->n - k < 0 ? 0 : p->n - k, nh = 0;
    for (int i = from; i < p->n; i++) nh += tail_halved(&p->v[i]);
    if (nh == 0 || p->estimates + 2 * nh > p->max_probes) return SL_OK;
    piece *h = sl_calloc((size_t)nh * 2, sizeof *h);
    if (!h) return sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", p->table);
    int j = 0;
    for (int i = from; i < p->n; i++)
        if (tail_halved(&p->v[i])) {
            halve(p->v[i], h + j);
            j += 2;
        }
    sl_code rc = SL_OK;
    for (int b = 0; rc == SL_OK && b < j; b += EST_BATCH)
        rc = estimate_many(p, h + b, j - b < EST_BATCH ? j - b : EST_BATCH, err);
    /* the pieces from `from` on, rebuilt in key order with the halves in place */
    int nkeep = p->n - from;
    piece *tail = rc == SL_OK ? sl_malloc((size_t)nkeep * sizeof *tail) : NULL;
    if (rc == SL_OK && !tail) rc = sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", p->table);
    if (rc == SL_OK) {
        memcpy(tail, p->v + from, (size_t)nkeep * sizeof *tail);
        p->n = from;
        j = 0;
        for (int i = 0; rc == SL_OK && i < nkeep; i++) {
            if (!tail_halved(&tail[i])) {
                rc = push(p, tail[i], err);
                continue;
            }
            rc = push(p, h[j], err);
            if (rc == SL_OK) rc = push(p, h[j + 1], err);
            j += 2;
        }
    }
    sl_free(tail);
    sl_free(h);
    return rc;
}

sl_code my_plan_chunks(MYSQL *m, const char *table, const char *column, const my_plan_opts *o, my_plan *out,
                       sl_err *err)
{
    planner p;
    double t0 = mono();
    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    p.m = m;
    p.table = table;
    p.max_probes = o->max_probes;
    sl_code rc = my_quote_ident(table, p.qt, sizeof p.qt, err);
    if (rc == SL_OK) rc = my_quote_ident(column, p.qc, sizeof p.qc, err);
    if (rc == SL_OK) rc = leads_index(&p, column, &out->indexed, err);
    if (rc == SL_OK) rc = plan_pieces(&p, o, out, err);
    if (rc == SL_OK && out->indexed && o->tail_halves > 0) rc = halve_tail(&p, o->tail_halves, err);
    if (rc == SL_OK && p.n == 0) rc = push(&p, (piece){0, 0, out->has_keys ? -1 : 0}, err);
    if (rc == SL_OK) {
        out->chunks = sl_calloc((size_t)p.n, sizeof *out->chunks);
        if (!out->chunks) rc = sl_err_set(err, SL_E_NOMEM, "out of memory planning chunks of %s", table);
    }
    if (rc == SL_OK) {
        /* Open at both ends: the first chunk also takes NULL keys and keys below MIN, the
         * last keys above MAX (rows that arrived after the plan, before the snapshot). */
        out->count = p.n;
        out->est_rows = 0;
        for (int i = 0; i < p.n; i++) {
            my_chunk *c = &out->chunks[i];
            c->r.has_lo = i > 0;
            c->r.lo = p.v[i].lo;
            c->r.has_hi = i + 1 < p.n;
            c->r.hi = i + 1 < p.n ? p.v[i + 1].lo : 0;
            c->est_rows = p.v[i].est;
            if (c->est_rows > 0) out->est_rows += c->est_rows;
        }
        if (!out->indexed && out->has_keys) out->est_rows = -1;
    }
    sl_free(p.v);
    out->probes = p.probes;
    out->seconds = mono() - t0;
    if (rc != SL_OK) {
        my_plan_free(out);
        sl_err_prefix(err, "table %s: ", table);
    }
    return rc;
}

void my_range_where(const my_range *r, const char *qc, char *buf, unsigned long cap)
{
    /* One BETWEEN costs the server less a row than an AND of two comparisons. With
     * lo < hi, hi - 1 cannot wrap; a range with no key holds no row. */
    if (r->has_lo && r->has_hi && r->lo >= r->hi)
        snprintf(buf, cap, "1=0");
    else if (r->has_lo && r->has_hi)
        snprintf(buf, cap, "%s BETWEEN %lld AND %lld", qc, (long long)r->lo, (long long)r->hi - 1);
    else if (r->has_lo)
        snprintf(buf, cap, "%s >= %lld", qc, (long long)r->lo);
    else if (r->has_hi)
        snprintf(buf, cap, "(%s < %lld OR %s IS NULL)", qc, (long long)r->hi, qc);
    else
        snprintf(buf, cap, "1=1");
}

sl_code my_snapshot_begin_locked(MYSQL *lock, MYSQL **conns, int n, my_consistency mode, const my_lock_opts *lo,
                                 my_lock_info *li, sl_err *err)
{
    sl_code rc = SL_OK;
    my_lock_info dummy;
    my_lock_opts o;
    unsigned long own[257];
    int nown = 0;
    if (!li) li = &dummy;
    memset(li, 0, sizeof *li);
    li->kind = MY_LOCK_NONE;
    if (mode == MY_NONE) {
        for (int i = 0; i < n; i++)
            SL_TRY(my_exec(conns[i], "START TRANSACTION READ ONLY", err));
        return SL_OK;
    }
    if (n == 1) { /* one connection is consistent with itself: no lock needed */
        SL_TRY(my_exec(conns[0], "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", err));
        return my_exec(conns[0], "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err);
    }
    if (lo) o = *lo;
    else my_lock_opts_default(&o);
    if (!lock) { /* the lock holder is also a reader: only UNLOCK TABLES keeps its transaction */
        lock = conns[0];
        if (o.kind == MY_LOCK_AUTO) o.kind = MY_LOCK_FTWRL;
        if (o.kind != MY_LOCK_FTWRL)
            return sl_err_set(err, SL_E_INTERNAL, "BACKUP STAGE needs a lock connection of its own");
    }
    /* the isolation level is the session's: set before the lock, so that the lock is
     * held for the START TRANSACTIONs alone */
    for (int i = 0; i < n; i++) SL_TRY(my_exec(conns[i], "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", err));
    if (lock != conns[0]) own[nown++] = mysql_thread_id(lock);
    for (int i = 0; i < n && nown < (int)(sizeof own / sizeof own[0]); i++) own[nown++] = mysql_thread_id(conns[i]);
    MYSQL *watch = conns[n - 1] != lock ? conns[n - 1] : NULL;
    if (my_lock_acquire(lock, watch, own, nown, &o, li, err) != SL_OK) {
        if (li->denied) {
            /* Copied first: err->msg cannot be both the destination and an argument. */
            char cause[sizeof err->msg];
            snprintf(cause, sizeof cause, "%s", err ? err->msg : "");
            return sl_err_set(err, SL_E_DB,
                              "cannot take the brief lock that aligns the connections' snapshots (%s); grant RELOAD "
                              "to the user, or pass --consistency=none to read without a shared snapshot",
                              cause);
        }
        return err && err->code ? err->code : SL_E_DB;
    }
    for (int i = 0; i < n && rc == SL_OK; i++)
        rc = my_exec(conns[i], "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err);
    {
        sl_err e2 = {0};
        sl_code urc = my_lock_release(lock, li, &e2);
        if (rc == SL_OK && urc != SL_OK) {
            if (err) *err = e2;
            rc = urc;
        }
    }
    return rc;
}

json_t *my_range_json(const my_range *r)
{
    json_t *j = json_object();
    if (r->has_lo) json_object_set_new(j, "from", json_integer(r->lo));
    if (r->has_hi) json_object_set_new(j, "to_before", json_integer(r->hi));
    return j;
}

sl_code my_range_from_json(const json_t *j, my_range *r, sl_err *err)
{
    const json_t *lo = json_object_get(j, "from"), *hi = json_object_get(j, "to_before");
    memset(r, 0, sizeof *r);
    if (!json_is_object(j) || (lo && !json_is_integer(lo)) || (hi && !json_is_integer(hi)))
        return sl_err_set(err, SL_E_FORMAT, "a key range must be {\"from\": int, \"to_before\": int}");
    r->has_lo = lo != NULL;
    r->has_hi = hi != NULL;
    r->lo = lo ? (int64_t)json_integer_value(lo) : 0;
    r->hi = hi ? (int64_t)json_integer_value(hi) : 0;
    if (r->has_lo && r->has_hi && r->lo >= r->hi)
        return sl_err_set(err, SL_E_FORMAT, "an empty key range: from %lld to_before %lld", (long long)r->lo,
                          (long long)r->hi);
    return SL_OK;
}

json_t *my_plan_json(const my_plan *p)
{
    json_t *chunks = json_array();
    for (int i = 0; i < p->count; i++) {
        json_t *c = my_range_json(&p->chunks[i].r);
        json_object_set_new(c, "est_rows", json_integer(p->chunks[i].est_rows));
        json_array_append_new(chunks, c);
    }
    json_t *j = json_pack("{s:o, s:b, s:I, s:i, s:f}", "chunks", chunks, "indexed", p->indexed, "est_rows",
                          (json_int_t)p->est_rows, "probes", p->probes, "seconds", p->seconds);
    if (p->has_keys) {
        json_object_set_new(j, "min", json_integer(p->min));
        json_object_set_new(j, "max", json_integer(p->max));
    }
    return j;
}

sl_code my_plan_from_json(const json_t *j, my_plan *out, sl_err *err)
{
    const json_t *chunks = json_object_get(j, "chunks");
    memset(out, 0, sizeof *out);
    if (!json_is_array(chunks) || json_array_size(chunks) == 0 || json_array_size(chunks) > 1000000)
        return sl_err_set(err, SL_E_FORMAT, "a plan needs a non-empty \"chunks\" array");
    out->count = (int)json_array_size(chunks);
    out->chunks = sl_calloc((size_t)out->count, sizeof *out->chunks);
    if (!out->chunks) return sl_err_set(err, SL_E_NOMEM, "out of memory reading a plan");
    for (int i = 0; i < out->count; i++) {
        const json_t *c = json_array_get(chunks, (size_t)i);
        sl_code rc = my_range_from_json(c, &out->chunks[i].r, err);
        /* Chunks must tile the key space in order, open at both ends, or rows would be
         * read twice or not at all. */
        if (rc == SL_OK && (out->chunks[i].r.has_lo != (i > 0) || out->chunks[i].r.has_hi != (i + 1 < out->count) ||
                            (i > 0 && out->chunks[i].r.lo != out->chunks[i - 1].r.hi)))
            rc = sl_err_set(err, SL_E_FORMAT, "chunk %d of the plan does not continue the one before it", i);
        if (rc != SL_OK) {
            my_plan_free(out);
            return rc;
        }
        const json_t *e = json_object_get(c, "est_rows");
        out->chunks[i].est_rows = json_is_integer(e) ? (int64_t)json_integer_value(e) : -1;
    }
    const json_t *mn = json_object_get(j, "min"), *mx = json_object_get(j, "max");
    out->has_keys = json_is_integer(mn) && json_is_integer(mx);
    if (out->has_keys) {
        out->min = (int64_t)json_integer_value(mn);
        out->max = (int64_t)json_integer_value(mx);
    }
    out->indexed = json_is_true(json_object_get(j, "indexed"));
    out->est_rows = json_is_integer(json_object_get(j, "est_rows"))
                        ? (int64_t)json_integer_value(json_object_get(j, "est_rows"))
                        : -1;
    out->probes = (int)json_integer_value(json_object_get(j, "probes"));
    out->seconds = json_real_value(json_object_get(j, "seconds"));
    return SL_OK;
}

sl_code my_snapshot_begin(MYSQL **conns, int n, my_consistency mode, sl_err *err)
{
    return my_snapshot_begin_locked(NULL, conns, n, mode, NULL, NULL, err);
}

sl_code my_plan_group(const my_plan *p, int n, my_range **out, int *count, sl_err *err)
{
    *out = NULL;
    *count = 0;
    if (n < 1) n = 1;
    if (n > p->count) n = p->count;
    my_range *r = sl_calloc((size_t)n, sizeof *r);
    if (!r) return sl_err_set(err, SL_E_NOMEM, "out of memory grouping chunks");
    int64_t total = 0;
    for (int i = 0; i < p->count; i++) total += p->chunks[i].est_rows > 0 ? p->chunks[i].est_rows : 1;
    /* Group g ends once it holds its share of what is left, (total - before) / (n - g),
     * keeping at least one chunk for every group after it. */
    int g = 0, first = 0;
    int64_t before = 0, run = 0;
    for (int i = 0; i < p->count; i++) {
        run += p->chunks[i].est_rows > 0 ? p->chunks[i].est_rows : 1;
        int left = p->count - 1 - i, groups_after = n - 1 - g;
        int last = i + 1 == p->count;
        if (last || (g < n - 1 && ((run - before) * (n - g) >= total - before || left == groups_after))) {
            r[g].has_lo = p->chunks[first].r.has_lo;
            r[g].lo = p->chunks[first].r.lo;
            r[g].has_hi = p->chunks[i].r.has_hi;
            r[g].hi = p->chunks[i].r.hi;
            g++;
            first = i + 1;
            before = run;
        }
    }
    *out = r;
    *count = g;
    return SL_OK;
}
