/* pq_fuzz_write.c - test tool: a seeded fuzz of the Parquet writer's inputs, meant for
 * the ASan+UBSan build. Each iteration draws a schema (every type, decimals of every
 * precision, required and optional), writer options (every codec, small pages and row
 * groups, tiny dictionary_max to force the PLAIN fallback mid-chunk, delta and page
 * index on or off, zstd and gzip levels over their range) and a sequence of batches
 * (empty, one row, capacity-sized, partial; all-NULL columns; strings far over a page;
 * sometimes text that is not UTF-8, which the writer must pass through without harm)
 * and writes them to a memory sink. The writer must return SL_OK and produce
 * PAR1 ... footer length, PAR1, with pq_file_info matching what was written.
 * Some iterations also check failure paths: out-of-range options must be refused with
 * a message; a failing n-th allocation (sl_alloc_fail_after) must come back as an error,
 * never a crash or a leak; a writer freed before close must abort its sink.
 *
 * Usage: pq_fuzz_write SEED ITERATIONS [OUT_DIR|-] [FIRST]
 * Iteration I depends only on (SEED, I), so FIRST (default 0) resumes a run after an
 * iteration that aborted; each iteration is announced on stderr before it starts, so a
 * sanitizer report can be tied to it. With OUT_DIR, files of at most 4 MiB are also written there (fuzz-SEED-I.parquet) and
 * one JSON line per file goes to stdout: {"file", "rows", "columns": [{"name", "type",
 * "nullable", "nulls"}]}, the counts as generated here, for pytest to compare with what
 * pyarrow reads. Exit 0 when every check held, 1 at the first failed check (message on
 * stderr naming seed and iteration). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/batch/batch.h"
#include "../../src/common/sl_alloc.h"
#include "../../src/parquet/parquet.h"
#include "../../src/sink/sink.h"

#define MAX_COLS 12
#define OUT_MAX ((size_t)4 << 20)

static uint64_t rng_state;
static unsigned long long g_seed;
static int g_iter;

static uint64_t next(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? next() % n : 0; }
static int chance(int percent) { return (int)below(100) < percent; }
#define PICK(arr) ((arr)[below(sizeof(arr) / sizeof((arr)[0]))])

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "pq_fuzz_write: seed %llu iteration %d: ", g_seed, g_iter);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* ---- schema and options ---- */

static sl_schema *random_schema(sl_err *err)
{
    int n = 1 + (int)below(MAX_COLS);
    sl_schema *s = sl_schema_create(n, err);
    if (!s) return NULL;
    for (int i = 0; i < n; i++) {
        sl_type t = {(sl_type_id)(1 + below(SL_TYPE__COUNT - 1)), 0, 0};
        char name[64];
        static const char *const origins[] = {"bigint(20) unsigned", "varchar(255)", "decimal(65,30)", "json", "é"};
        if (t.id == SL_DECIMAL) {
            static const int ps[] = {1, 2, 9, 10, 18, 19, 20, 38, 39, 40, 65, 76};
            t.precision = (uint8_t)(chance(50) ? PICK(ps) : 1 + (int)below(76));
            t.scale = (uint8_t)below((uint64_t)t.precision + 1);
        }
        snprintf(name, sizeof name, "c%d_%s", i, sl_type_name(t.id));
        if (sl_schema_set(s, i, name, t, chance(60), chance(30) ? PICK(origins) : NULL, err) != SL_OK) {
            sl_schema_free(s);
            return NULL;
        }
    }
    return s;
}

static void random_options(pq_options *o, pq_kv *kv)
{
    static const pq_codec codecs[] = {PQ_CODEC_NONE, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP, PQ_CODEC_ZSTD};
    static const size_t pages[] = {1024, 1025, 1500, 4096, 65536, 1 << 20};
    static const int64_t rg_rows[] = {0, 0, 1, 2, 5, 100, 4096, 10000};
    static const size_t dict_max[] = {0, 1, 16, 64, 1000, 1 << 20};
    static const char *const keys[] = {"a", "sluice.run", "é", ""};
    pq_options_default(o);
    o->codec = PICK(codecs);
    o->zstd_level = -7 + (int)below(30);
    o->gzip_level = (int)below(10);
    if (chance(70)) o->page_size = PICK(pages);
    if (chance(30)) o->row_group_size = o->page_size * (1 + below(8));
    o->row_group_rows = PICK(rg_rows);
    o->dictionary = chance(70);
    if (chance(50)) o->dictionary_max = PICK(dict_max);
    o->delta = chance(60);
    o->page_index = chance(70);
    o->kv_count = (int)below(4);
    for (int i = 0; i < o->kv_count; i++) {
        kv[i].key = keys[i];
        kv[i].value = PICK(keys);
    }
    o->kv = kv;
}

/* ---- values ---- */

static size_t huge_budget;
static int raw_text; /* this iteration also puts bytes that are not UTF-8 in text columns */

static const char *const pieces[] = {"a", "Z", "0", " ", "é", "日本", "😀", "\t", "", "pending", "paid"};

/* A random decimal of at most p digits as `width` bytes big-endian two's complement. */
static void random_decimal(uint8_t *be, int width, int p)
{
    int nd = (int)below((uint64_t)p + 1);
    if (chance(10)) nd = p;
    memset(be, 0, (size_t)width);
    for (int i = 0; i < nd; i++) {
        int carry = chance(10) ? 9 : (int)below(10);
        for (int k = width - 1; k >= 0; k--) {
            int x = be[k] * 10 + carry;
            be[k] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    if (chance(50)) {
        int carry = 1;
        for (int k = width - 1; k >= 0; k--) {
            int x = (uint8_t)~be[k] + carry;
            be[k] = (uint8_t)x;
            carry = x >> 8;
        }
    }
}

static int64_t pow10_i64(int p)
{
    int64_t r = 1;
    while (p--) r *= 10;
    return r;
}

static void random_fixed(sl_column *c, size_t row, int pool)
{
    const sl_type *t = &c->field->type;
    uint8_t *dst = (uint8_t *)c->values + row * c->elem_size;
    uint64_t r = pool >= 0 ? (uint64_t)pool * 0x9e3779b97f4a7c15ULL : next();
    switch (t->id) {
    case SL_BOOL: *dst = (uint8_t)(r & 1); break;
    case SL_DATE: { int32_t d = (int32_t)(r % 3652425) - 719162; memcpy(dst, &d, 4); break; }
    case SL_TIME: { int64_t v = (int64_t)(r % 86400000001ULL); memcpy(dst, &v, 8); break; }
    case SL_DECIMAL:
        if (t->precision <= 18) {
            int64_t m = pow10_i64(t->precision);
            int64_t v = (int64_t)(r % (uint64_t)(2 * m - 1)) - (m - 1);
            memcpy(dst, &v, 8);
        } else {
            random_decimal(dst, (int)c->elem_size, t->precision);
        }
        break;
    case SL_FLOAT: case SL_DOUBLE:
        if (!(r & 7)) { /* specials */
            static const double sp[] = {0.0, -0.0, 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0, 5e-324, 1e308};
            double d = sp[(r >> 3) % 7];
            if (t->id == SL_FLOAT) { float f = (float)d; memcpy(dst, &f, 4); } else memcpy(dst, &d, 8);
            break;
        }
        /* any other bit pattern, NaNs included: */
        /* fall through */
    default: memcpy(dst, &r, c->elem_size); break;
    }
}

static sl_code random_var(sl_column *c, size_t row, int pool, int huge, uint8_t *scratch, sl_err *err)
{
    size_t n = 0, cap;
    uint64_t saved = rng_state;
    if (pool >= 0) rng_state = (uint64_t)pool * 7919 + 1; /* the same value for the same pool index */
    cap = huge ? (size_t)200000 + below(1000000) : below(5) == 0 ? 0 : below(chance(10) ? 3000 : 40);
    if (huge) {
        /* bounded per iteration, so ASan runs of slow codec levels stay short */
        if (cap > huge_budget) cap = 0;
        huge_budget -= cap;
    }
    if (c->field->type.id == SL_BINARY || (raw_text && chance(20))) {
        for (; n < cap; n++) scratch[n] = (uint8_t)next();
    } else {
        while (n < cap) {
            const char *p = PICK(pieces);
            size_t k = strlen(p);
            if (n + k > cap) break;
            memcpy(scratch + n, p, k);
            n += k;
        }
    }
    if (pool >= 0) rng_state = saved;
    return sl_col_set_bytes(c, row, scratch, n, err);
}

typedef struct col_plan {
    int null_pct;  /* 0, some, 100 */
    int pool;      /* > 0: values drawn from this many distinct ones */
    int huge_pct;  /* var-width: chance of a value far over any page */
} col_plan;

static sl_code fill_batch(sl_batch *b, size_t nrows, const col_plan *plan, int64_t *nulls, uint8_t *scratch,
                          sl_err *err)
{
    sl_batch_reset(b);
    for (size_t r = 0; r < nrows; r++) {
        for (int i = 0; i < b->schema->ncols; i++) {
            sl_column *c = &b->cols[i];
            int pool = plan[i].pool > 0 ? (int)below((uint64_t)plan[i].pool) : -1;
            if (c->valid && chance(plan[i].null_pct)) {
                if (c->elem_size) memset((uint8_t *)c->values + r * c->elem_size, 0, c->elem_size);
                sl_col_set_null(c, r);
                nulls[i]++;
                continue;
            }
            if (c->elem_size) {
                random_fixed(c, r, pool);
                sl_col_set_valid(c, r);
            } else {
                SL_TRY(random_var(c, r, pool, chance(plan[i].huge_pct), scratch, err));
            }
        }
        sl_batch_commit_row(b);
    }
    return SL_OK;
}

/* ---- checks ---- */

static int check_file(const uint8_t *d, size_t len, const pq_file_info *info, int64_t rows, const pq_options *o)
{
    if (len < 12) return fail("output of %zu bytes", len);
    if (memcmp(d, "PAR1", 4) || memcmp(d + len - 4, "PAR1", 4)) return fail("output does not start and end with PAR1");
    uint32_t flen = (uint32_t)d[len - 8] | (uint32_t)d[len - 7] << 8 | (uint32_t)d[len - 6] << 16 |
                    (uint32_t)d[len - 5] << 24;
    if (flen == 0 || flen > len - 12) return fail("footer length %u in a file of %zu bytes", flen, len);
    if (info->rows != rows) return fail("pq_file_info.rows %lld, wrote %lld", (long long)info->rows, (long long)rows);
    if (info->bytes != len) return fail("pq_file_info.bytes %llu, sink holds %zu", (unsigned long long)info->bytes, len);
    if (rows > 0 && info->row_groups < 1) return fail("%lld rows in %d row groups", (long long)rows, info->row_groups);
    if (o->row_group_rows > 0 && info->row_groups < (rows + o->row_group_rows - 1) / o->row_group_rows)
        return fail("%lld rows in %d row groups of at most %lld", (long long)rows, info->row_groups,
                    (long long)o->row_group_rows);
    return 0;
}

/* Options out of range: a codec parquet.h does not offer and negative row counts must
 * be refused with a message; the rest may be refused (with a message) or accepted, and
 * then must still give a valid (empty) file. */
static int bad_options(const sl_schema *s)
{
    int must_refuse = 0;
    sl_err err = {0};
    pq_options o;
    pq_options_default(&o);
    switch (below(6)) {
    case 0: o.page_size = below(1024); break;
    case 1: o.row_group_size = below(o.page_size); break;
    case 2: o.row_group_rows = -1 - (int64_t)below(10); must_refuse = 1; break;
    case 3: o.zstd_level = 23 + (int)below(100); o.codec = PQ_CODEC_ZSTD; break;
    case 4: o.gzip_level = 10 + (int)below(100); o.codec = PQ_CODEC_GZIP; break;
    default: o.codec = (pq_codec)(3 + below(3)); must_refuse = 1; break; /* LZO, BROTLI, LZ4 */
    }
    sl_sink *sink = sl_sink_mem_open(&err);
    if (!sink) return fail("mem sink: %s", err.msg);
    pq_writer *w = pq_writer_open(sink, s, &o, &err);
    int rc = 0;
    if (!w && (err.code == SL_OK || !err.msg[0])) rc = fail("pq_writer_open refused options without a message");
    if (w && must_refuse) rc = fail("pq_writer_open accepted codec %d, row_group_rows %lld", (int)o.codec,
                                    (long long)o.row_group_rows);
    if (w && !rc) {
        pq_file_info info;
        size_t len;
        if (pq_writer_close(w, &info, &err) != SL_OK) rc = fail("close after accepted options: %s", err.msg);
        else if (check_file(sl_sink_mem_data(sink, &len), len, &info, 0, &o)) rc = -1;
    }
    pq_writer_free(w);
    sl_sink_release(sink);
    return rc;
}

/* One iteration; fault > 0 makes the fault-th allocation inside the writer (and after)
 * fail: then any error is acceptable, only crashes and leaks are not. */
static int iteration(const char *out_dir, long fault)
{
    sl_err err = {0};
    pq_options o;
    pq_kv kv[4];
    col_plan plan[MAX_COLS];
    int64_t nulls[MAX_COLS] = {0}, rows = 0;
    int rc = -1, early_free = !fault && chance(5);
    long used = 0;
    static uint8_t *scratch;
    if (!scratch && !(scratch = malloc(1300000))) return fail("out of memory");

    sl_schema *s = random_schema(&err);
    if (!s) return fail("schema: %s", err.msg);
    if (chance(10) && bad_options(s)) goto out_schema;
    random_options(&o, kv);
    huge_budget = (size_t)6 << 20;
    raw_text = chance(10);
    static const size_t caps[] = {1, 2, 7, 64, 1000, 4096, 5000};
    size_t cap = PICK(caps);
    int nbatches = (int)below(7);
    for (int i = 0; i < s->ncols; i++) {
        static const int null_pcts[] = {0, 0, 10, 50, 100};
        plan[i].null_pct = PICK(null_pcts);
        plan[i].pool = chance(40) ? 1 + (int)below(300) : 0;
        plan[i].huge_pct = chance(5) ? 1 : 0;
        if (plan[i].huge_pct && o.zstd_level > 6) o.zstd_level = 6; /* level 22 over MiBs: minutes under ASan */
    }
    sl_batch *b = sl_batch_create(s, cap, 0, &err);
    sl_sink *sink = b ? sl_sink_mem_open(&err) : NULL;
    pq_writer *w = NULL;
    sl_code wrc = SL_OK;
    if (!sink) {
        fail("setup: %s", err.msg);
        goto out;
    }
#define FAULTY(call)                                                \
    do {                                                            \
        if (fault) sl_alloc_fail_after(used < fault ? fault - used : 0); \
        call;                                                       \
        if (fault) used += sl_alloc_fail_after(-1);                 \
    } while (0)
    FAULTY(w = pq_writer_open(sink, s, &o, &err));
    if (!w) {
        if (fault) { rc = 0; goto out; }
        fail("pq_writer_open: %s", err.msg);
        goto out;
    }
    for (int k = 0; k < nbatches && wrc == SL_OK; k++) {
        size_t n;
        switch (below(4)) {
        case 0: n = 0; break;
        case 1: n = 1; break;
        case 2: n = cap; break;
        default: n = below(cap + 1); break;
        }
        if (fill_batch(b, n, plan, nulls, scratch, &err) != SL_OK) {
            fail("filling a batch: %s", err.msg);
            goto out;
        }
        rows += (int64_t)n;
        FAULTY(wrc = pq_writer_write(w, b, &err));
        if (early_free && k == nbatches / 2) {
            pq_writer_free(w); /* before close: must abort the sink */
            w = NULL;
            if (sink->state != SL_SINK_ABORTED) fail("pq_writer_free before close left the sink open");
            else rc = 0;
            goto out;
        }
    }
    pq_file_info info = {0};
    if (wrc == SL_OK) FAULTY(wrc = pq_writer_close(w, &info, &err));
    if (wrc != SL_OK) {
        if (fault && err.code != SL_OK && err.msg[0]) rc = 0;
        else fail("writer: %s: %s", sl_strerror(err.code), err.msg);
        goto out;
    }
    if (fault) { rc = 0; goto out; } /* no injected failure was reached: fine */
    if (pq_writer_write(w, b, &err) == SL_OK) {
        fail("pq_writer_write after close returned SL_OK");
        goto out;
    }
    size_t len;
    const uint8_t *data = sl_sink_mem_data(sink, &len);
    if (sink->state != SL_SINK_FINISHED) {
        fail("sink not finished after close");
        goto out;
    }
    if (check_file(data, len, &info, rows, &o)) goto out;
    rc = 0;
    if (out_dir && len <= OUT_MAX && !raw_text) { /* readers may refuse text that is not UTF-8 */
        char path[4096];
        snprintf(path, sizeof path, "%s/fuzz-%llu-%d.parquet", out_dir, g_seed, g_iter);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
            rc = fail("writing %s", path);
            goto out;
        }
        json_t *cols = json_array();
        for (int i = 0; i < s->ncols; i++)
            json_array_append_new(cols, json_pack("{s:s,s:s,s:b,s:I}", "name", s->fields[i].name, "type",
                                                  sl_type_name(s->fields[i].type.id), "nullable",
                                                  s->fields[i].nullable, "nulls", (json_int_t)nulls[i]));
        json_t *line = json_pack("{s:s,s:I,s:o}", "file", path, "rows", (json_int_t)rows, "columns", cols);
        json_dumpf(line, stdout, JSON_COMPACT);
        putchar('\n');
        fflush(stdout); /* whole lines only, should a later iteration abort */
        json_decref(line);
    }
out:
    sl_alloc_fail_after(-1);
    pq_writer_free(w);
    sl_sink_release(sink);
    sl_batch_free(b);
out_schema:
    sl_schema_free(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: pq_fuzz_write SEED ITERATIONS [OUT_DIR|-] [FIRST]\n");
        return 2;
    }
    g_seed = strtoull(argv[1], NULL, 10);
    int n = atoi(argv[2]), first = argc > 4 ? atoi(argv[4]) : 0, faults = 0;
    const char *out_dir = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    for (g_iter = first; g_iter < n; g_iter++) {
        fprintf(stderr, "pq_fuzz_write: seed %llu iteration %d\n", g_seed, g_iter);
        rng_state = g_seed * 1000003ULL + (uint64_t)g_iter;
        long fault = chance(15) ? 1 + (long)below(400) : 0;
        faults += fault != 0;
        if (iteration(out_dir, fault)) return 1;
    }
    fprintf(stderr, "pq_fuzz_write: seed %llu: iterations %d to %d (%d with a failing allocation) passed\n", g_seed,
            first, n - 1, faults);
    return 0;
}
