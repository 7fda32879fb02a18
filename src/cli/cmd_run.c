/* cmd_run.c - `sluice run`: the business pipeline (src/exec/run.c). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_time.h"
#include "../exec/exec.h"
#include "../exec/run.h"
#include "../common/sl_log.h"
#include "cli.h"
#include "job.h"

static void usage(FILE *out)
{
    fputs("Usage: sluice run --output DIR|s3://BUCKET/PREFIX [--as-of 'YYYY-MM-DD HH:MM:SS'] [--raw]\n"
          "                  [--exclude-status a,b] [--restock-below R] [--overstock-above R]\n"
          "                  [--optimal-utilization R] [--sales-window-days N] [--vip-percentile P]\n"
          "                  [--compression snappy|zstd|gzip|none] [--consistency snapshot|none]\n"
          "                  [--layout date|hive] [--shards N] [--memory-limit SIZE]\n"
          "                  [--passes N] [--temp-dir DIR]\n"
          "                  [--lock-wait-timeout S] [--lock-retries N] [--snapshot-lock auto|backup-stage|ftwrl]\n\n"
          "Reads customers, products, warehouses, inventory, orders and order_items of\n"
          "MYSQL_DATABASE in one snapshot, computes the six datasets (README, \"Analytics\n"
          "definitions\") and writes them as\n"
          "  <output>/business_insights/<YYYY-MM-DD>/<dataset>/part-00000-<run-id>.<codec>.parquet\n"
          "with one _SUCCESS manifest for the date, written last (rows, bytes and SHA-256 per file,\n"
          "parameters, timings, data-quality counts), and report.html, the run report (charts of\n"
          "the datasets; `sluice report --help`), just before it. The date folder is the as-of\n"
          "date. A rerun of the same date replaces it; a failed run leaves the previous one intact.\n\n"
          "Options:\n"
          "  --output DIR               a local folder or s3://bucket/prefix (or SLUICE_OUTPUT)\n"
          "  --as-of TS                 UTC time the figures are as of (default: now); orders after\n"
          "                             it are left out, so an old as-of reproduces that day\n"
          "  --exclude-status a,b       order statuses left out of every order figure\n"
          "                             (default: cancelled; '' excludes none)\n"
          "  --restock-below R          utilization under which stock is 'restock' (default 0.2)\n"
          "  --overstock-above R        utilization over which stock is 'overstock' (default 0.8)\n"
          "  --optimal-utilization R    the score's and optimal_quantity's target (default 0.5)\n"
          "  --sales-window-days N      product_turnover's sales window (default 30)\n"
          "  --vip-percentile P         nearest-rank percentile of total_spent for is_vip (default 95)\n"
          "  --raw                      also write the source tables under <output>/raw/ as\n"
          "                             `sluice export` does, from the same reads\n"
          "  --compression C            snappy (default), zstd, gzip or none\n"
          "  --consistency MODE         snapshot (default, with fallback; see `sluice export --help`) or none\n"
          "  --wide-decimal MODE        --raw tables' DECIMAL of more than 38 digits as string (default,\n"
          "                             exact digits as text) or decimal (see `sluice export --help`)\n"
          "  --shards N                 read customers, orders and order_items in N customer-id ranges,\n"
          "                             one task (and connection) each, merged exactly (default 1);\n"
          "                             order_analytics then has one file per range; each range\n"
          "                             reads the sales window's items on one more, beside its orders\n"
          "  --memory-limit SIZE        peak memory (default 256M, at least 32M; plus a fixed 32 MiB):\n"
          "                             sizes batches, row groups, pages and dictionaries, and when the\n"
          "                             customers' state would not fit, reads them in passes of\n"
          "                             customer-id ranges spilled to --temp-dir (same datasets);\n"
          "                             the products too, past an eighth of it; a task's products,\n"
          "                             units sold or totals past a 64th go to the commit through\n"
          "                             <partition>/_spill/ in the output, deleted by the commit;\n"
          "                             the sales window's order ids past a 16th go to sorted runs\n"
          "                             in --temp-dir, with the items of their id range; the window's\n"
          "                             items, read beside the orders, past a 16th wait there too\n"
          "  --passes N                 read each shard's customers, and the products, in at least N\n"
          "                             passes (default 1: as many as --memory-limit needs)\n"
          "  --temp-dir DIR             where a run spills (passes, units sold, the window's ids and items;\n"
          "                             default $TMPDIR, else /tmp); the files are unnamed and vanish\n"
          "                             with the process\n"
          "  --progress MODE            bar, log or off (default: bar on a terminal, else log)\n"
          "  --dry-run                  connect and check, then print what would be read (tables,\n"
          "                             estimated rows, the snapshot lock) and written (paths);\n"
          "                             writes nothing\n"
          "  --metrics-file PATH        write the run's figures in Prometheus text format to PATH at\n"
          "                             the end, success or failure, atomically (for node_exporter's\n"
          "                             textfile collector); not with --dry-run\n"
          "  --layout L                 date (default): business_insights/<YYYY-MM-DD>/<dataset>/;\n"
          "                             hive: business_insights/date=<YYYY-MM-DD>/<dataset>/ (and\n"
          "                             raw/<table>/date=<YYYY-MM-DD>/ with --raw)\n"
          "  -h, --help                 this help\n",
          out);
    fputs(cli_lock_help, out);
    cli_print_global_help(out);
}

static int parse_ratio(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cmd_run(cli_ctx *ctx, int argc, char **argv)
{
    enum { O_OUTPUT = 256, O_ASOF, O_EXCL, O_RESTOCK, O_OVER, O_OPT, O_WINDOW, O_VIP, O_RAW, O_COMP, O_CONS, O_PROG, O_WIDE,
           O_DRY, O_METRICS, O_LAYOUT, O_SHARDS, O_LOCK_WAIT, O_LOCK_RETRIES, O_LOCK_KIND, O_MEM, O_TEMP, O_PASSES };
    static const struct option opts[] = {
        {"output", required_argument, NULL, O_OUTPUT}, {"as-of", required_argument, NULL, O_ASOF},
        {"exclude-status", required_argument, NULL, O_EXCL}, {"restock-below", required_argument, NULL, O_RESTOCK},
        {"overstock-above", required_argument, NULL, O_OVER}, {"optimal-utilization", required_argument, NULL, O_OPT},
        {"sales-window-days", required_argument, NULL, O_WINDOW}, {"vip-percentile", required_argument, NULL, O_VIP},
        {"raw", no_argument, NULL, O_RAW}, {"compression", required_argument, NULL, O_COMP},
        {"consistency", required_argument, NULL, O_CONS}, {"progress", required_argument, NULL, O_PROG},
        {"wide-decimal", required_argument, NULL, O_WIDE}, {"dry-run", no_argument, NULL, O_DRY},
        {"metrics-file", required_argument, NULL, O_METRICS},
        {"lock-wait-timeout", required_argument, NULL, O_LOCK_WAIT}, {"lock-retries", required_argument, NULL, O_LOCK_RETRIES},
        {"snapshot-lock", required_argument, NULL, O_LOCK_KIND},
        {"layout", required_argument, NULL, O_LAYOUT}, {"shards", required_argument, NULL, O_SHARDS},
        {"memory-limit", required_argument, NULL, O_MEM}, {"temp-dir", required_argument, NULL, O_TEMP},
        {"passes", required_argument, NULL, O_PASSES},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    sl_err err = {0};
    sl_run_opts o;
    sl_run_opts_default(&o);
    char *excl_buf = NULL;
    const char **excl = NULL;
    int c, rc = 0;
    double v;
    const char *metrics_file = NULL;
    cli_job job = {0};
    optind = 1;
    int opt_index = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &opt_index)) != -1) {
        switch (c) {
        case O_OUTPUT: o.output = optarg; break;
        case O_ASOF:
            if (sl_ts_parse(optarg, &o.tf.as_of_us, &err) != SL_OK) {
                rc = cli_usage_error("run", "--as-of: %s", err.msg);
                goto out;
            }
            o.as_of_given = 1;
            break;
        case O_EXCL: {
            sl_free(excl_buf);
            sl_free(excl);
            excl_buf = sl_strdup(optarg);
            excl = sl_calloc(strlen(optarg) + 1, sizeof *excl);
            if (!excl_buf || !excl) { rc = cli_fail("run", &(sl_err){SL_E_NOMEM, "out of memory"}); goto out; }
            int n = 0;
            for (char *save = NULL, *t = strtok_r(excl_buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (*t) excl[n++] = t;
            o.tf.exclude_status = excl;
            o.tf.nexclude = n;
            break;
        }
        case O_RESTOCK:
            if (parse_ratio(optarg, 0, 1e9, &o.tf.restock_below)) { rc = cli_usage_error("run", "--restock-below takes a number >= 0, not '%s'", optarg); goto out; }
            break;
        case O_OVER:
            if (parse_ratio(optarg, 0, 1e9, &o.tf.overstock_above)) { rc = cli_usage_error("run", "--overstock-above takes a number >= 0, not '%s'", optarg); goto out; }
            break;
        case O_OPT:
            if (parse_ratio(optarg, 0, 1e9, &o.tf.optimal)) { rc = cli_usage_error("run", "--optimal-utilization takes a number >= 0, not '%s'", optarg); goto out; }
            break;
        case O_WINDOW:
            if (parse_ratio(optarg, 1, 36500, &v) || v != floor(v)) { rc = cli_usage_error("run", "--sales-window-days takes a whole number of days from 1 to 36500, not '%s'", optarg); goto out; }
            o.tf.window_days = (int)v;
            break;
        case O_VIP:
            if (parse_ratio(optarg, 0, 100, &o.tf.vip_percentile) || o.tf.vip_percentile <= 0) { rc = cli_usage_error("run", "--vip-percentile takes a number above 0 and at most 100, not '%s'", optarg); goto out; }
            break;
        case O_RAW: o.raw = 1; break;
        case O_MEM:
            if (cli_parse_size(optarg, &o.memory_limit)) { rc = cli_usage_error("run", "--memory-limit takes a size such as 256M or 1G, not '%s'", optarg); goto out; }
            if (sl_exec_memory_check(o.memory_limit, &err) != SL_OK) { rc = cli_usage_error("run", "%s", err.msg); goto out; }
            break;
        case O_TEMP: o.temp_dir = optarg; break;
        case O_PASSES:
            if (parse_ratio(optarg, 1, 256, &v) || v != floor(v)) { rc = cli_usage_error("run", "--passes takes a whole number from 1 to 256, not '%s'", optarg); goto out; }
            o.passes = (int)v;
            break;
        case O_SHARDS:
            if (parse_ratio(optarg, 1, 256, &v) || v != floor(v)) { rc = cli_usage_error("run", "--shards takes a whole number from 1 to 256, not '%s'", optarg); goto out; }
            o.shards = (int)v;
            break;
        case O_COMP:
            if (pq_codec_parse(optarg, &o.pq.codec, &err) != SL_OK) { rc = cli_usage_error("run", "--compression: %s", err.msg); goto out; }
            break;
        case O_CONS: {
            int m = 0;
            if ((rc = cli_parse_consistency("run", optarg, &m)) != 0) goto out;
            o.consistency = (my_consistency)m;
            o.consistency_explicit = 1;
            break;
        }
        case O_DRY: o.dry_run = 1; break;
        case O_METRICS: metrics_file = optarg; break;
        case O_WIDE:
            if ((rc = cli_parse_wide_decimal("run", optarg, &o.wide_decimal_string)) != 0) goto out;
            break;
        case O_PROG: {
            int m = 0;
            if ((rc = cli_parse_progress("run", optarg, &m)) != 0) goto out;
            o.progress = (sl_progress_mode)m;
            break;
        }
        case O_LOCK_WAIT: case O_LOCK_RETRIES: case O_LOCK_KIND:
            if ((rc = cli_parse_lock("run", opts[opt_index].name, optarg, &o.lock)) != 0) goto out;
            break;
        case O_LAYOUT:
            if (sl_layout_parse(optarg, &o.layout, &err) != SL_OK) { rc = cli_usage_error("run", "%s", err.msg); goto out; }
            break;
        case 'h': usage(stdout); goto out;
        default: rc = cli_usage_error("run", "unknown option"); goto out;
        }
    }
    if (optind < argc) { rc = cli_usage_error("run", "unexpected argument '%s'", argv[optind]); goto out; }
    if (o.tf.restock_below > o.tf.overstock_above) {
        rc = cli_usage_error("run", "--restock-below (%g) is above --overstock-above (%g)", o.tf.restock_below,
                             o.tf.overstock_above);
        goto out;
    }
    if (metrics_file && !metrics_file[0]) { rc = cli_usage_error("run", "--metrics-file needs a path"); goto out; }
    if (!ctx->plan_only && (rc = cli_job_begin(&job, "run", metrics_file, o.dry_run)) != 0) goto out;
    o.run_id = job.run_id;
    o.metrics = job.metrics;
    if (cli_load_config(ctx, "run", &err) != 0) { rc = cli_job_end(&job, cli_fail("run", &err)); goto out; }
    if (!o.output) o.output = sl_config_get(ctx->cfg, "SLUICE_OUTPUT");
    if (!o.output || !o.output[0]) {
        rc = cli_job_end(&job, cli_usage_error("run", "--output is required (or set SLUICE_OUTPUT)"));
        goto out;
    }
    if (ctx->quiet) o.progress = SL_PROGRESS_OFF;
    if (ctx->plan_only) {
        json_t *plan = NULL;
        if (sl_run_plan(ctx->cfg, &o, &plan, &err) != SL_OK) rc = cli_fail("plan", &err);
        else rc = cli_print_plan(ctx, plan);
        json_decref(plan);
        goto out;
    }
    sl_run_result res;
    if (sl_run_pipeline(ctx->cfg, &o, &res, &err) != SL_OK) {
        rc = cli_job_end(&job, cli_fail("run", &err));
        goto out;
    }
    if (o.dry_run) {
        rc = cli_job_end(&job, 0);
        goto out;
    }
    {
        json_t *ds = json_object();
        for (int d = 0; d < TF__DATASETS; d++) json_object_set_new(ds, tf_dataset_name(d), json_integer(res.rows[d]));
        sl_log_event(SL_LOG_INFO, "run_done",
                     json_pack("{s:s, s:s, s:o, s:i, s:f, s:s, s:s}", "command", "run", "date", res.date, "datasets", ds,
                               "files", res.files, "seconds", res.seconds, "consistency", res.consistency, "output",
                               o.output),
                     "business_insights/%s committed", res.date);
    }
    cli_stop_late("run");
    if (!ctx->quiet) {
        char part[64];
        sl_layout_partition(o.layout, "business_insights", res.date, part, sizeof part);
        printf("run %s: %s (consistency %s)\n", res.run_id, part, res.consistency);
        for (int d = 0; d < TF__DATASETS; d++)
            printf("  %-22s %10lld rows %12.1f kB\n", tf_dataset_name(d), (long long)res.rows[d],
                   (double)res.bytes[d] / 1e3);
        printf("  %d files; read %.2f s, compute+write %.2f s, commit %.2f s, total %.2f s\n", res.files,
               res.read_seconds, res.finish_seconds, res.commit_seconds, res.seconds);
        printf("  output: %s/%s/ (manifest: _SUCCESS, run report: report.html)\n", o.output, part);
    }
    rc = cli_job_end(&job, 0);
out:
    sl_free(excl_buf);
    sl_free(excl);
    return rc;
}
