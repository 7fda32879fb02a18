/* run.c - `sluice run` (see run.h). The three read sequences run on threads of their
 * own; the analytics state is built so that they never touch the same memory
 * (analytics.h). Output writers are opened before the reads start, so inventory rows
 * stream straight to their file; the other datasets are written by tf_finish. Any
 * failure aborts every commit: no _SUCCESS, this run's files removed. */
#include "run.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

void sl_run_opts_default(sl_run_opts *o)
{
    memset(o, 0, sizeof *o);
    tf_params_default(&o->tf);
    o->consistency = MY_SNAPSHOT;
    pq_options_default(&o->pq);
    o->pq.row_group_size = (size_t)64 << 20;
    o->batch_rows = 16384;
}

typedef struct out_file {
    sl_sink *sink;
    pq_writer *w;
    char name[256];
    pq_file_info info;
} out_file;

typedef struct rn_run {
    const sl_run_opts *o;
    my_params mp;
    tf_params tf;
    tf_state *st;
    char run_id[64], date[16];
    my_consistency mode;
    const char *fallback;
    sl_store *store;
    sl_commit *insights;
    sl_commit *raw[TF__SOURCES];
    out_file out[TF__DATASETS];
    out_file rawf[TF__SOURCES];
    json_t *raw_schema[TF__SOURCES];
    int64_t raw_zero_dates[TF__SOURCES];
    atomic_llong rows_read[TF__SOURCES];
    long long estimate[TF__SOURCES];
    int done[TF__SOURCES];
    double read_seconds[TF__SOURCES];
    pthread_mutex_t mu;
    atomic_int failed;
    sl_err first_err;
    pq_options pq;
} rn_run;

static void fail_run(rn_run *run, const sl_err *err)
{
    pthread_mutex_lock(&run->mu);
    if (!atomic_load(&run->failed)) {
        run->first_err = *err;
        atomic_store(&run->failed, 1);
    }
    pthread_mutex_unlock(&run->mu);
}

static sl_code emit(void *ud, tf_dataset d, const sl_batch *b, sl_err *err)
{
    rn_run *run = ud;
    sl_code rc = pq_writer_write(run->out[d].w, b, err);
    if (rc != SL_OK) sl_err_prefix(err, "dataset %s: ", tf_dataset_name(d));
    return rc;
}

static sl_code open_out(rn_run *run, sl_commit *c, out_file *f, const char *name, const sl_schema *schema,
                        const char *source, sl_err *err)
{
    snprintf(f->name, sizeof f->name, "%s", name);
    return sl_exec_open_parquet(c, name, schema, &run->pq, source, run->run_id, run->date, run->mode, &f->sink, &f->w,
                                err);
}

static sl_code close_out(out_file *f, sl_commit *c, sl_err *err)
{
    SL_TRY(pq_writer_close(f->w, &f->info, err));
    return sl_commit_set_rows(c, f->name, f->info.rows, err);
}

static void free_out(out_file *f)
{
    pq_writer_free(f->w);
    sl_sink_release(f->sink);
    f->w = NULL;
    f->sink = NULL;
}

/* ---------------------------------------------------------------------------------- */
/* reading */

static sl_code select_sql(rn_run *run, tf_source s, sl_buf *sql, sl_err *err)
{
    char q[600];
    SL_TRY(sl_buf_append(sql, "SELECT ", 7, err));
    if (run->o->raw) {
        SL_TRY(sl_buf_append(sql, "*", 1, err));
    } else {
        const char *const *cols = tf_source_columns(s);
        for (int i = 0; cols[i]; i++) {
            SL_TRY(my_quote_ident(cols[i], q, sizeof q, err));
            SL_TRY(sl_buf_printf(sql, err, "%s%s", i ? ", " : "", q));
        }
    }
    SL_TRY(my_quote_ident(tf_source_name(s), q, sizeof q, err));
    SL_TRY(sl_buf_printf(sql, err, " FROM %s", q));
    return sl_buf_cstr(sql, err);
}

static sl_code read_source(rn_run *run, MYSQL *m, tf_source s, sl_err *err)
{
    double t0 = sl_mono_seconds();
    sl_buf sql;
    sl_buf_init(&sql, 0);
    my_reader *rd = NULL;
    sl_code rc = select_sql(run, s, &sql, err);
    if (rc != SL_OK) goto done;
    my_read_opts ro;
    my_read_opts_default(&ro);
    ro.batch_rows = run->o->batch_rows;
    ro.batch_bytes_max = (size_t)32 << 20;
    ro.table = tf_source_name(s);
    rd = my_reader_open(m, (const char *)sql.data, &ro, err);
    if (!rd) {
        rc = err->code ? err->code : SL_E_DB;
        goto done;
    }
    out_file *raw = NULL;
    if (run->o->raw) {
        char name[256], source[600];
        raw = &run->rawf[s];
        snprintf(name, sizeof name, "part-00000-%s.%s.parquet", run->run_id, pq_codec_name(run->pq.codec));
        snprintf(source, sizeof source, "mysql:%s/%s", run->mp.database, tf_source_name(s));
        SL_TRY_GOTO(rc, open_out(run, run->raw[s], raw, name, my_reader_schema(rd), source, err), done);
    }
    for (;;) {
        sl_batch *b;
        if (atomic_load(&run->failed)) {
            rc = sl_err_set(err, SL_E_INTERNAL, "stopped: another stage failed");
            goto done;
        }
        SL_TRY_GOTO(rc, my_reader_next(rd, &b, err), done);
        if (!b) break;
        if (raw) SL_TRY_GOTO(rc, pq_writer_write(raw->w, b, err), done);
        SL_TRY_GOTO(rc, tf_add(run->st, s, b, err), done);
        atomic_fetch_add(&run->rows_read[s], (long long)b->nrows);
    }
    if (raw) {
        SL_TRY_GOTO(rc, close_out(raw, run->raw[s], err), done);
        const sl_schema *sc = my_reader_schema(rd);
        run->raw_schema[s] = sl_exec_schema_json(sc);
        for (int i = 0; i < sc->ncols; i++) run->raw_zero_dates[s] += my_reader_zero_dates(rd, i);
    }
    run->read_seconds[s] = sl_mono_seconds() - t0;
done:
    if (rc != SL_OK && rc != SL_E_INTERNAL) sl_err_prefix(err, "reading %s: ", tf_source_name(s));
    pthread_mutex_lock(&run->mu);
    run->done[s] = 1;
    pthread_mutex_unlock(&run->mu);
    my_reader_free(rd);
    sl_buf_free(&sql);
    return rc;
}

typedef struct rn_seq {
    rn_run *run;
    MYSQL *conn;
    tf_source src[3];
    int n;
} rn_seq;

static void *seq_main(void *arg)
{
    rn_seq *q = arg;
    mysql_thread_init();
    for (int i = 0; i < q->n && !atomic_load(&q->run->failed); i++) {
        sl_err err = {0};
        if (read_source(q->run, q->conn, q->src[i], &err) != SL_OK) {
            if (q->run->mode == MY_SNAPSHOT && err.code == SL_E_DB_LOST)
                sl_err_prefix(&err, "the connection was lost inside the shared snapshot; nothing was committed: ");
            fail_run(q->run, &err);
        }
    }
    mysql_thread_end();
    return NULL;
}

static void progress_rows(void *ud, int i, const char **name, long long *done, long long *estimate, int *finished)
{
    rn_run *run = ud;
    *name = tf_source_name((tf_source)i);
    *done = atomic_load(&run->rows_read[i]);
    *estimate = run->estimate[i];
    pthread_mutex_lock(&run->mu);
    *finished = run->done[i];
    pthread_mutex_unlock(&run->mu);
}

/* ---------------------------------------------------------------------------------- */
/* the run */

static sl_code check_sources(MYSQL *m, sl_err *err)
{
    my_required_table req[TF__SOURCES];
    for (int s = 0; s < TF__SOURCES; s++) req[s] = (my_required_table){tf_source_name(s), tf_source_columns(s)};
    sl_buf missing;
    sl_buf_init(&missing, 0);
    sl_code rc = my_catalog_missing(m, req, TF__SOURCES, &missing, err);
    if (rc == SL_OK && missing.len)
        rc = sl_err_set(err, SL_E_SCHEMA, "the source database lacks what the pipeline reads: %s", (char *)missing.data);
    sl_buf_free(&missing);
    return rc;
}

static json_t *params_json(const rn_run *run)
{
    json_t *ex = json_array();
    for (int i = 0; i < run->tf.nexclude; i++) json_array_append_new(ex, json_string(run->tf.exclude_status[i]));
    char asof[40];
    sl_ts_format(run->tf.as_of_us, asof, sizeof asof);
    return json_pack("{s:s, s:o, s:f, s:f, s:f, s:i, s:f}", "as_of", asof, "exclude_status", ex, "restock_below",
                     run->tf.restock_below, "overstock_above", run->tf.overstock_above, "optimal_utilization",
                     run->tf.optimal, "sales_window_days", run->tf.window_days, "vip_percentile",
                     run->tf.vip_percentile);
}

sl_code sl_run_pipeline(const sl_config *cfg, const sl_run_opts *o, sl_run_result *res, sl_err *err)
{
    rn_run run;
    memset(&run, 0, sizeof run);
    run.o = o;
    run.tf = o->tf;
    run.mode = o->consistency;
    run.pq = o->pq;
    pthread_mutex_init(&run.mu, NULL);
    memset(res, 0, sizeof *res);
    double t0 = sl_mono_seconds();
    MYSQL *ctl = NULL, *conns[3] = {NULL, NULL, NULL};
    rn_seq seqs[3];
    int started = 0;
    sl_code rc;

    if (!o->as_of_given) run.tf.as_of_us = sl_now_us(); /* 0 is a valid as-of: 1970-01-01 */
    {
        int64_t days = run.tf.as_of_us / 86400000000LL;
        if (run.tf.as_of_us < 0 && run.tf.as_of_us % 86400000000LL) days--;
        sl_date_format((int32_t)days, run.date, sizeof run.date);
    }
    SL_TRY_GOTO(rc, sl_run_id(run.run_id, err), done);
    run.tf.run_id = run.run_id;

    SL_TRY_GOTO(rc, my_params_from_config(cfg, &run.mp, 0, err), done);
    ctl = my_connect(&run.mp, 0, err);
    if (!ctl) {
        rc = err->code ? err->code : SL_E_DB_CONNECT;
        goto done;
    }
    SL_TRY_GOTO(rc, check_sources(ctl, err), done);
    for (int s = 0; s < TF__SOURCES; s++)
        SL_TRY_GOTO(rc, my_catalog_row_estimate(ctl, tf_source_name(s), &run.estimate[s], err), done);
    my_close(ctl);
    ctl = NULL;

    SL_TRY_GOTO(rc, sl_exec_connect(&run.mp, conns, 3, &run.mode, o->consistency_explicit, &run.fallback, err), done);

    run.st = tf_create(&run.tf, emit, &run, err);
    if (!run.st) {
        rc = err->code ? err->code : SL_E_NOMEM;
        goto done;
    }
    run.store = sl_store_open(o->output, cfg, err);
    if (!run.store) {
        rc = err->code ? err->code : SL_E_STORAGE;
        goto done;
    }
    {
        char prefix[64];
        sl_layout_partition(o->layout, "business_insights", run.date, prefix, sizeof prefix);
        run.insights = sl_commit_begin(run.store, prefix, run.run_id, run.date, err);
        if (!run.insights) {
            rc = err->code ? err->code : SL_E_STORAGE;
            goto done;
        }
    }
    for (int d = 0; d < TF__DATASETS; d++) {
        char name[256], source[600];
        snprintf(name, sizeof name, "%s/part-00000-%s.%s.parquet", tf_dataset_name(d), run.run_id,
                 pq_codec_name(run.pq.codec));
        snprintf(source, sizeof source, "sluice run: %s", tf_dataset_name(d));
        SL_TRY_GOTO(rc, open_out(&run, run.insights, &run.out[d], name, tf_schema(run.st, d), source, err), done);
    }
    if (o->raw)
        for (int s = 0; s < TF__SOURCES; s++) {
            char prefix[300], base[100];
            snprintf(base, sizeof base, "raw/%s", tf_source_name(s));
            sl_layout_partition(o->layout, base, run.date, prefix, sizeof prefix);
            run.raw[s] = sl_commit_begin(run.store, prefix, run.run_id, run.date, err);
            if (!run.raw[s]) {
                rc = err->code ? err->code : SL_E_STORAGE;
                goto done;
            }
        }

    /* Reads: three sequences on three connections, one snapshot. */
    double tr = sl_mono_seconds();
    seqs[0] = (rn_seq){&run, conns[0], {TF_CUSTOMERS}, 1};
    seqs[1] = (rn_seq){&run, conns[1], {TF_PRODUCTS, TF_WAREHOUSES, TF_INVENTORY}, 3};
    seqs[2] = (rn_seq){&run, conns[2], {TF_ORDERS, TF_ORDER_ITEMS}, 2};
    started = sl_exec_run_threads(3, seq_main, seqs, sizeof seqs[0], o->progress, TF__SOURCES, progress_rows, &run);
    if (started < 3) {
        sl_err e = {0};
        sl_err_set(&e, SL_E_INTERNAL, "could start only %d of 3 reader threads", started);
        fail_run(&run, &e);
    }
    res->read_seconds = sl_mono_seconds() - tr;
    if (atomic_load(&run.failed)) {
        *err = run.first_err;
        rc = err->code ? err->code : SL_E_INTERNAL;
        goto done;
    }

    double tfin = sl_mono_seconds();
    SL_TRY_GOTO(rc, tf_finish(run.st, err), done);
    for (int d = 0; d < TF__DATASETS; d++) SL_TRY_GOTO(rc, close_out(&run.out[d], run.insights, err), done);
    res->finish_seconds = sl_mono_seconds() - tfin;

    /* Commit: raw tables first, then the insights' _SUCCESS. */
    double tc = sl_mono_seconds();
    json_t *snap = json_pack("{s:s, s:i}", "consistency", run.mode == MY_SNAPSHOT ? "snapshot" : "none",
                             "connections", 3);
    if (run.fallback) json_object_set_new(snap, "fallback_reason", json_string(run.fallback));
    for (int s = 0; o->raw && s < TF__SOURCES; s++) {
        json_t *extra = json_pack("{s:s, s:{s:s, s:s}, s:O, s:o, s:O, s:I, s:s}", "kind", "export", "source",
                                  "database", run.mp.database, "table", tf_source_name(s), "schema",
                                  run.raw_schema[s] ? run.raw_schema[s] : json_null(), "rows_read",
                                  json_integer(atomic_load(&run.rows_read[s])), "snapshot", snap, "zero_dates_total",
                                  (json_int_t)run.raw_zero_dates[s], "compression", pq_codec_name(run.pq.codec));
        rc = sl_commit_finish(run.raw[s], extra, err);
        json_decref(extra);
        if (rc != SL_OK) {
            json_decref(snap);
            goto done;
        }
        res->files++;
    }
    json_t *datasets = json_object();
    for (int d = 0; d < TF__DATASETS; d++) {
        res->rows[d] = run.out[d].info.rows;
        res->bytes[d] = run.out[d].info.bytes;
        json_object_set_new(datasets, tf_dataset_name(d),
                            json_pack("{s:I, s:I, s:s}", "rows", (json_int_t)run.out[d].info.rows, "bytes",
                                      (json_int_t)run.out[d].info.bytes, "file", run.out[d].name));
    }
    json_t *reads = json_object();
    for (int s = 0; s < TF__SOURCES; s++)
        json_object_set_new(reads, tf_source_name(s),
                            json_pack("{s:I, s:f}", "rows", (json_int_t)atomic_load(&run.rows_read[s]), "seconds",
                                      run.read_seconds[s]));
    json_t *extra = json_pack("{s:s, s:o, s:o, s:o, s:o, s:{s:f, s:f}}", "kind", "business_insights", "parameters",
                              params_json(&run), "datasets", datasets, "sources", reads, "snapshot", snap, "timings",
                              "read_seconds", res->read_seconds, "compute_and_write_seconds", res->finish_seconds);
    rc = sl_commit_finish(run.insights, extra, err);
    json_decref(extra);
    if (rc != SL_OK) goto done;
    res->files += TF__DATASETS;
    res->commit_seconds = sl_mono_seconds() - tc;
    rc = SL_OK;
done:
    if (ctl) my_close(ctl);
    for (int i = 0; i < 3; i++) my_close(conns[i]);
    for (int d = 0; d < TF__DATASETS; d++) free_out(&run.out[d]);
    for (int s = 0; s < TF__SOURCES; s++) {
        free_out(&run.rawf[s]);
        if (run.raw[s]) {
            if (rc != SL_OK) sl_commit_abort(run.raw[s]);
            sl_commit_free(run.raw[s]);
        }
        json_decref(run.raw_schema[s]);
    }
    if (run.insights) {
        if (rc != SL_OK) sl_commit_abort(run.insights);
        sl_commit_free(run.insights);
    }
    tf_free(run.st);
    sl_store_free(run.store);
    pthread_mutex_destroy(&run.mu);
    rc = sl_exec_output_failure(rc, err);
    snprintf(res->run_id, sizeof res->run_id, "%s", run.run_id);
    snprintf(res->date, sizeof res->date, "%s", run.date);
    res->consistency = run.mode == MY_SNAPSHOT ? "snapshot" : "none";
    res->seconds = sl_mono_seconds() - t0;
    return rc;
}
