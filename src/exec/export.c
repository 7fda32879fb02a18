/* export.c - `sluice export` (see export.h) in the task model of task.h.
 *
 * Plan, on a control connection: tables, columns, partition keys, key ranges, row
 * estimates; one task per (table, key range), biggest tables first. Task: one range of
 * one table streamed through the reader into one Parquet file of the table's partition.
 * Commit: each table's partition with its _SUCCESS manifest, written last. */
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
#include "../common/sl_stop.h"
#include "../common/sl_time.h"
#include "../mysql/my_catalog.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_reader.h"
#include "../sink/commit.h"
#include "../sink/store.h"
#include "dryrun.h"
#include "exec.h"
#include "metrics.h"
#include "progress.h"
#include "task_int.h"

void sl_export_opts_default(sl_export_opts *o)
{
    memset(o, 0, sizeof *o);
    o->consistency = MY_SNAPSHOT;
    o->name = "query";
    pq_options_default(&o->pq);
    o->batch_rows = 16384;
    o->max_attempts = 3;
    o->wide_decimal_string = 1;
    my_lock_opts_default(&o->lock);
}

typedef struct ex_table {
    char *name;         /* table name, or the --query name */
    char *sql_base;     /* "SELECT <cols> FROM `t`" or the query */
    char *key_quoted;   /* partition column, quoted; NULL when not partitioned */
    char *key;
    my_range *ranges;   /* the plan's chunks: one task each */
    int nranges;
    json_t *plan;       /* my_plan_json of the chunks, for the manifest */
    long long estimate;
    sl_incr *incr; /* --incremental: the table's watermark and read condition */
} ex_table;

typedef struct ex_task {
    int table, part;
} ex_task;

/* The planning state; the plan itself is JSON (task.h). */
typedef struct ex_run {
    const sl_export_opts *o;
    my_params mp;
    ex_table *tables;
    int ntables;
    ex_task *tasks;
    int ntasks;
    char run_id[64];
    char date[16];
    pq_options pq;
    size_t share;      /* bytes of the memory limit per connection */
    size_t batch_rows; /* rows per read batch, within the share */
} ex_run;

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

/* Tables in the order their tasks are handed out (make_tasks): the biggest estimate
 * first, then the order they were named. */
static int table_order(const void *a, const void *b, void *ud)
{
    const ex_run *run = ud;
    int x = *(const int *)a, y = *(const int *)b;
    long long ex = run->tables[x].estimate, ey = run->tables[y].estimate;
    if (ex != ey) return ex > ey ? -1 : 1;
    return x - y;
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
    }
    my_names_free(names, nnames);
    SL_TRY(rc);
    /* The tables' chunks, the last table handed out first (the order of make_tasks): the
     * last `nparts` chunks of the whole run are halved (my_plan.h, step 5), so that the
     * connections' last reads end close together. */
    int *order = sl_calloc((size_t)run->ntables, sizeof *order);
    if (!order) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (int i = 0; i < run->ntables; i++) order[i] = i;
    qsort_r(order, (size_t)run->ntables, sizeof *order, table_order, run);
    int tail = nparts;
    for (int r = run->ntables - 1; rc == SL_OK && r >= 0; r--) {
        ex_table *t = &run->tables[order[r]];
        if (t->key && nparts > 1) {
            /* Chunks from MIN/MAX and the server's estimates (my_plan.h), about 4 per
             * connection: each is a task the connections take in turn, so skew and gaps
             * still balance. */
            my_plan cp;
            my_plan_opts po;
            my_plan_opts_default(&po);
            po.connections = nparts;
            po.chunks_per_conn = 4;
            po.tail_halves = tail;
            rc = my_plan_chunks(m, t->name, t->key, &po, &cp, err);
            if (rc == SL_OK) {
                t->ranges = sl_calloc((size_t)cp.count, sizeof *t->ranges);
                t->plan = my_plan_json(&cp);
                if (!t->ranges || !t->plan) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
                for (int c = 0; rc == SL_OK && c < cp.count; c++) t->ranges[c] = cp.chunks[c].r;
                t->nranges = cp.count;
                sl_debug("table %s: %d chunks on %s from %d queries in %.3f s (estimated %lld rows)", t->name,
                         cp.count, t->key, cp.probes, cp.seconds, (long long)cp.est_rows);
            }
            my_plan_free(&cp);
        } else if (rc == SL_OK) {
            t->ranges = sl_calloc(1, sizeof *t->ranges);
            t->nranges = 1;
            if (!t->ranges) rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        }
        tail -= tail < t->nranges ? tail : t->nranges;
    }
    sl_free(order);
    return rc;
}

static int by_estimate_desc(const void *a, const void *b, void *ud)
{
    const ex_task *x = a, *y = b;
    if (x->table != y->table) return table_order(&x->table, &y->table, ud);
    return x->part - y->part;
}

static sl_code make_tasks(ex_run *run, sl_err *err)
{
    int n = 0;
    for (int i = 0; i < run->ntables; i++) n += run->tables[i].nranges;
    run->tasks = sl_calloc((size_t)n, sizeof *run->tasks);
    if (!run->tasks) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    for (int i = 0; i < run->ntables; i++)
        for (int p = 0; p < run->tables[i].nranges; p++) run->tasks[run->ntasks++] = (ex_task){i, p};
    /* Biggest tables first: the run ends sooner when the long tasks start early. */
    qsort_r(run->tasks, (size_t)run->ntasks, sizeof *run->tasks, by_estimate_desc, run);
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the plan as JSON */

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

static json_t *range_json(const ex_table *t, const my_range *r)
{
    json_t *rng = json_object();
    if (t->key && r->has_lo) json_object_set_new(rng, "from", json_integer(r->lo));
    if (t->key && r->has_hi) json_object_set_new(rng, "to_before", json_integer(r->hi));
    return rng;
}

static sl_code plan_json(const ex_run *run, int nworkers, json_t **out, sl_err *err)
{
    const sl_export_opts *o = run->o;
    json_t *p = sl_plan_envelope("export", run->run_id, run->date, o->output, o->consistency, o->consistency_explicit,
                                 run->mp.database, &run->pq);
    json_t *tables = json_array(), *units = json_array();
    sl_buf sql;
    sl_buf_init(&sql, 0);
    sl_code rc = SL_OK;
    if (!p || !tables || !units) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    json_object_set_new(p, "connections", json_integer(nworkers));
    sl_exec_plan_set_lock(p, &o->lock);
    json_object_set_new(p, "max_attempts", json_integer(o->max_attempts));
    json_object_set_new(p, "batch_rows", json_integer((json_int_t)run->batch_rows));
    json_object_set_new(p, "batch_bytes_max", json_integer((json_int_t)(run->share / 8 < ((size_t)32 << 20)
                                                                            ? run->share / 8
                                                                            : (size_t)32 << 20)));
    json_object_set_new(p, "zero_dates_error", json_boolean(o->zero_dates_error));
    json_object_set_new(p, "wide_decimal_string", json_boolean(o->wide_decimal_string));
    for (int i = 0; i < run->ntables; i++) {
        const ex_table *t = &run->tables[i];
        char seg[800], base[900], prefix[1000];
        path_segment(t->name, seg, sizeof seg);
        snprintf(base, sizeof base, "raw/%s", seg);
        sl_layout_partition(o->layout, base, run->date, prefix, sizeof prefix - 1);
        strcat(prefix, "/");
        /* Incremental runs append to the date's partition: each run's rows are new. */
        json_array_append_new(tables, json_pack("{s:s, s:s, s:s?, s:I, s:b, s:o?, s:O?}", "name", t->name, "prefix",
                                                prefix, "key", t->key, "estimate", (json_int_t)t->estimate, "append",
                                                t->incr != NULL, "incremental",
                                                t->incr ? sl_incr_json(t->incr, 0) : NULL, "plan", t->plan));
        json_array_append_new(units, json_pack("{s:s, s:I}", "name", t->name, "estimate", (json_int_t)t->estimate));
    }
    json_t *ex = json_pack("{s:o, s:s?, s:s?}", "tables", tables, "query", o->query, "where", o->where);
    tables = NULL;
    json_object_set_new(p, "export", ex);
    json_object_set(p, "units", units);
    json_t *tasks = json_object_get(p, "tasks");
    for (int k = 0; k < run->ntasks; k++) {
        const ex_task *tk = &run->tasks[k];
        const ex_table *t = &run->tables[tk->table];
        char label[600];
        SL_TRY_GOTO(rc, build_sql(run, t, tk->part, &sql, err), done);
        snprintf(label, sizeof label, "table %s, chunk %d", t->name, tk->part);
        json_array_append_new(tasks, json_pack("{s:s, s:i, s:i, s:s, s:o, s:[i]}", "label", label, "table",
                                               tk->table, "part", tk->part, "sql", (const char *)sql.data, "range",
                                               range_json(t, &t->ranges[tk->part]), "units", tk->table));
    }
    if (sl_plan_ntasks(p) != run->ntasks) rc = sl_err_set(err, SL_E_NOMEM, "out of memory writing the plan");
done:
    sl_buf_free(&sql);
    json_decref(tables);
    json_decref(units);
    if (rc == SL_OK) *out = p;
    else json_decref(p);
    return rc;
}

/* --incremental: each table's watermark from its committed manifests, and the upper
 * bound it reads to, in one transaction of the planning connection. The bound is read
 * before the tasks' snapshot: a row that moves past it meanwhile is read by the next
 * run, whose watermark is this bound; one visible at or under it is read now. */
static sl_code incremental_bounds(ex_run *run, const sl_config *cfg, MYSQL *ctl, sl_err *err)
{
    const sl_export_opts *o = run->o;
    if (!o->incr.column) return SL_OK;
    sl_store *st = sl_store_open(o->output, cfg, err);
    if (!st) return err && err->code ? err->code : SL_E_STORAGE;
    sl_code rc = my_snapshot_begin(&ctl, 1, MY_SNAPSHOT, err);
    for (int i = 0; rc == SL_OK && i < run->ntables; i++) {
        ex_table *t = &run->tables[i];
        char seg[800], base[900], what[300];
        if (!t->incr) continue;
        path_segment(t->name, seg, sizeof seg);
        snprintf(base, sizeof base, "raw/%s/", seg);
        rc = sl_incr_find_watermark(t->incr, st, base, err);
        if (rc == SL_OK) rc = sl_incr_bound(t->incr, ctl, o->where, err);
        if (rc == SL_OK) sl_info("table %s: incremental: %s", t->name, sl_incr_describe(t->incr, what, sizeof what));
    }
    my_exec(ctl, "COMMIT", NULL);
    sl_store_free(st);
    return rc;
}

sl_code sl_export_plan(const sl_config *cfg, const sl_export_opts *o, json_t **out, sl_err *err)
{
    ex_run run;
    memset(&run, 0, sizeof run);
    run.o = o;
    run.pq = o->pq;
    MYSQL *ctl = NULL;
    sl_code rc;
    *out = NULL;
    if (sl_exec_memory_check(o->memory_limit ? o->memory_limit : SL_MEMORY_LIMIT_DEFAULT, err) != SL_OK)
        return err->code;
    if (o->date) {
        int y;
        unsigned mo, d;
        char tail;
        if (strlen(o->date) != 10 || sscanf(o->date, "%4d-%2u-%2u%c", &y, &mo, &d, &tail) != 3 ||
            !sl_date_valid(y, mo, d))
            return sl_err_set(err, SL_E_USAGE, "--date takes YYYY-MM-DD, not '%s'", o->date);
        snprintf(run.date, sizeof run.date, "%s", o->date);
    } else {
        sl_date_format((int32_t)sl_day_floor(sl_now_us(), NULL), run.date, sizeof run.date);
    }
    if (o->run_id && o->run_id[0]) snprintf(run.run_id, sizeof run.run_id, "%s", o->run_id);
    else if (sl_run_id(run.run_id, err) != SL_OK) return err->code;

    SL_TRY_GOTO(rc, my_params_from_config(cfg, &run.mp, 0, err), done);
    ctl = my_connect(&run.mp, 0, err);
    if (!ctl) {
        rc = err->code ? err->code : SL_E_DB_CONNECT;
        goto done;
    }
    int nparts = o->partitions > 0 ? o->partitions : default_partitions();
    SL_TRY_GOTO(rc, plan(&run, ctl, nparts, err), done);
    SL_TRY_GOTO(rc, incremental_bounds(&run, cfg, ctl, err), done);
    SL_TRY_GOTO(rc, make_tasks(&run, err), done);
    int nworkers = nparts < run.ntasks ? nparts : run.ntasks;
    if (nworkers < 1) nworkers = 1;
    /* The memory limit, shared by the connections: each holds one read batch (at most an
     * eighth of its share: string columns end a batch at half their cap, fixed-width
     * values take at most 8 bytes a column, 1 KiB a row for 128 columns) and one file's
     * row group, pages and dictionaries. */
    run.share = (o->memory_limit ? o->memory_limit : SL_MEMORY_LIMIT_DEFAULT) / (size_t)nworkers;
    sl_exec_memory_pq(&run.pq, run.share, o->row_group_explicit, o->page_explicit);
    run.batch_rows = o->batch_rows;
    if (run.batch_rows > run.share / 8 / 1024) run.batch_rows = run.share / 8 / 1024 < 256 ? 256 : run.share / 8 / 1024;
    rc = plan_json(&run, nworkers, out, err);
done:
    if (ctl) my_close(ctl);
    for (int i = 0; i < run.ntables; i++) {
        ex_table *t = &run.tables[i];
        sl_free(t->name);
        sl_free(t->sql_base);
        sl_free(t->key);
        sl_free(t->key_quoted);
        sl_incr_free(t->incr);
        sl_free(t->ranges);
        json_decref(t->plan);
    }
    sl_free(run.tables);
    sl_free(run.tasks);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* a task: one key range of one table into one file */

static void read_next(void *ud);

/* The read of export task `task` on conn, a thread converting ahead; with a, the end of
 * its result starts the read of the worker's next task (read_next). */
static my_reader *open_reader(const json_t *plan, const json_t *task, MYSQL *conn, sl_task_ahead *a, sl_err *err)
{
    const json_t *t = json_array_get(json_object_get(json_object_get(plan, "export"), "tables"),
                                     (size_t)sl_plan_int(task, "table", -1));
    const char *key = sl_plan_str(t, "key");
    my_read_opts ro;
    my_read_opts_default(&ro);
    ro.batch_rows = (size_t)sl_plan_int(plan, "batch_rows", 16384);
    ro.batch_bytes_max = (size_t)sl_plan_int(plan, "batch_bytes_max", (long long)32 << 20);
    ro.zero_dates_error = json_is_true(json_object_get(plan, "zero_dates_error"));
    ro.wide_decimal_string = json_is_true(json_object_get(plan, "wide_decimal_string"));
    ro.table = sl_plan_str(t, "name");
    ro.key_column = *key ? key : NULL;
    ro.read_ahead = 1; /* the connection keeps receiving while this thread encodes */
    if (a) {
        ro.on_end = read_next;
        ro.on_end_ud = a;
    }
    return my_reader_open(conn, sl_plan_str(task, "sql"), &ro, err);
}

/* my_reader's on_end: the worker's next task's read starts now (sl_task_ahead_start). */
static void read_next(void *ud) { sl_task_ahead_start(ud, open_reader); }

sl_code sl_export_task(const json_t *plan, int k, const json_t *task, MYSQL *conn, sl_task_ctx *ctx, json_t *result,
                       sl_err *err)
{
    int ti = (int)sl_plan_int(task, "table", -1), part = (int)sl_plan_int(task, "part", 0);
    const json_t *t = json_array_get(json_object_get(json_object_get(plan, "export"), "tables"), (size_t)ti);
    if (!t) return sl_err_set(err, SL_E_FORMAT, "task %d of the plan names no table", k);
    const char *tname = sl_plan_str(t, "name"), *prefix = sl_plan_str(t, "prefix");
    my_reader *rd = NULL;
    sl_sink *sink = NULL;
    pq_writer *w = NULL;
    int64_t rows = 0;
    char name[512];
    sl_code rc;
    sl_task_files *files = sl_task_files_create(ctx, plan, err);
    if (!files) return err && err->code ? err->code : SL_E_NOMEM;
    sl_task_files_reuse(files, ctx->spare); /* one file at a time */

    /* the read this worker's previous task started for this one, or a new one */
    int ahead = ctx->ahead && sl_task_ahead_take(ctx->ahead, k, conn, &rd, err);
    if (!ahead) rd = open_reader(plan, task, conn, ctx->ahead, err);
    else if (rd) sl_debug("table %s, chunk %d: read started as its connection's previous read ended", tname, part);
    if (!rd) {
        rc = err->code ? err->code : SL_E_DB;
        goto done;
    }
    const sl_schema *schema = my_reader_schema(rd);
    char source[600], stem[32];
    snprintf(source, sizeof source, "mysql:%s/%s", sl_plan_str(plan, "database"), tname);
    snprintf(stem, sizeof stem, "part-%05d", part);
    SL_TRY_GOTO(rc, sl_task_files_open(files, prefix, stem, schema, source, &sink, &w, name, sizeof name, err), done);
    for (;;) {
        sl_batch *b;
        SL_TRY_GOTO(rc, sl_task_check_stop(ctx, err), done); /* a stop or another task's failure */
        SL_TRY_GOTO(rc, my_reader_next(rd, &b, err), done);
        if (!b) break;
        SL_TRY_GOTO(rc, pq_writer_write(w, b, err), done);
        rows += (int64_t)b->nrows;
        if (ctx->unit_rows) atomic_fetch_add(&ctx->unit_rows[ti], (long long)b->nrows);
    }
    pq_file_info info;
    SL_TRY_GOTO(rc, pq_writer_close(w, &info, err), done);
    SL_TRY_GOTO(rc, sl_task_files_done(files, prefix, name, info.rows, json_object_get(result, "files"), err), done);
    json_t *zd = json_array();
    for (int i = 0; i < schema->ncols; i++) json_array_append_new(zd, json_integer(my_reader_zero_dates(rd, i)));
    json_object_set_new(result, "export",
                        json_pack("{s:o, s:o, s:I}", "schema", sl_exec_schema_json(schema), "zero_dates", zd, "rows",
                                  (json_int_t)info.rows));
    rc = SL_OK;
done:
    if (rc != SL_OK && ctx->unit_rows) atomic_fetch_sub(&ctx->unit_rows[ti], (long long)rows);
    pq_writer_free(w); /* aborts the sink unless closed */
    sl_sink_release(sink);
    my_reader_free(rd);
    sl_task_files_free(files, rc == SL_OK);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* the commit: one partition per table */

json_t *sl_result_engine_json(const json_t *result)
{
    json_t *o = json_object();
    const json_t *ex = json_object_get(result, "executor");
    if (json_is_string(ex)) json_object_set(o, "executor", (json_t *)ex);
    json_object_set_new(o, "attempts", json_integer(sl_plan_int(result, "attempts", 1)));
    return o;
}

static json_t *table_manifest(const json_t *plan, int ti, json_t *const *chosen, const sl_commit_info *info)
{
    const json_t *ex = json_object_get(plan, "export");
    const json_t *t = json_array_get(json_object_get(ex, "tables"), (size_t)ti);
    json_t *parts = json_array(), *zd = json_object(), *schema = NULL;
    int64_t rows = 0, t0 = 0, t1 = 0;
    /* The plan's chunks, each with the rows its task read. */
    json_t *tplan = json_is_object(json_object_get(t, "plan")) ? json_deep_copy(json_object_get(t, "plan")) : NULL;
    json_t *plan_chunks = tplan ? json_object_get(tplan, "chunks") : NULL;
    json_t *sums = json_array();
    size_t k;
    json_t *task;
    json_array_foreach(json_object_get(plan, "tasks"), k, task)
    {
        if (sl_plan_int(task, "table", -1) != ti) continue;
        const json_t *r = chosen[k], *rex = json_object_get(r, "export");
        const json_t *f = json_array_get(json_object_get(r, "files"), 0);
        json_t *chunk = json_deep_copy(json_object_get(task, "range"));
        json_object_set_new(chunk, "rows", json_integer(sl_plan_int(rex, "rows", 0)));
        json_t *pj = json_pack("{s:s, s:I, s:O, s:[o], s:f}", "file", sl_plan_str(f, "name"), "rows",
                               (json_int_t)sl_plan_int(rex, "rows", 0), "key_range", json_object_get(task, "range"),
                               "chunks", chunk, "seconds", json_real_value(json_object_get(r, "seconds")));
        if (plan_chunks) {
            json_t *pc = json_array_get(plan_chunks, (size_t)sl_plan_int(task, "part", 0));
            json_object_set_new(pc, "rows", json_integer(sl_plan_int(rex, "rows", 0)));
        }
        json_t *eng = sl_result_engine_json(r);
        json_object_update(pj, eng);
        json_decref(eng);
        json_array_append_new(parts, pj);
        rows += sl_plan_int(rex, "rows", 0);
        int64_t a = sl_plan_int(r, "started_us", 0), b = sl_plan_int(r, "ended_us", 0);
        if (!t0 || a < t0) t0 = a;
        if (b > t1) t1 = b;
        if (!schema) schema = json_object_get(rex, "schema");
        size_t i;
        json_t *z;
        json_array_foreach(json_object_get(rex, "zero_dates"), i, z)
        {
            while (json_array_size(sums) <= i) json_array_append_new(sums, json_integer(0));
            json_integer_set(json_array_get(sums, i), json_integer_value(json_array_get(sums, i)) + json_integer_value(z));
        }
    }
    for (size_t i = 0; schema && i < json_array_size(sums); i++)
        if (json_integer_value(json_array_get(sums, i)))
            json_object_set(zd, json_string_value(json_object_get(json_array_get(schema, i), "name")),
                            json_array_get(sums, i));
    json_decref(sums);
    json_t *src = json_pack("{s:s, s:s}", "database", sl_plan_str(plan, "database"), "table", sl_plan_str(t, "name"));
    if (json_is_string(json_object_get(ex, "query"))) json_object_set(src, "query", json_object_get(ex, "query"));
    if (json_is_string(json_object_get(ex, "where"))) json_object_set(src, "where", json_object_get(ex, "where"));
    if (*sl_plan_str(t, "key")) json_object_set_new(src, "partition_column", json_string(sl_plan_str(t, "key")));
    json_t *m = json_pack("{s:s, s:o, s:o, s:I, s:o, s:o, s:s, s:o, s:{s:s, s:f}}", "kind", "export", "source", src,
                          "schema", schema ? json_incref(schema) : json_array(), "rows", (json_int_t)rows, "partitions", parts,
                          "zero_dates", zd, "compression", sl_plan_str(json_object_get(plan, "writer"), "compression"),
                          "snapshot", sl_plan_snapshot_json(plan), "timings", "started_at", sl_plan_str(plan, "created_at"),
                          "seconds", t1 > t0 ? (double)(t1 - t0) / 1e6 : 0.0);
    if (tplan) {
        json_object_set_new(m, "plan", tplan);
        json_object_set(json_object_get(m, "timings"), "plan_seconds", json_object_get(tplan, "seconds"));
    }
    if (info && info->engine) json_object_update(m, (json_t *)info->engine);
    return m;
}

/* For the metrics file: summary "tables": {name: {"rows", "bytes", "seconds",
 * "zero_dates", "retries"}} from the table's manifest fields and its files. */
static void table_summary(json_t *summary, const char *name, const json_t *manifest, int64_t bytes)
{
    json_t *all = json_object_get(summary, "table_figures");
    if (!all) json_object_set_new(summary, "table_figures", all = json_object());
    int64_t zero = 0, retries = 0;
    const char *k;
    json_t *v;
    size_t i;
    json_object_foreach((json_t *)json_object_get(manifest, "zero_dates"), k, v) zero += json_integer_value(v);
    json_array_foreach(json_object_get(manifest, "partitions"), i, v)
    {
        int64_t a = sl_plan_int(v, "attempts", 1);
        if (a > 1) retries += a - 1;
    }
    json_object_set_new(all, name,
                        json_pack("{s:I, s:I, s:f, s:I, s:I}", "rows", (json_int_t)sl_plan_int(manifest, "rows", 0),
                                  "bytes", (json_int_t)bytes, "seconds",
                                  json_real_value(json_object_get(json_object_get(manifest, "timings"), "seconds")),
                                  "zero_dates", (json_int_t)zero, "retries", (json_int_t)retries));
}

sl_code sl_export_commit(const json_t *plan, json_t *const *chosen, sl_store *st, const sl_commit_info *info,
                         json_t *summary, sl_err *err)
{
    const json_t *tables = json_object_get(json_object_get(plan, "export"), "tables");
    int ntables = (int)json_array_size(tables), ntasks = sl_plan_ntasks(plan);
    int64_t rows = 0;
    uint64_t bytes = 0;
    int files = 0;
    sl_code rc = SL_OK;
    int ti;
    /* Every table's commit is begun and filled first, then all finish as one
     * (sink/commit.h, sl_commit_finish_all): all or nothing across tables. */
    sl_commit **cs = sl_calloc((size_t)ntables + 1, sizeof *cs);
    json_t **extras = sl_calloc((size_t)ntables + 1, sizeof *extras);
    if (!cs || !extras) rc = sl_err_set(err, SL_E_NOMEM, "out of memory committing the tables");
    for (ti = 0; ti < ntables && rc == SL_OK; ti++) {
        const json_t *t = json_array_get(tables, (size_t)ti);
        const char *prefix = sl_plan_str(t, "prefix");
        int append = json_is_true(json_object_get(t, "append"));
        sl_commit *c = (append ? sl_commit_begin_append : sl_commit_begin)(st, prefix, sl_plan_str(plan, "run_id"),
                                                                          sl_plan_str(plan, "date"), err);
        if (!c) {
            rc = err && err->code ? err->code : SL_E_STORAGE;
            sl_err_prefix(err, "table %s: ", sl_plan_str(t, "name"));
            break;
        }
        cs[ti] = c;
        int64_t trows = 0, tbytes = 0;
        for (int k = 0; k < ntasks && rc == SL_OK; k++) {
            if (sl_plan_int(json_array_get(json_object_get(plan, "tasks"), (size_t)k), "table", -1) != ti) continue;
            rc = sl_result_add_files(c, prefix, chosen[k], err);
            size_t i;
            json_t *f;
            json_array_foreach(json_object_get(chosen[k], "files"), i, f)
            {
                trows += sl_plan_int(f, "rows", 0);
                rows += sl_plan_int(f, "rows", 0);
                bytes += (uint64_t)sl_plan_int(f, "bytes", 0);
                tbytes += sl_plan_int(f, "bytes", 0);
                files++;
            }
        }
        if (rc == SL_OK) {
            extras[ti] = table_manifest(plan, ti, chosen, info);
            table_summary(summary, sl_plan_str(t, "name"), extras[ti], tbytes);
            const json_t *inc = json_object_get(t, "incremental");
            if (json_is_object(inc)) {
                json_t *mine = json_deep_copy(inc);
                json_object_set_new(mine, "rows", json_integer(trows));
                rc = sl_incr_commit_json(mine, sl_plan_str(t, "name"), c, extras[ti], err);
            }
        }
        if (rc != SL_OK) {
            sl_err_prefix(err, "table %s: ", sl_plan_str(t, "name"));
            break;
        }
    }
    if (rc == SL_OK) rc = sl_commit_finish_all(cs, (const json_t *const *)extras, (size_t)ntables, err);
    else {
        for (int i = 0; i < ntables && cs; i++) sl_commit_abort(cs[i]);
        /* Files of the tables whose commit was never begun or filled go too. */
        for (int k = 0; k < ntasks; k++)
            if (sl_plan_int(json_array_get(json_object_get(plan, "tasks"), (size_t)k), "table", -1) >= ti)
                sl_result_delete_files(st, chosen[k]);
    }
    for (int i = 0; i < ntables && cs; i++) {
        sl_commit_free(cs[i]);
        json_decref(extras ? extras[i] : NULL);
    }
    sl_free(cs);
    sl_free(extras);
    if (rc != SL_OK) return rc;
    json_object_set_new(summary, "tables", json_integer(ntables));
    json_object_set_new(summary, "files", json_integer(files));
    json_object_set_new(summary, "rows", json_integer(rows));
    json_object_set_new(summary, "bytes", json_integer((json_int_t)bytes));
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the threaded run */

sl_code sl_export_run(const sl_config *cfg, const sl_export_opts *o, sl_export_result *res, sl_err *err)
{
    double t0 = sl_mono_seconds();
    json_t *plan = NULL, *sum = NULL;
    memset(res, 0, sizeof *res);
    res->consistency = o->consistency == MY_SNAPSHOT ? "snapshot" : "none";
    sl_code rc = sl_export_plan(cfg, o, &plan, err);
    sl_metrics_stage(o->metrics, "plan", sl_mono_seconds() - t0);
    if (rc == SL_OK) {
        rc = sl_plan_here(cfg, plan, o->dry_run, o->progress, res->run_id, sizeof res->run_id, &res->consistency,
                          &res->lock, &sum, err);
        if (o->dry_run) {
            json_decref(plan);
            return rc;
        }
    }
    if (rc == SL_OK) {
        res->tables = (int)sl_plan_int(sum, "tables", 0);
        res->files = (int)sl_plan_int(sum, "files", 0);
        res->rows = sl_plan_int(sum, "rows", 0);
        res->bytes = (uint64_t)sl_plan_int(sum, "bytes", 0);
    }
    if (plan) snprintf(res->date, sizeof res->date, "%s", sl_plan_str(plan, "date"));
    sl_metrics_add_run(o->metrics, plan, rc == SL_OK ? sum : NULL);
    json_decref(sum);
    json_decref(plan);
    res->seconds = sl_mono_seconds() - t0;
    return sl_stop_override(rc, err); /* planning cut by a stop is the stop too */
}
