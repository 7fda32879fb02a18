/* export.c - `sluice export` (see export.h).
 *
 * Order of a run: plan on a control connection (tables, columns, partition keys, key
 * ranges, row estimates), open the worker connections and start their shared snapshot,
 * run the tasks on worker threads (each: one range of one table, streamed through the
 * reader into one Parquet file of the table's commit), then, only when every task
 * succeeded, commit each table's partition (its _SUCCESS manifest is written last). Any
 * failure aborts every commit: this run's files are removed and earlier complete output
 * stays as it was. */
#include "export.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_log.h"
#include "../common/sl_time.h"
#include "../mysql/my_catalog.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_reader.h"
#include "../sink/commit.h"
#include "../sink/store.h"
#include "exec.h"
#include "progress.h"

void sl_export_opts_default(sl_export_opts *o)
{
    memset(o, 0, sizeof *o);
    o->consistency = MY_SNAPSHOT;
    o->name = "query";
    pq_options_default(&o->pq);
    o->batch_rows = 16384;
    o->max_attempts = 3;
}

typedef struct ex_file {
    int64_t rows;
    uint64_t bytes;
    double seconds;
    int attempts;
} ex_file;

typedef struct ex_table {
    char *name;         /* table name, or the --query name */
    char *sql_base;     /* "SELECT <cols> FROM `t`" or the query */
    char *key_quoted;   /* partition column, quoted; NULL when not partitioned */
    char *key;
    my_range *ranges;
    int nranges;
    long long estimate;
    ex_file *files;
    int64_t *zero_dates; /* per column, summed over files */
    json_t *schema;      /* from the first file's reader */
    sl_commit *commit;
    sl_incr *incr;       /* --incremental: the table's watermark and read condition */
    atomic_llong rows_done;
    int tasks_left;
    double t_start, t_end;
} ex_table;

typedef struct ex_task {
    int table, part;
} ex_task;

typedef struct ex_run {
    const sl_export_opts *o;
    const sl_config *cfg;
    my_params mp;
    ex_table *tables;
    int ntables;
    ex_task *tasks;
    int ntasks, next_task;
    pthread_mutex_t mu;
    atomic_int failed;
    sl_err first_err;
    my_consistency mode;
    const char *fallback;
    char run_id[64];
    char date[16];
    sl_store *store;
    pq_options pq;
} ex_run;

typedef struct ex_worker {
    ex_run *run;
    int index;
    MYSQL *conn;
} ex_worker;

/* ---------------------------------------------------------------------------------- */
/* planning */

static sl_code quote(const char *ident, sl_buf *out, sl_err *err)
{
    char q[1024];
    SL_TRY(my_quote_ident(ident, q, sizeof q, err));
    return sl_buf_append(out, q, strlen(q), err);
}

static const my_column_info *find_col(const my_column_info *cols, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0) return &cols[i];
    return NULL;
}

/* SELECT list and partition key of one table, checked against the catalog. */
static sl_code plan_table(ex_run *run, MYSQL *m, ex_table *t, sl_err *err)
{
    const sl_export_opts *o = run->o;
    my_column_info *cols = NULL;
    int ncols = 0;
    sl_buf sql;
    sl_buf_init(&sql, 0);
    sl_code rc = my_catalog_columns(m, t->name, &cols, &ncols, err);
    if (rc != SL_OK) goto done;
    if (o->incr.column && !(t->incr = sl_incr_create(&o->incr, t->name, cols, ncols, err))) {
        rc = err->code;
        goto done;
    }
    SL_TRY_GOTO(rc, sl_buf_append(&sql, "SELECT ", 7, err), done);
    if (o->columns && o->columns[0]) {
        const char *p = o->columns;
        int first = 1;
        while (*p) {
            const char *e = strchr(p, ',');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            while (n && (*p == ' ')) p++, n--;
            while (n && p[n - 1] == ' ') n--;
            char name[256];
            if (n == 0 || n >= sizeof name) {
                rc = sl_err_set(err, SL_E_USAGE, "--columns: an empty or too long column name in '%s'", o->columns);
                goto done;
            }
            memcpy(name, p, n);
            name[n] = 0;
            if (!find_col(cols, ncols, name)) {
                rc = sl_err_set(err, SL_E_SCHEMA, "table %s has no column %s (from --columns)", t->name, name);
                goto done;
            }
            if (!first) SL_TRY_GOTO(rc, sl_buf_append(&sql, ", ", 2, err), done);
            SL_TRY_GOTO(rc, quote(name, &sql, err), done);
            first = 0;
            p = e ? e + 1 : p + n;
            if (!e) break;
        }
    } else {
        for (int i = 0; i < ncols; i++) {
            if (i) SL_TRY_GOTO(rc, sl_buf_append(&sql, ", ", 2, err), done);
            SL_TRY_GOTO(rc, quote(cols[i].name, &sql, err), done);
        }
    }
    SL_TRY_GOTO(rc, sl_buf_append(&sql, " FROM ", 6, err), done);
    SL_TRY_GOTO(rc, quote(t->name, &sql, err), done);
    SL_TRY_GOTO(rc, sl_buf_cstr(&sql, err), done);
    t->sql_base = (char *)sql.data;
    sl_buf_init(&sql, 0);

    const char *key = NULL;
    if (o->partition_column) {
        const my_column_info *c = find_col(cols, ncols, o->partition_column);
        if (!c) {
            rc = sl_err_set(err, SL_E_SCHEMA, "table %s has no column %s (from --partition-column)", t->name,
                            o->partition_column);
            goto done;
        }
        if (!my_catalog_int_key_type(c)) {
            rc = sl_err_set(err, SL_E_SCHEMA,
                            "--partition-column %s of table %s is %s: partitioning needs an integer column",
                            c->name, t->name, c->column_type);
            goto done;
        }
        key = c->name;
    } else {
        key = my_catalog_partition_key(cols, ncols);
    }
    if (key && my_catalog_int_key_type(find_col(cols, ncols, key)) == 2) {
        int fits = 0;
        SL_TRY_GOTO(rc, my_catalog_key_fits(m, t->name, key, &fits, err), done);
        if (!fits) {
            sl_warn("table %s: key %s holds values of 2^63 or more; reading the table on one connection", t->name,
                    key);
            key = NULL;
        }
    }
    if (key) {
        char q[1024];
        SL_TRY_GOTO(rc, my_quote_ident(key, q, sizeof q, err), done);
        t->key = sl_strdup(key);
        t->key_quoted = sl_strdup(q);
        if (!t->key || !t->key_quoted) rc = sl_err_set(err, SL_E_NOMEM, "out of memory planning %s", t->name);
    }
done:
    sl_buf_free(&sql);
    my_columns_free(cols, ncols);
    return rc;
}

static int default_partitions(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static sl_code plan(ex_run *run, MYSQL *m, int nparts, sl_err *err)
{
    const sl_export_opts *o = run->o;
    char **names = NULL;
    int nnames = 0;
    sl_code rc = SL_OK;
    if (o->query) {
        run->ntables = 1;
        run->tables = sl_calloc(1, sizeof *run->tables);
        if (!run->tables) return sl_err_set(err, SL_E_NOMEM, "out of memory");
        ex_table *t = &run->tables[0];
        t->name = sl_strdup(o->name);
        t->sql_base = sl_strdup(o->query);
        t->estimate = -1;
        if (!t->name || !t->sql_base) return sl_err_set(err, SL_E_NOMEM, "out of memory");
        t->ranges = sl_calloc(1, sizeof *t->ranges);
        if (!t->ranges) return sl_err_set(err, SL_E_NOMEM, "out of memory");
        t->nranges = 1;
        return SL_OK;
    }
    SL_TRY(my_catalog_tables(m, &names, &nnames, err));
    if (o->ntables == 0 && nnames == 0) {
        my_names_free(names, nnames);
        return sl_err_set(err, SL_E_SCHEMA, "the database has no base tables to export");
    }
    run->ntables = o->ntables ? o->ntables : nnames;
    run->tables = sl_calloc((size_t)run->ntables, sizeof *run->tables);
    if (!run->tables) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (int i = 0; rc == SL_OK && i < run->ntables; i++) {
        const char *name = o->ntables ? o->tables[i] : names[i];
        int found = 0;
        for (int k = 0; k < nnames; k++) found |= strcmp(names[k], name) == 0;
        for (int k = 0; k < i; k++)
            if (strcmp(run->tables[k].name, name) == 0)
                rc = sl_err_set(err, SL_E_USAGE, "table %s is named twice", name);
        if (rc != SL_OK) break;
        if (!found) {
            rc = sl_err_set(err, SL_E_SCHEMA, "table %s does not exist in the database (or is a view)", name);
            break;
        }
        ex_table *t = &run->tables[i];
        if (!(t->name = sl_strdup(name))) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        if (rc == SL_OK) rc = plan_table(run, m, t, err);
        if (rc == SL_OK) rc = my_catalog_row_estimate(m, t->name, &t->estimate, err);
        if (rc == SL_OK && t->key && nparts > 1) {
            rc = my_plan_partitions(m, t->name, t->key, nparts, &t->ranges, &t->nranges, err);
            if (rc != SL_OK) sl_err_prefix(err, "table %s: ", t->name);
        } else if (rc == SL_OK) {
            t->ranges = sl_calloc(1, sizeof *t->ranges);
            t->nranges = 1;
            if (!t->ranges) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
    }
    my_names_free(names, nnames);
    return rc;
}

static int by_estimate_desc(const void *a, const void *b, void *ud)
{
    const ex_run *run = ud;
    const ex_task *x = a, *y = b;
    long long ex = run->tables[x->table].estimate, ey = run->tables[y->table].estimate;
    if (ex != ey) return ex > ey ? -1 : 1;
    if (x->table != y->table) return x->table - y->table;
    return x->part - y->part;
}

static sl_code make_tasks(ex_run *run, sl_err *err)
{
    int n = 0;
    for (int i = 0; i < run->ntables; i++) n += run->tables[i].nranges;
    run->tasks = sl_calloc((size_t)n, sizeof *run->tasks);
    if (!run->tasks) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (int i = 0; i < run->ntables; i++) {
        ex_table *t = &run->tables[i];
        t->files = sl_calloc((size_t)t->nranges, sizeof *t->files);
        if (!t->files) return sl_err_set(err, SL_E_NOMEM, "out of memory");
        t->tasks_left = t->nranges;
        for (int p = 0; p < t->nranges; p++) run->tasks[run->ntasks++] = (ex_task){i, p};
    }
    /* Biggest tables first: the run ends sooner when the long tasks start early. */
    qsort_r(run->tasks, (size_t)run->ntasks, sizeof *run->tasks, by_estimate_desc, run);
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* tasks */

static void fail_run(ex_run *run, const sl_err *err)
{
    pthread_mutex_lock(&run->mu);
    if (!atomic_load(&run->failed)) {
        run->first_err = *err;
        atomic_store(&run->failed, 1);
    }
    pthread_mutex_unlock(&run->mu);
}

static void file_name(const ex_run *run, int part, char *buf, size_t cap)
{
    snprintf(buf, cap, "part-%05d-%s.%s.parquet", part, run->run_id, pq_codec_name(run->pq.codec));
}

static sl_code build_sql(const ex_run *run, const ex_table *t, int part, sl_buf *sql, sl_err *err)
{
    sql->len = 0;
    SL_TRY(sl_buf_append(sql, t->sql_base, strlen(t->sql_base), err));
    if (run->o->query) return sl_buf_cstr(sql, err);
    const my_range *r = &t->ranges[part];
    int has_range = t->key_quoted && (r->has_lo || r->has_hi);
    const char *where = run->o->where && run->o->where[0] ? run->o->where : NULL;
    const char *incr = t->incr ? sl_incr_condition(t->incr) : NULL;
    if (has_range || where || incr) SL_TRY(sl_buf_append(sql, " WHERE ", 7, err));
    if (has_range) {
        char cond[2200];
        my_range_where(r, t->key_quoted, cond, sizeof cond);
        SL_TRY(sl_buf_printf(sql, err, "(%s)", cond));
    }
    if (has_range && where) SL_TRY(sl_buf_append(sql, " AND ", 5, err));
    if (where) SL_TRY(sl_buf_printf(sql, err, "(%s)", where));
    /* The incremental range is one more condition on each key range. */
    if (incr) SL_TRY(sl_buf_printf(sql, err, "%s(%s)", has_range || where ? " AND " : "", incr));
    return sl_buf_cstr(sql, err);
}

static sl_code run_task(ex_worker *wk, const ex_task *task, sl_err *err)
{
    ex_run *run = wk->run;
    ex_table *t = &run->tables[task->table];
    ex_file *f = &t->files[task->part];
    sl_buf sql;
    sl_buf_init(&sql, 0);
    my_reader *rd = NULL;
    sl_sink *sink = NULL;
    pq_writer *w = NULL;
    sl_code rc;
    double t0 = sl_mono_seconds();
    int64_t rows = 0;
    char name[256];
    file_name(run, task->part, name, sizeof name);

    SL_TRY_GOTO(rc, build_sql(run, t, task->part, &sql, err), done);
    my_read_opts ro;
    my_read_opts_default(&ro);
    ro.batch_rows = run->o->batch_rows;
    ro.batch_bytes_max = (size_t)32 << 20;
    ro.zero_dates_error = run->o->zero_dates_error;
    ro.table = t->name;
    ro.key_column = t->key;
    rd = my_reader_open(wk->conn, (const char *)sql.data, &ro, err);
    if (!rd) {
        rc = err->code ? err->code : SL_E_DB;
        goto done;
    }
    const sl_schema *schema = my_reader_schema(rd);
    char source[600];
    snprintf(source, sizeof source, "mysql:%s/%s", run->mp.database, t->name);
    SL_TRY_GOTO(rc, sl_exec_open_parquet(t->commit, name, schema, &run->pq, source, run->run_id, run->date, run->mode,
                                         &sink, &w, err), done);
    for (;;) {
        sl_batch *b;
        if (atomic_load(&run->failed)) {
            rc = sl_err_set(err, SL_E_INTERNAL, "stopped: another task failed");
            goto done;
        }
        SL_TRY_GOTO(rc, my_reader_next(rd, &b, err), done);
        if (!b) break;
        SL_TRY_GOTO(rc, pq_writer_write(w, b, err), done);
        rows += (int64_t)b->nrows;
        atomic_fetch_add(&t->rows_done, (long long)b->nrows);
    }
    pq_file_info info;
    SL_TRY_GOTO(rc, pq_writer_close(w, &info, err), done);
    SL_TRY_GOTO(rc, sl_commit_set_rows(t->commit, name, info.rows, err), done);
    pthread_mutex_lock(&run->mu);
    f->rows = info.rows;
    f->bytes = info.bytes;
    f->seconds = sl_mono_seconds() - t0;
    if (!t->zero_dates) t->zero_dates = sl_calloc((size_t)schema->ncols, sizeof *t->zero_dates);
    for (int i = 0; t->zero_dates && i < schema->ncols; i++) t->zero_dates[i] += my_reader_zero_dates(rd, i);
    if (!t->schema) t->schema = sl_exec_schema_json(schema);
    pthread_mutex_unlock(&run->mu);
    rc = SL_OK;
done:
    if (rc != SL_OK) atomic_fetch_sub(&t->rows_done, (long long)rows);
    pq_writer_free(w); /* aborts the sink unless closed */
    sl_sink_release(sink);
    my_reader_free(rd);
    sl_buf_free(&sql);
    return rc;
}

static sl_code reconnect(ex_worker *wk, sl_err *err)
{
    my_close(wk->conn);
    wk->conn = my_connect(&wk->run->mp, 0, err);
    if (!wk->conn) return err->code ? err->code : SL_E_DB_CONNECT;
    return my_snapshot_begin(&wk->conn, 1, MY_NONE, err);
}

static void *worker_main(void *arg)
{
    ex_worker *wk = arg;
    ex_run *run = wk->run;
    mysql_thread_init();
    while (!atomic_load(&run->failed)) {
        pthread_mutex_lock(&run->mu);
        int k = run->next_task < run->ntasks ? run->next_task++ : -1;
        pthread_mutex_unlock(&run->mu);
        if (k < 0) break;
        const ex_task *task = &run->tasks[k];
        ex_table *t = &run->tables[task->table];
        sl_err err = {0};
        sl_code rc;
        int attempt = 0;
        for (;;) {
            attempt++;
            pthread_mutex_lock(&run->mu);
            if (t->t_start == 0) t->t_start = sl_mono_seconds();
            pthread_mutex_unlock(&run->mu);
            rc = run_task(wk, task, &err);
            if (rc != SL_E_DB_LOST || atomic_load(&run->failed)) break;
            if (run->mode == MY_SNAPSHOT) {
                sl_err_prefix(&err,
                              "the connection was lost inside the shared snapshot, which a new connection cannot "
                              "rejoin, so the run stops with nothing marked complete (rerun it, or use "
                              "--consistency=none to let partitions retry): ");
                break;
            }
            if (attempt >= run->o->max_attempts) {
                sl_err_prefix(&err, "gave up after %d attempts: ", attempt);
                break;
            }
            sl_warn("table %s, partition %d: connection lost (%s); retrying from its start on a new connection "
                    "(attempt %d of %d)", t->name, task->part, err.msg, attempt + 1, run->o->max_attempts);
            sl_err e2 = {0};
            if (reconnect(wk, &e2) != SL_OK) {
                err = e2;
                rc = e2.code;
                break;
            }
            sl_err_clear(&err);
        }
        if (rc != SL_OK) {
            if (!atomic_load(&run->failed)) sl_err_prefix(&err, "table %s, partition %d: ", t->name, task->part);
            fail_run(run, &err);
            break;
        }
        pthread_mutex_lock(&run->mu);
        t->files[task->part].attempts = attempt;
        if (--t->tasks_left == 0) t->t_end = sl_mono_seconds();
        pthread_mutex_unlock(&run->mu);
    }
    mysql_thread_end();
    return NULL;
}

/* ---------------------------------------------------------------------------------- */
/* the run */

static void path_segment(const char *name, char *out, size_t cap)
{
    /* Table names become one path segment: anything but [A-Za-z0-9_.-] is %XX-encoded,
     * and a leading dot too, so a name can never climb out of its folder. */
    static const char hx[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; name[i] && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                 (c == '.' && i > 0);
        if (ok) out[o++] = (char)c;
        else {
            out[o++] = '%';
            out[o++] = hx[c >> 4];
            out[o++] = hx[c & 15];
        }
    }
    out[o] = 0;
}

static json_t *table_manifest(const ex_run *run, const ex_table *t, double started_at_us, int connections)
{
    json_t *parts = json_array();
    int64_t rows = 0;
    for (int p = 0; p < t->nranges; p++) {
        const my_range *r = &t->ranges[p];
        char name[256];
        file_name(run, p, name, sizeof name);
        json_t *rng = json_object();
        if (t->key && r->has_lo) json_object_set_new(rng, "from", json_integer(r->lo));
        if (t->key && r->has_hi) json_object_set_new(rng, "to_before", json_integer(r->hi));
        json_array_append_new(parts, json_pack("{s:s, s:I, s:o, s:f, s:i}", "file", name, "rows",
                                               (json_int_t)t->files[p].rows, "key_range", rng, "seconds",
                                               t->files[p].seconds, "attempts", t->files[p].attempts));
        rows += t->files[p].rows;
    }
    json_t *zd = json_object();
    if (t->schema && t->zero_dates)
        for (size_t i = 0; i < json_array_size(t->schema); i++)
            if (t->zero_dates[i])
                json_object_set_new(zd, json_string_value(json_object_get(json_array_get(t->schema, i), "name")),
                                    json_integer(t->zero_dates[i]));
    char started[40];
    sl_ts_format((int64_t)started_at_us, started, sizeof started);
    json_t *src = json_pack("{s:s, s:s}", "database", run->mp.database, "table", t->name);
    if (run->o->query) json_object_set_new(src, "query", json_string(run->o->query));
    if (run->o->where) json_object_set_new(src, "where", json_string(run->o->where));
    if (t->key) json_object_set_new(src, "partition_column", json_string(t->key));
    json_t *snap = json_pack("{s:s, s:i}", "consistency", run->mode == MY_SNAPSHOT ? "snapshot" : "none",
                             "connections", connections);
    if (run->fallback) json_object_set_new(snap, "fallback_reason", json_string(run->fallback));
    json_t *schema = t->schema ? json_incref(t->schema) : json_array();
    return json_pack("{s:s, s:o, s:o, s:I, s:o, s:o, s:s, s:o, s:{s:s, s:f}}", "kind", "export", "source", src,
                     "schema", schema, "rows", (json_int_t)rows, "partitions", parts,
                     "zero_dates", zd, "compression", pq_codec_name(run->pq.codec), "snapshot", snap, "timings",
                     "started_at", started, "seconds", t->t_end > t->t_start ? t->t_end - t->t_start : 0.0);
}

static void progress_rows(void *ud, int i, const char **name, long long *done, long long *estimate, int *finished)
{
    ex_run *run = ud;
    ex_table *t = &run->tables[i];
    *name = t->name;
    *done = atomic_load(&t->rows_done);
    *estimate = t->estimate;
    pthread_mutex_lock(&run->mu);
    *finished = t->tasks_left == 0;
    pthread_mutex_unlock(&run->mu);
}

sl_code sl_export_run(const sl_config *cfg, const sl_export_opts *o, sl_export_result *res, sl_err *err)
{
    ex_run run;
    memset(&run, 0, sizeof run);
    run.o = o;
    run.cfg = cfg;
    run.mode = o->consistency;
    run.pq = o->pq;
    pthread_mutex_init(&run.mu, NULL);
    double t0 = sl_mono_seconds();
    double started_us = (double)sl_now_us();
    MYSQL *ctl = NULL;
    ex_worker *workers = NULL;
    int nworkers = 0, started = 0;
    sl_code rc;

    memset(res, 0, sizeof *res);
    if (o->date) {
        int32_t days;
        int y;
        unsigned mo, d;
        char tail;
        if (strlen(o->date) != 10 || sscanf(o->date, "%4d-%2u-%2u%c", &y, &mo, &d, &tail) != 3 ||
            !sl_date_valid(y, mo, d))
            return sl_err_set(err, SL_E_USAGE, "--date takes YYYY-MM-DD, not '%s'", o->date);
        (void)days;
        snprintf(run.date, sizeof run.date, "%s", o->date);
    } else {
        sl_date_format((int32_t)(sl_now_us() / 86400000000LL), run.date, sizeof run.date);
    }
    if (sl_run_id(run.run_id, err) != SL_OK) return err->code;

    SL_TRY_GOTO(rc, my_params_from_config(cfg, &run.mp, 0, err), done);
    ctl = my_connect(&run.mp, 0, err);
    if (!ctl) {
        rc = err->code ? err->code : SL_E_DB_CONNECT;
        goto done;
    }
    int nparts = o->partitions > 0 ? o->partitions : default_partitions();
    SL_TRY_GOTO(rc, plan(&run, ctl, nparts, err), done);
    SL_TRY_GOTO(rc, make_tasks(&run, err), done);
    my_close(ctl);
    ctl = NULL;

    /* Worker connections and their shared snapshot. */
    nworkers = nparts < run.ntasks ? nparts : run.ntasks;
    if (nworkers < 1) nworkers = 1;
    workers = sl_calloc((size_t)nworkers, sizeof *workers);
    MYSQL **conns = sl_calloc((size_t)nworkers, sizeof *conns);
    if (!workers || !conns) {
        sl_free(conns);
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < nworkers; i++) {
        workers[i].run = &run;
        workers[i].index = i;
    }
    rc = sl_exec_connect(&run.mp, conns, nworkers, &run.mode, o->consistency_explicit, &run.fallback, err);
    for (int i = 0; i < nworkers; i++) workers[i].conn = conns[i];
    sl_free(conns);
    if (rc != SL_OK) goto done;

    /* Row groups share the memory budget: one row group per file being written. */
    if (!o->row_group_explicit) {
        size_t budget = ((size_t)160 << 20) / (size_t)nworkers;
        if (budget < ((size_t)16 << 20)) budget = (size_t)16 << 20;
        if (budget < run.pq.row_group_size) run.pq.row_group_size = budget;
        if (run.pq.row_group_size < run.pq.page_size) run.pq.row_group_size = run.pq.page_size;
    }

    run.store = sl_store_open(o->output, cfg, err);
    if (!run.store) {
        rc = err->code ? err->code : SL_E_STORAGE;
        goto done;
    }
    for (int i = 0; i < run.ntables; i++) {
        ex_table *t = &run.tables[i];
        char seg[800], base[900], prefix[1000];
        path_segment(t->name, seg, sizeof seg);
        snprintf(base, sizeof base, "raw/%s", seg);
        sl_layout_partition(o->layout, base, run.date, prefix, sizeof prefix);
        /* Incremental runs append to the date's partition: each run's rows are new. */
        t->commit = (t->incr ? sl_commit_begin_append : sl_commit_begin)(run.store, prefix, run.run_id, run.date, err);
        if (!t->commit) {
            rc = err->code ? err->code : SL_E_STORAGE;
            goto done;
        }
        if (t->incr) {
            /* The watermark from the committed manifests, then its upper bound read
             * inside the snapshot the workers share, before any of them reads. */
            char what[300];
            snprintf(base + strlen(base), sizeof base - strlen(base), "/");
            SL_TRY_GOTO(rc, sl_incr_find_watermark(t->incr, run.store, base, err), done);
            SL_TRY_GOTO(rc, sl_incr_bound(t->incr, workers[0].conn, o->where, err), done);
            sl_info("table %s: incremental: %s", t->name, sl_incr_describe(t->incr, what, sizeof what));
        }
    }

    started = sl_exec_run_threads(nworkers, worker_main, workers, sizeof *workers, o->progress, run.ntables,
                                  progress_rows, &run);
    if (started < nworkers) {
        sl_err e = {0};
        sl_err_set(&e, SL_E_INTERNAL, "could start only %d of %d worker threads", started, nworkers);
        fail_run(&run, &e);
    }
    if (atomic_load(&run.failed)) {
        *err = run.first_err;
        rc = err->code ? err->code : SL_E_INTERNAL;
        goto done;
    }

    /* Every file is complete: commit each table's partition, manifest last. */
    for (int i = 0; i < run.ntables; i++) {
        ex_table *t = &run.tables[i];
        json_t *extra = table_manifest(&run, t, started_us, nworkers);
        int64_t trows = 0;
        for (int p = 0; p < t->nranges; p++) trows += t->files[p].rows;
        rc = t->incr ? sl_incr_commit_info(t->incr, t->commit, extra, trows, err) : SL_OK;
        if (rc == SL_OK) rc = sl_commit_finish(t->commit, extra, err);
        json_decref(extra);
        if (rc != SL_OK) {
            sl_err_prefix(err, "table %s: ", t->name);
            goto done;
        }
        for (int p = 0; p < t->nranges; p++) {
            res->rows += t->files[p].rows;
            res->bytes += t->files[p].bytes;
        }
        res->files += t->nranges;
        res->tables++;
    }
    rc = SL_OK;
done:
    if (ctl) my_close(ctl);
    for (int i = 0; workers && i < nworkers; i++) my_close(workers[i].conn);
    sl_free(workers);
    for (int i = 0; i < run.ntables; i++) {
        ex_table *t = &run.tables[i];
        if (t->commit) {
            if (rc != SL_OK) sl_commit_abort(t->commit);
            sl_commit_free(t->commit);
        }
        sl_free(t->name);
        sl_free(t->sql_base);
        sl_free(t->key);
        sl_free(t->key_quoted);
        sl_incr_free(t->incr);
        sl_free(t->ranges);
        sl_free(t->files);
        sl_free(t->zero_dates);
        json_decref(t->schema);
    }
    sl_free(run.tables);
    sl_free(run.tasks);
    sl_store_free(run.store);
    pthread_mutex_destroy(&run.mu);
    rc = sl_exec_output_failure(rc, err);
    snprintf(res->run_id, sizeof res->run_id, "%s", run.run_id);
    res->consistency = run.mode == MY_SNAPSHOT ? "snapshot" : "none";
    res->seconds = sl_mono_seconds() - t0;
    return rc;
}
