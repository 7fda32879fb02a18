/* dryrun.c - what a dry run prints (see dryrun.h). Only reads the plan: nothing here
 * touches the output. */
#include "dryrun.h"

#include <string.h>

#include "../mysql/my_catalog.h"

json_t *sl_dryrun_snapshot(MYSQL *m, my_consistency mode, int connections, sl_err *err)
{
    char lock[600];
    my_snapshot_describe(mode, connections, lock, sizeof lock);
    json_t *o = json_pack("{s:s, s:i, s:s}", "consistency", mode == MY_SNAPSHOT ? "snapshot" : "none", "connections",
                          connections, "lock", lock);
    if (o && mode == MY_SNAPSHOT && connections > 1) {
        int has = 0;
        if (my_catalog_has_privilege(m, "RELOAD", &has, err) != SL_OK) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "reload_privilege", json_boolean(has));
    }
    return o;
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void sl_dryrun_print(FILE *out, const json_t *plan)
{
    const json_t *snap = json_object_get(plan, "snapshot"), *v;
    const char *output = str(plan, "output");
    size_t i, j;
    int slash = output[0] && output[strlen(output) - 1] == '/';
    fprintf(out, "sluice %s --dry-run: connected and planned; nothing is written\n", str(plan, "command"));
    fprintf(out, "  run id   %s (for illustration: a real run draws its own)\n", str(plan, "run_id"));
    fprintf(out, "  date     %s\n", str(plan, "date"));
    if (json_object_get(plan, "as_of")) fprintf(out, "  as of    %s\n", str(plan, "as_of"));
    fprintf(out, "  source   %s\n", str(plan, "source"));
    fprintf(out, "  snapshot %s on %d connection%s\n", str(snap, "consistency"),
            (int)json_integer_value(json_object_get(snap, "connections")),
            json_integer_value(json_object_get(snap, "connections")) == 1 ? "" : "s");
    fprintf(out, "  lock     %s\n", str(snap, "lock"));
    if ((v = json_object_get(snap, "reload_privilege")))
        fprintf(out, "           the user %s RELOAD%s\n", json_is_true(v) ? "holds" : "lacks",
                json_is_true(v) ? "" : ": the run would fall back to --consistency none, or fail if the option "
                                       "was given");
    fputs("\nWould read:\n", out);
    json_array_foreach(json_object_get(plan, "reads"), i, v) {
        json_int_t est = json_integer_value(json_object_get(v, "estimated_rows"));
        const json_t *q = json_object_get(v, "queries"), *s;
        const char *key = str(v, "partition_column");
        fprintf(out, "  %s: ", str(v, "table"));
        if (json_is_integer(json_object_get(v, "estimated_rows")) && est >= 0)
            fprintf(out, "about %lld rows (information_schema estimate)", (long long)est);
        else
            fputs("rows unknown", out);
        if (json_array_size(q) > 1) fprintf(out, ", %zu key ranges on %s", json_array_size(q), key);
        fputc('\n', out);
        if (json_object_get(v, "incremental")) fprintf(out, "    incremental: %s\n", str(v, "incremental"));
        json_array_foreach(q, j, s) fprintf(out, "    %s\n", json_string_value(s));
    }
    fprintf(out, "\nWould write (under %s):\n", output);
    json_array_foreach(json_object_get(plan, "writes"), i, v) {
        const json_t *f;
        json_array_foreach(json_object_get(v, "files"), j, f)
            fprintf(out, "  %s%s%s%s\n", output, slash ? "" : "/", str(v, "partition"), json_string_value(f));
        fprintf(out, "  %s%s%s_SUCCESS (the manifest, written last)\n", output, slash ? "" : "/", str(v, "partition"));
    }
    if (json_string_value(json_object_get(plan, "metrics_file")))
        fprintf(out, "  %s (metrics; not written by a dry run)\n", str(plan, "metrics_file"));
    fflush(out);
}
