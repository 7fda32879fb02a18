/* export.h - `sluice export`: tables or a query of the source database to Parquet,
 * exactly as they are (raw ingestion). The run is a plan of independent tasks - one
 * per (table, key range) - each writing one Parquet file, run by worker threads on
 * connections that share one snapshot, or by other processes (task.h); every table's
 * date partition is then committed with its _SUCCESS manifest (sink/commit.h).
 *
 * Layout: <output>/raw/<table>/<YYYY-MM-DD>/part-<NNNNN>-<run-id>.<codec>.parquet
 * (raw/<table>/date=<YYYY-MM-DD>/ with --layout hive). With --incremental COLUMN a
 * table reads only what moved past its watermark (incremental.h) and its commit appends
 * to the date partition instead of replacing it. */
#ifndef SL_EXPORT_H
#define SL_EXPORT_H

#include <jansson.h>
#include <stdint.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "../mysql/my_plan.h"
#include "../parquet/parquet.h"
#include "incremental.h"
#include "layout.h"

typedef enum sl_progress_mode { SL_PROGRESS_AUTO = 0, SL_PROGRESS_BAR, SL_PROGRESS_LOG, SL_PROGRESS_OFF } sl_progress_mode;

typedef struct sl_export_opts {
    const char **tables;          /* --table, repeatable; none = every base table */
    int ntables;
    const char *query;            /* --query SQL instead of tables */
    const char *name;             /* output name of a --query export, default "query" */
    const char *where;            /* --where COND, added to every table's read */
    const char *columns;          /* --columns a,b,c (validated against the catalog) */
    const char *output;           /* --output DIR or s3://bucket/prefix */
    const char *date;             /* --date YYYY-MM-DD, default today (UTC) */
    int partitions;               /* --partitions N; 0 = the machine's cores */
    const char *partition_column; /* --partition-column, else the integer primary key */
    my_consistency consistency;   /* --consistency */
    int consistency_explicit;     /* given on the command line: no silent fallback */
    int zero_dates_error;         /* --zero-dates=error */
    int wide_decimal_string;      /* --wide-decimal string (default 1): DECIMAL above 38 digits as text */
    int row_group_explicit;       /* --row-group-size given: no memory-based default */
    int page_explicit;            /* --page-size given */
    size_t memory_limit;          /* --memory-limit, bytes; 0 = SL_MEMORY_LIMIT_DEFAULT */
    pq_options pq;                /* codec, sizes */
    size_t batch_rows;            /* rows per read batch, default 16384 */
    int max_attempts;             /* per task without a snapshot, default 3 */
    my_lock_opts lock;            /* --lock-wait-timeout, --lock-retries, --snapshot-lock */
    sl_progress_mode progress;
    const char *run_id;           /* the run's id (the CLI logs it from the start); NULL: a new one */
    int dry_run;                  /* --dry-run: connect, plan, print the plan on stdout, write nothing */
    struct sl_metrics *metrics;   /* figures for --metrics-file, filled at the end; may be NULL */
    sl_incr_opts incr;            /* --incremental COLUMN and its options */
    sl_layout layout;             /* --layout date|hive */
} sl_export_opts;

void sl_export_opts_default(sl_export_opts *o);

typedef struct sl_export_result {
    char run_id[64];
    int tables, files;
    int64_t rows;
    uint64_t bytes;
    const char *consistency; /* "snapshot" or "none" (static) */
    my_lock_info lock;       /* the snapshot lock: which, how long it waited and blocked writes */
    double seconds;
    char date[16];           /* the date partition */
} sl_export_result;

/* Step 1 of task.h: the plan of an export (JSON; json_decref it). */
sl_code sl_export_plan(const sl_config *cfg, const sl_export_opts *o, json_t **plan, sl_err *err);

/* Plan, tasks on threads, commit (task.h), in this process. */
sl_code sl_export_run(const sl_config *cfg, const sl_export_opts *o, sl_export_result *res, sl_err *err);

#endif
