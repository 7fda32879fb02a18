/* pq_decode.c - value formatting and first-rows decoding for `sluice inspect`, after
 * parquet-format's Encodings.md and LogicalTypes.md. Input is untrusted: every size from
 * a page header is checked against the chunk, the page and a hard cap before use. */
#include "pq_decode.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_time.h"
#include "pq_format.h"
#include "pq_thrift_read.h"

/* Limits on what a file can make --head hold, whatever it declares: writers' pages are
 * about 1 MiB (pyarrow, parquet-mr, DuckDB and sluice by default) and their dictionary
 * pages at most a few MiB, so these refuse only bombs and exotic files, with a message. */
#define PAGE_MAX ((int64_t)16 << 20)        /* largest page we will decompress */
#define DICT_MAX ((uint32_t)1 << 21)        /* dictionary entries (16 bytes each) */
#define HEAD_TEXT_MAX ((size_t)32 << 20)    /* text of all the cells --head returns */
#define HEADER_WINDOW ((size_t)64 << 10)
#define HEADER_WINDOW_MAX ((size_t)16 << 20)

/* ---- value formatting ---- */

static uint64_t le_u(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int pq_leaf_is_text(const pq_schema_el *el)
{
    int k = el->logical.kind, c = el->converted_type;
    return k == PQ_LT_STRING || k == PQ_LT_ENUM || k == PQ_LT_JSON || c == PQ_CT_UTF8 || c == PQ_CT_ENUM ||
           c == PQ_CT_JSON;
}

/* Big-endian two's complement of n bytes, as decimal text with `scale` digits after the point. */
static sl_code fmt_decimal_be(const uint8_t *p, size_t n, int32_t scale, sl_buf *out, sl_err *err)
{
    uint8_t mag[64];
    char dig[200];
    size_t nd = 0;
    int neg = n > 0 && (p[0] & 0x80);
    if (n > sizeof mag) return sl_err_set(err, SL_E_FORMAT, "decimal of %zu bytes is too wide", n);
    memcpy(mag, p, n);
    if (neg) { /* two's complement negate: invert, add one */
        for (size_t i = 0; i < n; i++) mag[i] = (uint8_t)~mag[i];
        for (size_t i = n; i-- > 0;)
            if (++mag[i] != 0) break;
    }
    for (;;) { /* repeated division by 10; digits come out least significant first */
        unsigned rem = 0;
        int nz = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned cur = rem * 256 + mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
            if (mag[i]) nz = 1;
        }
        dig[nd++] = (char)('0' + rem);
        if (!nz) break;
    }
    if (scale < 0 || scale > 150) scale = 0;
    while (nd <= (size_t)scale) dig[nd++] = '0';
    if (neg) SL_TRY(sl_buf_append_byte(out, '-', err));
    for (size_t i = nd; i-- > 0;) {
        SL_TRY(sl_buf_append_byte(out, (uint8_t)dig[i], err));
        if (i == (size_t)scale && scale > 0) SL_TRY(sl_buf_append_byte(out, '.', err));
    }
    return SL_OK;
}

static sl_code fmt_decimal_int(int64_t v, int32_t scale, sl_buf *out, sl_err *err)
{
    uint8_t be[8];
    for (int i = 0; i < 8; i++) be[i] = (uint8_t)((uint64_t)v >> (8 * (7 - i)));
    return fmt_decimal_be(be, 8, scale, out, err);
}

/* sl_civil_from_days overflows for days near INT32_MAX (it adds 719468 first); beyond
 * +-2e9 days (5 million years) we print the raw number instead of a date. */
#define CIVIL_DAYS_MAX 2000000000LL

/* per_sec: 1000, 1000000 or 1000000000; digits after the point follow the unit. */
static sl_code fmt_timestamp(int64_t v, int64_t per_sec, sl_buf *out, sl_err *err)
{
    int64_t frac, secs = sl_floor_div(v, per_sec, &frac), sod;
    int64_t days = sl_floor_div(secs, 86400, &sod);
    int y;
    unsigned m, d;
    int w = per_sec == 1000 ? 3 : per_sec == 1000000 ? 6 : 9;
    if (days < -CIVIL_DAYS_MAX || days > CIVIL_DAYS_MAX) return sl_buf_printf(out, err, "%" PRId64, v);
    sl_civil_from_days((int32_t)days, &y, &m, &d);
    return sl_buf_printf(out, err, "%04d-%02u-%02u %02d:%02d:%02d.%0*" PRId64, y, m, d, (int)(sod / 3600),
                         (int)(sod / 60 % 60), (int)(sod % 60), w, frac);
}

static sl_code fmt_time(int64_t v, int64_t per_sec, sl_buf *out, sl_err *err)
{
    int64_t frac, secs = sl_floor_div(v, per_sec, &frac);
    int w = per_sec == 1000 ? 3 : per_sec == 1000000 ? 6 : 9;
    return sl_buf_printf(out, err, "%02" PRId64 ":%02d:%02d.%0*" PRId64, secs / 3600, (int)(secs / 60 % 60),
                         (int)(secs % 60), w, frac);
}

/* Shortest text that reads back as the same double (what Python's repr prints). */
static sl_code fmt_double(double v, int maxprec, sl_buf *out, sl_err *err)
{
    char b[64];
    if (isnan(v)) return sl_buf_printf(out, err, "nan");
    if (isinf(v)) return sl_buf_printf(out, err, v < 0 ? "-inf" : "inf");
    int prec = 1;
    if (maxprec == 17 && (v == 0 || fabs(v) >= DBL_MIN)) {
        /* A double's shortest form has at most 15 digits exactly when its 15-digit
         * rounding reads back: that rounding is then the shortest form padded with
         * zeros (the grid of 15 digits is coarser than half an ulp), so the significant
         * digits of "%.14e" give the precision the loop below would stop at. Otherwise 16
         * or 17. Two or three conversions instead of up to seventeen. (Not for
         * subnormals, whose grid is coarser: the loop from 1.) */
        snprintf(b, sizeof b, "%.14e", v);
        if (strtod(b, NULL) == v) {
            const char *e = strchr(b, 'e'), *q = e - 1;
            int digits = 15;
            while (q > b && (*q == '0' || *q == '.')) {
                if (*q == '0') digits--;
                q--;
            }
            prec = digits < 1 ? 1 : digits;
        } else {
            prec = 16;
        }
    }
    for (; prec <= maxprec; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (maxprec == 9 ? (float)strtod(b, NULL) == (float)v : strtod(b, NULL) == v) break;
    }
    return sl_buf_printf(out, err, "%s", b);
}

sl_code pq_double_format(double v, sl_buf *out, sl_err *err) { return fmt_double(v, 17, out, err); }

static sl_code fmt_hex(const uint8_t *p, size_t n, sl_buf *out, sl_err *err)
{
    static const char hx[] = "0123456789abcdef";
    SL_TRY(sl_buf_reserve(out, n * 2, err));
    for (size_t i = 0; i < n; i++) {
        out->data[out->len++] = (uint8_t)hx[p[i] >> 4];
        out->data[out->len++] = (uint8_t)hx[p[i] & 15];
    }
    return SL_OK;
}

static int64_t unit_per_sec(int unit) { return unit == PQ_TU_MILLIS ? 1000 : unit == PQ_TU_NANOS ? 1000000000 : 1000000; }

sl_code pq_value_format(const pq_schema_el *el, const uint8_t *p, size_t len, sl_buf *out, sl_err *err)
{
    const pq_logical *lt = &el->logical;
    int ct = el->converted_type;
    int is_dec = lt->kind == PQ_LT_DECIMAL || ct == PQ_CT_DECIMAL;
    int32_t scale = lt->kind == PQ_LT_DECIMAL ? lt->scale : el->scale;
    size_t want = 0;
    switch (el->type) {
    case PQ_BOOLEAN: want = 1; break;
    case PQ_INT32:
    case PQ_FLOAT: want = 4; break;
    case PQ_INT64:
    case PQ_DOUBLE: want = 8; break;
    case PQ_INT96: want = 12; break;
    case PQ_FIXED_LEN_BYTE_ARRAY: want = (size_t)(el->type_length > 0 ? el->type_length : 0); break;
    default: want = len;
    }
    if (len != want)
        return sl_err_set(err, SL_E_FORMAT, "column '%.*s': value of %zu bytes for a %s of %zu", (int)el->name.len,
                          (const char *)el->name.p, len, pq_type_name(el->type) ? pq_type_name(el->type) : "?", want);
    switch (el->type) {
    case PQ_BOOLEAN: return sl_buf_printf(out, err, "%s", p[0] ? "true" : "false");
    case PQ_INT32: {
        int32_t v = (int32_t)(uint32_t)le_u(p, 4);
        if (is_dec) return fmt_decimal_int(v, scale, out, err);
        if ((lt->kind == PQ_LT_DATE || ct == PQ_CT_DATE) && v >= -CIVIL_DAYS_MAX && v <= CIVIL_DAYS_MAX) {
            char b[32];
            sl_date_format(v, b, sizeof b);
            return sl_buf_printf(out, err, "%s", b);
        }
        if (lt->kind == PQ_LT_TIME || ct == PQ_CT_TIME_MILLIS) return fmt_time(v, 1000, out, err);
        if ((lt->kind == PQ_LT_INTEGER && !lt->is_signed) || ct == PQ_CT_UINT_8 || ct == PQ_CT_UINT_16 ||
            ct == PQ_CT_UINT_32)
            return sl_buf_printf(out, err, "%" PRIu32, (uint32_t)v);
        return sl_buf_printf(out, err, "%" PRId32, v);
    }
    case PQ_INT64: {
        int64_t v = (int64_t)le_u(p, 8);
        if (is_dec) return fmt_decimal_int(v, scale, out, err);
        if (lt->kind == PQ_LT_TIMESTAMP) return fmt_timestamp(v, unit_per_sec(lt->unit), out, err);
        if (ct == PQ_CT_TIMESTAMP_MILLIS) return fmt_timestamp(v, 1000, out, err);
        if (ct == PQ_CT_TIMESTAMP_MICROS) return fmt_timestamp(v, 1000000, out, err);
        if (lt->kind == PQ_LT_TIME) return fmt_time(v, unit_per_sec(lt->unit), out, err);
        if (ct == PQ_CT_TIME_MICROS) return fmt_time(v, 1000000, out, err);
        if ((lt->kind == PQ_LT_INTEGER && !lt->is_signed) || ct == PQ_CT_UINT_64)
            return sl_buf_printf(out, err, "%" PRIu64, (uint64_t)v);
        return sl_buf_printf(out, err, "%" PRId64, v);
    }
    case PQ_INT96: { /* legacy timestamp: nanoseconds of the day, then the Julian day */
        int64_t nanos = (int64_t)le_u(p, 8), jday = (int32_t)(uint32_t)le_u(p + 8, 4);
        int64_t days = jday - 2440588; /* Julian day of 1970-01-01 */
        if (nanos < 0 || nanos >= 86400LL * 1000000000 || days < -106000 || days > 106000) /* int64 ns range */
            return fmt_hex(p, 12, out, err);
        return fmt_timestamp(days * 86400LL * 1000000000 + nanos, 1000000000, out, err);
    }
    case PQ_FLOAT: {
        float f;
        uint32_t u = (uint32_t)le_u(p, 4);
        memcpy(&f, &u, 4);
        return fmt_double(f, 9, out, err);
    }
    case PQ_DOUBLE: {
        double d;
        uint64_t u = le_u(p, 8);
        memcpy(&d, &u, 8);
        return fmt_double(d, 17, out, err);
    }
    case PQ_BYTE_ARRAY:
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (is_dec && len > 0 && len <= 64) return fmt_decimal_be(p, len, scale, out, err);
        if (pq_leaf_is_text(el)) return sl_buf_append(out, p, len, err);
        if (lt->kind == PQ_LT_UUID && len == 16) {
            for (int i = 0; i < 16; i++) {
                SL_TRY(fmt_hex(p + i, 1, out, err));
                if (i == 3 || i == 5 || i == 7 || i == 9) SL_TRY(sl_buf_append_byte(out, '-', err));
            }
            return SL_OK;
        }
        return fmt_hex(p, len, out, err);
    default: return sl_err_set(err, SL_E_FORMAT, "unknown physical type %d", el->type);
    }
}

/* ---- bit-level decoding ---- */

/* Reads w (<= 64) bits at bit offset `bit` of p[0..n), LSB first. */
static int get_bits(const uint8_t *p, size_t n, uint64_t bit, int w, uint64_t *out)
{
    uint64_t v = 0;
    if (w == 0) {
        *out = 0;
        return 1;
    }
    if (bit + (uint64_t)w > (uint64_t)n * 8) return 0;
    for (int i = 0; i < w;) {
        uint64_t byte = (bit + (uint64_t)i) >> 3;
        int off = (int)((bit + (uint64_t)i) & 7), take = 8 - off;
        if (take > w - i) take = w - i;
        v |= (uint64_t)((p[byte] >> off) & ((1u << take) - 1)) << i;
        i += take;
    }
    *out = v;
    return 1;
}

static int uvarint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        if (*p >= end) return 0;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

sl_code pq_hybrid_decode(const uint8_t *p, size_t len, int w, uint32_t *out, size_t n, sl_err *err)
{
    const uint8_t *end = p + len;
    size_t got = 0;
    if (w < 0 || w > 32) return sl_err_set(err, SL_E_FORMAT, "RLE/bit-packed bit width %d out of range", w);
    while (got < n) {
        uint64_t h;
        if (!uvarint(&p, end, &h)) return sl_err_set(err, SL_E_FORMAT, "RLE/bit-packed data ends after %zu of %zu values", got, n);
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 values */
            uint64_t cnt = (h >> 1) * 8, avail = (uint64_t)(end - p);
            uint64_t bytes = (h >> 1) * (uint64_t)w;
            if ((h >> 1) > ((uint64_t)1 << 40)) return sl_err_set(err, SL_E_FORMAT, "bit-packed run too long");
            for (uint64_t i = 0; i < cnt && got < n; i++) {
                uint64_t v;
                if (!get_bits(p, (size_t)avail, i * (uint64_t)w, w, &v))
                    return sl_err_set(err, SL_E_FORMAT, "bit-packed run past the end of its data");
                out[got++] = (uint32_t)v;
            }
            p += bytes < avail ? bytes : avail;
        } else { /* RLE: (h >> 1) repeats of one value in ceil(w/8) bytes */
            uint64_t cnt = h >> 1;
            size_t vb = (size_t)(w + 7) / 8;
            if ((size_t)(end - p) < vb) return sl_err_set(err, SL_E_FORMAT, "RLE run value past the end");
            uint32_t v = (uint32_t)le_u(p, vb);
            p += vb;
            if (w < 32 && (v >> w)) return sl_err_set(err, SL_E_FORMAT, "RLE value wider than its bit width");
            for (uint64_t i = 0; i < cnt && got < n; i++) out[got++] = v;
        }
    }
    return SL_OK;
}

/* DELTA_BINARY_PACKED (Encodings.md): header, then blocks of miniblocks. Decodes n values
 * into 64-bit integers; arithmetic wraps as the spec says. Sets *used to bytes consumed
 * when every value of the page was decoded, for DELTA_LENGTH_BYTE_ARRAY. A stream may not
 * declare more than `max` values (the page's num_values): walking its blocks costs one
 * step per miniblock plus one per value wanted, never one per value declared, so zero-width
 * miniblocks cannot make a few bytes cost 10^12 steps. */
static sl_code delta_decode(const uint8_t *p, size_t len, int64_t *out, size_t n, size_t max, size_t *total,
                            size_t *used, sl_err *err)
{
    const uint8_t *end = p + len, *start = p;
    uint64_t bs, nmb, cnt, first, md;
    size_t got = 0;
    uint64_t cur;
    if (!uvarint(&p, end, &bs) || !uvarint(&p, end, &nmb) || !uvarint(&p, end, &cnt) || !uvarint(&p, end, &first))
        return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED header truncated");
    if (bs == 0 || bs % 128 || nmb == 0 || bs % nmb || (bs / nmb) % 32 || bs > (1u << 20) || cnt > ((uint64_t)1 << 40))
        return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED header invalid (block %" PRIu64 ", miniblocks %" PRIu64 ")",
                          bs, nmb);
    if (cnt > max)
        return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED declares %" PRIu64 " values in a page of %zu", cnt, max);
    if (total) *total = (size_t)cnt;
    if (n > cnt) return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED holds %" PRIu64 " values, %zu needed", cnt, n);
    cur = (uint64_t)((int64_t)(first >> 1) ^ -(int64_t)(first & 1));
    if (n > 0) out[got++] = (int64_t)cur;
    /* Walk every block so that *used is exact even when fewer values are wanted. */
    uint64_t left = cnt ? cnt - 1 : 0;
    while (left > 0) {
        const uint8_t *widths;
        uint64_t vpm = bs / nmb;
        if (!uvarint(&p, end, &md)) return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED block truncated");
        int64_t mind = (int64_t)(md >> 1) ^ -(int64_t)(md & 1);
        if ((uint64_t)(end - p) < nmb) return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED widths truncated");
        widths = p;
        p += nmb;
        for (uint64_t m = 0; m < nmb && left > 0; m++) {
            int w = widths[m];
            uint64_t bytes = vpm * (uint64_t)w / 8;
            if (w > 64) return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED bit width %d", w);
            if ((uint64_t)(end - p) < bytes) return sl_err_set(err, SL_E_FORMAT, "DELTA_BINARY_PACKED miniblock truncated");
            uint64_t take = vpm < left ? vpm : left;
            for (uint64_t i = 0; i < take && got < n; i++) {
                uint64_t d = 0;
                get_bits(p, (size_t)bytes, i * (uint64_t)w, w, &d);
                cur += (uint64_t)mind + d;
                out[got++] = (int64_t)cur;
            }
            left -= take;
            p += bytes;
        }
    }
    if (used) *used = (size_t)(p - start);
    return SL_OK;
}

/* ---- decompression ---- */

static sl_code decompress(int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t want, sl_err *err)
{
    switch (codec) {
    case 0:
        if (n != want) return sl_err_set(err, SL_E_FORMAT, "uncompressed page of %zu bytes, header says %zu", n, want);
        memcpy(dst, src, n);
        return SL_OK;
    case 1: {
        size_t got = 0;
        if (snappy_uncompressed_length((const char *)src, n, &got) != SNAPPY_OK || got != want)
            return sl_err_set(err, SL_E_FORMAT, "snappy page is corrupt or of the wrong size");
        if (snappy_uncompress((const char *)src, n, (char *)dst, &got) != SNAPPY_OK || got != want)
            return sl_err_set(err, SL_E_FORMAT, "snappy page does not decompress");
        return SL_OK;
    }
    case 2: {
        z_stream z;
        int zrc;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 32) != Z_OK) return sl_err_set(err, SL_E_NOMEM, "zlib init failed");
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = (uInt)n;
        z.next_out = dst;
        z.avail_out = (uInt)want;
        zrc = inflate(&z, Z_FINISH);
        inflateEnd(&z);
        if (zrc != Z_STREAM_END || z.total_out != want)
            return sl_err_set(err, SL_E_FORMAT, "gzip page is corrupt or of the wrong size");
        return SL_OK;
    }
    case 6: {
        size_t got = ZSTD_decompress(dst, want, src, n);
        if (ZSTD_isError(got) || got != want)
            return sl_err_set(err, SL_E_FORMAT, "zstd page is corrupt or of the wrong size");
        return SL_OK;
    }
    default:
        if (!pq_codec_label(codec)) return sl_err_set(err, SL_E_FORMAT, "invalid codec %d", codec);
        return sl_err_set(err, SL_E_UNSUPPORTED, "codec %s is not supported by --head",
                          pq_codec_label(codec) ? pq_codec_label(codec) : "(unknown)");
    }
}

/* ---- pages ---- */

typedef struct page_hdr {
    int type;
    int32_t usize, csize;
    int32_t num_values, num_nulls, num_rows;
    int encoding, def_enc;
    int32_t def_len, rep_len;
    int compressed;
} page_hdr;

static sl_code parse_sub(pq_tr *r, page_hdr *h, int which)
{
    int16_t last;
    pq_tr_field f;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        if (f.type == TC_I32) {
            int32_t v;
            SL_TRY(pq_tr_i32(r, &v));
            if (f.id == 1) h->num_values = v;
            else if (which == 5 && f.id == 2) h->encoding = v;
            else if (which == 5 && f.id == 3) h->def_enc = v;
            else if (which == 7 && f.id == 2) h->encoding = v;
            else if (which == 8 && f.id == 2) h->num_nulls = v;
            else if (which == 8 && f.id == 3) h->num_rows = v;
            else if (which == 8 && f.id == 4) h->encoding = v;
            else if (which == 8 && f.id == 5) h->def_len = v;
            else if (which == 8 && f.id == 6) h->rep_len = v;
        } else if (which == 8 && f.id == 7 && (f.type == TC_TRUE || f.type == TC_FALSE)) {
            h->compressed = f.type == TC_TRUE;
        } else {
            SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    return SL_OK;
}

static sl_code parse_page_hdr(const uint8_t *p, size_t n, page_hdr *h, size_t *hlen, sl_err *err)
{
    pq_tr r;
    int16_t last;
    pq_tr_field f;
    memset(h, 0, sizeof *h);
    h->type = h->usize = h->csize = -1;
    h->compressed = 1;
    pq_tr_init(&r, p, n, err);
    SL_TRY(pq_tr_struct_begin(&r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(&r, &last, &f));
        if (f.type == TC_STOP) break;
        if (f.id >= 1 && f.id <= 3 && f.type == TC_I32) {
            int32_t v;
            SL_TRY(pq_tr_i32(&r, &v));
            if (f.id == 1) h->type = v;
            else if (f.id == 2) h->usize = v;
            else h->csize = v;
        } else if ((f.id == 5 || f.id == 7 || f.id == 8) && f.type == TC_STRUCT) {
            SL_TRY(parse_sub(&r, h, f.id));
        } else {
            SL_TRY(pq_tr_skip(&r, f.type));
        }
    }
    pq_tr_struct_end(&r);
    if (h->type < 0 || h->usize < 0 || h->csize < 0 || h->num_values < 0 || h->def_len < 0 || h->rep_len < 0)
        return sl_err_set(err, SL_E_FORMAT, "page header lacks or has negative sizes");
    *hlen = pq_tr_offset(&r);
    return SL_OK;
}

typedef struct val {
    const uint8_t *p;
    uint32_t len;
} val;

typedef struct chunk_state {
    const pq_schema_el *el;
    int codec;
    val *dict;
    uint32_t ndict;
    uint8_t *dict_buf;
    sl_buf arena; /* values rebuilt from a page (DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT) */
} chunk_state;

static size_t type_width(const pq_schema_el *el)
{
    switch (el->type) {
    case PQ_INT32:
    case PQ_FLOAT: return 4;
    case PQ_INT64:
    case PQ_DOUBLE: return 8;
    case PQ_INT96: return 12;
    case PQ_FIXED_LEN_BYTE_ARRAY: return (size_t)el->type_length;
    default: return 0;
    }
}

static const uint8_t bool_bytes[2] = {0, 1};

/* PLAIN: n values from p[0..len) into v. */
static sl_code plain_decode(const pq_schema_el *el, const uint8_t *p, size_t len, val *v, size_t n, sl_err *err)
{
    size_t off = 0;
    if (el->type == PQ_BOOLEAN) {
        if ((n + 7) / 8 > len) return sl_err_set(err, SL_E_FORMAT, "PLAIN booleans past the end of the page");
        for (size_t i = 0; i < n; i++) {
            v[i].p = &bool_bytes[(p[i / 8] >> (i % 8)) & 1];
            v[i].len = 1;
        }
        return SL_OK;
    }
    if (el->type == PQ_BYTE_ARRAY) {
        for (size_t i = 0; i < n; i++) {
            uint32_t l;
            if (len - off < 4) return sl_err_set(err, SL_E_FORMAT, "PLAIN byte array length past the end of the page");
            l = (uint32_t)le_u(p + off, 4);
            off += 4;
            if (l > len - off) return sl_err_set(err, SL_E_FORMAT, "PLAIN byte array of %u bytes past the end of the page", l);
            v[i].p = p + off;
            v[i].len = l;
            off += l;
        }
        return SL_OK;
    }
    size_t w = type_width(el);
    if (w == 0 || n > len / w) return sl_err_set(err, SL_E_FORMAT, "PLAIN values past the end of the page");
    for (size_t i = 0; i < n; i++) {
        v[i].p = p + i * w;
        v[i].len = (uint32_t)w;
    }
    return SL_OK;
}

static sl_code load_dict(chunk_state *cs, uint8_t *buf, size_t len, int32_t count, sl_err *err)
{
    /* Takes ownership of buf, whatever happens. */
    if (cs->dict) {
        sl_free(buf);
        return sl_err_set(err, SL_E_FORMAT, "a second dictionary page in one column chunk");
    }
    /* PLAIN values take at least a bit (BOOLEAN), 4 bytes (BYTE_ARRAY's length) or their
     * width each: a count the page cannot hold is corrupt; past DICT_MAX, a bomb. */
    size_t w = cs->el->type == PQ_BYTE_ARRAY ? 4 : type_width(cs->el);
    uint64_t fits = cs->el->type == PQ_BOOLEAN ? (uint64_t)len * 8 : w ? len / w : 0;
    if (count < 0 || (uint64_t)count > fits || (uint32_t)count > DICT_MAX) {
        sl_free(buf);
        return sl_err_set(err, SL_E_FORMAT,
                          "dictionary page declares %d entries; its %zu bytes hold at most %" PRIu64
                          " and --head reads at most %u",
                          count, len, fits, DICT_MAX);
    }
    cs->dict = sl_calloc((size_t)count + 1, sizeof *cs->dict);
    if (!cs->dict) {
        sl_free(buf);
        return sl_err_set(err, SL_E_NOMEM, "out of memory for a dictionary");
    }
    cs->dict_buf = buf;
    cs->ndict = (uint32_t)count;
    return plain_decode(cs->el, buf, len, cs->dict, (size_t)count, err);
}

/* Values of one data page (already decompressed, levels removed) into v[0..k); nv is the
 * page's num_values, the most values any stream in it may declare. */
static sl_code page_values(chunk_state *cs, int enc, const uint8_t *p, size_t len, size_t nv, val *v, size_t k,
                           int64_t *scratch, uint32_t *idx, sl_err *err)
{
    const pq_schema_el *el = cs->el;
    switch (enc) {
    case PQ_ENC_PLAIN: return plain_decode(el, p, len, v, k, err);
    case PQ_ENC_PLAIN_DICTIONARY:
    case PQ_ENC_RLE_DICTIONARY:
        if (!cs->dict) return sl_err_set(err, SL_E_FORMAT, "dictionary-encoded page without a dictionary page");
        if (k == 0) return SL_OK;
        if (len < 1) return sl_err_set(err, SL_E_FORMAT, "dictionary page data is empty");
        SL_TRY(pq_hybrid_decode(p + 1, len - 1, p[0], idx, k, err));
        for (size_t i = 0; i < k; i++) {
            if (idx[i] >= cs->ndict)
                return sl_err_set(err, SL_E_FORMAT, "dictionary index %u out of %u entries", idx[i], cs->ndict);
            v[i] = cs->dict[idx[i]];
        }
        return SL_OK;
    case PQ_ENC_RLE:
        if (el->type != PQ_BOOLEAN) break;
        if (len < 4 || le_u(p, 4) > len - 4) return sl_err_set(err, SL_E_FORMAT, "RLE boolean length past the end");
        SL_TRY(pq_hybrid_decode(p + 4, (size_t)le_u(p, 4), 1, idx, k, err));
        for (size_t i = 0; i < k; i++) {
            v[i].p = &bool_bytes[idx[i] & 1];
            v[i].len = 1;
        }
        return SL_OK;
    case PQ_ENC_DELTA_BINARY_PACKED: {
        if (el->type != PQ_INT32 && el->type != PQ_INT64) break;
        SL_TRY(delta_decode(p, len, scratch, k, nv, NULL, NULL, err));
        /* Little-endian in place so the formatter reads them like PLAIN. */
        for (size_t i = 0; i < k; i++) {
            uint64_t u = (uint64_t)scratch[i];
            uint8_t *b = (uint8_t *)&scratch[i];
            for (int j = 0; j < 8; j++) b[j] = (uint8_t)(u >> (8 * j));
            v[i].p = b;
            v[i].len = el->type == PQ_INT32 ? 4 : 8;
        }
        return SL_OK;
    }
    case PQ_ENC_DELTA_LENGTH_BYTE_ARRAY: {
        size_t total = 0, used = 0, off;
        if (el->type != PQ_BYTE_ARRAY) break;
        SL_TRY(delta_decode(p, len, scratch, k, nv, &total, &used, err));
        off = used;
        for (size_t i = 0; i < k; i++) {
            if (scratch[i] < 0 || (uint64_t)scratch[i] > len - off)
                return sl_err_set(err, SL_E_FORMAT, "DELTA_LENGTH_BYTE_ARRAY length past the end of the page");
            v[i].p = p + off;
            v[i].len = (uint32_t)scratch[i];
            off += (size_t)scratch[i];
        }
        return SL_OK;
    }
    case PQ_ENC_DELTA_BYTE_ARRAY: {
        /* Prefix lengths (DELTA_BINARY_PACKED), then the suffixes as DELTA_LENGTH_BYTE_ARRAY;
         * value i = the first prefix[i] bytes of value i-1, then suffix i. */
        if (el->type != PQ_BYTE_ARRAY && el->type != PQ_FIXED_LEN_BYTE_ARRAY) break;
        size_t used1 = 0, used2 = 0, total = 0;
        int64_t *suf = sl_calloc(k + 1, sizeof *suf);
        if (!suf) return sl_err_set(err, SL_E_NOMEM, "out of memory decoding DELTA_BYTE_ARRAY");
        sl_code rc = delta_decode(p, len, scratch, k, nv, &total, &used1, err);
        if (rc == SL_OK) rc = delta_decode(p + used1, len - used1, suf, k, nv, &total, &used2, err);
        size_t off = used1 + used2, prev_off = 0, prev_len = 0;
        sl_buf_reset(&cs->arena);
        for (size_t i = 0; rc == SL_OK && i < k; i++) {
            if (scratch[i] < 0 || (size_t)scratch[i] > prev_len || suf[i] < 0 || (uint64_t)suf[i] > len - off) {
                rc = sl_err_set(err, SL_E_FORMAT, "DELTA_BYTE_ARRAY prefix or suffix past its bounds");
                break;
            }
            size_t at = cs->arena.len;
            rc = sl_buf_reserve(&cs->arena, (size_t)scratch[i] + (size_t)suf[i] + 1, err);
            if (rc != SL_OK) break;
            memcpy(cs->arena.data + at, cs->arena.data + prev_off, (size_t)scratch[i]);
            memcpy(cs->arena.data + at + scratch[i], p + off, (size_t)suf[i]);
            cs->arena.len = at + (size_t)scratch[i] + (size_t)suf[i];
            off += (size_t)suf[i];
            prev_off = at;
            prev_len = cs->arena.len - at;
            v[i].len = (uint32_t)prev_len;
            idx[i] = (uint32_t)at; /* the arena may move while growing: pointers are set below */
        }
        for (size_t i = 0; rc == SL_OK && i < k; i++) v[i].p = cs->arena.data + idx[i];
        sl_free(suf);
        return rc;
    }
    case PQ_ENC_BYTE_STREAM_SPLIT: {
        /* w streams of N bytes each: byte b of value i is at b * N + i. */
        size_t w = type_width(el);
        if (w == 0 || el->type == PQ_INT96) break;
        size_t nvals = len / w;
        if (len % w || k > nvals) return sl_err_set(err, SL_E_FORMAT, "BYTE_STREAM_SPLIT data of %zu bytes", len);
        sl_buf_reset(&cs->arena);
        SL_TRY(sl_buf_reserve(&cs->arena, k * w + 1, err));
        for (size_t i = 0; i < k; i++) {
            uint8_t *dst = cs->arena.data + i * w;
            for (size_t b = 0; b < w; b++) dst[b] = p[b * nvals + i];
            v[i].p = dst;
            v[i].len = (uint32_t)w;
        }
        cs->arena.len = k * w;
        return SL_OK;
    }
    default: break;
    }
    if (!pq_encoding_name(enc))
        return sl_err_set(err, SL_E_FORMAT, "column '%.*s': invalid encoding %d in a page header", (int)el->name.len,
                          (const char *)el->name.p, enc);
    return sl_err_set(err, SL_E_UNSUPPORTED, "column '%.*s': encoding %s is not supported by --head", (int)el->name.len,
                      (const char *)el->name.p, pq_encoding_name(enc) ? pq_encoding_name(enc) : "(unknown)");
}

/* Decodes up to `need` rows of one column chunk into cells[row*stride]; the cells' text
 * is taken from *text_left (the budget of the whole --head). */
static sl_code read_chunk(pq_reader *rd, const pq_column_chunk *cc, const pq_schema_el *el, int64_t need,
                          char **cells, uint32_t stride, size_t *text_left, int64_t *done, sl_err *err)
{
    chunk_state cs = {el, cc->codec, NULL, 0, NULL, {0}};
    sl_buf_init(&cs.arena, (size_t)256 << 20);
    uint64_t pos, end, hoff = 0;
    size_t hn = 0; /* hbuf holds the file's bytes [hoff, hoff + hn) */
    uint8_t *hbuf = NULL, *body = NULL, *page = NULL;
    val *v = NULL;
    uint32_t *idx = NULL, *defs = NULL;
    int64_t *scratch = NULL;
    sl_buf txt;
    sl_code rc = SL_OK;
    int optional = el->repetition == PQ_OPTIONAL;
    sl_buf_init(&txt, (size_t)64 << 20);
    *done = 0;
    if (!cc->has_meta) return sl_err_set(err, SL_E_FORMAT, "column chunk without metadata");
    if (cc->file_path.set) return sl_err_set(err, SL_E_UNSUPPORTED, "column chunk in another file is not supported");
    pos = (uint64_t)cc->data_page_offset;
    if (cc->dictionary_page_offset > 0 && cc->dictionary_page_offset < cc->data_page_offset)
        pos = (uint64_t)cc->dictionary_page_offset;
    if (cc->data_page_offset < 4 || cc->total_compressed_size < 0 ||
        (uint64_t)cc->total_compressed_size > pq_reader_file_size(rd) - pos)
        return sl_err_set(err, SL_E_FORMAT, "column chunk offsets (%" PRId64 ", %" PRId64 " bytes) are outside the file",
                          (int64_t)pos, cc->total_compressed_size);
    end = pos + (uint64_t)cc->total_compressed_size;
    /* Scratch space for one page's worth of rows, sized by what --head asked for. */
    v = sl_calloc((size_t)need + 1, sizeof *v);
    idx = sl_calloc((size_t)need + 1, sizeof *idx);
    defs = sl_calloc((size_t)need + 1, sizeof *defs);
    scratch = sl_calloc((size_t)need + 1, sizeof *scratch);
    if (!v || !idx || !defs || !scratch) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory decoding rows");
        goto done;
    }
    while (*done < need && pos < end) {
        page_hdr h;
        size_t hlen = 0;
        /* Headers are parsed from a window of the file kept across pages, so a chunk of
         * many small pages costs one read per window, not one per page. A header cut by
         * the window's end (or one with large statistics) is read again, 16 times wider. */
        for (size_t want = 1;;) {
            size_t have = pos >= hoff && pos - hoff < hn ? (size_t)(hoff + hn - pos) : 0;
            if (have < want) {
                size_t win = want < HEADER_WINDOW ? HEADER_WINDOW : want;
                if (win > HEADER_WINDOW_MAX) win = HEADER_WINDOW_MAX;
                if (win > end - pos) win = (size_t)(end - pos);
                sl_free(hbuf);
                hn = 0;
                hbuf = sl_malloc(win ? win : 1);
                if (!hbuf) {
                    rc = sl_err_set(err, SL_E_NOMEM, "out of memory for a page header");
                    goto done;
                }
                SL_TRY_GOTO(rc, pq_reader_read_at(rd, pos, win, hbuf, err), done);
                hoff = pos;
                hn = have = win;
            }
            rc = parse_page_hdr(hbuf + (pos - hoff), have, &h, &hlen, err);
            if (rc == SL_OK || have >= end - pos || have >= HEADER_WINDOW_MAX) break;
            want = have * 16;
        }
        if (rc != SL_OK) {
            sl_err_prefix(err, "page header at %" PRIu64 ": ", pos);
            goto done;
        }
        pos += hlen;
        if ((uint64_t)h.csize > end - pos) {
            rc = sl_err_set(err, SL_E_FORMAT, "page of %d bytes (%d uncompressed) does not fit its column chunk", h.csize,
                            h.usize);
            goto done;
        }
        if (h.type != PQ_DATA_PAGE && h.type != PQ_DATA_PAGE_V2 && h.type != PQ_DICTIONARY_PAGE) {
            pos += (uint64_t)h.csize; /* index pages and unknown kinds: not read at all */
            continue;
        }
        if (h.usize > PAGE_MAX) {
            rc = sl_err_set(err, SL_E_FORMAT, "page of %d bytes uncompressed is over the %lld MiB that --head reads",
                            h.usize, (long long)(PAGE_MAX >> 20));
            goto done;
        }
        sl_free(body);
        body = sl_malloc((size_t)h.csize + 1);
        page = NULL;
        if (!body) {
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory for a page");
            goto done;
        }
        SL_TRY_GOTO(rc, pq_reader_read_at(rd, pos, (size_t)h.csize, body, err), done);
        pos += (uint64_t)h.csize;
        size_t lev = 0; /* v2: level bytes, stored uncompressed before the values */
        if (h.type == PQ_DATA_PAGE_V2) {
            lev = (size_t)h.def_len + (size_t)h.rep_len;
            if (lev > (size_t)h.csize || lev > (size_t)h.usize) {
                rc = sl_err_set(err, SL_E_FORMAT, "data page v2 level lengths exceed the page");
                goto done;
            }
        }
        uint8_t *pg = sl_malloc((size_t)h.usize + 1);
        if (!pg) {
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory for a page");
            goto done;
        }
        memcpy(pg, body, lev);
        if (h.type == PQ_DATA_PAGE_V2 && !h.compressed)
            rc = decompress(0, body + lev, (size_t)h.csize - lev, pg + lev, (size_t)h.usize - lev, err);
        else
            rc = decompress(cc->codec, body + lev, (size_t)h.csize - lev, pg + lev, (size_t)h.usize - lev, err);
        if (rc != SL_OK) {
            sl_free(pg);
            goto done;
        }
        if (h.type == PQ_DICTIONARY_PAGE) {
            if (h.encoding != PQ_ENC_PLAIN && h.encoding != PQ_ENC_PLAIN_DICTIONARY) {
                sl_free(pg);
                rc = sl_err_set(err, SL_E_FORMAT, "invalid dictionary page encoding %d", h.encoding);
                goto done;
            }
            rc = load_dict(&cs, pg, (size_t)h.usize, h.num_values, err);
            if (rc != SL_OK) goto done;
            continue;
        }
        page = pg;
        {
            size_t n = (size_t)h.num_values, k = 0;
            const uint8_t *vp = page;
            size_t vlen = (size_t)h.usize;
            if ((int64_t)n > need - *done) n = (size_t)(need - *done);
            if (h.type == PQ_DATA_PAGE_V2) {
                if (h.rep_len) { /* a flat schema has no repetition levels */
                    rc = sl_err_set(err, SL_E_FORMAT, "data page v2 of a flat column has repetition levels");
                    goto page_done;
                }
                if (optional) SL_TRY_GOTO(rc, pq_hybrid_decode(page, (size_t)h.def_len, 1, defs, n, err), page_done);
                vp += lev;
                vlen -= lev;
            } else if (optional) {
                uint32_t dl;
                if (h.def_enc != PQ_ENC_RLE) {
                    rc = h.def_enc == PQ_ENC_BIT_PACKED
                             ? sl_err_set(err, SL_E_UNSUPPORTED, "BIT_PACKED definition levels are not supported")
                             : sl_err_set(err, SL_E_FORMAT, "invalid definition level encoding %d", h.def_enc);
                    goto page_done;
                }
                if (vlen < 4 || (dl = (uint32_t)le_u(vp, 4)) > vlen - 4) {
                    rc = sl_err_set(err, SL_E_FORMAT, "definition levels past the end of the page");
                    goto page_done;
                }
                SL_TRY_GOTO(rc, pq_hybrid_decode(vp + 4, dl, 1, defs, n, err), page_done);
                vp += 4 + dl;
                vlen -= 4 + (size_t)dl;
            }
            for (size_t i = 0; i < n; i++) {
                if (!optional) defs[i] = 1;
                else if (defs[i] > 1) {
                    rc = sl_err_set(err, SL_E_FORMAT, "definition level %u above the maximum 1", defs[i]);
                    goto page_done;
                }
                k += defs[i];
            }
            SL_TRY_GOTO(rc, page_values(&cs, h.encoding, vp, vlen, (size_t)h.num_values, v, k, scratch, idx, err), page_done);
            for (size_t i = 0, j = 0; i < n; i++) {
                char **cell = &cells[(size_t)(*done + (int64_t)i) * stride];
                if (!defs[i]) continue;
                sl_buf_reset(&txt);
                SL_TRY_GOTO(rc, pq_value_format(el, v[j].p, v[j].len, &txt, err), page_done);
                j++;
                if (txt.len + 1 > *text_left) { /* one long value repeated by RLE: a terabyte from kilobytes */
                    rc = sl_err_set(err, SL_E_FORMAT, "the values of --head come to more than %zu MiB of text "
                                    "(ask for fewer rows)", HEAD_TEXT_MAX >> 20);
                    goto page_done;
                }
                *text_left -= txt.len + 1;
                *cell = sl_strndup(txt.len ? (const char *)txt.data : "", txt.len);
                if (!*cell) {
                    rc = sl_err_set(err, SL_E_NOMEM, "out of memory for a value");
                    goto page_done;
                }
            }
            *done += (int64_t)n;
        }
    page_done:
        sl_free(page);
        page = NULL;
        if (rc != SL_OK) goto done;
    }
done:
    if (rc != SL_OK && err) sl_err_prefix(err, "column '%.*s': ", (int)el->name.len, (const char *)el->name.p);
    sl_free(hbuf);
    sl_free(body);
    sl_free(cs.dict);
    sl_free(cs.dict_buf);
    sl_buf_free(&cs.arena);
    sl_free(v);
    sl_free(idx);
    sl_free(defs);
    sl_free(scratch);
    sl_buf_free(&txt);
    return rc;
}

static sl_code check_flat(const pq_file_meta *m, sl_err *err)
{
    if (m->n_schema < 1 || (uint32_t)m->schema[0].num_children != m->n_schema - 1)
        return sl_err_set(err, SL_E_UNSUPPORTED, "reading rows is not supported for nested schemas");
    for (uint32_t i = 1; i < m->n_schema; i++)
        if (m->schema[i].num_children || m->schema[i].repetition == PQ_REPEATED)
            return sl_err_set(err, SL_E_UNSUPPORTED,
                              "reading rows is not supported for nested schemas ('%.*s' is nested or repeated)",
                              (int)m->schema[i].name.len, (const char *)m->schema[i].name.p);
    return SL_OK;
}

sl_code pq_group_read(pq_reader *rd, uint32_t g, const uint32_t *cols, uint32_t ncols, pq_head *h, sl_err *err)
{
    const pq_file_meta *m = pq_reader_meta(rd);
    sl_code rc = SL_OK;
    memset(h, 0, sizeof *h);
    SL_TRY(check_flat(m, err));
    if (g >= m->n_row_groups) return sl_err_set(err, SL_E_FORMAT, "row group %u of %u", g, m->n_row_groups);
    const pq_row_group *rg = &m->row_groups[g];
    if (rg->n_columns != m->n_schema - 1)
        return sl_err_set(err, SL_E_FORMAT, "row group %u has %u columns, the schema %u", g, rg->n_columns,
                          m->n_schema - 1);
    if (rg->num_rows < 0 || rg->num_rows > m->num_rows)
        return sl_err_set(err, SL_E_FORMAT, "row group %u claims %" PRId64 " rows", g, rg->num_rows);
    h->ncols = ncols;
    h->nrows = rg->num_rows;
    h->cols = sl_calloc(ncols + 1, sizeof *h->cols);
    h->cells = sl_calloc((size_t)h->nrows * ncols + 1, sizeof *h->cells);
    if (!h->cols || !h->cells) {
        pq_head_free(h);
        return sl_err_set(err, SL_E_NOMEM, "out of memory for %" PRId64 " rows", rg->num_rows);
    }
    /* Whole row groups of sluice's own datasets (the report): no --head text budget. */
    size_t text_left = SIZE_MAX;
    for (uint32_t i = 0; i < ncols && rc == SL_OK; i++) {
        int64_t got = 0;
        if (cols[i] >= rg->n_columns) {
            rc = sl_err_set(err, SL_E_INTERNAL, "column %u of %u", cols[i], rg->n_columns);
            break;
        }
        h->cols[i] = &m->schema[cols[i] + 1];
        if (h->nrows == 0) continue;
        rc = read_chunk(rd, &rg->columns[cols[i]], h->cols[i], h->nrows, h->cells + i, ncols, &text_left, &got, err);
        if (rc == SL_OK && got < h->nrows)
            rc = sl_err_set(err, SL_E_FORMAT, "column '%.*s' ends after %" PRId64 " of %" PRId64 " rows",
                            (int)h->cols[i]->name.len, (const char *)h->cols[i]->name.p, got, h->nrows);
        if (rc != SL_OK) sl_err_prefix(err, "row group %u: ", g);
    }
    if (rc != SL_OK) pq_head_free(h);
    return rc;
}

sl_code pq_head_read(pq_reader *rd, int64_t rows, pq_head *h, sl_err *err)
{
    const pq_file_meta *m = pq_reader_meta(rd);
    sl_code rc = SL_OK;
    memset(h, 0, sizeof *h);
    if (check_flat(m, err) != SL_OK) return err ? sl_err_prefix(err, "--head: ") : SL_E_UNSUPPORTED;
    size_t text_left = HEAD_TEXT_MAX;
    if (rows > m->num_rows) rows = m->num_rows;
    if (rows < 0) rows = 0;
    h->ncols = m->n_schema - 1;
    h->nrows = rows;
    h->cols = sl_calloc(h->ncols + 1, sizeof *h->cols);
    h->cells = sl_calloc((size_t)rows * h->ncols + 1, sizeof *h->cells);
    if (!h->cols || !h->cells) {
        pq_head_free(h);
        return sl_err_set(err, SL_E_NOMEM, "out of memory for %" PRId64 " rows", rows);
    }
    for (uint32_t c = 0; c < h->ncols; c++) h->cols[c] = &m->schema[c + 1];
    for (uint32_t c = 0; c < h->ncols && rc == SL_OK; c++) {
        int64_t row = 0;
        for (uint32_t g = 0; g < m->n_row_groups && row < rows; g++) {
            const pq_row_group *rg = &m->row_groups[g];
            int64_t want = rows - row, got = 0;
            if (rg->n_columns != h->ncols) {
                rc = sl_err_set(err, SL_E_FORMAT, "row group %u has %u columns, the schema %u", g, rg->n_columns, h->ncols);
                break;
            }
            if (rg->num_rows < want) want = rg->num_rows;
            if (want <= 0) continue;
            rc = read_chunk(rd, &rg->columns[c], h->cols[c], want, h->cells + (size_t)row * h->ncols + c, h->ncols,
                            &text_left, &got, err);
            if (rc != SL_OK) {
                sl_err_prefix(err, "row group %u: ", g);
                break;
            }
            if (got < want) {
                rc = sl_err_set(err, SL_E_FORMAT, "row group %u column '%.*s' ends after %" PRId64 " of %" PRId64 " rows",
                                g, (int)h->cols[c]->name.len, (const char *)h->cols[c]->name.p, got, want);
                break;
            }
            row += want;
        }
        if (rc == SL_OK && row < rows)
            rc = sl_err_set(err, SL_E_FORMAT, "row groups hold fewer rows than num_rows says");
    }
    if (rc != SL_OK) pq_head_free(h);
    return rc;
}

void pq_head_free(pq_head *h)
{
    if (!h) return;
    if (h->cells)
        for (size_t i = 0; i < (size_t)h->nrows * h->ncols; i++) sl_free(h->cells[i]);
    sl_free(h->cells);
    sl_free(h->cols);
    memset(h, 0, sizeof *h);
}
