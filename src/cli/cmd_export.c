/* cmd_export.c - `sluice export`: tables or a query to Parquet (src/exec/export.c). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../exec/exec.h"
#include "../exec/export.h"
#include "../common/sl_log.h"
#include "cli.h"
#include "job.h"

static void usage(FILE *out)
{
    fputs("Usage: sluice export [--table T]... | --query SQL [--name NAME]  --output DIR|s3://BUCKET/PREFIX\n"
          "                     [--where COND] [--columns C,...] [--compression snappy|zstd|gzip|none]\n"
          "                     [--partitions N] [--partition-column C] [--consistency snapshot|none]\n"
          "                     [--row-group-size BYTES] [--date YYYY-MM-DD] [--zero-dates null|error]\n"
          "                     [--layout date|hive] [--incremental COLUMN [--lookback DURATION|N]\n"
          "                     [--incremental-nulls error|include|skip] [--full]]\n"
          "                     [--lock-wait-timeout S] [--lock-retries N] [--snapshot-lock auto|backup-stage|ftwrl]\n\n"
          "Copies tables of MYSQL_DATABASE (every base table when no --table is given), or the\n"
          "result of one query, to Parquet, value for value (README, \"Type mapping\"). Each table is\n"
          "written as\n"
          "  <output>/raw/<table>/<YYYY-MM-DD>/part-<NNNNN>-<run-id>.<codec>.parquet\n"
          "and committed with a _SUCCESS manifest (files with rows, bytes and SHA-256, schema,\n"
          "snapshot, zero-date counts, timings) written last, after every file is complete. A rerun\n"
          "of the same date replaces the partition; a failed run leaves the previous one intact.\n\n"
          "Options:\n"
          "  --table T             a table to export; repeatable\n"
          "  --query SQL           export the result of SQL instead (one file, no partitioning)\n"
          "  --name NAME           the output folder name of a --query export (default: query)\n"
          "  --where COND          an SQL condition added to every table's read, e.g. \"id > 100\"\n"
          "  --columns C,...       only these columns (checked against the table)\n"
          "  --output DIR          a local folder, or s3://bucket/prefix (required)\n"
          "  --compression C       snappy (default), zstd, gzip or none\n"
          "  --zstd-level N        zstd level, default 3\n"
          "  --partitions N        connections reading in parallel (default: the number of CPUs,\n"
          "                        at most 16); each table is planned from MIN/MAX of its key and\n"
          "                        the server's estimates into about 4 chunks per connection,\n"
          "                        taken from one queue, each written as one file in key order\n"
          "  --partition-column C  the integer column to cut chunks on, ideally indexed (default:\n"
          "                        an integer single-column primary key; tables without one are\n"
          "                        read whole)\n"
          "  --consistency MODE    snapshot (default): every connection reads one snapshot, aligned\n"
          "                        by a brief, bounded lock (below; needs RELOAD); without\n"
          "                        the privilege sluice warns and falls back to none, unless the\n"
          "                        option was given. none: each connection its own snapshot, and a\n"
          "                        partition whose connection drops is retried from its start.\n"
          "  --row-group-size B    target row-group size, e.g. 64M (default 128M, lowered so that\n"
          "                        the parallel files together stay near 160 MiB of buffers)\n"
          "  --page-size B         target page size, default 1M\n"
          "  --batch-rows N        rows per read batch, default 16384\n"
          "  --memory-limit SIZE   memory the export may use beyond a fixed overhead of 32M\n"
          "                        (default 256M, at least 32M), shared by the connections: read\n"
          "                        batches, row groups, pages and dictionaries shrink with it\n"
          "  --date YYYY-MM-DD     the date partition to write (default: today, UTC)\n"
          "  --zero-dates MODE     null (default: zero dates become NULL, counted in the manifest)\n"
          "                        or error (fail, naming table, column and row)\n"
          "  --wide-decimal MODE   a DECIMAL of more than 38 digits as: string (default: its exact\n"
          "                        digits as UTF-8 text, which Spark, Polars and DuckDB open) or\n"
          "                        decimal (FIXED_LEN_BYTE_ARRAY DECIMAL(p>38): pyarrow only)\n"
          "  --progress MODE       bar, log or off (default: bar on a terminal, else log)\n"
          "  --dry-run             connect and plan, then print what would be read (tables, key\n"
          "                        ranges, estimated rows, the snapshot lock) and written (paths);\n"
          "                        writes nothing\n"
          "  --metrics-file PATH   write the run's figures in Prometheus text format to PATH at the\n"
          "                        end, success or failure, atomically (node_exporter's textfile\n"
          "                        collector); not with --dry-run\n"
          "  --layout L            date (default): raw/<table>/<YYYY-MM-DD>/; hive:\n"
          "                        raw/<table>/date=<YYYY-MM-DD>/ (a `date` partition column for\n"
          "                        Spark, DuckDB, Athena)\n"
          "\nIncremental loads (README, \"Incremental loads\"; needs --table):\n"
          "  --incremental COLUMN  read only rows with watermark_from < COLUMN <= watermark_to: from is\n"
          "                        the \"to\" of the table's latest committed run under --output (found\n"
          "                        in its _SUCCESS manifests; none: everything is read), to is\n"
          "                        MAX(COLUMN) in this run's snapshot. COLUMN: integer, DATE, DATETIME or\n"
          "                        TIMESTAMP (index it). Runs of one date append their files; the\n"
          "                        date's _SUCCESS lists every run. A failed run moves nothing.\n"
          "  --lookback L          also re-read L below the watermark, for rows committed late: a\n"
          "                        duration (30m, 2h, 1d, 1h30m) for temporal columns, a count of\n"
          "                        values for integer ones; rows re-read are counted in the manifest\n"
          "  --incremental-nulls M rows whose COLUMN is NULL: error (default: fail, naming the count),\n"
          "                        include (read them on every run) or skip; counted in the manifest\n"
          "  --full                copy everything and restart the watermark at MAX(COLUMN)\n"
          "  -h, --help            this help\n",
          out);
    fputs(cli_lock_help, out);
    cli_print_global_help(out);
}


static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cmd_export(cli_ctx *ctx, int argc, char **argv)
{
    enum { O_TABLE = 256, O_QUERY, O_NAME, O_WHERE, O_COLUMNS, O_OUTPUT, O_COMP, O_ZSTD, O_PARTS, O_PCOL, O_CONS,
           O_RG, O_PAGE, O_BATCH, O_DATE, O_ZERO, O_PROGRESS, O_WIDE, O_DRY, O_METRICS, O_LOCK_WAIT, O_LOCK_RETRIES,
           O_LOCK_KIND, O_INCR, O_LOOKBACK, O_FULL, O_INULLS, O_LAYOUT, O_MEM };
    static const struct option opts[] = {
        {"table", required_argument, NULL, O_TABLE}, {"query", required_argument, NULL, O_QUERY},
        {"name", required_argument, NULL, O_NAME}, {"where", required_argument, NULL, O_WHERE},
        {"columns", required_argument, NULL, O_COLUMNS}, {"output", required_argument, NULL, O_OUTPUT},
        {"compression", required_argument, NULL, O_COMP}, {"zstd-level", required_argument, NULL, O_ZSTD},
        {"partitions", required_argument, NULL, O_PARTS}, {"partition-column", required_argument, NULL, O_PCOL},
        {"consistency", required_argument, NULL, O_CONS}, {"row-group-size", required_argument, NULL, O_RG},
        {"page-size", required_argument, NULL, O_PAGE}, {"memory-limit", required_argument, NULL, O_MEM}, {"batch-rows", required_argument, NULL, O_BATCH},
        {"date", required_argument, NULL, O_DATE}, {"zero-dates", required_argument, NULL, O_ZERO},
        {"progress", required_argument, NULL, O_PROGRESS}, {"wide-decimal", required_argument, NULL, O_WIDE},
        {"dry-run", no_argument, NULL, O_DRY}, {"metrics-file", required_argument, NULL, O_METRICS},
        {"help", no_argument, NULL, 'h'},
        {"lock-wait-timeout", required_argument, NULL, O_LOCK_WAIT}, {"lock-retries", required_argument, NULL, O_LOCK_RETRIES},
        {"snapshot-lock", required_argument, NULL, O_LOCK_KIND},
        {"incremental", required_argument, NULL, O_INCR}, {"lookback", required_argument, NULL, O_LOOKBACK},
        {"full", no_argument, NULL, O_FULL}, {"incremental-nulls", required_argument, NULL, O_INULLS},
        {"layout", required_argument, NULL, O_LAYOUT},
        {NULL, 0, NULL, 0}};
    sl_err err = {0};
    sl_export_opts o;
    sl_export_opts_default(&o);
    const char **tables = sl_calloc((size_t)argc + 1, sizeof *tables);
    if (!tables) return cli_fail("export", &(sl_err){SL_E_NOMEM, "out of memory"});
    int c, rc = 0, nulls_given = 0;
    long v;
    const char *metrics_file = NULL;
    cli_job job = {0};
    optind = 1;
    int opt_index = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &opt_index)) != -1) {
        switch (c) {
        case O_TABLE:
            if (!optarg[0]) { rc = cli_usage_error("export", "--table needs a name"); goto out; }
            tables[o.ntables++] = optarg;
            break;
        case O_QUERY: o.query = optarg; break;
        case O_NAME: o.name = optarg; break;
        case O_WHERE: o.where = optarg; break;
        case O_COLUMNS: o.columns = optarg; break;
        case O_OUTPUT: o.output = optarg; break;
        case O_COMP:
            if (pq_codec_parse(optarg, &o.pq.codec, &err) != SL_OK) {
                rc = cli_usage_error("export", "--compression: %s", err.msg);
                goto out;
            }
            break;
        case O_ZSTD:
            if (parse_int(optarg, -7, 22, &v)) { rc = cli_usage_error("export", "--zstd-level takes -7 to 22, not '%s'", optarg); goto out; }
            o.pq.zstd_level = (int)v;
            break;
        case O_PARTS:
            if (parse_int(optarg, 1, 256, &v)) { rc = cli_usage_error("export", "--partitions takes 1 to 256, not '%s'", optarg); goto out; }
            o.partitions = (int)v;
            break;
        case O_PCOL: o.partition_column = optarg; break;
        case O_CONS: {
            int m = 0;
            if ((rc = cli_parse_consistency("export", optarg, &m)) != 0) goto out;
            o.consistency = (my_consistency)m;
            o.consistency_explicit = 1;
            break;
        }
        case O_RG:
            if (cli_parse_size(optarg, &o.pq.row_group_size) || o.pq.row_group_size < 65536) {
                rc = cli_usage_error("export", "--row-group-size takes a size of at least 64K (e.g. 64M), not '%s'", optarg);
                goto out;
            }
            o.row_group_explicit = 1;
            break;
        case O_PAGE:
            if (cli_parse_size(optarg, &o.pq.page_size) || o.pq.page_size < 1024) {
                rc = cli_usage_error("export", "--page-size takes a size of at least 1K (e.g. 1M), not '%s'", optarg);
                goto out;
            }
            o.page_explicit = 1;
            break;
        case O_MEM:
            if (cli_parse_size(optarg, &o.memory_limit)) {
                rc = cli_usage_error("export", "--memory-limit takes a size such as 256M or 1G, not '%s'", optarg);
                goto out;
            }
            if (sl_exec_memory_check(o.memory_limit, &err) != SL_OK) {
                rc = cli_usage_error("export", "%s", err.msg);
                goto out;
            }
            break;
        case O_BATCH:
            if (parse_int(optarg, 1, 1 << 20, &v)) { rc = cli_usage_error("export", "--batch-rows takes 1 to 1048576, not '%s'", optarg); goto out; }
            o.batch_rows = (size_t)v;
            break;
        case O_DATE: o.date = optarg; break;
        case O_ZERO:
            if (strcmp(optarg, "null") == 0) o.zero_dates_error = 0;
            else if (strcmp(optarg, "error") == 0) o.zero_dates_error = 1;
            else { rc = cli_usage_error("export", "--zero-dates takes null or error, not '%s'", optarg); goto out; }
            break;
        case O_DRY: o.dry_run = 1; break;
        case O_METRICS: metrics_file = optarg; break;
        case O_WIDE:
            if ((rc = cli_parse_wide_decimal("export", optarg, &o.wide_decimal_string)) != 0) goto out;
            break;
        case O_PROGRESS: {
            int m = 0;
            if ((rc = cli_parse_progress("export", optarg, &m)) != 0) goto out;
            o.progress = (sl_progress_mode)m;
            break;
        }
        case O_LOCK_WAIT: case O_LOCK_RETRIES: case O_LOCK_KIND:
            if ((rc = cli_parse_lock("export", opts[opt_index].name, optarg, &o.lock)) != 0) goto out;
            break;
        case O_INCR:
            if (!optarg[0]) { rc = cli_usage_error("export", "--incremental needs a column name"); goto out; }
            o.incr.column = optarg;
            break;
        case O_LOOKBACK:
            if (sl_incr_lookback_parse(optarg, &o.incr.lookback, &err) != SL_OK) { rc = cli_usage_error("export", "%s", err.msg); goto out; }
            break;
        case O_FULL: o.incr.full = 1; break;
        case O_INULLS:
            if (sl_incr_nulls_parse(optarg, &o.incr.nulls, &err) != SL_OK) { rc = cli_usage_error("export", "%s", err.msg); goto out; }
            nulls_given = 1;
            break;
        case O_LAYOUT:
            if (sl_layout_parse(optarg, &o.layout, &err) != SL_OK) { rc = cli_usage_error("export", "%s", err.msg); goto out; }
            break;
        case 'h': usage(stdout); goto out;
        default: rc = cli_usage_error("export", "unknown option"); goto out;
        }
    }
    if (optind < argc) { rc = cli_usage_error("export", "unexpected argument '%s'", argv[optind]); goto out; }
    if (!o.output || !o.output[0]) { rc = cli_usage_error("export", "--output is required"); goto out; }
    if (o.query && o.ntables) { rc = cli_usage_error("export", "--query and --table exclude each other"); goto out; }
    if (o.query && (o.where || o.columns || o.partition_column)) {
        rc = cli_usage_error("export", "--where, --columns and --partition-column apply to tables, not to --query");
        goto out;
    }
    if (o.query && !o.query[0]) { rc = cli_usage_error("export", "--query needs an SQL statement"); goto out; }
    if (metrics_file && !metrics_file[0]) { rc = cli_usage_error("export", "--metrics-file needs a path"); goto out; }
    if (!o.incr.column && (o.incr.lookback.given || o.incr.full || nulls_given)) {
        rc = cli_usage_error("export", "--lookback, --full and --incremental-nulls need --incremental COLUMN");
        goto out;
    }
    if (o.incr.column && (o.query || o.ntables == 0)) {
        rc = cli_usage_error("export", "--incremental needs the tables named with --table (not --query, not all tables)");
        goto out;
    }
    if (o.incr.full && o.incr.lookback.given) {
        rc = cli_usage_error("export", "--lookback has no effect with --full, which reads everything");
        goto out;
    }
    if (ctx->quiet) o.progress = SL_PROGRESS_OFF;
    o.tables = tables;
    if (ctx->plan_only) {
        json_t *plan = NULL;
        if (cli_load_config(ctx, "export", &err) != 0) { rc = cli_fail("export", &err); goto out; }
        if (sl_export_plan(ctx->cfg, &o, &plan, &err) != SL_OK) rc = cli_fail("plan", &err);
        else rc = cli_print_plan(ctx, plan);
        json_decref(plan);
        goto out;
    }
    if ((rc = cli_job_begin(&job, "export", metrics_file, o.dry_run)) != 0) goto out;
    o.run_id = job.run_id;
    o.metrics = job.metrics;
    sl_export_result res;
    if (cli_load_config(ctx, "export", &err) != 0 || sl_export_run(ctx->cfg, &o, &res, &err) != SL_OK) {
        rc = cli_job_end(&job, cli_fail("export", &err));
        goto out;
    }
    if (o.dry_run) {
        rc = cli_job_end(&job, 0);
        goto out;
    }
    cli_stop_late("export");
    sl_log_event(SL_LOG_INFO, "run_done",
                 json_pack("{s:s, s:s, s:i, s:I, s:i, s:I, s:f, s:s, s:s}", "command", "export", "date", res.date,
                           "tables", res.tables, "rows", (json_int_t)res.rows, "files", res.files, "bytes",
                           (json_int_t)res.bytes, "seconds", res.seconds, "consistency", res.consistency, "output",
                           o.output),
                 "exported %d table%s, %lld rows", res.tables, res.tables == 1 ? "" : "s", (long long)res.rows);
    if (!ctx->quiet)
        printf("exported %d table%s, %lld rows, %d files, %.1f MB in %.1f s (run %s, consistency %s) to %s\n",
               res.tables, res.tables == 1 ? "" : "s", (long long)res.rows, res.files, (double)res.bytes / 1e6,
               res.seconds, res.run_id, res.consistency, o.output);
    rc = cli_job_end(&job, 0);
out:
    sl_free(tables);
    return rc;
}
