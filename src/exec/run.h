/* run.h - `sluice run`: the business pipeline. Reads the six source tables in one
 * snapshot on three connections (customers | products, warehouses, inventory | orders,
 * order_items), computes the datasets of transform/analytics.h while the rows stream,
 * and writes them, one Parquet file each, under
 *   <output>/business_insights/<YYYY-MM-DD>/<dataset>/part-00000-<run-id>.<codec>.parquet
 * with one _SUCCESS for the date, written last. --raw also writes each source table
 * as `sluice export` lays it out (raw/<table>/<date>/, its own _SUCCESS), from the
 * same reads. */
#ifndef SL_RUN_H
#define SL_RUN_H

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
    my_consistency consistency;
    int consistency_explicit;
    pq_options pq;
    size_t batch_rows;
    sl_progress_mode progress;
    sl_layout layout; /* --layout date|hive */
} sl_run_opts;

void sl_run_opts_default(sl_run_opts *o);

typedef struct sl_run_result {
    char run_id[64];
    char date[16];
    int64_t rows[TF__DATASETS];
    uint64_t bytes[TF__DATASETS];
    int files;
    const char *consistency;
    double read_seconds, finish_seconds, commit_seconds, seconds;
} sl_run_result;

sl_code sl_run_pipeline(const sl_config *cfg, const sl_run_opts *o, sl_run_result *res, sl_err *err);

#endif
