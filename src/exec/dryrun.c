/* dryrun.c - what a dry run prints (see dryrun.h). Reads the plan and asks the server
 * two questions (its lock kind, the user's RELOAD privilege); touches no output. */
#include "dryrun.h"

#include <stdlib.h>
#include <string.h>

#include "../mysql/my_catalog.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_lock.h"
#include "../mysql/my_plan.h"
#include "exec.h"
#include "task_int.h"

static void lock_lines(const json_t *plan, MYSQL *m, FILE *out, sl_err *err, sl_code *rc)
{
    int n = (int)(sl_plan_int(plan, "connections", 1) + sl_plan_int(plan, "helper_connections", 0));
    my_lock_opts lo;
    char text[700];
    sl_exec_plan_lock_opts(plan, &lo);
    fprintf(out, "  snapshot %s on %d connection%s\n", sl_plan_str(plan, "consistency"), n, n == 1 ? "" : "s");
    if (strcmp(sl_plan_str(plan, "consistency"), "snapshot") != 0) {
        fprintf(out, "  lock     no lock: each connection reads its own snapshot (START TRANSACTION READ ONLY)\n");
        return;
    }
    if (n == 1) {
        fprintf(out, "  lock     no lock: one connection, START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY\n");
        return;
    }
    my_lock_kind k = my_lock_resolve(m, lo.kind);
    my_lock_describe(k, &lo, n, text, sizeof text);
    fprintf(out, "  lock     %s\n", text);
    int has = 0;
    *rc = my_catalog_has_privilege(m, "RELOAD", &has, err);
    if (*rc == SL_OK)
        fprintf(out, "           the user %s RELOAD%s\n", has ? "holds" : "lacks",
                has ? "" : ": the run would fall back to --consistency none, or fail if the option was given");
}

static void path(FILE *out, const char *output, const char *partition, const char *name, const char *note)
{
    size_t n = strlen(output);
    fprintf(out, "  %s%s%s%s%s\n", output, n && output[n - 1] == '/' ? "" : "/", partition, name, note);
}

static void export_reads(const json_t *plan, FILE *out)
{
    const json_t *tables = json_object_get(json_object_get(plan, "export"), "tables"), *t, *task;
    size_t i, k;
    json_array_foreach(tables, i, t) {
        json_int_t est = sl_plan_int(t, "estimate", -1);
        int nq = 0;
        json_array_foreach(json_object_get(plan, "tasks"), k, task) nq += sl_plan_int(task, "table", -1) == (long long)i;
        fprintf(out, "  %s: ", sl_plan_str(t, "name"));
        if (est >= 0) fprintf(out, "about %lld rows (information_schema estimate)", (long long)est);
        else fputs("rows unknown", out);
        if (nq > 1) fprintf(out, ", %d key ranges on %s", nq, sl_plan_str(t, "key"));
        fputc('\n', out);
        const json_t *inc = json_object_get(t, "incremental");
        if (json_is_object(inc)) {
            char *s = json_dumps(inc, JSON_COMPACT);
            fprintf(out, "    incremental on %s: %s\n", sl_plan_str(inc, "column"), s ? s : "");
            free(s);
        }
        json_array_foreach(json_object_get(plan, "tasks"), k, task)
            if (sl_plan_int(task, "table", -1) == (long long)i) fprintf(out, "    %s\n", sl_plan_str(task, "sql"));
    }
}

static void export_writes(const json_t *plan, FILE *out, const char *output, const char *run_id, const char *codec)
{
    const json_t *tables = json_object_get(json_object_get(plan, "export"), "tables"), *t, *task;
    size_t i, k;
    json_array_foreach(tables, i, t) {
        json_array_foreach(json_object_get(plan, "tasks"), k, task) {
            if (sl_plan_int(task, "table", -1) != (long long)i) continue;
            char name[300];
            snprintf(name, sizeof name, "part-%05lld-%s.%s.parquet", sl_plan_int(task, "part", 0), run_id, codec);
            path(out, output, sl_plan_str(t, "prefix"), name, "");
        }
        path(out, output, sl_plan_str(t, "prefix"), "_SUCCESS",
             json_is_true(json_object_get(t, "append")) ? " (the manifest, written last; this run's files are added "
                                                          "to the date's earlier runs)"
                                                        : " (the manifest, written last)");
    }
}

static void run_reads(const json_t *plan, FILE *out)
{
    const json_t *u, *task;
    size_t i, k;
    json_array_foreach(json_object_get(plan, "units"), i, u) {
        json_int_t est = sl_plan_int(u, "estimate", -1);
        /* without --raw only the sales window's items are read (run.c, source_sql) */
        int window = strcmp(sl_plan_str(u, "name"), "order_items") == 0 && !json_is_true(json_object_get(plan, "raw"));
        fprintf(out, "  %s: ", sl_plan_str(u, "name"));
        if (est >= 0) fprintf(out, "about %lld rows (information_schema estimate)", (long long)est);
        else fputs("rows unknown", out);
        fputs(window ? "; only the items of the sales window's orders are read\n" : "\n", out);
        json_array_foreach(json_object_get(plan, "tasks"), k, task) {
            const char *sql = sl_plan_str(json_object_get(task, "sql"), sl_plan_str(u, "name"));
            if (*sql) fprintf(out, "    %s\n", sql);
        }
    }
}

static void run_writes(const json_t *plan, FILE *out, const char *output, const char *run_id, const char *codec)
{
    static const char *const datasets[] = {"inventory_analytics", "order_analytics", "hourly_orders",
                                           "warehouse_utilization", "product_turnover", "customer_segments"};
    int shards = (int)sl_plan_int(plan, "shards", 1);
    const char *prefix = sl_plan_str(plan, "prefix");
    char name[300];
    for (int d = 0; d < 6; d++)
        for (int s = 0; s < (d == 1 ? shards : 1); s++) {
            snprintf(name, sizeof name, "%s/part-%05d-%s.%s.parquet", datasets[d], s, run_id, codec);
            path(out, output, prefix, name, "");
        }
    path(out, output, prefix, "report.html", " (the run report)");
    path(out, output, prefix, "_SUCCESS", " (the manifest, written last)");
    if (!json_is_true(json_object_get(plan, "raw"))) return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(plan, "raw_prefixes"), k, v) {
        /* the orders side's tables are read, and written, once per customer shard */
        int per = strcmp(k, "customers") == 0 || strcmp(k, "orders") == 0 || strcmp(k, "order_items") == 0;
        for (int s = 0; s < (per ? shards : 1); s++) {
            snprintf(name, sizeof name, "part-%05d-%s.%s.parquet", s, run_id, codec);
            path(out, output, json_string_value(v), name, "");
        }
        path(out, output, json_string_value(v), "_SUCCESS", " (the manifest, written last)");
    }
}

sl_code sl_dryrun_plan(const sl_config *cfg, const json_t *plan, FILE *out, sl_err *err)
{
    my_params mp;
    char who[512];
    sl_code rc = SL_OK;
    const char *cmd = sl_plan_str(plan, "command"), *output = sl_plan_str(plan, "output");
    const char *run_id = sl_plan_str(plan, "run_id");
    const char *codec = sl_plan_str(json_object_get(plan, "writer"), "compression");
    int is_run = strcmp(cmd, "run") == 0;
    SL_TRY(my_params_from_config(cfg, &mp, 0, err));
    MYSQL *m = my_connect(&mp, 0, err);
    if (!m) return err && err->code ? err->code : SL_E_DB_CONNECT;
    fprintf(out, "sluice %s --dry-run: connected and planned; nothing is written\n", cmd);
    fprintf(out, "  run id   %s (a real run draws its own)\n", run_id);
    fprintf(out, "  date     %s\n", sl_plan_str(plan, "date"));
    if (is_run) fprintf(out, "  as of    %s\n", sl_plan_str(json_object_get(plan, "parameters"), "as_of"));
    fprintf(out, "  source   %s, database %s\n", my_params_describe(&mp, who, sizeof who), sl_plan_str(plan, "database"));
    fprintf(out, "  tasks    %d\n", sl_plan_ntasks(plan));
    lock_lines(plan, m, out, err, &rc);
    my_close(m);
    if (rc != SL_OK) return rc;
    fputs("\nWould read:\n", out);
    if (is_run) run_reads(plan, out);
    else export_reads(plan, out);
    fprintf(out, "\nWould write (under %s):\n", output);
    if (is_run) run_writes(plan, out, output, run_id, codec);
    else export_writes(plan, out, output, run_id, codec);
    fflush(out);
    return SL_OK;
}
