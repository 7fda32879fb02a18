/* my_plan.c - partition planning by key quantiles and the shared consistent snapshot
 * (as mydumper does it: a brief global read lock while every worker opens its
 * transaction). Identifiers are quoted; bound values come from the server as integers. */
#include "my_plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "my_conn.h"

static sl_code query_int(MYSQL *m, const char *sql, int64_t *v, int *is_null, sl_err *err)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    char *end;
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) return my_error(m, err, "planning partitions");
    res = mysql_store_result(m);
    if (!res) return my_error(m, err, "planning partitions");
    row = mysql_fetch_row(res);
    *is_null = !row || !row[0];
    if (!*is_null) {
        errno = 0;
        *v = strtoll(row[0], &end, 10);
        if (errno || *end) {
            mysql_free_result(res);
            return sl_err_set(err, SL_E_SCHEMA, "the partition column's value '%.40s' is not a 64-bit integer", row[0]);
        }
    }
    mysql_free_result(res);
    return SL_OK;
}

sl_code my_plan_partitions(MYSQL *m, const char *table, const char *column, int n, my_range **out, int *count,
                           sl_err *err)
{
    char qt[200], qc[200], sql[1200];
    int64_t rows = 0, *bounds;
    int is_null, nb = 0;
    my_range *r;
    *out = NULL;
    *count = 0;
    if (n < 1) n = 1;
    SL_TRY(my_quote_ident(table, qt, sizeof qt, err));
    SL_TRY(my_quote_ident(column, qc, sizeof qc, err));
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE %s IS NOT NULL", qt, qc);
    if (query_int(m, sql, &rows, &is_null, err) != SL_OK) return sl_err_prefix(err, "table %s: ", table);
    if (n > rows) n = rows > 0 ? (int)rows : 1;
    bounds = sl_calloc((size_t)n, sizeof *bounds);
    r = sl_calloc((size_t)n, sizeof *r);
    if (!bounds || !r) {
        sl_free(bounds);
        sl_free(r);
        return sl_err_set(err, SL_E_NOMEM, "out of memory planning partitions of %s", table);
    }
    /* The key at rank rows*i/n starts partition i (i >= 1). */
    for (int i = 1; i < n; i++) {
        int64_t v;
        snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s IS NOT NULL ORDER BY %s LIMIT 1 OFFSET %lld", qc, qt, qc,
                 qc, (long long)(rows * i / n));
        if (query_int(m, sql, &v, &is_null, err) != SL_OK) {
            sl_free(bounds);
            sl_free(r);
            return sl_err_prefix(err, "table %s: ", table);
        }
        if (!is_null && (nb == 0 || v > bounds[nb - 1])) bounds[nb++] = v;
    }
    for (int i = 0; i <= nb; i++) {
        r[i].has_lo = i > 0;
        r[i].has_hi = i < nb;
        if (i > 0) r[i].lo = bounds[i - 1];
        if (i < nb) r[i].hi = bounds[i];
    }
    sl_free(bounds);
    *out = r;
    *count = nb + 1;
    return SL_OK;
}

void my_range_where(const my_range *r, const char *qc, char *buf, unsigned long cap)
{
    if (r->has_lo && r->has_hi)
        snprintf(buf, cap, "%s >= %lld AND %s < %lld", qc, (long long)r->lo, qc, (long long)r->hi);
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
    for (int i = 0; i < n && rc == SL_OK; i++) {
        rc = my_exec(conns[i], "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", err);
        if (rc == SL_OK) rc = my_exec(conns[i], "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", err);
    }
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

sl_code my_snapshot_begin(MYSQL **conns, int n, my_consistency mode, sl_err *err)
{
    return my_snapshot_begin_locked(NULL, conns, n, mode, NULL, NULL, err);
}
