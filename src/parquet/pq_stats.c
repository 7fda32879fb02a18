/* pq_vstats.c - statistics in sort order, and their truncation (see the header). */
#include "pq_stats.h"

#include <math.h>
#include <string.h>

void pq_stats_init(pq_vstats *s)
{
    memset(s, 0, sizeof *s);
    sl_buf_init(&s->min, 0);
    sl_buf_init(&s->max, 0);
}

void pq_stats_reset(pq_vstats *s)
{
    s->has = 0;
    s->nulls = 0;
    sl_buf_reset(&s->min);
    sl_buf_reset(&s->max);
}

void pq_stats_free(pq_vstats *s)
{
    sl_buf_free(&s->min);
    sl_buf_free(&s->max);
}

static int cmp_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

#define CMP3(x, y) ((x) < (y) ? -1 : (x) > (y))

int pq_stats_cmp(pq_order o, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    switch (o) {
    case PQ_ORD_BOOL: return CMP3(a[0], b[0]);
    case PQ_ORD_I32: { int32_t x, y; memcpy(&x, a, 4); memcpy(&y, b, 4); return CMP3(x, y); }
    case PQ_ORD_U32: { uint32_t x, y; memcpy(&x, a, 4); memcpy(&y, b, 4); return CMP3(x, y); }
    case PQ_ORD_I64: { int64_t x, y; memcpy(&x, a, 8); memcpy(&y, b, 8); return CMP3(x, y); }
    case PQ_ORD_U64: { uint64_t x, y; memcpy(&x, a, 8); memcpy(&y, b, 8); return CMP3(x, y); }
    case PQ_ORD_FLOAT: { float x, y; memcpy(&x, a, 4); memcpy(&y, b, 4); return CMP3(x, y); }
    case PQ_ORD_DOUBLE: { double x, y; memcpy(&x, a, 8); memcpy(&y, b, 8); return CMP3(x, y); }
    case PQ_ORD_SIGNED_BE:
        /* Equal widths: the sign byte decides first, then unsigned bytes. */
        if (alen && blen && (a[0] ^ b[0]) & 0x80) return (a[0] & 0x80) ? -1 : 1;
        return cmp_bytes(a, alen, b, blen);
    case PQ_ORD_BYTES:
    case PQ_ORD_TEXT: return cmp_bytes(a, alen, b, blen);
    }
    return 0;
}

static int is_nan(pq_order o, const uint8_t *v)
{
    if (o == PQ_ORD_FLOAT) { float f; memcpy(&f, v, 4); return isnan(f); }
    if (o == PQ_ORD_DOUBLE) { double d; memcpy(&d, v, 8); return isnan(d); }
    return 0;
}

static sl_code set(sl_buf *b, const uint8_t *v, size_t len, sl_err *err)
{
    b->len = 0;
    return sl_buf_append(b, v, len, err);
}

/* A byte array's first 8 bytes as a big-endian number, zero-padded. Two arrays whose
 * prefixes differ are in the prefixes' order: at the first byte that differs either
 * both have a byte there, or the padding's 0 stands for the end of the shorter, which
 * sorts below its extensions (cmp_bytes). */
static inline uint64_t prefix8(const uint8_t *v, size_t len)
{
    uint64_t x = 0;
    if (len >= 8) {
        memcpy(&x, v, 8);
        return __builtin_bswap64(x);
    }
    for (size_t i = 0; i < 8; i++) x = x << 8 | (i < len ? v[i] : 0);
    return x;
}

sl_code pq_stats_add(pq_vstats *s, pq_order o, const uint8_t *v, size_t len, sl_err *err)
{
    int bytes = o == PQ_ORD_BYTES || o == PQ_ORD_TEXT;
    if (is_nan(o, v)) return SL_OK;
    if (!s->has) {
        SL_TRY(set(&s->min, v, len, err));
        SL_TRY(set(&s->max, v, len, err));
        if (bytes) s->pmin = s->pmax = prefix8(v, len);
        s->has = 1;
        return SL_OK;
    }
    uint64_t p = 0;
    if (bytes) { /* strictly between the bounds' prefixes: neither bound moves */
        p = prefix8(v, len);
        if (p > s->pmin && p < s->pmax) return SL_OK;
    }
    if (pq_stats_cmp(o, v, len, s->min.data, s->min.len) < 0) {
        s->pmin = p;
        return set(&s->min, v, len, err);
    }
    if (pq_stats_cmp(o, v, len, s->max.data, s->max.len) > 0) {
        s->pmax = p;
        return set(&s->max, v, len, err);
    }
    return SL_OK;
}

/* Typed loops for the common fixed widths; the rest go value by value. Integers have
 * no NaN: a branch-free reduction over four lanes (the compiler's min and max, no
 * data-dependent jump), which runs over every value of every page. */
#define MINMAX_INT(T)                                                             \
    do {                                                                          \
        const T *x = (const T *)(const void *)v;                                  \
        T lo[4] = {x[0], x[0], x[0], x[0]}, hi[4] = {x[0], x[0], x[0], x[0]};    \
        size_t i = 0;                                                             \
        for (; i + 4 <= n; i += 4)                                                \
            for (int l = 0; l < 4; l++) {                                         \
                lo[l] = x[i + l] < lo[l] ? x[i + l] : lo[l];                      \
                hi[l] = x[i + l] > hi[l] ? x[i + l] : hi[l];                      \
            }                                                                     \
        for (; i < n; i++) {                                                      \
            lo[0] = x[i] < lo[0] ? x[i] : lo[0];                                  \
            hi[0] = x[i] > hi[0] ? x[i] : hi[0];                                  \
        }                                                                         \
        for (int l = 1; l < 4; l++) {                                             \
            if (lo[l] < lo[0]) lo[0] = lo[l];                                     \
            if (hi[l] > hi[0]) hi[0] = hi[l];                                     \
        }                                                                         \
        SL_TRY(pq_stats_add(s, o, (const uint8_t *)&lo[0], sizeof(T), err));     \
        return pq_stats_add(s, o, (const uint8_t *)&hi[0], sizeof(T), err);      \
    } while (0)
/* Floats and doubles: NaN has no place in the order and is left out. */
#define MINMAX_FLOAT(T)                                                           \
    do {                                                                          \
        const T *x = (const T *)(const void *)v;                                  \
        size_t i = 0;                                                             \
        while (i < n && isnan(x[i])) i++;                                         \
        if (i == n) return SL_OK;                                                 \
        T lo = x[i], hi = x[i];                                                   \
        for (; i < n; i++) {                                                      \
            if (isnan(x[i])) continue;                                            \
            if (x[i] < lo) lo = x[i];                                             \
            if (x[i] > hi) hi = x[i];                                             \
        }                                                                         \
        SL_TRY(pq_stats_add(s, o, (const uint8_t *)&lo, sizeof(T), err));        \
        return pq_stats_add(s, o, (const uint8_t *)&hi, sizeof(T), err);         \
    } while (0)

sl_code pq_stats_add_fixed(pq_vstats *s, pq_order o, const uint8_t *v, size_t n, size_t width, sl_err *err)
{
    if (n == 0) return SL_OK;
    switch (o) {
    case PQ_ORD_I32: MINMAX_INT(int32_t);
    case PQ_ORD_U32: MINMAX_INT(uint32_t);
    case PQ_ORD_I64: MINMAX_INT(int64_t);
    case PQ_ORD_U64: MINMAX_INT(uint64_t);
    case PQ_ORD_FLOAT: MINMAX_FLOAT(float);
    case PQ_ORD_DOUBLE: MINMAX_FLOAT(double);
    default:
        for (size_t i = 0; i < n; i++) SL_TRY(pq_stats_add(s, o, v + i * width, width, err));
        return SL_OK;
    }
}

sl_code pq_stats_merge(pq_vstats *dst, const pq_vstats *src, pq_order o, sl_err *err)
{
    dst->nulls += src->nulls;
    if (!src->has) return SL_OK;
    SL_TRY(pq_stats_add(dst, o, src->min.data, src->min.len, err));
    return pq_stats_add(dst, o, src->max.data, src->max.len, err);
}

/* Length of the longest prefix of p[0..n) that ends on a UTF-8 character boundary and
 * is at most `lim` bytes; -1 if the prefix is not valid UTF-8. */
static long utf8_cut(const uint8_t *p, size_t n, size_t lim)
{
    size_t i = 0, cut = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n) return -1;
        for (size_t j = 1; j < k; j++)
            if ((p[i + j] & 0xC0) != 0x80) return -1;
        if (i + k > lim) break;
        i += k;
        cut = i;
    }
    return (long)cut;
}

static size_t utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { o[0] = (uint8_t)(0xC0 | cp >> 6); o[1] = (uint8_t)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | cp >> 12); o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (uint8_t)(0xF0 | cp >> 18); o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F)); o[3] = (uint8_t)(0x80 | (cp & 0x3F)); return 4;
}

/* Smallest string above every string starting with p[0..n): the prefix with its last
 * character incremented (dropping characters that cannot be). 0 if none exists. */
static size_t text_upper(const uint8_t *p, size_t n, uint8_t *o)
{
    while (n > 0) {
        size_t st = n - 1;
        while (st > 0 && (p[st] & 0xC0) == 0x80) st--;
        uint32_t cp;
        uint8_t c = p[st];
        size_t k = n - st;
        cp = k == 1 ? c : k == 2 ? c & 0x1F : k == 3 ? c & 0x0F : c & 0x07;
        for (size_t j = 1; j < k; j++) cp = cp << 6 | (p[st + j] & 0x3F);
        cp++;
        if (cp >= 0xD800 && cp < 0xE000) cp = 0xE000;
        if (cp <= 0x10FFFF) {
            memcpy(o, p, st);
            return st + utf8_put(o + st, cp);
        }
        n = st;
    }
    return 0;
}

static size_t bytes_upper(const uint8_t *p, size_t n, uint8_t *o)
{
    while (n > 0 && p[n - 1] == 0xFF) n--;
    if (n == 0) return 0;
    memcpy(o, p, n);
    o[n - 1]++;
    return n;
}

sl_code pq_stats_bound(const pq_vstats *s, pq_order o, int is_max, sl_buf *out, int *exact, sl_err *err)
{
    const sl_buf *v = is_max ? &s->max : &s->min;
    out->len = 0;
    *exact = 1;
    if (o == PQ_ORD_FLOAT || o == PQ_ORD_DOUBLE) {
        SL_TRY(sl_buf_append(out, v->data, v->len, err));
        if (o == PQ_ORD_FLOAT) {
            float f; memcpy(&f, out->data, 4);
            if (f == 0) { f = is_max ? 0.0f : -0.0f; memcpy(out->data, &f, 4); }
        } else {
            double d; memcpy(&d, out->data, 8);
            if (d == 0) { d = is_max ? 0.0 : -0.0; memcpy(out->data, &d, 8); }
        }
        return SL_OK;
    }
    if ((o != PQ_ORD_BYTES && o != PQ_ORD_TEXT) || v->len <= PQ_STATS_TRUNCATE)
        return sl_buf_append(out, v->data, v->len, err);
    long cut = o == PQ_ORD_TEXT ? utf8_cut(v->data, v->len, PQ_STATS_TRUNCATE) : -1;
    int text = cut > 0;
    if (!text) cut = PQ_STATS_TRUNCATE;
    if (!is_max) {
        *exact = 0;
        return sl_buf_append(out, v->data, (size_t)cut, err);
    }
    uint8_t tmp[PQ_STATS_TRUNCATE + 4];
    size_t m = text ? text_upper(v->data, (size_t)cut, tmp) : bytes_upper(v->data, (size_t)cut, tmp);
    if (m == 0) return sl_buf_append(out, v->data, v->len, err); /* no shorter upper bound */
    *exact = 0;
    return sl_buf_append(out, tmp, m, err);
}
