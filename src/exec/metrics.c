/* metrics.c - the Prometheus text file of a run (see metrics.h). Figures are kept in
 * jansson objects (name -> fields) until the end, then written in the exposition
 * format: "# HELP", "# TYPE", then `name{labels} value` lines. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_time.h"
#include "../sink/s3.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

struct sl_metrics {
    char command[16];
    char run_id[64], date[16], consistency[16];
    double start_unix, start_mono;
    int64_t files;
    json_t *tables, *datasets, *stages, *retries, *locks;
};

sl_metrics *sl_metrics_create(const char *command, sl_err *err)
{
    sl_metrics *m = sl_calloc(1, sizeof *m);
    if (!m) {
        sl_err_set(err, SL_E_NOMEM, "out of memory for the metrics of %s", command);
        return NULL;
    }
    snprintf(m->command, sizeof m->command, "%s", command);
    m->start_unix = (double)sl_now_us() / 1e6;
    m->start_mono = sl_mono_seconds();
    m->files = -1;
    m->tables = json_object();
    m->datasets = json_object();
    m->stages = json_object();
    m->retries = json_object();
    m->locks = json_object();
    if (!m->tables || !m->datasets || !m->stages || !m->retries || !m->locks) {
        sl_metrics_free(m);
        sl_err_set(err, SL_E_NOMEM, "out of memory for the metrics of %s", command);
        return NULL;
    }
    return m;
}

void sl_metrics_free(sl_metrics *m)
{
    if (!m) return;
    json_decref(m->tables);
    json_decref(m->datasets);
    json_decref(m->stages);
    json_decref(m->retries);
    json_decref(m->locks);
    sl_free(m);
}

void sl_metrics_set_run(sl_metrics *m, const char *run_id, const char *date, const char *consistency)
{
    if (!m) return;
    snprintf(m->run_id, sizeof m->run_id, "%s", run_id ? run_id : "");
    snprintf(m->date, sizeof m->date, "%s", date ? date : "");
    snprintf(m->consistency, sizeof m->consistency, "%s", consistency ? consistency : "");
}

void sl_metrics_table(sl_metrics *m, const char *table, int64_t rows, int64_t bytes, double seconds,
                      int64_t zero_dates)
{
    if (!m) return;
    json_t *o = json_pack("{s:I, s:I}", "rows", (json_int_t)rows, "zero_dates", (json_int_t)zero_dates);
    if (o && bytes >= 0) json_object_set_new(o, "bytes", json_integer(bytes));
    if (o && seconds >= 0) json_object_set_new(o, "seconds", json_real(seconds));
    json_object_set_new(m->tables, table, o);
}

void sl_metrics_dataset(sl_metrics *m, const char *dataset, int64_t rows, int64_t bytes)
{
    if (!m) return;
    json_object_set_new(m->datasets, dataset, json_pack("{s:I, s:I}", "rows", (json_int_t)rows, "bytes",
                                                        (json_int_t)bytes));
}

void sl_metrics_stage(sl_metrics *m, const char *stage, double seconds)
{
    if (m) json_object_set_new(m->stages, stage, json_real(seconds));
}

void sl_metrics_retries(sl_metrics *m, const char *kind, int64_t n)
{
    if (!m) return;
    json_int_t had = json_integer_value(json_object_get(m->retries, kind));
    json_object_set_new(m->retries, kind, json_integer(had + n));
}

void sl_metrics_lock(sl_metrics *m, const char *lock, double wait, double held, double blocked)
{
    if (m) json_object_set_new(m->locks, lock, json_pack("{s:f, s:f, s:f}", "wait", wait, "held", held, "blocked",
                                                         blocked));
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

void sl_metrics_add_run(sl_metrics *m, const json_t *plan, const json_t *summary)
{
    const char *k;
    json_t *v;
    if (!m || !plan) return;
    sl_metrics_set_run(m, json_string_value(json_object_get(plan, "run_id")),
                       json_string_value(json_object_get(plan, "date")),
                       json_string_value(json_object_get(plan, "consistency")));
    const json_t *lk = json_object_get(plan, "lock_used");
    const char *kind = json_string_value(json_object_get(lk, "kind"));
    if (kind && strcmp(kind, "none") != 0)
        sl_metrics_lock(m, kind, num(lk, "wait_seconds"), num(lk, "held_seconds"), num(lk, "writes_blocked_seconds"));
    const json_t *tu = json_object_get(plan, "timings_used");
    if (json_is_object(tu)) sl_metrics_stage(m, "snapshot", num(tu, "snapshot_seconds"));
    if (!summary) return;
    int is_run = json_object_get(summary, "datasets") != NULL;
    if (is_run) {
        sl_metrics_stage(m, "read", num(summary, "read_seconds"));
        sl_metrics_stage(m, "compute_and_write", num(summary, "finish_seconds"));
        sl_metrics_stage(m, "commit", num(summary, "commit_seconds"));
    } else if (json_is_object(tu)) {
        sl_metrics_stage(m, "read_and_write", num(tu, "tasks_seconds"));
        sl_metrics_stage(m, "commit", num(tu, "commit_seconds"));
    }
    json_object_foreach((json_t *)json_object_get(summary, "table_figures"), k, v) {
        sl_metrics_table(m, k, json_integer_value(json_object_get(v, "rows")),
                         json_integer_value(json_object_get(v, "bytes")), num(v, "seconds"),
                         json_integer_value(json_object_get(v, "zero_dates")));
        sl_metrics_retries(m, "partition", json_integer_value(json_object_get(v, "retries")));
    }
    json_object_foreach((json_t *)json_object_get(summary, "sources"), k, v) {
        const json_t *b = json_object_get(v, "bytes");
        sl_metrics_table(m, k, json_integer_value(json_object_get(v, "rows")), b ? json_integer_value(b) : -1, -1,
                         json_integer_value(json_object_get(v, "zero_dates")));
    }
    json_object_foreach((json_t *)json_object_get(summary, "datasets"), k, v)
        sl_metrics_dataset(m, k, json_integer_value(json_object_get(v, "rows")),
                           json_integer_value(json_object_get(v, "bytes")));
    if (json_is_integer(json_object_get(summary, "files")))
        sl_metrics_files(m, json_integer_value(json_object_get(summary, "files")));
}

void sl_metrics_files(sl_metrics *m, int64_t files)
{
    if (m) m->files = files;
}

/* ---------------------------------------------------------------------------------- */
/* writing */

/* A label value as the exposition format wants it: \, " and newline escaped. */
static sl_code put_label(sl_buf *b, const char *name, const char *value, sl_err *err)
{
    SL_TRY(sl_buf_printf(b, err, ",%s=\"", name));
    for (const char *p = value; *p; p++) {
        if (*p == '\\') SL_TRY(sl_buf_append(b, "\\\\", 2, err));
        else if (*p == '"') SL_TRY(sl_buf_append(b, "\\\"", 2, err));
        else if (*p == '\n') SL_TRY(sl_buf_append(b, "\\n", 2, err));
        else SL_TRY(sl_buf_append(b, p, 1, err));
    }
    return sl_buf_append(b, "\"", 1, err);
}

static sl_code family(sl_buf *b, const char *name, const char *help, sl_err *err)
{
    return sl_buf_printf(b, err, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* name{command="...",<label>="<value>"} v; label may be NULL. */
static sl_code sample(const sl_metrics *m, sl_buf *b, const char *name, const char *label, const char *value,
                      double v, sl_err *err)
{
    SL_TRY(sl_buf_printf(b, err, "%s{command=\"%s\"", name, m->command));
    if (label) SL_TRY(put_label(b, label, value, err));
    /* %.17g round-trips a double; integers up to 2^53 print as integers. */
    return sl_buf_printf(b, err, "} %.17g\n", v);
}

/* One family over the members of obj: the field `field` of each (or the value itself). */
static sl_code per_member(const sl_metrics *m, sl_buf *b, json_t *obj, const char *field, const char *name,
                          const char *label, const char *help, sl_err *err)
{
    const char *k;
    json_t *v;
    int any = 0;
    json_object_foreach(obj, k, v) {
        json_t *x = field ? json_object_get(v, field) : v;
        if (!json_is_number(x)) continue;
        if (!any) SL_TRY(family(b, name, help, err));
        any = 1;
        SL_TRY(sample(m, b, name, label, k, json_number_value(x), err));
    }
    return SL_OK;
}

static sl_code render(sl_metrics *m, int exit_code, sl_buf *b, sl_err *err)
{
    double end = (double)sl_now_us() / 1e6;
    SL_TRY(family(b, "sluice_success", "1 if the last run committed all its output, 0 if it failed.", err));
    SL_TRY(sample(m, b, "sluice_success", NULL, NULL, exit_code == 0 ? 1 : 0, err));
    SL_TRY(family(b, "sluice_exit_code", "The last run's exit code (see sluice(1)).", err));
    SL_TRY(sample(m, b, "sluice_exit_code", NULL, NULL, exit_code, err));
    SL_TRY(family(b, "sluice_run_info", "The last run: its id, date partition, consistency and sluice version.", err));
    SL_TRY(sl_buf_printf(b, err, "sluice_run_info{command=\"%s\"", m->command));
    SL_TRY(put_label(b, "run_id", m->run_id, err));
    SL_TRY(put_label(b, "date", m->date, err));
    SL_TRY(put_label(b, "consistency", m->consistency, err));
    SL_TRY(put_label(b, "version", SLUICE_VERSION, err));
    SL_TRY(sl_buf_printf(b, err, "} 1\n"));
    SL_TRY(family(b, "sluice_start_time_seconds", "Unix time the last run started.", err));
    SL_TRY(sample(m, b, "sluice_start_time_seconds", NULL, NULL, m->start_unix, err));
    SL_TRY(family(b, "sluice_end_time_seconds", "Unix time the last run ended.", err));
    SL_TRY(sample(m, b, "sluice_end_time_seconds", NULL, NULL, end, err));
    SL_TRY(family(b, "sluice_duration_seconds", "Wall-clock seconds of the last run.", err));
    SL_TRY(sample(m, b, "sluice_duration_seconds", NULL, NULL, sl_mono_seconds() - m->start_mono, err));
    SL_TRY(per_member(m, b, m->stages, NULL, "sluice_stage_duration_seconds", "stage",
                      "Seconds the last run spent in each stage.", err));
    SL_TRY(per_member(m, b, m->tables, "rows", "sluice_table_rows", "table",
                      "Rows read from each source table.", err));
    SL_TRY(per_member(m, b, m->tables, "bytes", "sluice_table_bytes", "table",
                      "Bytes of Parquet written for each source table (raw output).", err));
    SL_TRY(per_member(m, b, m->tables, "seconds", "sluice_table_read_seconds", "table",
                      "Seconds spent reading each source table (first to last range).", err));
    SL_TRY(per_member(m, b, m->tables, "zero_dates", "sluice_zero_dates", "table",
                      "Zero or partial dates of each source table written as NULL.", err));
    SL_TRY(per_member(m, b, m->datasets, "rows", "sluice_dataset_rows", "dataset",
                      "Rows of each dataset written by sluice run.", err));
    SL_TRY(per_member(m, b, m->datasets, "bytes", "sluice_dataset_bytes", "dataset",
                      "Bytes of each dataset's Parquet file.", err));
    /* Retries always appear, 0 included: an alert rule needs the series to exist. */
    sl_metrics_retries(m, "s3_request", (int64_t)s3_retry_count());
    sl_metrics_retries(m, "partition", 0);
    SL_TRY(per_member(m, b, m->retries, NULL, "sluice_retries", "kind",
                      "Retries in the last run: S3 requests sent again, key ranges read again.", err));
    SL_TRY(per_member(m, b, m->locks, "wait", "sluice_lock_wait_seconds", "lock",
                      "Seconds the last run waited for its snapshot lock on the source.", err));
    SL_TRY(per_member(m, b, m->locks, "held", "sluice_lock_held_seconds", "lock",
                      "Seconds the last run held its snapshot lock.", err));
    SL_TRY(per_member(m, b, m->locks, "blocked", "sluice_lock_writes_blocked_seconds", "lock",
                      "Seconds other sessions' writes (FTWRL) or commits (BACKUP STAGE) could be blocked by the "
                      "lock.", err));
    if (m->files >= 0) {
        SL_TRY(family(b, "sluice_files_written", "Parquet files the last run committed.", err));
        SL_TRY(sample(m, b, "sluice_files_written", NULL, NULL, (double)m->files, err));
    }
    return SL_OK;
}

/* "<path>.<pid>.tmp": beside the target (a rename within one file system), and not
 * ending in .prom, so the textfile collector never reads it half-written. */
static void temp_name(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s.%ld.tmp", path, (long)getpid());
}

sl_code sl_metrics_check_path(const char *path, sl_err *err)
{
    char tmp[4200];
    struct stat st;
    if (!path || !*path) return sl_err_set(err, SL_E_USAGE, "--metrics-file needs a path");
    if (strlen(path) > 4000) return sl_err_set(err, SL_E_USAGE, "--metrics-file: the path is too long");
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return sl_err_set(err, SL_E_STORAGE, "metrics file %s is a folder", path);
    temp_name(path, tmp, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sl_err_set(err, SL_E_STORAGE, "cannot write the metrics file %s: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    return SL_OK;
}

sl_code sl_metrics_write(sl_metrics *m, const char *path, int exit_code, sl_err *err)
{
    char tmp[4200];
    sl_buf b;
    sl_buf_init(&b, 0);
    sl_code rc = render(m, exit_code, &b, err);
    if (rc != SL_OK) goto done;
    temp_name(path, tmp, sizeof tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sl_err_set(err, SL_E_STORAGE, "cannot write the metrics file %s: %s", path, strerror(errno));
        goto done;
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(fd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    int ok = off == b.len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        rc = sl_err_set(err, SL_E_STORAGE, "cannot write the metrics file %s: %s", path, strerror(saved));
    }
done:
    sl_buf_free(&b);
    return rc;
}
