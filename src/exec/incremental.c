/* incremental.c - the watermark of incremental loads (incremental.h): found in the
 * committed manifests, bounded by MAX(COLUMN) inside the run's snapshot, turned into
 * one SQL condition, and recorded in the new manifest. Values are kept parsed (int64,
 * uint64 or microseconds) and printed back by this file only, so a manifest's text never
 * reaches SQL unchecked. */
#include "incremental.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_log.h"
#include "../common/sl_time.h"
#include "../mysql/my_conn.h"

#define DAY_US 86400000000LL

typedef enum { K_INT, K_UINT, K_DATE, K_DATETIME, K_TIMESTAMP } kind;

/* A watermark value; `has` 0 means none (no lower bound, or no value yet). */
typedef struct wm {
    int has;
    long long i;          /* K_INT */
    unsigned long long u; /* K_UINT */
    int64_t us;           /* temporal kinds: microseconds since 1970 (a DATE at midnight) */
} wm;

struct sl_incr {
    sl_incr_opts o;
    kind k;
    char *table, *column, *qtable, *qcol, *type;
    wm from, to, lo; /* lo: from minus the lookback, the exclusive lower bound */
    const char *full_reason;
    long long seq;
    char prev_run[80];
    long long null_rows, reread_rows;
    sl_buf cond;
};

/* ---- options ---- */

sl_code sl_incr_lookback_parse(const char *s, sl_incr_lookback *out, sl_err *err)
{
    const char *p = s;
    memset(out, 0, sizeof *out);
    if (!s || !*s || strlen(s) >= sizeof out->text) goto bad;
    snprintf(out->text, sizeof out->text, "%s", s);
    if (strspn(s, "0123456789") == strlen(s)) {
        errno = 0;
        out->count = strtoull(s, NULL, 10);
        if (errno || out->count > (unsigned long long)LLONG_MAX) goto bad;
        out->given = 1;
        return SL_OK;
    }
    out->is_duration = 1;
    while (*p) {
        char *end;
        int64_t unit;
        unsigned long long n;
        if (!(*p >= '0' && *p <= '9')) goto bad;
        errno = 0;
        n = strtoull(p, &end, 10);
        switch (*end) {
        case 's': unit = 1000000LL; break;
        case 'm': unit = 60000000LL; break;
        case 'h': unit = 3600000000LL; break;
        case 'd': unit = DAY_US; break;
        default: goto bad;
        }
        /* 100 years is more than any column's history; also keeps the sum far from overflow. */
        if (errno || n > (unsigned long long)((36500LL * DAY_US - out->us) / unit)) goto bad;
        out->us += (int64_t)n * unit;
        p = end + 1;
    }
    out->given = 1;
    return SL_OK;
bad:
    memset(out, 0, sizeof *out);
    return sl_err_set(err, SL_E_USAGE,
                      "--lookback takes a count of values (e.g. 1000, for an integer column) or a duration of up "
                      "to 100 years such as 30m, 2h, 1d or 1h30m (for a DATE, DATETIME or TIMESTAMP column), not "
                      "'%.60s'",
                      s ? s : "");
}

sl_code sl_incr_nulls_parse(const char *s, sl_incr_nulls *out, sl_err *err)
{
    if (s && strcmp(s, "error") == 0) *out = SL_INCR_NULLS_ERROR;
    else if (s && strcmp(s, "include") == 0) *out = SL_INCR_NULLS_INCLUDE;
    else if (s && strcmp(s, "skip") == 0) *out = SL_INCR_NULLS_SKIP;
    else return sl_err_set(err, SL_E_USAGE, "--incremental-nulls takes error, include or skip, not '%.60s'", s ? s : "");
    return SL_OK;
}

static const char *nulls_name(sl_incr_nulls n)
{
    return n == SL_INCR_NULLS_INCLUDE ? "include" : n == SL_INCR_NULLS_SKIP ? "skip" : "error";
}

/* ---- values ---- */

static int is_temporal(kind k) { return k == K_DATE || k == K_DATETIME || k == K_TIMESTAMP; }

/* Parses MySQL's text of a value (or a manifest's string) into v. */
static int value_parse(kind k, const char *s, wm *v)
{
    char *end;
    memset(v, 0, sizeof *v);
    if (!s || !*s) return -1;
    errno = 0;
    if (k == K_INT) {
        v->i = strtoll(s, &end, 10);
        if (errno || *end) return -1;
    } else if (k == K_UINT) {
        if (*s == '-') return -1;
        v->u = strtoull(s, &end, 10);
        if (errno || *end) return -1;
    } else if (sl_ts_parse(s, &v->us, NULL) != SL_OK) {
        return -1; /* a zero date ('0000-00-00') lands here too */
    }
    v->has = 1;
    return 0;
}

/* A manifest's "to": a JSON integer, or a string (temporal values; uint64 past 2^63). */
static int value_from_json(kind k, const json_t *j, wm *v)
{
    char num[32];
    if (json_is_integer(j)) {
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        return is_temporal(k) ? -1 : value_parse(k, num, v);
    }
    return json_is_string(j) ? value_parse(k, json_string_value(j), v) : -1;
}

static int value_cmp(kind k, const wm *a, const wm *b)
{
    if (k == K_INT) return a->i < b->i ? -1 : a->i > b->i;
    if (k == K_UINT) return a->u < b->u ? -1 : a->u > b->u;
    return a->us < b->us ? -1 : a->us > b->us;
}

/* The value as MySQL reads it back: a number, or a quoted date/datetime literal (a DATE
 * column's bound off midnight, after a lookback in hours, is written as a datetime). */
static void value_text(kind k, const wm *v, int quoted, char *buf, size_t cap)
{
    char t[40];
    if (k == K_INT) {
        snprintf(buf, cap, "%lld", v->i);
        return;
    }
    if (k == K_UINT) {
        snprintf(buf, cap, "%llu", v->u);
        return;
    }
    if (k == K_DATE && v->us % DAY_US == 0) sl_date_format((int32_t)(v->us / DAY_US), t, sizeof t);
    else sl_ts_format(v->us, t, sizeof t);
    snprintf(buf, cap, quoted ? "'%s'" : "%s", t);
}

static json_t *value_json(kind k, const wm *v)
{
    char t[40];
    if (!v->has) return json_null();
    if (k == K_INT) return json_integer(v->i);
    if (k == K_UINT && v->u <= (unsigned long long)LLONG_MAX) return json_integer((json_int_t)v->u);
    value_text(k, v, 0, t, sizeof t);
    return json_string(t);
}

/* from minus the lookback; none when that passes the type's (or the calendar's) start:
 * then the margin is everything below the watermark. */
static wm value_minus(kind k, const wm *from, const sl_incr_lookback *lb)
{
    wm lo = *from;
    static const int64_t first_us = -30610224000000000LL; /* 1000-01-01, MySQL's first date */
    if (!lb->given) return lo;
    if (k == K_INT) {
        if (from->i < LLONG_MIN + (long long)lb->count) lo.has = 0;
        else lo.i = from->i - (long long)lb->count;
    } else if (k == K_UINT) {
        if (from->u < lb->count) lo.has = 0;
        else lo.u = from->u - lb->count;
    } else {
        if (from->us - lb->us < first_us) lo.has = 0;
        else lo.us = from->us - lb->us;
    }
    return lo;
}

/* ---- create / free ---- */

static const char *kind_name(kind k)
{
    static const char *const n[] = {"integer", "integer", "date", "datetime", "timestamp"};
    return n[k];
}

sl_incr *sl_incr_create(const sl_incr_opts *o, const char *table, const my_column_info *cols, int ncols,
                        sl_err *err)
{
    const my_column_info *c = NULL;
    char q[1100];
    sl_incr *x;
    kind k;
    for (int i = 0; i < ncols && !c; i++)
        if (strcmp(cols[i].name, o->column) == 0) c = &cols[i];
    if (!c) {
        sl_err_set(err, SL_E_SCHEMA, "table %s has no column %s (from --incremental)", table, o->column);
        return NULL;
    }
    if (my_catalog_int_key_type(c) == 2 || (my_catalog_int_key_type(c) && strstr(c->column_type, "unsigned")))
        k = K_UINT;
    else if (my_catalog_int_key_type(c)) k = K_INT;
    else if (strcmp(c->data_type, "date") == 0) k = K_DATE;
    else if (strcmp(c->data_type, "datetime") == 0) k = K_DATETIME;
    else if (strcmp(c->data_type, "timestamp") == 0) k = K_TIMESTAMP;
    else {
        sl_err_set(err, SL_E_SCHEMA,
                   "--incremental %s: column %s of table %s is %s; an incremental column must be an integer, "
                   "DATE, DATETIME or TIMESTAMP column",
                   o->column, c->name, table, c->column_type);
        return NULL;
    }
    if (o->lookback.given && o->lookback.is_duration != is_temporal(k)) {
        sl_err_set(err, SL_E_USAGE,
                   "--lookback %s: column %s of table %s is %s, so the lookback is %s (e.g. --lookback %s)",
                   o->lookback.text, c->name, table, c->column_type,
                   is_temporal(k) ? "a duration" : "a count of values", is_temporal(k) ? "2h" : "1000");
        return NULL;
    }
    x = sl_calloc(1, sizeof *x);
    if (!x) goto nomem;
    sl_buf_init(&x->cond, 0);
    x->o = *o;
    x->k = k;
    x->table = sl_strdup(table);
    x->column = sl_strdup(c->name);
    x->o.column = x->column;
    x->type = sl_strdup(c->column_type);
    if (!x->table || !x->column || !x->type) goto nomem;
    if (my_quote_ident(table, q, sizeof q, err) != SL_OK) goto fail;
    if (!(x->qtable = sl_strdup(q))) goto nomem;
    if (my_quote_ident(c->name, q, sizeof q, err) != SL_OK) goto fail;
    if (!(x->qcol = sl_strdup(q))) goto nomem;
    return x;
nomem:
    sl_err_set(err, SL_E_NOMEM, "out of memory planning the incremental read of %s", table);
fail:
    sl_incr_free(x);
    return NULL;
}

void sl_incr_free(sl_incr *x)
{
    if (!x) return;
    sl_free(x->table);
    sl_free(x->column);
    sl_free(x->qtable);
    sl_free(x->qcol);
    sl_free(x->type);
    sl_buf_free(&x->cond);
    sl_free(x);
}

/* ---- the watermark in the manifests ---- */

typedef struct {
    const char *prefix;
    size_t plen;
    char **parts; /* partition prefixes holding a _SUCCESS */
    size_t n, cap;
    int nomem;
} found;

/* Keeps "<prefix><one folder>/_SUCCESS": the table's date partitions, in either layout. */
static int collect_manifest(void *ud, const char *key, uint64_t size)
{
    found *f = ud;
    const char *rest = key + f->plen, *slash = strchr(rest, '/');
    size_t mlen = strlen(SL_MANIFEST_NAME);
    (void)size;
    if (!slash || slash == rest || strcmp(slash + 1, SL_MANIFEST_NAME) != 0) return 0;
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 16;
        char **np = sl_realloc(f->parts, ncap * sizeof *np);
        if (!np) {
            f->nomem = 1;
            return 1;
        }
        f->parts = np;
        f->cap = ncap;
    }
    f->parts[f->n] = sl_malloc(strlen(key) - mlen + 1);
    if (!f->parts[f->n]) {
        f->nomem = 1;
        return 1;
    }
    memcpy(f->parts[f->n], key, strlen(key) - mlen);
    f->parts[f->n][strlen(key) - mlen] = 0;
    f->n++;
    return 0;
}

/* The latest incremental run found so far. */
typedef struct {
    long long seq;
    json_t *inc; /* its "incremental" (a reference held) */
    char run[80], partition[SL_STORE_KEY_MAX + 1];
} best_run;

static void consider(best_run *b, json_t *run, const char *partition)
{
    json_t *inc = json_object_get(run, "incremental");
    const char *id = json_string_value(json_object_get(run, "run_id"));
    long long seq;
    if (!json_is_object(inc) || !id) return;
    seq = json_is_integer(json_object_get(inc, "sequence")) ? (long long)json_integer_value(json_object_get(inc, "sequence")) : 0;
    /* Equal sequences cannot come from one history; the later run id (start time) wins. */
    if (b->inc && (seq < b->seq || (seq == b->seq && strcmp(id, b->run) <= 0))) return;
    json_decref(b->inc);
    b->inc = json_incref(inc);
    b->seq = seq;
    snprintf(b->run, sizeof b->run, "%s", id);
    snprintf(b->partition, sizeof b->partition, "%s", partition);
}

sl_code sl_incr_find_watermark(sl_incr *x, sl_store *st, const char *table_prefix, sl_err *err)
{
    found f = {table_prefix, strlen(table_prefix), NULL, 0, 0, 0};
    best_run b;
    sl_code rc;
    memset(&b, 0, sizeof b);
    rc = sl_store_list(st, table_prefix, collect_manifest, &f, err);
    if (rc == SL_OK && f.nomem) rc = sl_err_set(err, SL_E_NOMEM, "out of memory listing %s", table_prefix);
    if (rc != SL_OK) sl_err_prefix(err, "table %s: looking for the watermark under %s: ", x->table, table_prefix);
    for (size_t i = 0; rc == SL_OK && i < f.n; i++) {
        json_t *m = NULL, *runs, *r;
        size_t j;
        rc = sl_manifest_read(st, f.parts[i], &m, err);
        if (rc != SL_OK) {
            sl_err_prefix(err, "table %s: reading the watermark: ", x->table);
            break;
        }
        runs = json_object_get(m, "runs");
        if (json_is_array(runs)) json_array_foreach(runs, j, r) consider(&b, r, f.parts[i]);
        else if (m) consider(&b, m, f.parts[i]); /* a manifest from before "runs" */
        json_decref(m);
    }
    for (size_t i = 0; i < f.n; i++) sl_free(f.parts[i]);
    sl_free(f.parts);
    if (rc != SL_OK) goto done;

    x->seq = b.inc ? b.seq + 1 : 1;
    snprintf(x->prev_run, sizeof x->prev_run, "%s", b.inc ? b.run : "");
    memset(&x->from, 0, sizeof x->from);
    if (x->o.full) {
        x->full_reason = "--full";
    } else if (!b.inc) {
        x->full_reason = "first run";
    } else {
        const char *col = json_string_value(json_object_get(b.inc, "column"));
        json_t *to = json_object_get(b.inc, "to");
        if (!col || strcmp(col, x->column) != 0) {
            rc = sl_err_set(err, SL_E_USAGE,
                            "table %s: the latest incremental run (%s, in %s) tracked column %s, not %s; add --full "
                            "to copy everything and restart the watermark on %s",
                            x->table, b.run, b.partition, col ? col : "(none)", x->column, x->column);
        } else if (json_is_null(to) || !to) {
            x->full_reason = "no watermark yet (the latest run found no values)";
        } else if (value_from_json(x->k, to, &x->from) != 0) {
            rc = sl_err_set(err, SL_E_FORMAT,
                            "table %s: the watermark \"to\" of run %s in %s%s is not a %s value of column %s (was "
                            "the column's type changed? add --full to restart the watermark)",
                            x->table, b.run, b.partition, SL_MANIFEST_NAME, kind_name(x->k), x->column);
        }
    }
done:
    json_decref(b.inc);
    return rc;
}

/* ---- bounds inside the snapshot ---- */

/* One value of a one-row query; *text NULL for SQL NULL. The result is the caller's. */
static sl_code query_one(MYSQL *m, const char *sql, MYSQL_RES **res, const char **text, sl_err *err)
{
    MYSQL_ROW row;
    *res = NULL;
    *text = NULL;
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0 || !(*res = mysql_store_result(m)))
        return my_error(m, err, "reading the incremental bounds");
    row = mysql_fetch_row(*res);
    if (row) *text = row[0];
    return SL_OK;
}

static sl_code count_rows(MYSQL *m, sl_buf *sql, long long *out, sl_err *err)
{
    MYSQL_RES *r;
    const char *t;
    SL_TRY(sl_buf_cstr(sql, err));
    SL_TRY(query_one(m, (const char *)sql->data, &r, &t, err));
    *out = t ? atoll(t) : 0;
    mysql_free_result(r);
    return SL_OK;
}

sl_code sl_incr_bound(sl_incr *x, MYSQL *m, const char *where, sl_err *err)
{
    sl_buf sql;
    MYSQL_RES *r = NULL;
    const char *t;
    char a[64], b[64];
    sl_code rc;
    int has_where = where && where[0];
    sl_buf_init(&sql, 0);

    /* watermark_to: MAX over the whole table (--where aside), so it is a point of the
     * column's own order; with an index on the column the server reads one entry. */
    SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, "SELECT MAX(%s) FROM %s", x->qcol, x->qtable), done);
    SL_TRY_GOTO(rc, sl_buf_cstr(&sql, err), done);
    SL_TRY_GOTO(rc, query_one(m, (const char *)sql.data, &r, &t, err), done);
    if (!t) {
        x->to = x->from; /* no values: the watermark stays */
    } else if (value_parse(x->k, t, &x->to) != 0) {
        rc = sl_err_set(err, SL_E_DATA, "table %s: MAX(%s) is '%.40s', which is not a valid %s watermark", x->table,
                        x->column, t, kind_name(x->k));
        goto done;
    } else if (x->from.has && value_cmp(x->k, &x->to, &x->from) < 0) {
        value_text(x->k, &x->to, 1, a, sizeof a);
        value_text(x->k, &x->from, 1, b, sizeof b);
        sl_warn("table %s: MAX(%s) = %s is below the watermark %s (rows deleted, or values moved back); nothing "
                "new is read and the watermark stays (--full copies everything again)",
                x->table, x->column, a, b);
        x->to = x->from;
    }
    mysql_free_result(r);
    r = NULL;

    sql.len = 0;
    SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, "SELECT COUNT(*) FROM %s WHERE %s IS NULL", x->qtable, x->qcol), done);
    if (has_where) SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, " AND (%s)", where), done);
    SL_TRY_GOTO(rc, count_rows(m, &sql, &x->null_rows, err), done);
    if (x->null_rows && x->o.nulls == SL_INCR_NULLS_ERROR) {
        rc = sl_err_set(err, SL_E_DATA,
                        "table %s: column %s is NULL in %lld row%s, which no watermark can place; choose "
                        "--incremental-nulls include (read them on every run) or skip (leave them out; they are "
                        "counted in the manifest)",
                        x->table, x->column, x->null_rows, x->null_rows == 1 ? "" : "s");
        goto done;
    }

    x->lo = x->from.has ? value_minus(x->k, &x->from, &x->o.lookback) : x->from;
    x->reread_rows = 0;
    if (x->from.has && x->o.lookback.given) {
        /* The margin's rows were at or below the watermark, so an earlier run read them
         * (all but late ones): they are counted as read twice. */
        sql.len = 0;
        value_text(x->k, &x->from, 1, b, sizeof b);
        SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, "SELECT COUNT(*) FROM %s WHERE %s <= %s", x->qtable, x->qcol, b),
                    done);
        if (x->lo.has) {
            value_text(x->k, &x->lo, 1, a, sizeof a);
            SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, " AND %s > %s", x->qcol, a), done);
        }
        if (has_where) SL_TRY_GOTO(rc, sl_buf_printf(&sql, err, " AND (%s)", where), done);
        SL_TRY_GOTO(rc, count_rows(m, &sql, &x->reread_rows, err), done);
    }

    /* lo < COLUMN <= to; nothing but NULLs (if included) when there is no value yet. */
    x->cond.len = 0;
    if (x->o.nulls == SL_INCR_NULLS_INCLUDE) SL_TRY_GOTO(rc, sl_buf_append(&x->cond, "(", 1, err), done);
    if (!x->to.has) {
        SL_TRY_GOTO(rc, sl_buf_printf(&x->cond, err, "1 = 0"), done);
    } else {
        value_text(x->k, &x->to, 1, b, sizeof b);
        if (x->lo.has) {
            value_text(x->k, &x->lo, 1, a, sizeof a);
            SL_TRY_GOTO(rc, sl_buf_printf(&x->cond, err, "%s > %s AND ", x->qcol, a), done);
        }
        SL_TRY_GOTO(rc, sl_buf_printf(&x->cond, err, "%s <= %s", x->qcol, b), done);
    }
    if (x->o.nulls == SL_INCR_NULLS_INCLUDE)
        SL_TRY_GOTO(rc, sl_buf_printf(&x->cond, err, ") OR %s IS NULL", x->qcol), done);
    rc = sl_buf_cstr(&x->cond, err);
done:
    mysql_free_result(r);
    sl_buf_free(&sql);
    return rc;
}

const char *sl_incr_condition(const sl_incr *x) { return x->cond.data ? (const char *)x->cond.data : "1 = 0"; }

const char *sl_incr_describe(const sl_incr *x, char *buf, size_t cap)
{
    char lo[64] = "", to[64] = "none";
    if (x->lo.has) value_text(x->k, &x->lo, 1, lo, sizeof lo);
    if (x->to.has) value_text(x->k, &x->to, 1, to, sizeof to);
    if (!x->from.has)
        snprintf(buf, cap, "%s: full copy (%s) up to %s = %s, nulls %s (%lld)", x->column, x->full_reason, x->column,
                 to, nulls_name(x->o.nulls), x->null_rows);
    else
        snprintf(buf, cap, "%s%s%s <= %s%s%s, %lld row%s re-read, nulls %s (%lld)", lo, lo[0] ? " < " : "", x->column,
                 to, x->o.lookback.given ? ", lookback " : "", x->o.lookback.given ? x->o.lookback.text : "",
                 x->reread_rows, x->reread_rows == 1 ? "" : "s", nulls_name(x->o.nulls), x->null_rows);
    return buf;
}

json_t *sl_incr_json(const sl_incr *x, int64_t rows)
{
    return json_pack("{s:s, s:s, s:s, s:s*, s:o, s:o, s:s*, s:o, s:I, s:I, s:s, s:I, s:I, s:s*}", "column", x->column,
                    "type", x->type, "mode", x->from.has ? "incremental" : "full", "full_reason",
                    x->from.has ? NULL : x->full_reason, "from", value_json(x->k, &x->from), "to",
                    value_json(x->k, &x->to), "lookback", x->o.lookback.given ? x->o.lookback.text : NULL,
                    "reread_from", value_json(x->k, x->o.lookback.given ? &x->lo : &(wm){0}), "reread_rows",
                    (json_int_t)x->reread_rows, "null_rows", (json_int_t)x->null_rows, "nulls",
                    nulls_name(x->o.nulls), "rows", (json_int_t)rows, "sequence", (json_int_t)x->seq,
                    "previous_run", x->prev_run[0] ? x->prev_run : NULL);
}

sl_code sl_incr_commit_info(const sl_incr *x, sl_commit *c, json_t *extra, int64_t rows, sl_err *err)
{
    return sl_incr_commit_json(sl_incr_json(x, rows), x->table, c, extra, err);
}

sl_code sl_incr_commit_json(json_t *inc, const char *table, sl_commit *c, json_t *extra, sl_err *err)
{
    json_t *info;
    sl_code rc;
    {
        /* Runs of one date share a partition: if the columns changed since the runs
         * before, its files now hold two schemas, which readers must merge by name. */
        const json_t *base = sl_commit_base(c), *was = base ? json_object_get(base, "schema") : NULL;
        const json_t *now = json_object_get(extra, "schema");
        if (inc && was && now && !json_equal((json_t *)was, (json_t *)now)) {
            sl_warn("table %s: the columns changed since run %s of this date: the partition's files now have "
                    "different schemas (read them with DuckDB's union_by_name = true)",
                    table, json_string_value(json_object_get(base, "run_id")));
            json_object_set_new(inc, "schema_changed", json_true());
        }
    }
    info = inc ? json_pack("{s:O}", "incremental", inc) : NULL;
    if (!info || json_object_set(extra, "incremental", inc) != 0) {
        json_decref(inc);
        json_decref(info);
        return sl_err_set(err, SL_E_NOMEM, "out of memory writing the manifest of %s", table);
    }
    rc = sl_commit_set_run_info(c, info, err);
    json_decref(inc);
    json_decref(info);
    return rc;
}
