/* run.h - `sluice run`: the business pipeline. Reads the six source tables in one
 * snapshot and computes the datasets of transform/analytics.h while the rows stream, as
 * a plan of tasks (task.h): the inventory side, and the orders side in customer-id
 * ranges (--shards), merged at commit. Writes them under
 *   <output>/business_insights/<YYYY-MM-DD>/<dataset>/part-<NNNNN>-<run-id>.<codec>.parquet
 * (one file per dataset; order_analytics one per shard) with one _SUCCESS for the date,
 * written last. --raw also writes each source table as `sluice export` lays it out
 * (raw/<table>/<date>/, its own _SUCCESS), from the same reads. */
#ifndef SL_RUN_H
#define SL_RUN_H

#include <jansson.h>

#include "../common/sl_config.h"
#include "../mysql/my_plan.h"
#include "../parquet/parquet.h"
#include "../transform/analytics.h"
#include "export.h"

typedef struct sl_run_opts {
    tf_params tf;              /* tf.as_of_us is used when as_of_given */
    int as_of_given;           /* 0: as of the moment the run starts */
    const char *output;
    int raw;
    int wide_decimal_string;   /* --wide-decimal string (default 1): raw DECIMAL above 38 digits as text */
    my_consistency consistency;
    int consistency_explicit;
    pq_options pq;
    size_t batch_rows;
    int shards;                /* customer-id ranges of the orders side, one task each (default 1) */
    sl_progress_mode progress;
    size_t memory_limit; /* --memory-limit, bytes; 0 = SL_MEMORY_LIMIT_DEFAULT */
    int passes;           /* --passes: at least this many per orders shard (0, 1: as the limit needs) */
    const char *temp_dir; /* --temp-dir: spill files of a run in passes; NULL: $TMPDIR or /tmp */
    my_lock_opts lock;         /* --lock-wait-timeout, --lock-retries, --snapshot-lock */
    sl_layout layout; /* --layout date|hive */
    const char *run_id;        /* the run's id (the CLI logs it from the start); NULL: a new one */
    int dry_run;               /* --dry-run: connect, check, print the plan on stdout, write nothing */
    struct sl_metrics *metrics; /* figures for --metrics-file, filled at the end; may be NULL */
} sl_run_opts;

void sl_run_opts_default(sl_run_opts *o);

typedef struct sl_run_result {
    char run_id[64];
    char date[16];
    int64_t rows[TF__DATASETS];
    uint64_t bytes[TF__DATASETS];
    int files;
    const char *consistency;
    my_lock_info lock;         /* the snapshot lock: which, how long it waited and blocked writes */
    double read_seconds, finish_seconds, commit_seconds, seconds;
} sl_run_result;

/* Step 1 of task.h: the plan of a run (JSON; json_decref it). */
sl_code sl_run_plan(const sl_config *cfg, const sl_run_opts *o, json_t **plan, sl_err *err);

/* Plan, tasks on threads, commit (task.h), in this process. */
sl_code sl_run_pipeline(const sl_config *cfg, const sl_run_opts *o, sl_run_result *res, sl_err *err);

#endif
