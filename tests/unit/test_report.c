/* test_report.c - the run report's drawing kit (escaping, numbers, SVG charts) and the
 * commit's fixed-name file that carries report.html. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

T_SUITE(suite_report) = {
    {"escape", test_escape},
    {"numbers", test_numbers},
    {"charts", test_charts},
    {"commit_fixed_file", test_commit_fixed_file},
    T_END,
};
