/* cmd_report.c - `sluice report`: regenerates report.html of a committed
 * business_insights/<date>/ partition (local folder or S3) from its manifest and its
 * dataset files (src/report/), and keeps the manifest's entry for it true. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../report/report.h"
#include "../sink/commit.h"
#include "../sink/sink.h"
#include "cli.h"

static void usage(FILE *out)
{
    fputs("Usage: sluice report PARTITION [--output FILE|-]\n\n"
          "Regenerates the run report of a committed partition of `sluice run`:\n"
          "  PARTITION   <output>/business_insights/<YYYY-MM-DD>, a local folder or\n"
          "              s3://bucket/prefix/business_insights/<YYYY-MM-DD>\n"
          "The report is one self-contained HTML page (inline CSS and SVG charts, no scripts,\n"
          "nothing fetched): the run (as-of, run id, snapshot, rows and seconds per source\n"
          "table, time per stage, rows and bytes per dataset), orders and revenue by hour of\n"
          "day with the peak marked, the inventory score distribution, warehouse utilization\n"
          "with restock/overstock counts, customer segments with the VIP share, the products\n"
          "most urgently needing restock, and the data-quality counts of the run. Its figures\n"
          "are read from the partition's dataset files and its _SUCCESS manifest; `sluice run`\n"
          "writes the same page as <partition>/report.html before _SUCCESS.\n\n"
          "By default the page replaces <partition>/report.html (atomically) and the manifest's\n"
          "entry for it is updated when its size or checksum changed.\n\n"
          "Options:\n"
          "  --output FILE   write the page to FILE instead (- for standard output); the\n"
          "                  partition is left unchanged\n"
          "  -h, --help      this help\n\n"
          "Exit codes: 8 when PARTITION holds no _SUCCESS, is not a partition of `sluice run`,\n"
          "or a dataset file is missing or not valid; 7 when the storage fails.\n",
          out);
    cli_print_global_help(out);
}

/* "<root>/<name>[/]" -> root (the store) and "<name>/" (the partition's prefix in it). */
static int split_partition(const char *path, char **root, char **part)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *scheme = strstr(path, "://");
    size_t min = scheme ? (size_t)(scheme - path) + 3 : 0;
    size_t cut = n;
    while (cut > min && path[cut - 1] != '/') cut--;
    if (cut == n) return -1;
    if (scheme && !memchr(path + min, '/', n - min)) return -1; /* "s3://bucket": no partition named */
    *part = sl_malloc(n - cut + 2);
    *root = cut > min ? sl_strndup(path, cut - 1 > min ? cut - 1 : cut) : sl_strdup(".");
    if (!*part || !*root) return -2;
    memcpy(*part, path + cut, n - cut);
    (*part)[n - cut] = '/';
    (*part)[n - cut + 1] = '\0';
    return 0;
}

/* The manifest's files entry for report.html, added or updated to the file written. */
static sl_code update_entry(json_t *m, const char *part, uint64_t bytes, const char *sum, int *changed, sl_err *err)
{
    json_t *files = json_object_get(m, "files"), *e = NULL, *v;
    size_t i;
    json_array_foreach(files, i, v) if (strcmp(json_string_value(json_object_get(v, "name")), RP_REPORT_NAME) == 0) e = v;
    *changed = 1;
    if (e && json_integer_value(json_object_get(e, "bytes")) == (json_int_t)bytes &&
        strcmp(json_string_value(json_object_get(e, "checksum")) ? json_string_value(json_object_get(e, "checksum")) : "",
               sum) == 0) {
        *changed = 0;
        return SL_OK;
    }
    json_int_t old = e ? json_integer_value(json_object_get(e, "bytes")) : 0;
    const char *mp = json_string_value(json_object_get(m, "partition"));
    char key[2048];
    snprintf(key, sizeof key, "%s%s", mp ? mp : part, RP_REPORT_NAME);
    if (!e) {
        e = json_pack("{s:s, s:s, s:I, s:I, s:s}", "name", RP_REPORT_NAME, "key", key, "bytes", (json_int_t)bytes,
                      "rows", (json_int_t)0, "checksum", sum);
        /* files stay sorted by name */
        size_t at = 0;
        json_array_foreach(files, i, v) if (strcmp(json_string_value(json_object_get(v, "name")), RP_REPORT_NAME) < 0) at = i + 1;
        if (!e || json_array_insert_new(files, at, e) != 0)
            return sl_err_set(err, SL_E_NOMEM, "out of memory updating the manifest");
    } else if (json_object_set_new(e, "bytes", json_integer((json_int_t)bytes)) ||
               json_object_set_new(e, "checksum", json_string(sum))) {
        return sl_err_set(err, SL_E_NOMEM, "out of memory updating the manifest");
    }
    json_int_t total = json_integer_value(json_object_get(m, "total_bytes"));
    json_object_set_new(m, "total_bytes", json_integer(total - old + (json_int_t)bytes));
    return SL_OK;
}

static sl_code write_into_partition(sl_store *st, const char *part, json_t *m, const sl_buf *html, int *changed,
                                    sl_err *err)
{
    char key[2048], sum[SL_SHA256_TEXT_SIZE];
    snprintf(key, sizeof key, "%s%s", part, RP_REPORT_NAME);
    sl_sink *inner = sl_store_create(st, key, err);
    sl_sink *h = inner ? sl_sink_hash_open(inner, err) : NULL;
    sl_code rc = h ? sl_sink_write(h, html->data, html->len, err) : (err->code ? err->code : SL_E_STORAGE);
    if (rc == SL_OK) rc = sl_sink_finish(h, err);
    if (rc == SL_OK) rc = sl_sink_hash_result(h, NULL, sum, err);
    uint64_t bytes = h ? h->bytes : 0;
    sl_sink_release(h);
    if (rc != SL_OK) return sl_err_prefix(err, "writing %s: ", key);
    SL_TRY(update_entry(m, part, bytes, sum, changed, err));
    return *changed ? sl_manifest_write(st, part, m, err) : SL_OK;
}

int cmd_report(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *output = NULL, *path;
    char *root = NULL, *part = NULL;
    sl_store *st = NULL;
    json_t *m = NULL;
    sl_buf html;
    sl_err err = {0};
    int c, rc = 0, changed = 0;
    sl_buf_init(&html, (size_t)64 << 20);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error("report", "unknown option");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error("report", optind >= argc ? "PARTITION is required" : "one PARTITION only, not '%s'",
                               optind < argc ? argv[optind + 1] : "");
    path = argv[optind];
    if (cli_load_config(ctx, "report", &err) != 0) return cli_fail("report", &err);
    int sp = split_partition(path, &root, &part);
    if (sp == -1) {
        rc = cli_usage_error("report", "'%s' names no partition folder (give <output>/business_insights/<date>)", path);
        goto out;
    }
    if (sp < 0) {
        sl_err_set(&err, SL_E_NOMEM, "out of memory");
        goto fail;
    }
    st = sl_store_open(root, ctx->cfg, &err);
    if (!st) goto fail;
    if (sl_manifest_read(st, part, &m, &err) != SL_OK) goto fail;
    if (!m) {
        sl_err_set(&err, SL_E_FORMAT, "%s holds no %s: not a committed partition of `sluice run`", path,
                   SL_MANIFEST_NAME);
        goto fail;
    }
    const char *kind = json_string_value(json_object_get(m, "kind"));
    if (!kind || strcmp(kind, "business_insights") != 0) {
        sl_err_set(&err, SL_E_FORMAT, "%s is a partition of kind '%s', not a business_insights partition of `sluice run`",
                   path, kind ? kind : "(none)");
        goto fail;
    }
    if (rp_render(st, part, m, &html, &err) != SL_OK) goto fail;
    if (!output) {
        if (write_into_partition(st, part, m, &html, &changed, &err) != SL_OK) goto fail;
        if (!ctx->quiet)
            printf("report: %s/%s written%s\n", path, RP_REPORT_NAME, changed ? "; manifest entry updated" : "");
    } else if (strcmp(output, "-") == 0) {
        if (fwrite(html.data, 1, html.len, stdout) != html.len || fflush(stdout) != 0) {
            sl_err_set(&err, SL_E_IO, "standard output: write failed");
            goto fail;
        }
    } else {
        sl_sink *s = sl_sink_file_open(output, &err);
        sl_code wr = s ? sl_sink_write(s, html.data, html.len, &err) : SL_E_IO;
        if (wr == SL_OK) wr = sl_sink_finish(s, &err);
        sl_sink_release(s);
        if (wr != SL_OK) {
            sl_err_prefix(&err, "writing %s: ", output);
            goto fail;
        }
        if (!ctx->quiet) printf("report: %s written\n", output);
    }
    goto out;
fail:
    rc = cli_fail("report", &err);
out:
    json_decref(m);
    sl_store_free(st);
    sl_free(root);
    sl_free(part);
    sl_buf_free(&html);
    return rc;
}
