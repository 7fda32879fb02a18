/* report.c - the run report (report.h): reads back the datasets a run wrote (our own
 * Parquet reader, pq_decode, one row group of the needed columns at a time), keeps
 * bounded summaries of them, and writes the page. Numbers shown are the datasets'
 * values as written (decimals and doubles keep their exact text in data-value). */
#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../parquet/pq_decode.h"
#include "../parquet/pq_reader.h"
#include "rp_svg.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

#define TOP_RESTOCK RP_TOP_RESTOCK
#define WAREHOUSES_SHOWN 40
#define SEGMENTS_MAX 8
#define SCORE_BINS RP_SCORE_BINS

typedef struct hour_row {
    int set;
    int64_t count, cents;
    char count_text[32], revenue_text[48];
} hour_row;

typedef struct wh_row {
    char *label; /* the name, or "warehouse <id>" without one */
    char *city;
    char id[24], ratio_text[40];
    int has_ratio;
    double ratio;
    int64_t restock, overstock, items;
} wh_row;

typedef rp_product prod_row;

typedef struct seg_row {
    char *name;
    int64_t customers, vip;
    char spent_text[48], aov_text[40];
} seg_row;

typedef struct rp_data {
    hour_row hours[24];
    rp_inventory inv;
    wh_row *wh;
    size_t nwh, whcap;
    rp_restock own;          /* tallied from the file */
    const rp_restock *restock; /* &own, or the run's tally */
    seg_row seg[SEGMENTS_MAX];
    int nseg;
} rp_data;

static void data_free(rp_data *d)
{
    for (size_t i = 0; i < d->nwh; i++) {
        sl_free(d->wh[i].label);
        sl_free(d->wh[i].city);
    }
    sl_free(d->wh);
    rp_restock_free(&d->own);
    for (int i = 0; i < d->nseg; i++) sl_free(d->seg[i].name);
}

/* ---------------------------------------------------------------------------------- */
/* values as pq_decode prints them */

static int64_t to_i64(const char *s) { return s ? strtoll(s, NULL, 10) : 0; }
static double to_f64(const char *s) { return s ? strtod(s, NULL) : NAN; }

/* "-1234.5" -> -123450 cents: a DECIMAL(18,2) as printed, no float on the way. */
static int64_t to_cents(const char *s)
{
    int neg = 0, frac = 0;
    int64_t v = 0;
    if (!s) return 0;
    if (*s == '-') neg = 1, s++;
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && frac < 2; s++, frac++) v = v * 10 + (*s - '0');
    for (; frac < 2; frac++) v *= 10;
    return neg ? -v : v;
}

static const char *fmt_money(int64_t cents, char *buf, size_t cap)
{
    char ip[32];
    int64_t a = cents < 0 ? -cents : cents;
    rp_fmt_int(a / 100, ip, sizeof ip);
    snprintf(buf, cap, "%s%s.%02d", cents < 0 ? "-" : "", ip, (int)(a % 100));
    return buf;
}

static void copy_text(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

/* ---------------------------------------------------------------------------------- */
/* reading a dataset back */

typedef sl_code (*row_fn)(rp_data *d, char *const *cells, sl_err *err);

static sl_code read_dataset(sl_store *st, const char *key, const char *const *names, uint32_t n, row_fn fn,
                            rp_data *d, sl_err *err)
{
    pq_reader *rd = NULL;
    uint32_t cols[16];
    char *cells[16];
    sl_code rc;
    sl_err why = {0}; /* a failed read's own reason, which stdio does not carry */
    /* read as the row groups are decoded (from S3: ranged GETs), never the whole file */
    FILE *f = sl_store_open_read(st, key, &why, err);
    if (!f) {
        rc = err->code ? err->code : SL_E_IO;
        goto done;
    }
    rd = pq_reader_open_stream(key, f, err);
    if (!rd) {
        rc = err->code ? err->code : SL_E_FORMAT;
        goto done;
    }
    const pq_file_meta *m = pq_reader_meta(rd);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j;
        for (j = 1; j < m->n_schema; j++)
            if (m->schema[j].name.len == strlen(names[i]) && memcmp(m->schema[j].name.p, names[i], strlen(names[i])) == 0)
                break;
        if (j == m->n_schema) {
            rc = sl_err_set(err, SL_E_FORMAT, "%s has no column %s", key, names[i]);
            goto done;
        }
        cols[i] = j - 1;
    }
    for (uint32_t g = 0; g < m->n_row_groups; g++) {
        pq_head h;
        SL_TRY_GOTO(rc, pq_group_read(rd, g, cols, n, &h, err), done);
        for (int64_t r = 0; r < h.nrows && rc == SL_OK; r++) {
            memcpy(cells, h.cells + (size_t)r * n, n * sizeof *cells);
            rc = fn(d, cells, err);
        }
        pq_head_free(&h);
        if (rc != SL_OK) goto done;
    }
    rc = SL_OK;
done:
    if (rc != SL_OK && why.code != SL_OK) { /* the store's reason, not stdio's "read failed" */
        *err = why;
        rc = why.code;
    }
    if (rc != SL_OK && !strstr(err->msg, key)) sl_err_prefix(err, "%s: ", key);
    pq_reader_close(rd);
    return rc;
}

static sl_code row_hourly(rp_data *d, char *const *c, sl_err *err)
{
    int64_t h = to_i64(c[0]);
    if (!c[0] || h < 0 || h > 23) return sl_err_set(err, SL_E_FORMAT, "hourly_orders: hour %s is not 0-23", c[0] ? c[0] : "NULL");
    hour_row *r = &d->hours[h];
    /* added up, should a run ever write an hour in several files; the exact figures are
     * printed from the sums (DECIMAL(18,2): cents) */
    r->set = 1;
    r->count += to_i64(c[1]);
    r->cents += to_cents(c[2]);
    int64_t a = r->cents < 0 ? -r->cents : r->cents;
    snprintf(r->count_text, sizeof r->count_text, "%" PRId64, r->count);
    snprintf(r->revenue_text, sizeof r->revenue_text, "%s%" PRId64 ".%02d", r->cents < 0 ? "-" : "", a / 100,
             (int)(a % 100));
    return SL_OK;
}

void rp_inventory_add(rp_inventory *t, int has_score, double score, const char *status, size_t n)
{
    static const char *const st[4] = {"restock", "overstock", "ok", "unknown"};
    t->rows++;
    if (!has_score) t->score_null++;
    else {
        int b = score >= 0 ? (int)floor(score / 10) : 0;
        t->bins[b < 0 ? 0 : b >= SCORE_BINS ? SCORE_BINS - 1 : b]++;
    }
    for (int i = 0; status && i < 4; i++)
        if (strlen(st[i]) == n && memcmp(status, st[i], n) == 0) t->status[i]++;
}

static sl_code row_inventory(rp_data *d, char *const *c, sl_err *err)
{
    (void)err;
    rp_inventory_add(&d->inv, c[0] != NULL, c[0] ? to_f64(c[0]) : 0, c[1], c[1] ? strlen(c[1]) : 0);
    return SL_OK;
}

static sl_code row_warehouse(rp_data *d, char *const *c, sl_err *err)
{
    if (d->nwh == d->whcap) {
        size_t nc = d->whcap ? d->whcap * 2 : 64;
        wh_row *n = sl_realloc(d->wh, nc * sizeof *n);
        if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for warehouse rows");
        d->wh = n;
        d->whcap = nc;
    }
    wh_row *w = &d->wh[d->nwh];
    memset(w, 0, sizeof *w);
    copy_text(w->id, sizeof w->id, c[0]);
    size_t need = (c[1] ? strlen(c[1]) : 0) + (c[2] ? strlen(c[2]) : 0) + sizeof w->id + 16;
    w->label = sl_malloc(need);
    if (!w->label) return sl_err_set(err, SL_E_NOMEM, "out of memory for warehouse rows");
    d->nwh++; /* data_free frees its strings from here on */
    if (c[1]) snprintf(w->label, need, "%s", c[1]);
    else snprintf(w->label, need, "warehouse %s", w->id);
    w->city = c[2] ? sl_strdup(c[2]) : NULL;
    if (c[2] && !w->city) return sl_err_set(err, SL_E_NOMEM, "out of memory for warehouse rows");
    w->has_ratio = c[3] != NULL;
    w->ratio = w->has_ratio ? to_f64(c[3]) : 0;
    copy_text(w->ratio_text, sizeof w->ratio_text, c[3]);
    w->restock = to_i64(c[4]);
    w->overstock = to_i64(c[5]);
    w->items = to_i64(c[6]);
    return SL_OK;
}

/* More urgent first: fewer days of supply, then more units sold, then the lower id. */
static int more_urgent(const prod_row *a, const prod_row *b)
{
    if (a->days != b->days) return a->days < b->days;
    if (a->units != b->units) return a->units > b->units;
    return a->pid < b->pid;
}

/* The place p would take in t's list (TOP_RESTOCK: none). */
static int restock_rank(const rp_restock *t, const prod_row *p)
{
    int at = t->ntop;
    while (at > 0 && more_urgent(p, &t->top[at - 1])) at--;
    return at;
}

static void prod_texts_free(prod_row *p)
{
    sl_free(p->sku);
    sl_free(p->name);
    sl_free(p->category);
}

/* p (its names NULL for none: "") into t's list at place at. */
static sl_code restock_insert(rp_restock *t, prod_row *p, int at, const char *sku, size_t sku_n, const char *name,
                              size_t name_n, const char *category, size_t category_n, sl_err *err)
{
    p->sku = sl_strndup(sku ? sku : "", sku ? sku_n : 0);
    p->name = sl_strndup(name ? name : "", name ? name_n : 0);
    p->category = sl_strndup(category ? category : "", category ? category_n : 0);
    if (!p->sku || !p->name || !p->category) {
        prod_texts_free(p);
        return sl_err_set(err, SL_E_NOMEM, "out of memory for the restock list");
    }
    if (t->ntop == TOP_RESTOCK) { /* the least urgent one leaves */
        prod_texts_free(&t->top[TOP_RESTOCK - 1]);
        t->ntop--;
    }
    memmove(&t->top[at + 1], &t->top[at], (size_t)(t->ntop - at) * sizeof t->top[0]);
    t->top[at] = *p;
    t->ntop++;
    return SL_OK;
}

sl_code rp_restock_add(rp_restock *t, int64_t id, int64_t units, int64_t on_hand, int has_days, double days,
                       const char *sku, size_t sku_n, const char *name, size_t name_n, const char *category,
                       size_t category_n, sl_err *err)
{
    t->products++;
    prod_row p = {0};
    p.pid = id;
    p.units = units;
    p.on_hand = on_hand;
    p.days = has_days ? days : INFINITY;
    int at = restock_rank(t, &p);
    if (at >= TOP_RESTOCK) return SL_OK;
    /* the texts the file would give back: the id as pq_value_format prints an INT64,
     * days of supply as it prints a DOUBLE (only for the few kept) */
    snprintf(p.id, sizeof p.id, "%" PRId64, id);
    if (has_days) {
        sl_buf b;
        sl_buf_init(&b, 0);
        sl_code rc = pq_double_format(days, &b, err);
        if (rc == SL_OK) rc = sl_buf_append_byte(&b, 0, err);
        if (rc == SL_OK) copy_text(p.days_text, sizeof p.days_text, (const char *)b.data);
        sl_buf_free(&b);
        SL_TRY(rc);
    }
    return restock_insert(t, &p, at, sku, sku_n, name, name_n, category, category_n, err);
}

void rp_restock_free(rp_restock *t)
{
    for (int i = 0; i < t->ntop; i++) prod_texts_free(&t->top[i]);
    t->ntop = 0;
}

static sl_code row_product(rp_data *d, char *const *c, sl_err *err)
{
    if (!c[7] || strcmp(c[7], "true") != 0) return SL_OK;
    rp_restock *t = &d->own;
    t->products++;
    prod_row p = {0};
    copy_text(p.id, sizeof p.id, c[0]);
    p.pid = to_i64(c[0]);
    p.units = to_i64(c[4]);
    p.on_hand = to_i64(c[5]);
    p.days = c[6] ? to_f64(c[6]) : INFINITY; /* needs_restock implies units sold, so a value */
    copy_text(p.days_text, sizeof p.days_text, c[6]);
    int at = restock_rank(t, &p);
    if (at >= TOP_RESTOCK) return SL_OK;
    return restock_insert(t, &p, at, c[1], c[1] ? strlen(c[1]) : 0, c[2], c[2] ? strlen(c[2]) : 0, c[3],
                          c[3] ? strlen(c[3]) : 0, err);
}

static sl_code row_segment(rp_data *d, char *const *c, sl_err *err)
{
    if (d->nseg == SEGMENTS_MAX)
        return sl_err_set(err, SL_E_FORMAT, "customer_segments has more than %d rows", SEGMENTS_MAX);
    seg_row *s = &d->seg[d->nseg];
    memset(s, 0, sizeof *s);
    s->name = sl_strdup(c[0] ? c[0] : "");
    if (!s->name) return sl_err_set(err, SL_E_NOMEM, "out of memory for segments");
    s->customers = to_i64(c[1]);
    s->vip = to_i64(c[2]);
    copy_text(s->spent_text, sizeof s->spent_text, c[3]);
    copy_text(s->aov_text, sizeof s->aov_text, c[4]);
    d->nseg++;
    return SL_OK;
}

/* The files of a dataset: "files" (a list, when the run wrote several, e.g. one per
 * shard) or "file". */
static sl_code dataset_files(const json_t *m, const char *ds, const json_t **one, const json_t **list, sl_err *err)
{
    const json_t *d = json_object_get(json_object_get(m, "datasets"), ds);
    *list = json_object_get(d, "files");
    *one = json_object_get(d, "file");
    if (json_is_array(*list) && json_array_size(*list)) {
        for (size_t i = 0; i < json_array_size(*list); i++)
            if (!json_is_string(json_array_get(*list, i)))
                return sl_err_set(err, SL_E_FORMAT, "the manifest's files of dataset %s are not names", ds);
        *one = NULL;
        return SL_OK;
    }
    *list = NULL;
    if (!json_is_string(*one)) return sl_err_set(err, SL_E_FORMAT, "the manifest names no file for dataset %s", ds);
    return SL_OK;
}

static sl_code gather(sl_store *st, const char *prefix, const json_t *m, const rp_inventory *tallied,
                     const rp_restock *restock, rp_data *d, sl_err *err)
{
    static const char *const hourly[] = {"hour", "order_count", "revenue"};
    static const char *const inv[] = {"inventory_score", "stock_status"};
    static const char *const wh[] = {"warehouse_id", "name", "city", "utilization_ratio", "restock_count",
                                     "overstock_count", "item_count"};
    static const char *const prod[] = {"product_id", "sku", "name", "category", "units_sold", "on_hand",
                                       "days_of_supply", "needs_restock"};
    static const char *const seg[] = {"frequency_segment", "customer_count", "vip_count", "total_spent",
                                      "avg_order_value"};
    static const struct {
        const char *ds;
        const char *const *cols;
        uint32_t n;
        row_fn fn;
    } plan[] = {{"hourly_orders", hourly, 3, row_hourly},
                {"inventory_analytics", inv, 2, row_inventory},
                {"warehouse_utilization", wh, 7, row_warehouse},
                {"product_turnover", prod, 8, row_product},
                {"customer_segments", seg, 5, row_segment}};
    char key[2048];
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        const json_t *one, *list;
        SL_TRY(dataset_files(m, plan[i].ds, &one, &list, err));
        if (tallied && plan[i].fn == row_inventory) { /* tallied by the run as it wrote the file */
            d->inv = *tallied;
            continue;
        }
        if (restock && plan[i].fn == row_product) { /* the same */
            d->restock = restock;
            continue;
        }
        size_t n = list ? json_array_size(list) : 1;
        for (size_t k = 0; k < n; k++) {
            const char *file = json_string_value(list ? json_array_get(list, k) : one);
            if ((size_t)snprintf(key, sizeof key, "%s%s", prefix, file) >= sizeof key)
                return sl_err_set(err, SL_E_FORMAT, "the key of dataset %s is too long", plan[i].ds);
            SL_TRY(read_dataset(st, key, plan[i].cols, plan[i].n, plan[i].fn, d, err));
        }
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the page */

static const char CSS[] =
    ":root{--ink:#1f2933;--muted:#5b6675;--line:#dde2e8;--bar:#3468b0;--mark:#d9822b;--part:#b4441a;--bg:#f5f6f8}"
    "*{box-sizing:border-box}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Noto Sans','DejaVu Sans',sans-serif}"
    "main{max-width:1000px;margin:0 auto;padding:24px 16px 40px}"
    "h1{font-size:1.55rem;margin:0 0 4px;overflow-wrap:anywhere}h2{font-size:1.15rem;margin:0 0 12px}"
    "h3{font-size:.98rem;margin:0 0 6px}"
    ".sub{color:var(--muted);margin:0;overflow-wrap:anywhere}"
    "section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:16px 0}"
    ".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));gap:18px}"
    "figure{margin:0;min-width:0}figcaption{font-weight:600;margin:0 0 4px}"
    "svg.chart{display:block;width:100%;height:auto;max-width:600px}svg.chart.h{max-width:640px}"
    "svg text{fill:var(--ink);font-size:14px}svg .tick{fill:var(--muted);font-size:13px}"
    "svg .axis-title{font-size:13.5px;font-weight:600;fill:var(--muted)}svg .val{font-size:13px}"
    "svg .grid{stroke:#e8ebef}svg .axis{stroke:#8a94a3}"
    "svg .bar{fill:var(--bar)}svg .bar.mark{fill:var(--mark)}svg .part{fill:var(--part);pointer-events:none}"
    "svg .line{fill:none;stroke:var(--bar);stroke-width:2}svg .point{fill:var(--bar)}"
    "svg .point.mark{fill:var(--mark);stroke:#fff;stroke-width:1.5}"
    "svg .mark-note{font-weight:700;fill:#9a4d0b}svg .empty{fill:var(--muted)}"
    "table{border-collapse:collapse;width:100%;font-size:14px;margin:4px 0 10px}"
    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);overflow-wrap:anywhere;vertical-align:top}"
    "th{font-weight:600;color:var(--muted);font-size:13px;overflow-wrap:normal}"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:10px;margin:16px 0}"
    ".kpi{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}"
    ".kpi b{display:block;font-size:1.15rem;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}.kpi span{color:var(--muted);font-size:13px}"
    ".note{color:var(--muted);font-size:13px;margin:6px 0 0}"
    ".legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 12px}"
    "dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}"
    "tr.warn td{color:#9a3412;font-weight:600}"
    "footer{color:var(--muted);font-size:12.5px;text-align:center;margin-top:20px}"
    "@media (max-width:600px){main{padding:12px 8px}section{padding:12px 10px}table{font-size:13px}"
    "th,td{padding:3px 4px}th.num{white-space:normal}table{font-size:12px}h1{font-size:1.25rem}"
    "svg.chart text{font-size:18px}svg.chart .tick,svg.chart .val{font-size:16px}svg.chart .axis-title{font-size:16px}"
    "svg.chart.h text{font-size:17px}svg.chart.h .tick,svg.chart.h .val,svg.chart.h .axis-title{font-size:16px}dl{grid-template-columns:1fr}dt{margin-top:4px}}";

typedef struct page {
    sl_buf *o;
    sl_err *err;
} page;

#define P(...) SL_TRY(sl_buf_printf(pg->o, pg->err, __VA_ARGS__))
#define ESC(s) SL_TRY(rp_html_text(pg->o, (s), pg->err))

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* A JSON number as text: integers exact, reals as they were written (shortest). */
static const char *jnum(const json_t *v, char *buf, size_t cap)
{
    if (json_is_integer(v)) snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, cap, "%.6g", json_real_value(v));
    else snprintf(buf, cap, "%s", json_is_string(v) ? json_string_value(v) : "-");
    return buf;
}

static const char *fmt_seconds(double s, char *buf, size_t cap)
{
    snprintf(buf, cap, s < 10 ? "%.3f s" : "%.1f s", s);
    return buf;
}

static sl_code kpi(page *pg, const char *id, const char *value_attr, const char *shown, const char *what)
{
    P("<div class=\"kpi\"><b id=\"%s\" data-value=\"", id);
    ESC(value_attr);
    P("\">");
    ESC(shown);
    P("</b><span>");
    ESC(what);
    P("</span></div>");
    return SL_OK;
}

static sl_code section_head(page *pg, const json_t *m, const rp_data *d)
{
    const json_t *params = json_object_get(m, "parameters"), *snap = json_object_get(m, "snapshot");
    char b1[64], b2[64];
    const char *part = jstr(m, "partition");
    size_t plen = strlen(part);
    P("<header><h1>Run report &middot; ");
    SL_TRY(rp_html_escape(pg->o, part, plen && part[plen - 1] == '/' ? plen - 1 : plen, pg->err));
    P("</h1><p class=\"sub\">as of <b>");
    ESC(params && json_is_string(json_object_get(params, "as_of")) ? jstr(params, "as_of") : jstr(m, "as_of"));
    P(" UTC</b> &middot; run <code id=\"run-id\">");
    ESC(jstr(m, "run_id"));
    P("</code>");
    if (snap) {
        P(" &middot; consistency <b>");
        ESC(jstr(snap, "consistency"));
        P("</b>");
    }
    P("</p></header>");

    int64_t orders = 0, cents = 0, customers = 0, vip = 0;
    for (int h = 0; h < 24; h++) orders += d->hours[h].count, cents += d->hours[h].cents;
    for (int i = 0; i < d->nseg; i++) customers += d->seg[i].customers, vip += d->seg[i].vip;
    char share_attr[48], share[48];
    if (customers) {
        snprintf(share_attr, sizeof share_attr, "%.17g", (double)vip / (double)customers);
        snprintf(share, sizeof share, "%.1f%%", 100.0 * (double)vip / (double)customers);
    } else {
        snprintf(share_attr, sizeof share_attr, "0");
        snprintf(share, sizeof share, "-");
    }
    char v1[32], v2[32], v3[32];
    snprintf(v1, sizeof v1, "%" PRId64, orders);
    snprintf(v2, sizeof v2, "%" PRId64, customers);
    snprintf(v3, sizeof v3, "%" PRId64, d->restock->products);
    P("<div class=\"kpis\">");
    SL_TRY(kpi(pg, "kpi-orders", v1, rp_fmt_int(orders, b1, sizeof b1), "counted orders"));
    char cents_attr[48];
    if (cents >= 100000000 || cents <= -100000000) /* a million or more: whole units fit the card */
        rp_fmt_int((cents + (cents < 0 ? -50 : 50)) / 100, b2, sizeof b2);
    else
        fmt_money(cents, b2, sizeof b2);
    snprintf(cents_attr, sizeof cents_attr, "%s%" PRId64 ".%02d", cents < 0 ? "-" : "", (cents < 0 ? -cents : cents) / 100,
             (int)((cents < 0 ? -cents : cents) % 100));
    SL_TRY(kpi(pg, "kpi-revenue", cents_attr, b2, "revenue"));
    SL_TRY(kpi(pg, "kpi-customers", v2, rp_fmt_int(customers, b1, sizeof b1), "customers with orders"));
    SL_TRY(kpi(pg, "vip-share", share_attr, share, "VIP share of customers"));
    SL_TRY(kpi(pg, "kpi-restock", v3, rp_fmt_int(d->restock->products, b1, sizeof b1), "products needing restock"));
    P("</div>");
    return SL_OK;
}

static sl_code section_run(page *pg, const json_t *m)
{
    const json_t *params = json_object_get(m, "parameters"), *snap = json_object_get(m, "snapshot");
    const char *k;
    json_t *v;
    char b1[64], b2[64];
    P("<section id=\"run\"><h2>The run</h2><dl>");
    P("<dt>as of</dt><dd>");
    ESC(params && json_is_string(json_object_get(params, "as_of")) ? jstr(params, "as_of") : jstr(m, "as_of"));
    P(" UTC</dd><dt>run id</dt><dd>");
    ESC(jstr(m, "run_id"));
    P("</dd><dt>snapshot</dt><dd id=\"snapshot\">");
    if (snap) {
        ESC(jstr(snap, "consistency"));
        if (json_is_integer(json_object_get(snap, "connections")))
            P(" on %" JSON_INTEGER_FORMAT " connections", json_integer_value(json_object_get(snap, "connections")));
        if (json_is_string(json_object_get(snap, "fallback_reason"))) {
            P(" (fallback: ");
            ESC(jstr(snap, "fallback_reason"));
            P(")");
        }
    } else {
        P("not recorded");
    }
    P("</dd>");
    if (json_is_object(params)) {
        P("<dt>parameters</dt><dd>");
        int first = 1;
        json_object_foreach((json_t *)params, k, v)
        {
            if (strcmp(k, "as_of") == 0) continue;
            P("%s", first ? "" : " &middot; ");
            first = 0;
            ESC(k);
            P(" ");
            if (json_is_array(v)) {
                size_t i;
                json_t *e;
                json_array_foreach(v, i, e)
                {
                    P("%s", i ? "," : "");
                    ESC(json_string_value(e));
                }
                if (!json_array_size(v)) P("(none)");
            } else {
                ESC(jnum(v, b1, sizeof b1));
            }
        }
        P("</dd>");
    }
    P("</dl><div class=\"cols\">");

    P("<div><h3>Source tables</h3><table id=\"sources\"><thead><tr><th>table</th><th class=\"num\">rows read</th>"
      "<th class=\"num\">seconds</th></tr></thead><tbody>");
    json_object_foreach(json_object_get(m, "sources"), k, v)
    {
        json_int_t rows = json_integer_value(json_object_get(v, "rows"));
        P("<tr data-table=\"");
        ESC(k);
        P("\"><td>");
        ESC(k);
        double secs = json_number_value(json_object_get(v, "seconds"));
        P("</td><td class=\"num\" data-value=\"%" JSON_INTEGER_FORMAT "\">%s</td><td class=\"num\" data-value=\"%.17g\">%s"
          "</td></tr>",
          rows, rp_fmt_int(rows, b1, sizeof b1), secs, fmt_seconds(secs, b2, sizeof b2));
    }
    P("</tbody></table>");
    P("<h3>Time per stage</h3><table id=\"stages\"><thead><tr><th>stage</th><th class=\"num\">seconds</th></tr></thead>"
      "<tbody>");
    json_object_foreach(json_object_get(m, "timings"), k, v)
    {
        if (!json_is_number(v)) continue;
        P("<tr><td>");
        ESC(k);
        P("</td><td class=\"num\">%s</td></tr>", fmt_seconds(json_number_value(v), b1, sizeof b1));
    }
    P("</tbody></table></div>");

    P("<div><h3>Datasets written</h3><table id=\"datasets\"><thead><tr><th>dataset</th><th class=\"num\">rows</th>"
      "<th class=\"num\">bytes</th></tr></thead><tbody>");
    json_object_foreach(json_object_get(m, "datasets"), k, v)
    {
        json_int_t rows = json_integer_value(json_object_get(v, "rows")),
                   bytes = json_integer_value(json_object_get(v, "bytes"));
        P("<tr data-dataset=\"");
        ESC(k);
        P("\"><td>");
        ESC(k);
        P("</td><td class=\"num\" data-value=\"%" JSON_INTEGER_FORMAT "\">%s</td>", rows, rp_fmt_int(rows, b1, sizeof b1));
        P("<td class=\"num\" data-value=\"%" JSON_INTEGER_FORMAT "\">%s</td></tr>", bytes, rp_fmt_int(bytes, b2, sizeof b2));
    }
    P("</tbody></table></div></div></section>");
    return SL_OK;
}

static const char *hour_label(int h, char *buf, size_t cap)
{
    snprintf(buf, cap, "%02d", h & 31); /* an hour, 0-23 */
    return buf;
}

static sl_code section_hours(page *pg, const rp_data *d)
{
    rp_bar orders[24], revenue[24];
    char labels[24][8], shown_o[24][64], shown_r[24][64], title_o[24][96], title_r[24][112];
    int po = 0, pr = 0;
    for (int h = 1; h < 24; h++) {
        if (d->hours[h].count > d->hours[po].count) po = h; /* ties: the earliest hour */
        if (d->hours[h].cents > d->hours[pr].cents) pr = h;
    }
    if (d->hours[po].count <= 0) po = -1; /* no orders: no peak */
    if (d->hours[pr].cents <= 0) pr = -1;
    for (int h = 0; h < 24; h++) {
        const hour_row *r = &d->hours[h];
        char b[48];
        hour_label(h, labels[h], sizeof labels[h]);
        snprintf(shown_o[h], sizeof shown_o[h], "%02d:00, %s orders", h, rp_fmt_int(r->count, b, sizeof b));
        snprintf(shown_r[h], sizeof shown_r[h], "%02d:00, %s", h, fmt_money(r->cents, b, sizeof b));
        snprintf(title_o[h], sizeof title_o[h], "%02d:00-%02d:59 UTC: %s orders", h, h, rp_fmt_int(r->count, b, sizeof b));
        snprintf(title_r[h], sizeof title_r[h], "%02d:00-%02d:59 UTC: revenue %s", h, h, fmt_money(r->cents, b, sizeof b));
        orders[h] = (rp_bar){.label = labels[h], .value = (double)r->count, .value_text = r->set ? r->count_text : NULL,
                             .shown = h == po ? shown_o[h] : NULL, .title = title_o[h], .mark = h == po};
        revenue[h] = (rp_bar){.label = labels[h], .value = (double)r->cents / 100.0,
                              .value_text = r->set ? r->revenue_text : NULL, .shown = h == pr ? shown_r[h] : NULL,
                              .title = title_r[h], .mark = h == pr};
    }
    rp_chart co = {.id = "orders-by-hour", .caption = "Counted orders by hour of day (UTC)",
                   .cat_label = "hour of day (UTC)", .val_label = "orders", .kind = RP_BARS_VERTICAL,
                   .label_every = 3, .mark_note = "peak", .integer = 1};
    rp_chart cr = {.id = "revenue-by-hour", .caption = "Revenue by hour of day (UTC)", .cat_label = "hour of day (UTC)",
                   .val_label = "revenue (total_amount)", .kind = RP_LINE, .label_every = 3, .mark_note = "peak"};
    P("<section id=\"hours\"><h2>When customers order</h2><div class=\"cols\"><figure><figcaption>Orders by hour of "
      "day</figcaption>");
    SL_TRY(rp_svg_chart(pg->o, &co, orders, 24, pg->err));
    P("</figure><figure><figcaption>Revenue by hour of day</figcaption>");
    SL_TRY(rp_svg_chart(pg->o, &cr, revenue, 24, pg->err));
    P("</figure></div><p class=\"note\">Counted orders only (order_date at or before the as-of, status not "
      "excluded), from <code>hourly_orders</code>. The peak hour is marked in orange.</p></section>");
    return SL_OK;
}

static sl_code section_inventory(page *pg, const rp_data *d)
{
    rp_bar bars[SCORE_BINS];
    char labels[SCORE_BINS][16], vals[SCORE_BINS][32], shown[SCORE_BINS][32], titles[SCORE_BINS][96], b[32];
    for (int i = 0; i < SCORE_BINS; i++) {
        snprintf(labels[i], sizeof labels[i], "%d-%d", i * 10, i * 10 + 10);
        snprintf(vals[i], sizeof vals[i], "%" PRId64, d->inv.bins[i]);
        rp_fmt_compact((double)d->inv.bins[i], shown[i], sizeof shown[i]);
        snprintf(titles[i], sizeof titles[i], "score %d to %s%d: %s inventory rows", i * 10,
                 i == SCORE_BINS - 1 ? "" : "under ", i * 10 + 10, rp_fmt_int(d->inv.bins[i], b, sizeof b));
        bars[i] = (rp_bar){.label = labels[i], .value = (double)d->inv.bins[i], .value_text = vals[i], .shown = shown[i],
                           .title = titles[i]};
    }
    rp_chart c = {.id = "inventory-scores", .caption = "Distribution of inventory_score", .cat_label =
                  "inventory score (0-100, 100 best)", .val_label = "inventory rows", .kind = RP_BARS_VERTICAL,
                  .integer = 1};
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
    P("<section id=\"inventory\"><h2>Inventory health</h2><div class=\"cols\"><figure><figcaption>Inventory score "
      "distribution</figcaption>");
    SL_TRY(rp_svg_chart(pg->o, &c, bars, SCORE_BINS, pg->err));
    P("</figure><div><table id=\"stock-status\"><thead><tr><th>stock status</th><th class=\"num\">inventory rows</th>"
      "</tr></thead><tbody>"
      "<tr><td>restock</td><td class=\"num\" data-value=\"%" PRId64 "\">%s</td></tr>"
      "<tr><td>overstock</td><td class=\"num\" data-value=\"%" PRId64 "\">%s</td></tr>"
      "<tr><td>ok</td><td class=\"num\" data-value=\"%" PRId64 "\">%s</td></tr>"
      "<tr><td>unknown</td><td class=\"num\" data-value=\"%" PRId64 "\">%s</td></tr>"
      "<tr><th>all rows</th><th class=\"num\" data-value=\"%" PRId64 "\">%s</th></tr></tbody></table>",
      d->inv.status[0], rp_fmt_int(d->inv.status[0], b1, sizeof b1), d->inv.status[1], rp_fmt_int(d->inv.status[1], b2, sizeof b2),
      d->inv.status[2], rp_fmt_int(d->inv.status[2], b3, sizeof b3), d->inv.status[3], rp_fmt_int(d->inv.status[3], b4, sizeof b4),
      d->inv.rows, rp_fmt_int(d->inv.rows, b5, sizeof b5));
    P("<p class=\"note\">Bins of 10 points; the last holds 90 to 100. <span id=\"score-null\" data-value=\"%" PRId64
      "\">%s</span> rows have no score (quantity, capacity or last_updated missing, or capacity 0).</p></div></div>"
      "</section>",
      d->inv.score_null, rp_fmt_int(d->inv.score_null, b6, sizeof b6));
    return SL_OK;
}

static int cmp_wh(const void *a, const void *b)
{
    const wh_row *x = a, *y = b;
    if (x->has_ratio != y->has_ratio) return x->has_ratio ? -1 : 1;
    if (x->has_ratio && x->ratio != y->ratio) return x->ratio > y->ratio ? -1 : 1;
    long long i = strtoll(x->id, NULL, 10), j = strtoll(y->id, NULL, 10);
    return i < j ? -1 : i > j;
}

static sl_code section_warehouses(page *pg, rp_data *d)
{
    size_t n = d->nwh < WAREHOUSES_SHOWN ? d->nwh : WAREHOUSES_SHOWN;
    int64_t restock = 0, overstock = 0;
    sl_code rc = SL_OK;
    if (d->nwh) qsort(d->wh, d->nwh, sizeof *d->wh, cmp_wh);
    for (size_t i = 0; i < d->nwh; i++) restock += d->wh[i].restock, overstock += d->wh[i].overstock;
    rp_bar *bars = sl_calloc(n + 1, sizeof *bars);
    char(*shown)[3][32] = sl_calloc(n + 1, sizeof *shown);
    char(*attrs)[96] = sl_calloc(n + 1, sizeof *attrs);
    char(*titles)[160] = sl_calloc(n + 1, sizeof *titles);
    if (!bars || !shown || !attrs || !titles) {
        rc = sl_err_set(pg->err, SL_E_NOMEM, "out of memory for the warehouse chart");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const wh_row *w = &d->wh[i];
        char *pct = shown[i][0];
        if (w->has_ratio) snprintf(pct, sizeof shown[i][0], "%.1f%%", w->ratio * 100);
        else snprintf(pct, sizeof shown[i][0], "no capacity");
        rp_fmt_int(w->restock, shown[i][1], sizeof shown[i][1]);
        rp_fmt_int(w->overstock, shown[i][2], sizeof shown[i][2]);
        snprintf(attrs[i], sizeof attrs[i], "data-id=\"%s\" data-restock=\"%" PRId64 "\" data-overstock=\"%" PRId64 "\"",
                 w->id, w->restock, w->overstock);
        snprintf(titles[i], sizeof titles[i], "%.50s (%.30s): utilization %s, %" PRId64 " inventory rows, %" PRId64
                 " to restock, %" PRId64 " overstocked", w->label, w->city ? w->city : "no city", pct, w->items,
                 w->restock, w->overstock);
        bars[i] = (rp_bar){.label = w->label, .value = w->has_ratio ? w->ratio : 0,
                           .value_text = w->has_ratio ? w->ratio_text : NULL, .shown = pct, .title = titles[i],
                           .attrs = attrs[i], .cols = {shown[i][1], shown[i][2]}};
    }
    rp_chart c = {.id = "warehouse-utilization", .caption = "Warehouse utilization (total quantity / total capacity)",
                  .cat_label = "warehouse", .val_label = "utilization (quantity / capacity)", .kind = RP_BARS_HORIZONTAL,
                  .max = 1, .percent = 1, .col_titles = {"restock", "overstock"}};
    char b1[32], b2[32], b3[32];
    SL_TRY_GOTO(rc, sl_buf_printf(pg->o, pg->err,
                                  "<section id=\"warehouses\"><h2>Warehouse utilization</h2><p class=\"note\" "
                                  "id=\"warehouse-totals\" data-restock=\"%" PRId64 "\" data-overstock=\"%" PRId64
                                  "\">%s warehouses; inventory rows to <b>restock: %s</b>, <b>overstocked: %s</b> "
                                  "(rows per warehouse on the right). Fullest first",
                                  restock, overstock, rp_fmt_int((int64_t)d->nwh, b1, sizeof b1),
                                  rp_fmt_int(restock, b2, sizeof b2), rp_fmt_int(overstock, b3, sizeof b3)),
                 done);
    if (d->nwh > n) SL_TRY_GOTO(rc, sl_buf_printf(pg->o, pg->err, "; the %zu fullest are shown", n), done);
    SL_TRY_GOTO(rc, sl_buf_printf(pg->o, pg->err, ".</p><figure>"), done);
    SL_TRY_GOTO(rc, rp_svg_chart(pg->o, &c, bars, (int)n, pg->err), done);
    SL_TRY_GOTO(rc, sl_buf_printf(pg->o, pg->err, "</figure></section>"), done);
done:
    sl_free(bars);
    sl_free(shown);
    sl_free(attrs);
    sl_free(titles);
    return rc;
}

static sl_code section_segments(page *pg, const rp_data *d)
{
    rp_bar bars[SEGMENTS_MAX];
    char vals[SEGMENTS_MAX][32], parts[SEGMENTS_MAX][32], shown[SEGMENTS_MAX][64], titles[SEGMENTS_MAX][128], b[32];
    for (int i = 0; i < d->nseg; i++) {
        const seg_row *s = &d->seg[i];
        snprintf(vals[i], sizeof vals[i], "%" PRId64, s->customers);
        snprintf(parts[i], sizeof parts[i], "%" PRId64, s->vip);
        snprintf(shown[i], sizeof shown[i], "%s (%" PRId64 " VIP)", rp_fmt_int(s->customers, b, sizeof b), s->vip);
        snprintf(titles[i], sizeof titles[i], "%.40s: %" PRId64 " customers, %" PRId64 " VIP", s->name, s->customers,
                 s->vip);
        bars[i] = (rp_bar){.label = s->name, .value = (double)s->customers, .value_text = vals[i], .shown = shown[i],
                           .title = titles[i], .part = (double)s->vip, .part_text = parts[i]};
    }
    rp_chart c = {.id = "customer-segments", .caption = "Customers per frequency segment, VIPs in red",
                  .cat_label = "segment", .val_label = "customers", .kind = RP_BARS_HORIZONTAL, .integer = 1};
    P("<section id=\"segments\"><h2>Customer segments</h2><figure><figcaption>Customers per "
      "segment <span class=\"legend note\"><i style=\"background:var(--bar)\"></i>customers<i "
      "style=\"background:var(--part)\"></i>VIP</span></figcaption>");
    SL_TRY(rp_svg_chart(pg->o, &c, bars, d->nseg, pg->err));
    P("</figure><table id=\"segments-table\"><thead><tr><th>segment</th><th class=\"num\">customers</th><th "
      "class=\"num\">VIP</th><th class=\"num\">total spent</th><th class=\"num\">avg order</th></tr></thead><tbody>");
    for (int i = 0; i < d->nseg; i++) {
        const seg_row *s = &d->seg[i];
        char b1[32], b2[32], b3[48];
        P("<tr><td>");
        ESC(s->name);
        P("</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\" data-value=\"", rp_fmt_int(s->customers, b1, sizeof b1),
          rp_fmt_int(s->vip, b2, sizeof b2));
        ESC(s->spent_text);
        P("\">%s</td><td class=\"num\">%.2f</td></tr>", fmt_money(to_cents(s->spent_text), b3, sizeof b3),
          to_f64(s->aov_text));
    }
    P("</tbody></table><p class=\"note\">VIP: total spent at or above the nearest-rank percentile of all customers "
      "with counted orders. Segments by number of counted orders: one-time 1, occasional 2-4, regular 5-9, frequent "
      "10+.</p></section>");
    return SL_OK;
}

static sl_code section_restock(page *pg, const rp_data *d)
{
    const rp_restock *t = d->restock;
    rp_bar bars[TOP_RESTOCK];
    char labels[TOP_RESTOCK][96], shown[TOP_RESTOCK][48], attrs[TOP_RESTOCK][48], titles[TOP_RESTOCK][200];
    double m = 1;
    for (int i = 0; i < t->ntop; i++)
        if (isfinite(t->top[i].days) && t->top[i].days > m) m = t->top[i].days;
    for (int i = 0; i < t->ntop; i++) {
        const prod_row *p = &t->top[i];
        char b1[32], b2[32];
        snprintf(labels[i], sizeof labels[i], "%.90s", p->name[0] ? p->name : p->sku);
        if (p->on_hand <= 0) snprintf(shown[i], sizeof shown[i], "out of stock");
        else snprintf(shown[i], sizeof shown[i], "%.1f days", p->days);
        snprintf(attrs[i], sizeof attrs[i], "data-id=\"%s\"", p->id);
        snprintf(titles[i], sizeof titles[i], "%.40s %.60s: %s on hand, %s sold in the window, %s", p->sku, p->name,
                 rp_fmt_int(p->on_hand, b1, sizeof b1), rp_fmt_int(p->units, b2, sizeof b2), shown[i]);
        bars[i] = (rp_bar){.label = labels[i], .value = p->days > 0 && isfinite(p->days) ? p->days : 0,
                           .value_text = p->days_text[0] ? p->days_text : NULL, .shown = shown[i], .title = titles[i],
                           .attrs = attrs[i], .mark = p->on_hand <= 0};
    }
    rp_chart c = {.id = "restock-urgency", .caption = "Products most urgently needing restock, by days of supply",
                  .cat_label = "product", .val_label = "days of supply at the window's sales rate",
                  .kind = RP_BARS_HORIZONTAL, .max = m < 7 ? 7 : m};
    char b[32];
    P("<section id=\"restock\"><h2>Most urgent restocks</h2><p class=\"note\"><span id=\"restock-count\" "
      "data-value=\"%" PRId64 "\">%s</span> products need restock (under 7 days of supply at the sales window's "
      "rate, or none on hand while selling)",
      t->products, rp_fmt_int(t->products, b, sizeof b));
    if (!t->ntop) {
        P(".</p><p class=\"note\" id=\"restock-none\">No product needs restock.</p></section>");
        return SL_OK;
    }
    P("; the %d most urgent, fewest days of supply first:</p><figure>", t->ntop);
    SL_TRY(rp_svg_chart(pg->o, &c, bars, t->ntop, pg->err));
    P("</figure><table id=\"restock-table\"><thead><tr><th>sku</th><th>product</th><th>category</th><th "
      "class=\"num\">on hand</th><th class=\"num\">sold</th><th class=\"num\">days</th></tr></thead><tbody>");
    for (int i = 0; i < t->ntop; i++) {
        const prod_row *p = &t->top[i];
        char b1[32], b2[32];
        P("<tr data-id=\"%s\"><td>", p->id);
        ESC(p->sku);
        P("</td><td>");
        ESC(p->name);
        P("</td><td>");
        ESC(p->category);
        P("</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%.1f</td></tr>",
          rp_fmt_int(p->on_hand, b1, sizeof b1), rp_fmt_int(p->units, b2, sizeof b2), p->days);
    }
    P("</tbody></table></section>");
    return SL_OK;
}

static sl_code quality_row(page *pg, const json_t *q, const char *key, const char *what)
{
    const json_t *v = json_object_get(q, key);
    char b[32];
    json_int_t n = json_integer_value(v);
    P("<tr data-key=\"%s\"%s><td>", key, n > 0 ? " class=\"warn\"" : "");
    ESC(what);
    if (json_is_integer(v)) P("</td><td class=\"num\" data-value=\"%" JSON_INTEGER_FORMAT "\">%s</td></tr>", n, rp_fmt_int(n, b, sizeof b));
    else P("</td><td class=\"num\" data-value=\"\">not recorded</td></tr>");
    return SL_OK;
}

static sl_code section_quality(page *pg, const json_t *m)
{
    const json_t *q = json_object_get(m, "data_quality");
    P("<section id=\"quality\"><h2>Data quality</h2>");
    if (!json_is_object(q)) {
        P("<p class=\"note\" id=\"data-quality-missing\">The run that wrote this partition recorded no data-quality "
          "counts.</p></section>");
        return SL_OK;
    }
    P("<table id=\"data-quality\"><thead><tr><th>what the source rows held</th><th class=\"num\">rows</th></tr>"
      "</thead><tbody>");
    SL_TRY(quality_row(pg, q, "zero_dates_replaced", "zero or partial dates read as NULL (in the columns the run read)"));
    SL_TRY(quality_row(pg, q, "capacity_null", "inventory rows with a NULL capacity"));
    SL_TRY(quality_row(pg, q, "capacity_zero", "inventory rows with a capacity of 0 (or below)"));
    SL_TRY(quality_row(pg, q, "quantity_above_capacity", "inventory rows holding more than their capacity"));
    SL_TRY(quality_row(pg, q, "last_updated_in_future", "inventory rows with last_updated after the as-of"));
    SL_TRY(quality_row(pg, q, "inventory_unknown_product", "inventory rows of a product not in products"));
    SL_TRY(quality_row(pg, q, "inventory_unknown_warehouse", "inventory rows of a warehouse not in warehouses"));
    SL_TRY(quality_row(pg, q, "orders_unknown_customer", "orders of a customer not in customers (any status, any date)"));
    P("</tbody></table>");
    const json_t *by = json_object_get(q, "zero_dates_by_column");
    if (json_object_size(by)) {
        const char *k;
        json_t *v;
        int first = 1;
        P("<p class=\"note\">Zero dates by column: ");
        json_object_foreach((json_t *)by, k, v)
        {
            P("%s", first ? "" : ", ");
            first = 0;
            ESC(k);
            P(" %" JSON_INTEGER_FORMAT, json_integer_value(v));
        }
        P(".</p>");
    }
    P("<p class=\"note\">Counted while the rows streamed through the run; they change no figure above except as the "
      "definitions say (e.g. rows without capacity have no utilization).</p></section>");
    return SL_OK;
}

static sl_code write_page(page *pg, const json_t *m, rp_data *d)
{
    P("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
      "<title>sluice run report ");
    ESC(jstr(m, "as_of"));
    P("</title><style>%s</style></head>\n<body><main>", CSS);
    SL_TRY(section_head(pg, m, d));
    SL_TRY(section_hours(pg, d));
    SL_TRY(section_inventory(pg, d));
    SL_TRY(section_warehouses(pg, d));
    SL_TRY(section_segments(pg, d));
    SL_TRY(section_restock(pg, d));
    SL_TRY(section_quality(pg, m));
    SL_TRY(section_run(pg, m));
    P("<footer>Written by sluice %s from the datasets of <code>", SLUICE_VERSION);
    ESC(jstr(m, "partition"));
    P("</code> and its manifest. A self-contained page: no scripts, nothing fetched.</footer></main></body></html>\n");
    return SL_OK;
}

sl_code rp_render(sl_store *st, const char *prefix, const json_t *manifest, sl_buf *html, sl_err *err)
{
    return rp_render_with(st, prefix, manifest, NULL, NULL, html, err);
}

sl_code rp_render_with(sl_store *st, const char *prefix, const json_t *manifest, const rp_inventory *inv,
                       const rp_restock *restock, sl_buf *html, sl_err *err)
{
    rp_data d;
    memset(&d, 0, sizeof d);
    d.restock = &d.own;
    sl_code rc = gather(st, prefix, manifest, inv, restock, &d, err);
    if (rc == SL_OK) {
        page pg = {html, err};
        rc = write_page(&pg, manifest, &d);
    }
    data_free(&d);
    return rc;
}

sl_code rp_commit_report(sl_commit *c, sl_store *st, const char *run_id, const char *as_of, const json_t *extra,
                         const rp_inventory *inv, const rp_restock *restock, sl_err *err)
{
    /* the partition as the commit spells it: its manifest key without "_SUCCESS" */
    const char *key = sl_commit_manifest_key(c);
    size_t n = strlen(key) - strlen(SL_MANIFEST_NAME);
    char part[SL_STORE_KEY_MAX + 1];
    sl_buf html;
    sl_code rc;
    snprintf(part, sizeof part, "%.*s", (int)n, key);
    json_t *m = json_deep_copy(extra);
    if (!m || json_object_set_new(m, "run_id", json_string(run_id)) || json_object_set_new(m, "as_of", json_string(as_of)) ||
        json_object_set_new(m, "partition", json_string(part))) {
        json_decref(m);
        return sl_err_set(err, SL_E_NOMEM, "out of memory for the run report");
    }
    sl_buf_init(&html, (size_t)64 << 20);
    rc = rp_render_with(st, part, m, inv, restock, &html, err);
    if (rc == SL_OK) rc = sl_commit_add_fixed(c, RP_REPORT_NAME, html.data, html.len, err);
    if (rc != SL_OK) sl_err_prefix(err, "writing the run report %s%s: ", part, RP_REPORT_NAME);
    sl_buf_free(&html);
    json_decref(m);
    return rc;
}
