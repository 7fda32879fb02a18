/* test_report.c - the run report's drawing kit (escaping, numbers, SVG charts) and the
 * commit's fixed-name file that carries report.html. */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/batch/batch.h"
#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_log.h"
#include "../../src/parquet/parquet.h"
#include "../../src/report/report.h"
#include "../../src/report/rp_svg.h"
#include "../../src/sink/commit.h"
#include "test.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_escape(void)
{
    sl_buf b;
    sl_err e;
    sl_buf_init(&b, 0);
    CHECK_EQ_INT(rp_html_text(&b, "<a href=\"x\">&'ok'</a> é", &e), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, &e), SL_OK);
    CHECK_STR((char *)b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;ok&#39;&lt;/a&gt; é");
    sl_buf_free(&b);
}

static void test_numbers(void)
{
    char buf[32];
    CHECK_STR(rp_fmt_int(0, buf, sizeof buf), "0");
    CHECK_STR(rp_fmt_int(999, buf, sizeof buf), "999");
    CHECK_STR(rp_fmt_int(1000, buf, sizeof buf), "1,000");
    CHECK_STR(rp_fmt_int(-1234567, buf, sizeof buf), "-1,234,567");
    CHECK_STR(rp_fmt_int(INT64_MIN, buf, sizeof buf), "-9,223,372,036,854,775,808");
    CHECK_STR(rp_fmt_compact(2000, buf, sizeof buf), "2,000");
    CHECK_STR(rp_fmt_compact(35000, buf, sizeof buf), "35 k");
    CHECK_STR(rp_fmt_compact(2500000, buf, sizeof buf), "2.5 M");
}

/* Every bar is one element with its figure in data-value, every string escaped. */
static void test_charts(void)
{
    sl_buf b;
    sl_err e;
    rp_bar bars[3] = {{.label = "<b>one</b>", .value = 5, .value_text = "5", .title = "t\"1"},
                      {.label = "two", .value = 0, .value_text = NULL},
                      {.label = "three", .value = 12.5, .value_text = "12.5", .mark = 1, .shown = "12.5"}};
    rp_chart c = {.id = "c1", .caption = "cap & more", .cat_label = "x (units)", .val_label = "y (units)",
                  .kind = RP_BARS_VERTICAL, .mark_note = "peak"};
    for (int kind = RP_BARS_VERTICAL; kind <= RP_LINE; kind++) {
        sl_buf_init(&b, 0);
        c.kind = kind;
        CHECK_EQ_INT(rp_svg_chart(&b, &c, bars, 3, &e), SL_OK);
        CHECK_EQ_INT(sl_buf_cstr(&b, &e), SL_OK);
        const char *s = (const char *)b.data;
        CHECK(strncmp(s, "<svg class=\"chart", 17) == 0);
        CHECK_EQ_INT(count(s, kind == RP_LINE ? "<circle class=\"point" : "<rect class=\"bar"), 3);
        CHECK_EQ_INT(count(s, "data-value=\"5\""), 1);
        CHECK_EQ_INT(count(s, "data-value=\"\""), 1); /* no value: an empty attribute */
        CHECK_EQ_INT(count(s, "data-mark=\"true\""), 1);
        CHECK(strstr(s, "&lt;b&gt;one&lt;/b&gt;") && !strstr(s, "<b>"));
        CHECK(strstr(s, "<title>t&quot;1</title>"));
        CHECK(strstr(s, "aria-label=\"cap &amp; more\""));
        CHECK(strstr(s, ">x (units)</text>") && strstr(s, ">y (units)</text>"));
        CHECK(strstr(s, "</svg>") && !strstr(s, "nan") && !strstr(s, "inf"));
        sl_buf_free(&b);
    }
    /* no bars: axes and a note, no bar */
    sl_buf_init(&b, 0);
    c.kind = RP_BARS_HORIZONTAL;
    CHECK_EQ_INT(rp_svg_chart(&b, &c, bars, 0, &e), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, &e), SL_OK);
    CHECK(strstr((char *)b.data, "no data") && !strstr((char *)b.data, "class=\"bar"));
    sl_buf_free(&b);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(p);
}

static char *slurp(const char *root, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static sl_code put_file(sl_commit *c, const char *name, const char *data, sl_err *e)
{
    sl_sink *s = sl_commit_create_file(c, name, e);
    if (!s) return e->code;
    sl_code rc = sl_sink_write(s, data, strlen(data), e);
    if (rc == SL_OK) rc = sl_sink_finish(s, e);
    sl_sink_release(s);
    return rc == SL_OK ? sl_commit_set_rows(c, name, 1, e) : rc;
}

/* report.html: listed by the manifest with its checksum and 0 rows; an aborted later
 * run leaves the committed one in place; a second add of the name is refused. */
static void test_commit_fixed_file(void)
{
    char root[64] = "/tmp/sluice-report-XXXXXX", *txt = NULL;
    sl_err e;
    sl_store *st = NULL;
    sl_commit *c = NULL;
    json_t *m = NULL;
    CHECK(mkdtemp(root));
    st = sl_store_local_open(root, &e);
    CHECK(st);
    c = sl_commit_begin(st, "bi/2026-06-30", "run-1", "2026-06-30", &e);
    CHECK(c);
    CHECK_EQ_INT(put_file(c, "d/part-run-1.parquet", "data", &e), SL_OK);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "report.html", "hello", 5, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "report.html", "again", 5, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "_SUCCESS", "x", 1, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "d/part-run-1.parquet", "x", 1, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_free(c);
    c = NULL;
    txt = slurp(root, "bi/2026-06-30/report.html");
    CHECK(txt && strcmp(txt, "hello") == 0);
    free(txt);
    CHECK_EQ_INT(sl_manifest_read(st, "bi/2026-06-30", &m, &e), SL_OK);
    json_t *files = json_object_get(m, "files");
    CHECK_EQ_INT(json_array_size(files), 2);
    json_t *f = json_array_get(files, 1);
    CHECK_STR(json_string_value(json_object_get(f, "name")), "report.html");
    CHECK_STR(json_string_value(json_object_get(f, "key")), "bi/2026-06-30/report.html");
    CHECK_EQ_INT(json_integer_value(json_object_get(f, "rows")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(f, "bytes")), 5);
    CHECK_STR(json_string_value(json_object_get(f, "checksum")), /* sha256("hello") */
              "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "total_bytes")), 9);
    json_decref(m);
    m = NULL;

    /* a later run that aborts before finishing: the committed report stays */
    c = sl_commit_begin(st, "bi/2026-06-30", "run-2", "2026-06-30", &e);
    CHECK(c);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "report.html", "other", 5, &e), SL_OK);
    sl_commit_abort(c);
    sl_commit_free(c);
    c = NULL;
    txt = slurp(root, "bi/2026-06-30/report.html");
    CHECK(txt && strcmp(txt, "hello") == 0);
    free(txt);

    /* a later run that commits replaces it */
    c = sl_commit_begin(st, "bi/2026-06-30", "run-3", "2026-06-30", &e);
    CHECK(c);
    CHECK_EQ_INT(put_file(c, "d/part-run-3.parquet", "data3", &e), SL_OK);
    CHECK_EQ_INT(sl_commit_add_fixed(c, "report.html", "hello 3", 7, &e), SL_OK);
    CHECK_EQ_INT(sl_commit_finish(c, NULL, &e), SL_OK);
    sl_commit_free(c);
    txt = slurp(root, "bi/2026-06-30/report.html");
    CHECK(txt && strcmp(txt, "hello 3") == 0);
    free(txt);
    CHECK(!slurp(root, "bi/2026-06-30/d/part-run-1.parquet"));
    sl_store_free(st);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}


/* ---- rp_render over hand-made datasets: what the page shows, and every allocation
 * failing in turn ---- */

typedef struct col_spec {
    const char *name;
    sl_type_id t;
} col_spec;

/* Writes <root>/bi/<name>.parquet with the columns of spec (all nullable) and the rows
 * given as text (NULL: a NULL value; decimals as "12.34"). */
static int write_dataset(const char *root, const char *name, const col_spec *spec, int ncols, const char *const *rows,
                         int nrows)
{
    sl_err e;
    char path[512];
    int ok = 0;
    sl_schema *sc = sl_schema_create(ncols, &e);
    for (int i = 0; sc && i < ncols; i++) {
        sl_type t = {spec[i].t, spec[i].t == SL_DECIMAL ? 18 : 0, spec[i].t == SL_DECIMAL ? 2 : 0};
        if (sl_schema_set(sc, i, spec[i].name, t, 1, NULL, &e) != SL_OK) goto out;
    }
    sl_batch *b = sc ? sl_batch_create(sc, 64, 1 << 20, &e) : NULL;
    if (!b) goto out;
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < ncols; i++) {
            const char *v = rows[r * ncols + i];
            sl_column *c = &b->cols[i];
            if (!v) {
                sl_col_set_null(c, b->nrows);
                continue;
            }
            sl_col_set_valid(c, b->nrows);
            switch (spec[i].t) {
            case SL_INT32: SL_COL_VALUES(c, int32_t)[b->nrows] = atoi(v); break;
            case SL_INT64: SL_COL_VALUES(c, int64_t)[b->nrows] = atoll(v); break;
            case SL_DOUBLE: SL_COL_VALUES(c, double)[b->nrows] = strtod(v, NULL); break;
            case SL_BOOL: SL_COL_VALUES(c, uint8_t)[b->nrows] = strcmp(v, "true") == 0; break;
            case SL_DECIMAL: SL_COL_VALUES(c, int64_t)[b->nrows] = llround(strtod(v, NULL) * 100); break;
            default: sl_col_set_bytes(c, b->nrows, v, strlen(v), &e); break;
            }
        }
        sl_batch_commit_row(b);
    }
    snprintf(path, sizeof path, "%s/bi/%s.parquet", root, name);
    pq_options o;
    pq_options_default(&o);
    sl_sink *sink = sl_sink_file_open(path, &e);
    pq_writer *w = sink ? pq_writer_open(sink, sc, &o, &e) : NULL;
    pq_file_info info;
    ok = w && pq_writer_write(w, b, &e) == SL_OK && pq_writer_close(w, &info, &e) == SL_OK;
    pq_writer_free(w);
    sl_sink_release(sink);
    sl_batch_free(b);
out:
    sl_schema_free(sc);
    return ok;
}

static int make_datasets(const char *root)
{
    static const col_spec hourly[] = {{"hour", SL_INT32}, {"order_count", SL_INT64}, {"revenue", SL_DECIMAL}};
    static const col_spec inv[] = {{"inventory_score", SL_DOUBLE}, {"stock_status", SL_STRING}};
    static const col_spec wh[] = {{"warehouse_id", SL_INT64}, {"name", SL_STRING}, {"city", SL_STRING},
                                  {"utilization_ratio", SL_DOUBLE}, {"restock_count", SL_INT64},
                                  {"overstock_count", SL_INT64}, {"item_count", SL_INT64}};
    static const col_spec pt[] = {{"product_id", SL_INT64}, {"sku", SL_STRING}, {"name", SL_STRING},
                                  {"category", SL_STRING}, {"units_sold", SL_INT64}, {"on_hand", SL_INT64},
                                  {"days_of_supply", SL_DOUBLE}, {"needs_restock", SL_BOOL}};
    static const col_spec seg[] = {{"frequency_segment", SL_STRING}, {"customer_count", SL_INT64},
                                   {"vip_count", SL_INT64}, {"total_spent", SL_DECIMAL}, {"avg_order_value", SL_DOUBLE}};
    static char hours[24][3][16];
    const char *hrows[24 * 3];
    for (int h = 0; h < 24; h++) {
        snprintf(hours[h][0], 16, "%d", h);
        snprintf(hours[h][1], 16, "%d", h == 19 ? 50 : h);
        snprintf(hours[h][2], 16, "%d.25", h * 10);
        for (int k = 0; k < 3; k++) hrows[h * 3 + k] = hours[h][k];
    }
    const char *irows[] = {"5", "restock", "15.5", "ok", "100", "overstock", NULL, "unknown", "99.9", "ok"};
    const char *wrows[] = {"1", "North <&> \"One\"", "Oslo", "0.5", "2", "1", "4",
                           "2", "South", NULL, "0.875", "0", "3", "5",
                           "3", NULL, NULL, NULL, "0", "0", "0"};
    const char *prows[] = {"10", "SKU-10", "Lamp", "Home", "30", "5", "5", "true",
                           "11", "SKU-11", "Desk", "Home", "3", "100", "1000", "false",
                           "12", "SKU-12", "Pen", "Office", "9", "0", "0", "true",
                           "13", "SKU-13", "Cup", "Home", "60", "2", "1", "true"};
    const char *srows[] = {"one-time", "7", "0", "70.00", "10", "frequent", "3", "2", "900.50", "30.0166"};
    return write_dataset(root, "hourly_orders", hourly, 3, hrows, 24) &&
           write_dataset(root, "inventory_analytics", inv, 2, irows, 5) &&
           write_dataset(root, "warehouse_utilization", wh, 7, wrows, 3) &&
           write_dataset(root, "product_turnover", pt, 8, prows, 4) &&
           write_dataset(root, "customer_segments", seg, 5, srows, 2);
}

static json_t *manifest_of_datasets(void)
{
    static const char *const ds[] = {"hourly_orders", "inventory_analytics", "warehouse_utilization",
                                     "product_turnover", "customer_segments"};
    json_t *d = json_object();
    for (int i = 0; i < 5; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.parquet", ds[i]);
        json_object_set_new(d, ds[i], json_pack("{s:s, s:i, s:i}", "file", file, "rows", 1, "bytes", 2));
    }
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:i, s:i}, s:{s:{s:i, s:f}}, s:{s:f}, s:{s:s, s:i}}", "partition",
                     "bi/", "run_id", "run-<1>", "as_of", "2026-06-30", "datasets", d, "data_quality", "capacity_null",
                     3, "orders_unknown_customer", 0, "sources", "orders", "rows", 42, "seconds", 0.5, "timings",
                     "read_seconds", 1.25, "snapshot", "consistency", "snapshot", "connections", 3);
}

static void test_render(void)
{
    char root[64] = "/tmp/sluice-render-XXXXXX";
    sl_err e;
    sl_buf b;
    CHECK(mkdtemp(root));
    CHECK(make_datasets(root));
    sl_store *st = sl_store_local_open(root, &e);
    json_t *m = manifest_of_datasets();
    CHECK(st && m);
    sl_buf_init(&b, 0);
    CHECK_EQ_INT(rp_render(st, "bi/", m, &b, &e), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, &e), SL_OK);
    const char *s = (const char *)b.data;
    /* the peak: 50 orders at 19:00; revenue peaks at 23:00 (230.25) */
    CHECK(strstr(s, "data-label=\"19\" data-value=\"50\" data-mark=\"true\""));
    CHECK(strstr(s, "data-label=\"23\" data-value=\"230.25\" data-mark=\"true\""));
    CHECK_EQ_INT(count(s, "data-mark=\"true\""), 2 + 1); /* and the Pen: none on hand */
    /* scores 5, 15.5, 100, 99.9 and a NULL: bins 0-10, 10-20 and two in 90-100 */
    CHECK(strstr(s, "data-label=\"0-10\" data-value=\"1\""));
    CHECK(strstr(s, "data-label=\"10-20\" data-value=\"1\""));
    CHECK(strstr(s, "data-label=\"90-100\" data-value=\"2\""));
    CHECK(strstr(s, "id=\"score-null\" data-value=\"1\""));
    /* warehouses fullest first, the one without capacity last; names escaped */
    const char *w2 = strstr(s, "data-id=\"2\""), *w1 = strstr(s, "data-id=\"1\""), *w3 = strstr(s, "data-id=\"3\"");
    CHECK(w1 && w2 && w3 && w2 < w1 && w1 < w3);
    CHECK(strstr(s, "North &lt;&amp;&gt; &quot;One&quot;") && !strstr(s, "North <&>"));
    CHECK(strstr(s, "data-label=\"warehouse 3\" data-value=\"\""));
    /* restock: the out-of-stock Pen (0 days, 9 sold) and Cup (1 day) before the Lamp */
    const char *pen = strstr(s, "data-id=\"12\""), *cup = strstr(s, "data-id=\"13\""), *lamp = strstr(s, "data-id=\"10\"");
    CHECK(pen && cup && lamp && pen < cup && cup < lamp && !strstr(s, "data-id=\"11\""));
    CHECK(strstr(s, "id=\"restock-count\" data-value=\"3\""));
    /* segments: 2 of 10 customers are VIP */
    CHECK(strstr(s, "data-label=\"frequent\" data-value=\"3\" data-part=\"2\""));
    CHECK(strstr(s, "id=\"vip-share\" data-value=\"0.20000000000000001\""));
    CHECK(strstr(s, "data-key=\"capacity_null\" class=\"warn\"><td>"));
    CHECK(strstr(s, "run-&lt;1&gt;") && !strstr(s, "run-<1>"));
    CHECK(!strstr(s, "<script") && strstr(s, "default-src 'none'"));
    char *want = sl_strndup(s, b.len);
    sl_buf_free(&b);

    /* every allocation fails once: an error, never a crash or a leak (ASan), or the same page */
    long total;
    for (long n = 0;; n++) {
        sl_buf_init(&b, 0);
        sl_alloc_fail_after(n);
        sl_code rc = rp_render(st, "bi/", m, &b, &e);
        total = sl_alloc_fail_after(-1);
        if (rc == SL_OK) CHECK(b.len == strlen(want) && memcmp(b.data, want, b.len) == 0);
        else CHECK(e.msg[0]);
        sl_buf_free(&b);
        if (n >= total) break;
    }
    CHECK(total > 100);
    /* a dataset file that is not Parquet: SL_E_FORMAT naming it */
    FILE *f = fopen(strcat(strcpy((char[128]){0}, root), "/bi/product_turnover.parquet"), "w");
    CHECK(f);
    fputs("not parquet", f);
    fclose(f);
    sl_buf_init(&b, 0);
    CHECK_EQ_INT(rp_render(st, "bi/", m, &b, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, "bi/product_turnover.parquet"));
    sl_buf_free(&b);
    sl_free(want);
    json_decref(m);
    sl_store_free(st);
    nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The fixed-name file under allocation failures: the partition holds run A's complete
 * output, or run B's with its report listed and intact. */
static void test_commit_fixed_alloc_failures(void)
{
    long total;
    sl_log_set_level(SL_LOG_ERROR);
    for (long n = -1;; n++) {
        char root[64] = "/tmp/sluice-fixed-XXXXXX", *txt;
        sl_err e;
        json_t *m = NULL;
        CHECK(mkdtemp(root));
        sl_store *st = sl_store_local_open(root, &e);
        CHECK(st);
        sl_commit *c = sl_commit_begin(st, "p", "run-a", "2026-06-30", &e);
        CHECK(c && put_file(c, "a-run-a", "A", &e) == SL_OK && sl_commit_add_fixed(c, "report.html", "ra", 2, &e) == SL_OK &&
              sl_commit_finish(c, NULL, &e) == SL_OK);
        sl_commit_free(c);
        sl_alloc_fail_after(n);
        sl_code rc = SL_E_NOMEM;
        c = sl_commit_begin(st, "p", "run-b", "2026-06-30", &e);
        if (c && put_file(c, "b-run-b", "B", &e) == SL_OK && sl_commit_add_fixed(c, "report.html", "rb", 2, &e) == SL_OK)
            rc = sl_commit_finish(c, NULL, &e);
        else
            sl_commit_abort(c);
        sl_commit_free(c);
        total = sl_alloc_fail_after(-1);
        CHECK_EQ_INT(sl_manifest_read(st, "p", &m, &e), SL_OK);
        CHECK(m);
        const char *run = json_string_value(json_object_get(m, "run_id"));
        CHECK_STR(run, rc == SL_OK ? "run-b" : "run-a");
        txt = slurp(root, rc == SL_OK ? "p/b-run-b" : "p/a-run-a");
        CHECK(txt);
        free(txt);
        txt = slurp(root, "p/report.html");
        CHECK(txt);
        /* run B's report can stand beside run A's manifest only if B failed after writing it */
        CHECK(strcmp(txt, rc == SL_OK ? "rb" : txt[1] == 'a' ? "ra" : "rb") == 0);
        free(txt);
        json_decref(m);
        sl_store_free(st);
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        if (n == -1) CHECK_EQ_INT(rc, SL_OK);
        else if (n >= total) break;
    }
    sl_log_set_level(SL_LOG_INFO);
}

T_SUITE(suite_report) = {
    {"escape", test_escape},
    {"numbers", test_numbers},
    {"charts", test_charts},
    {"commit_fixed_file", test_commit_fixed_file},
    {"render", test_render},
    {"commit_fixed_alloc_failures", test_commit_fixed_alloc_failures},
    T_END,
};
