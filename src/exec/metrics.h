/* metrics.h - a run's figures for monitoring: collected while `run` or `export` works
 * and written at its end, success or failure, as a Prometheus text exposition file
 * (node_exporter's textfile collector reads it). The file is replaced atomically: a
 * temporary file in the same folder, fsync'ed, then renamed over the target, so a
 * scrape never sees half a file. Every series is a gauge of the last run. */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <jansson.h>
#include <stdint.h>

#include "../common/sl_error.h"

typedef struct sl_metrics sl_metrics;

/* command: "run" or "export", put on every series as the `command` label. */
sl_metrics *sl_metrics_create(const char *command, sl_err *err);
void sl_metrics_free(sl_metrics *m);

/* Fails early (SL_E_STORAGE, naming the path) when a file cannot be created beside
 * path, so a run does not do its work only to fail writing its metrics. */
sl_code sl_metrics_check_path(const char *path, sl_err *err);

void sl_metrics_set_run(sl_metrics *m, const char *run_id, const char *date, const char *consistency);
/* A source table: rows read, bytes written (its raw Parquet files; -1 when none were
 * written), seconds reading it (-1: not measured), zero dates turned into NULL. */
void sl_metrics_table(sl_metrics *m, const char *table, int64_t rows, int64_t bytes, double seconds,
                      int64_t zero_dates);
/* A dataset written by `run`. */
void sl_metrics_dataset(sl_metrics *m, const char *dataset, int64_t rows, int64_t bytes);
/* Seconds spent in a stage ("plan", "read", "compute_and_write", "commit", ...). */
void sl_metrics_stage(sl_metrics *m, const char *stage, double seconds);
/* Retries of a kind ("partition": a key range read again after a lost connection). S3
 * request retries are added by sl_metrics_write from the S3 client's own count. */
void sl_metrics_retries(sl_metrics *m, const char *kind, int64_t n);
/* The snapshot lock of kind `lock` ("backup_stage", "ftwrl"): seconds waiting for it,
 * holding it, and seconds other sessions' writes (or commits) could be blocked. */
void sl_metrics_lock(sl_metrics *m, const char *lock, double wait, double held, double blocked);
void sl_metrics_files(sl_metrics *m, int64_t files);

/* Everything a run's plan (task.h: run id, date, consistency, "lock_used",
 * "timings_used") and its commit summary (NULL after a failure: only the plan's part)
 * tell: "table_figures" (export), "sources" and "datasets" (run), "files". Accepts a
 * NULL m or plan. */
void sl_metrics_add_run(sl_metrics *m, const json_t *plan, const json_t *summary);

/* Writes the exposition file: the figures collected, success (exit_code == 0), the
 * exit code, the run's start/end time and duration. */
sl_code sl_metrics_write(sl_metrics *m, const char *path, int exit_code, sl_err *err);

#endif
