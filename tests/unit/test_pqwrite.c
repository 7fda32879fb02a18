/* test_pqwrite.c - the Parquet writing side against hand-checked byte vectors: varint
 * and zigzag, the thrift compact encoder, the RLE/bit-packed hybrid (bit widths 0-32
 * against a naive bit-by-bit packer), DELTA_BINARY_PACKED (Encodings.md's examples),
 * statistics order and truncation, and whole files through the writer (structure,
 * allocation failures, sink failures). Values read back by pyarrow and DuckDB are
 * checked in tests/integration/test_pqwrite.py. */
#include <math.h>
#include <stdlib.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/parquet/parquet.h"
#include "../../src/parquet/pq_decode.h"
#include "../../src/parquet/pq_encode.h"
#include "../../src/parquet/pq_format.h"
#include "../../src/parquet/pq_reader.h"
#include "../../src/parquet/pq_stats.h"
#include "../../src/parquet/pq_thrift_read.h"
#include "../../src/parquet/pq_thrift_write.h"
#include "test.h"

static void varint_zigzag_vectors(void)
{
    static const struct { uint64_t v; uint8_t b[10]; size_t n; } cases[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {300, {0xac, 0x02}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[10];
        CHECK_EQ_INT(pq_varint_put(b, cases[i].v), cases[i].n);
        CHECK_BYTES(b, cases[i].b, cases[i].n);
    }
    CHECK(pq_zigzag32(0) == 0);
    CHECK(pq_zigzag32(-1) == 1);
    CHECK(pq_zigzag32(1) == 2);
    CHECK(pq_zigzag32(-2) == 3);
    CHECK(pq_zigzag32(INT32_MAX) == 0xfffffffeu);
    CHECK(pq_zigzag32(INT32_MIN) == 0xffffffffu);
    CHECK(pq_zigzag64(INT64_MAX) == UINT64_MAX - 1);
    CHECK(pq_zigzag64(INT64_MIN) == UINT64_MAX);
    CHECK(pq_zigzag64(-3) == 5);
}

static void thrift_encoder_vectors(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    pq_tw t;
    pq_tw_init(&t, &b, NULL);
    pq_tw_begin(&t);
    pq_tw_i32(&t, 1, 5);          /* 0x15 0x0a */
    pq_tw_string(&t, 2, "ab");    /* 0x18 0x02 'a' 'b' */
    pq_tw_i64(&t, 20, -1);        /* long form: 0x06, zigzag i16 20 = 0x28, 0x01 */
    pq_tw_bool(&t, 21, 1);        /* 0x11 */
    pq_tw_list(&t, 22, TC_I32, 3); /* 0x19, 0x35 */
    pq_tw_elem_i32(&t, 1);
    pq_tw_elem_i32(&t, 2);
    pq_tw_elem_i32(&t, -3);       /* 0x02 0x04 0x05 */
    pq_tw_struct(&t, 23);         /* 0x1c */
    pq_tw_i8(&t, 1, -2);          /* 0x13 0xfe */
    pq_tw_bool(&t, 2, 0);         /* 0x12 */
    pq_tw_end(&t);                /* 0x00 */
    pq_tw_i16(&t, 40, 7);         /* long form: 0x04, 0x50, 0x0e */
    pq_tw_end(&t);                /* 0x00 */
    static const uint8_t want[] = {0x15, 0x0a, 0x18, 0x02, 'a', 'b', 0x06, 0x28, 0x01, 0x11, 0x19, 0x35,
                                   0x02, 0x04, 0x05, 0x1c, 0x13, 0xfe, 0x12, 0x00, 0x04, 0x50, 0x0e, 0x00};
    CHECK_EQ_INT(t.rc, SL_OK);
    CHECK_EQ_INT(b.len, sizeof want);
    CHECK_BYTES(b.data, want, sizeof want);

    /* Lists of 15 or more elements use the long header: 0xf0 | type, varint count. */
    b.len = 0;
    pq_tw_init(&t, &b, NULL);
    pq_tw_begin(&t);
    pq_tw_list(&t, 1, TC_BINARY, 15);
    for (int i = 0; i < 15; i++) pq_tw_elem_binary(&t, "", 0);
    pq_tw_list(&t, 2, TC_TRUE, 2);
    pq_tw_elem_bool(&t, 1);
    pq_tw_elem_bool(&t, 0);
    pq_tw_end(&t);
    static const uint8_t want2[] = {0x19, 0xf8, 0x0f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0x19, 0x21, 0x01, 0x02, 0x00};
    CHECK_EQ_INT(b.len, sizeof want2);
    CHECK_BYTES(b.data, want2, sizeof want2);

    /* Fields out of order are a bug, reported once and sticky. */
    b.len = 0;
    sl_err e = {0};
    pq_tw_init(&t, &b, &e);
    pq_tw_begin(&t);
    pq_tw_i32(&t, 3, 1);
    pq_tw_i32(&t, 2, 1);
    pq_tw_i32(&t, 4, 1);
    CHECK_EQ_INT(t.rc, SL_E_INTERNAL);
    CHECK(strstr(e.msg, "field 2 after field 3") != NULL);
    sl_buf_free(&b);
}

/* Reads back what the reader's thrift decoder makes of an encoded struct. */
static void thrift_encoder_reader_agree(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    pq_tw t;
    pq_tw_init(&t, &b, NULL);
    pq_tw_begin(&t);
    pq_tw_i64(&t, 1, INT64_MIN);
    pq_tw_i32(&t, 17, INT32_MAX);
    pq_tw_binary(&t, 300, "xyz", 3);
    pq_tw_end(&t);
    pq_tr r;
    int16_t last;
    pq_tr_field f;
    int64_t l;
    int32_t i;
    const uint8_t *p;
    uint32_t n;
    pq_tr_init(&r, b.data, b.len, NULL);
    CHECK_EQ_INT(pq_tr_struct_begin(&r, &last), SL_OK);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK(f.id == 1 && f.type == TC_I64);
    CHECK_EQ_INT(pq_tr_i64(&r, &l), SL_OK);
    CHECK(l == INT64_MIN);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK(f.id == 17 && f.type == TC_I32);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK(i == INT32_MAX);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK(f.id == 300 && f.type == TC_BINARY);
    CHECK_EQ_INT(pq_tr_binary(&r, &p, &n), SL_OK);
    CHECK(n == 3 && memcmp(p, "xyz", 3) == 0);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK(f.type == TC_STOP);
    sl_buf_free(&b);
}

static void hybrid_vectors(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    /* A run of 10 ones at width 1: header 10 << 1, one value byte. */
    uint8_t ones[10];
    memset(ones, 1, sizeof ones);
    CHECK_EQ_INT(pq_hybrid_encode_u8(ones, 10, 1, &b, NULL), SL_OK);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x14, 0x01}), 2);
    CHECK_EQ_INT(b.len, 2);
    /* Encodings.md: 0..7 bit-packed at width 3 is 10001000 11000110 11111010. */
    b.len = 0;
    uint32_t seq[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    CHECK_EQ_INT(pq_hybrid_encode(seq, 8, 3, &b, NULL), SL_OK);
    CHECK_EQ_INT(b.len, 4);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x03, 0x88, 0xc6, 0xfa}), 4);
    /* Three values pad one group: 1 | 2 << 2 | 3 << 4 = 0x39. */
    b.len = 0;
    CHECK_EQ_INT(pq_hybrid_encode(seq + 1, 3, 2, &b, NULL), SL_OK);
    CHECK_EQ_INT(b.len, 3);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x03, 0x39, 0x00}), 3);
    /* Width 0: runs carry no value bytes. */
    b.len = 0;
    uint32_t zeros[9] = {0};
    CHECK_EQ_INT(pq_hybrid_encode(zeros, 9, 0, &b, NULL), SL_OK);
    CHECK_EQ_INT(b.len, 1);
    CHECK_EQ_INT(b.data[0], 0x12);
    /* Width 32: four little-endian value bytes. */
    b.len = 0;
    uint32_t big[8];
    for (int i = 0; i < 8; i++) big[i] = 0xdeadbeefu;
    CHECK_EQ_INT(pq_hybrid_encode(big, 8, 32, &b, NULL), SL_OK);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x10, 0xef, 0xbe, 0xad, 0xde}), 5);
    /* A bit-packed stretch, then a run: 8 distinct, then 8 sevens (width 3). */
    b.len = 0;
    uint32_t mix[16] = {0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    CHECK_EQ_INT(pq_hybrid_encode(mix, 16, 3, &b, NULL), SL_OK);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x03, 0x88, 0xc6, 0xfa, 0x10, 0x07}), 6);
    CHECK_EQ_INT(b.len, 6);
    CHECK_EQ_INT(pq_hybrid_encode(mix, 16, 33, &b, NULL), SL_E_INTERNAL);
    sl_buf_free(&b);
}

/* Naive reference: bit i of value j goes to stream bit j * w + i (LSB first). */
static void naive_pack(const uint32_t *v, size_t n, int w, uint8_t *out)
{
    memset(out, 0, (n * (size_t)w + 7) / 8);
    for (size_t j = 0; j < n; j++)
        for (int i = 0; i < w; i++)
            if (v[j] >> i & 1) {
                size_t bit = j * (size_t)w + (size_t)i;
                out[bit / 8] |= (uint8_t)(1u << (bit % 8));
            }
}

static void hybrid_bit_widths_0_to_32(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    for (int w = 0; w <= 32; w++) {
        /* 16 values with no run of 8: two bit-packed groups, header (2 << 1) | 1. */
        uint32_t v[16];
        uint64_t mask = w == 32 ? 0xffffffffu : (((uint64_t)1 << w) - 1);
        for (int i = 0; i < 16; i++) v[i] = (uint32_t)(((uint64_t)i * 0x9e3779b9u + (uint64_t)i) & mask);
        if (w == 0) continue; /* all zeros is a run, covered above */
        if (w == 1)
            for (int i = 0; i < 16; i++) v[i] = (uint32_t)(i & 1); /* alternate: no runs */
        b.len = 0;
        CHECK_EQ_INT(pq_hybrid_encode(v, 16, w, &b, NULL), SL_OK);
        uint8_t want[1 + 64];
        want[0] = 0x05;
        naive_pack(v, 16, w, want + 1);
        CHECK_EQ_INT(b.len, 1 + 2 * (size_t)w);
        CHECK_BYTES(b.data, want, b.len);
        /* And the reader's decoder gets the values back. */
        uint32_t back[16];
        CHECK_EQ_INT(pq_hybrid_decode(b.data, b.len, w, back, 16, NULL), SL_OK);
        CHECK(memcmp(back, v, sizeof v) == 0);
        /* A run of 8 copies of the largest value: header 0x10 then ceil(w/8) bytes. */
        uint32_t run[8];
        for (int i = 0; i < 8; i++) run[i] = (uint32_t)mask;
        b.len = 0;
        CHECK_EQ_INT(pq_hybrid_encode(run, 8, w, &b, NULL), SL_OK);
        CHECK_EQ_INT(b.len, 1 + (size_t)(w + 7) / 8);
        CHECK_EQ_INT(b.data[0], 0x10);
        for (int k = 0; k < (w + 7) / 8; k++) CHECK_EQ_INT(b.data[1 + k], (uint8_t)(mask >> (8 * k)));
    }
    /* Long inputs: more than 63 groups split into several bit-packed runs. */
    uint32_t *many = sl_malloc(1000 * sizeof *many);
    CHECK(many);
    for (int i = 0; i < 1000; i++) many[i] = (uint32_t)(i * 7 % 13);
    b.len = 0;
    CHECK_EQ_INT(pq_hybrid_encode(many, 1000, 4, &b, NULL), SL_OK);
    uint32_t *back = sl_malloc(1000 * sizeof *back);
    CHECK_EQ_INT(pq_hybrid_decode(b.data, b.len, 4, back, 1000, NULL), SL_OK);
    CHECK(memcmp(back, many, 1000 * sizeof *many) == 0);
    CHECK_EQ_INT(b.data[0], (63 << 1) | 1);
    sl_free(many);
    sl_free(back);
    sl_buf_free(&b);
}

static void delta_vectors(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    /* 1..5: header (128, 4, 5, zigzag 1), min delta 1, four zero widths, no bodies. */
    int64_t a[] = {1, 2, 3, 4, 5};
    CHECK_EQ_INT(pq_delta_encode_i64(a, 5, &b, NULL), SL_OK);
    static const uint8_t wa[] = {0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0};
    CHECK_EQ_INT(b.len, sizeof wa);
    CHECK_BYTES(b.data, wa, sizeof wa);
    /* Encodings.md's second example: 7 5 3 1 2 3 4 5 -> deltas -2 -2 -2 1 1 1 1,
     * min -2 (zigzag 3), relative 0 0 0 3 3 3 3 at width 2: bytes 0xc0 0x3f then zeros. */
    b.len = 0;
    int32_t c[] = {7, 5, 3, 1, 2, 3, 4, 5};
    CHECK_EQ_INT(pq_delta_encode_i32(c, 8, &b, NULL), SL_OK);
    static const uint8_t wc[] = {0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0, 0, 0,
                                 0xc0, 0x3f, 0, 0, 0, 0, 0, 0};
    CHECK_EQ_INT(b.len, sizeof wc);
    CHECK_BYTES(b.data, wc, sizeof wc);
    /* INT32 deltas wrap at 32 bits: MAX then MIN is a delta of +1. */
    b.len = 0;
    int32_t w32[] = {INT32_MAX, INT32_MIN};
    CHECK_EQ_INT(pq_delta_encode_i32(w32, 2, &b, NULL), SL_OK);
    static const uint8_t ww[] = {0x80, 0x01, 0x04, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0x02, 0, 0, 0, 0};
    CHECK_EQ_INT(b.len, sizeof ww);
    CHECK_BYTES(b.data, ww, sizeof ww);
    /* One value: the header only. Zero values: count 0, first 0. */
    b.len = 0;
    CHECK_EQ_INT(pq_delta_encode_i64(a, 1, &b, NULL), SL_OK);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x80, 0x01, 0x04, 0x01, 0x02}), 5);
    CHECK_EQ_INT(b.len, 5);
    b.len = 0;
    CHECK_EQ_INT(pq_delta_encode_i64(a, 0, &b, NULL), SL_OK);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x80, 0x01, 0x04, 0x00, 0x00}), 5);
    /* INT64 extremes need 64-bit widths. */
    b.len = 0;
    int64_t ext[] = {INT64_MIN, INT64_MAX, INT64_MIN, 0};
    CHECK_EQ_INT(pq_delta_encode_i64(ext, 4, &b, NULL), SL_OK);
    CHECK_EQ_INT(b.data[b.len - 8 * 32 - 4], 64);
    sl_buf_free(&b);
}

static void plain_bool_vector(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    uint8_t v[10] = {1, 0, 1, 1, 0, 0, 0, 1, 0, 1};
    CHECK_EQ_INT(pq_plain_bool_encode(v, 10, &b, NULL), SL_OK);
    CHECK_EQ_INT(b.len, 2);
    CHECK_BYTES(b.data, ((const uint8_t[]){0x8d, 0x02}), 2);
    sl_buf_free(&b);
}

/* The test's own order of byte arrays: unsigned bytes, then a prefix first. */
static int oracle_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    for (size_t i = 0; i < an && i < bn; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return an < bn ? -1 : an > bn;
}

/* Byte-array bounds against the oracle, over random arrays of 0-12 bytes from four
 * values (0, 1, 'a', 0xff), so that many share their first 8 bytes, end inside them, or
 * continue with the zero byte the bounds' prefixes pad with. */
static void stats_bytes_random(void)
{
    uint64_t x = 88172645463325252ull;
    static const uint8_t alpha[4] = {0, 1, 'a', 0xff};
    for (int round = 0; round < 300; round++) {
        pq_vstats s;
        pq_stats_init(&s);
        uint8_t v[64][12], mn[12], mx[12];
        size_t vn[64], mnn = 0, mxn = 0;
        int n = 1 + round % 64;
        for (int i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            vn[i] = (size_t)(x % 13);
            for (size_t k = 0; k < vn[i]; k++) v[i][k] = alpha[(x >> (8 + 2 * k)) & 3];
            CHECK_EQ_INT(pq_stats_add(&s, round & 1 ? PQ_ORD_TEXT : PQ_ORD_BYTES, v[i], vn[i], NULL), SL_OK);
            if (i == 0 || oracle_cmp(v[i], vn[i], mn, mnn) < 0) memcpy(mn, v[i], mnn = vn[i]);
            if (i == 0 || oracle_cmp(v[i], vn[i], mx, mxn) > 0) memcpy(mx, v[i], mxn = vn[i]);
        }
        CHECK(s.has);
        CHECK(s.min.len == mnn && (mnn == 0 || memcmp(s.min.data, mn, mnn) == 0));
        CHECK(s.max.len == mxn && (mxn == 0 || memcmp(s.max.data, mx, mxn) == 0));
        pq_stats_free(&s);
    }
}

static void stats_order(void)
{
    pq_vstats s;
    pq_stats_init(&s);
    uint32_t u[] = {5, 0x80000000u, 1};
    CHECK_EQ_INT(pq_stats_add_fixed(&s, PQ_ORD_U32, (const uint8_t *)u, 3, 4, NULL), SL_OK);
    uint32_t mn, mx;
    memcpy(&mn, s.min.data, 4);
    memcpy(&mx, s.max.data, 4);
    CHECK(mn == 1 && mx == 0x80000000u);
    pq_stats_reset(&s);
    CHECK_EQ_INT(pq_stats_add_fixed(&s, PQ_ORD_I32, (const uint8_t *)u, 3, 4, NULL), SL_OK);
    int32_t smn;
    memcpy(&smn, s.min.data, 4);
    CHECK(smn == INT32_MIN);
    /* FLBA decimals: big-endian two's complement, -1 < 0 < 1. */
    uint8_t neg[3] = {0xff, 0xff, 0xff}, zero[3] = {0, 0, 0}, one[3] = {0, 0, 1};
    CHECK(pq_stats_cmp(PQ_ORD_SIGNED_BE, neg, 3, zero, 3) < 0);
    CHECK(pq_stats_cmp(PQ_ORD_SIGNED_BE, one, 3, zero, 3) > 0);
    CHECK(pq_stats_cmp(PQ_ORD_SIGNED_BE, neg, 3, one, 3) < 0);
    /* Strings as unsigned bytes: "\xc3\xa9" > "z"; a prefix sorts first. */
    CHECK(pq_stats_cmp(PQ_ORD_TEXT, (const uint8_t *)"\xc3\xa9", 2, (const uint8_t *)"z", 1) > 0);
    CHECK(pq_stats_cmp(PQ_ORD_TEXT, (const uint8_t *)"ab", 2, (const uint8_t *)"abc", 3) < 0);
    /* NaN is left out; zero bounds are written as -0.0 (min) and +0.0 (max). */
    pq_stats_reset(&s);
    double d[] = {NAN, 0.0, -0.0, NAN};
    CHECK_EQ_INT(pq_stats_add_fixed(&s, PQ_ORD_DOUBLE, (const uint8_t *)d, 4, 8, NULL), SL_OK);
    CHECK(s.has);
    sl_buf o;
    sl_buf_init(&o, 0);
    int exact;
    double got;
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_DOUBLE, 0, &o, &exact, NULL), SL_OK);
    memcpy(&got, o.data, 8);
    CHECK(got == 0 && signbit(got));
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_DOUBLE, 1, &o, &exact, NULL), SL_OK);
    memcpy(&got, o.data, 8);
    CHECK(got == 0 && !signbit(got));
    pq_stats_reset(&s);
    double nans[] = {NAN, NAN};
    CHECK_EQ_INT(pq_stats_add_fixed(&s, PQ_ORD_DOUBLE, (const uint8_t *)nans, 2, 8, NULL), SL_OK);
    CHECK(!s.has);
    sl_buf_free(&o);
    pq_stats_free(&s);
}

static void stats_truncation(void)
{
    pq_vstats s;
    pq_stats_init(&s);
    sl_buf o;
    sl_buf_init(&o, 0);
    int exact;
    uint8_t v[100];
    memset(v, 'a', sizeof v);
    CHECK_EQ_INT(pq_stats_add(&s, PQ_ORD_TEXT, v, 100, NULL), SL_OK);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_TEXT, 0, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, PQ_STATS_TRUNCATE);
    CHECK(!exact);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_TEXT, 1, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, PQ_STATS_TRUNCATE);
    CHECK_EQ_INT(o.data[PQ_STATS_TRUNCATE - 1], 'b');
    CHECK(pq_stats_cmp(PQ_ORD_TEXT, o.data, o.len, v, 100) > 0);
    /* A multibyte character across the cut is dropped whole; the max increments the
     * last whole character (U+00E9 -> U+00EA). */
    pq_stats_reset(&s);
    uint8_t m[70];
    memset(m, 'x', 62);
    m[62] = 0xc3, m[63] = 0xa9, m[64] = 0xe2, m[65] = 0x82, m[66] = 0xac; /* "é€" */
    memset(m + 67, 'y', 3);
    CHECK_EQ_INT(pq_stats_add(&s, PQ_ORD_TEXT, m, 70, NULL), SL_OK);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_TEXT, 0, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, 64);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_TEXT, 1, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, 64);
    CHECK_EQ_INT(o.data[62], 0xc3);
    CHECK_EQ_INT(o.data[63], 0xaa);
    /* Binary: trailing 0xff bytes cannot be incremented and are dropped. */
    pq_stats_reset(&s);
    uint8_t bin[80];
    memset(bin, 0x10, 62);
    memset(bin + 62, 0xff, 18);
    CHECK_EQ_INT(pq_stats_add(&s, PQ_ORD_BYTES, bin, 80, NULL), SL_OK);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_BYTES, 1, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, 62);
    CHECK_EQ_INT(o.data[61], 0x11);
    /* All 0xff: no shorter upper bound exists, so the whole value is kept. */
    pq_stats_reset(&s);
    memset(bin, 0xff, 80);
    CHECK_EQ_INT(pq_stats_add(&s, PQ_ORD_BYTES, bin, 80, NULL), SL_OK);
    CHECK_EQ_INT(pq_stats_bound(&s, PQ_ORD_BYTES, 1, &o, &exact, NULL), SL_OK);
    CHECK_EQ_INT(o.len, 80);
    CHECK(exact);
    sl_buf_free(&o);
    pq_stats_free(&s);
}

/* A small file of every type, written to memory. */
static sl_schema *all_types_schema(void)
{
    static const struct { const char *name; sl_type t; } cols[] = {
        {"b", {SL_BOOL, 0, 0}}, {"i8", {SL_INT8, 0, 0}}, {"u16", {SL_UINT16, 0, 0}}, {"i32", {SL_INT32, 0, 0}},
        {"u64", {SL_UINT64, 0, 0}}, {"f", {SL_FLOAT, 0, 0}}, {"d", {SL_DOUBLE, 0, 0}},
        {"dec9", {SL_DECIMAL, 9, 2}}, {"dec18", {SL_DECIMAL, 18, 4}}, {"dec65", {SL_DECIMAL, 65, 30}},
        {"day", {SL_DATE, 0, 0}}, {"ts", {SL_TIMESTAMP, 0, 0}}, {"tm", {SL_TIME, 0, 0}},
        {"s", {SL_STRING, 0, 0}}, {"bin", {SL_BINARY, 0, 0}}, {"js", {SL_JSON, 0, 0}}, {"en", {SL_ENUM, 0, 0}},
    };
    int n = (int)(sizeof cols / sizeof cols[0]);
    sl_schema *s = sl_schema_create(n, NULL);
    if (!s) return NULL;
    for (int i = 0; i < n; i++)
        if (sl_schema_set(s, i, cols[i].name, cols[i].t, i % 2, i == 4 ? "bigint(20) unsigned" : NULL, NULL)) {
            sl_schema_free(s);
            return NULL;
        }
    return s;
}

static sl_code fill(sl_batch *b, size_t rows, unsigned seed, sl_err *err)
{
    for (size_t r = 0; r < rows; r++) {
        unsigned x = seed + (unsigned)r * 2654435761u;
        for (int c = 0; c < b->schema->ncols; c++) {
            sl_column *col = &b->cols[c];
            if (col->valid && x % 7 == 0) {
                sl_col_set_null(col, b->nrows);
                continue;
            }
            sl_col_set_valid(col, b->nrows);
            if (col->offsets) {
                char tmp[32];
                int n = snprintf(tmp, sizeof tmp, "v%u", x % 50);
                SL_TRY(sl_col_set_bytes(col, b->nrows, tmp, (size_t)n, err));
            } else {
                memset((uint8_t *)col->values + b->nrows * col->elem_size, (int)(x % 3), col->elem_size);
            }
        }
        sl_batch_commit_row(b);
    }
    return SL_OK;
}

/* A file of `rows` rows of schema s (fill's values, 100 rows a batch). */
static sl_code write_rows(sl_sink *sink, const pq_options *o, const sl_schema *s, size_t rows, pq_file_info *info,
                          sl_err *err)
{
    sl_batch *b = sl_batch_create(s, 100, 1 << 16, err);
    pq_writer *w = b ? pq_writer_open(sink, s, o, err) : NULL;
    sl_code rc = w ? SL_OK : err->code ? err->code : SL_E_NOMEM;
    for (size_t done = 0; rc == SL_OK && done < rows; done += 100) {
        sl_batch_reset(b);
        rc = fill(b, rows - done < 100 ? rows - done : 100, (unsigned)done, err);
        if (rc == SL_OK) rc = pq_writer_write(w, b, err);
    }
    if (rc == SL_OK) rc = pq_writer_close(w, info, err);
    pq_writer_free(w);
    sl_batch_free(b);
    return rc;
}

static sl_code write_file(sl_sink *sink, const pq_options *o, size_t rows, pq_file_info *info, sl_err *err)
{
    sl_schema *s = all_types_schema();
    if (!s) return sl_err_set(err, SL_E_NOMEM, "schema");
    sl_code rc = write_rows(sink, o, s, rows, info, err);
    sl_schema_free(s);
    return rc;
}

static void writer_file_structure(void)
{
    sl_err e = {0};
    pq_options o;
    pq_options_default(&o);
    o.row_group_rows = 300;
    o.page_size = 1024;
    sl_sink *sink = sl_sink_mem_open(&e);
    CHECK(sink);
    pq_file_info info;
    CHECK_EQ_INT(write_file(sink, &o, 1000, &info, &e), SL_OK);
    size_t len;
    const uint8_t *p = sl_sink_mem_data(sink, &len);
    CHECK_EQ_INT(info.rows, 1000);
    CHECK_EQ_INT(info.row_groups, 4);
    CHECK_EQ_INT(info.bytes, len);
    CHECK(len > 12 && memcmp(p, "PAR1", 4) == 0 && memcmp(p + len - 4, "PAR1", 4) == 0);
    uint32_t flen;
    memcpy(&flen, p + len - 8, 4);
    CHECK(flen < len - 12);
    CHECK_EQ_INT(sink->state, SL_SINK_FINISHED);
    sl_sink_release(sink);

    /* Bad settings and schemas are refused with the setting named. */
    pq_options_default(&o);
    o.page_size = 10;
    sl_schema *s = all_types_schema();
    sink = sl_sink_mem_open(&e);
    CHECK(pq_writer_open(sink, s, &o, &e) == NULL);
    CHECK_EQ_INT(e.code, SL_E_CONFIG);
    CHECK(strstr(e.msg, "page size") != NULL);
    pq_options_default(&o);
    sl_free(s->fields[1].name);
    s->fields[1].name = sl_strdup("b");
    CHECK(pq_writer_open(sink, s, &o, &e) == NULL);
    CHECK_EQ_INT(e.code, SL_E_SCHEMA);
    CHECK(strstr(e.msg, "column b appears twice") != NULL);
    sl_sink_release(sink);
    sl_schema_free(s);
}

/* The options of the sweeps below: every code path of the writer at small sizes (several
 * row groups and pages, dictionaries that overflow to PLAIN, DELTA, the page index, zstd,
 * extra key-value metadata). */
static void sweep_options(pq_options *o)
{
    static const pq_kv kv[] = {{"sweep.k", "v"}, {"sweep.other", "w"}};
    pq_options_default(o);
    o->row_group_rows = 150;
    o->page_size = 1024;
    o->dictionary_max = 1024;
    o->codec = PQ_CODEC_ZSTD;
    o->kv = kv;
    o->kv_count = 2;
}

/* Every allocation of writing a file fails in turn, from the first to the last the
 * allocator counted for the whole write (schema, batches, writer, pages, footer): each
 * is SL_E_NOMEM with a message and an aborted sink, never a crash or a leak (ASan). */
static void writer_alloc_failures(void)
{
    long total = -1;
    for (long n = -1;; n++) {
        sl_err e = {0};
        pq_options o;
        sweep_options(&o);
        sl_sink *sink = sl_sink_mem_open(&e);
        CHECK(sink);
        sl_alloc_fail_after(n);
        pq_file_info info;
        sl_code rc = write_file(sink, &o, 400, &info, &e);
        long made = sl_alloc_fail_after(-1);
        if (n == -1) {
            CHECK_EQ_INT(rc, SL_OK);
            CHECK_EQ_INT(info.rows, 400);
            total = made;
            CHECK(total > 100);
        } else if (rc != SL_OK) {
            if (rc != SL_E_NOMEM || !e.msg[0]) fprintf(stderr, "    n=%ld of %ld: rc %d msg '%s'\n", n, total, rc, e.msg);
            CHECK_EQ_INT(rc, SL_E_NOMEM);
            CHECK(e.msg[0] != 0);
            CHECK(sink->state == SL_SINK_ABORTED || sink->state == SL_SINK_OPEN);
        }
        sl_sink_release(sink);
        if (n >= total) break;
    }
}

/* Everything inspect --head reads from a file, as one string (cells joined), or NULL
 * with the error in *rc. */
static char *head_text(const uint8_t *p, size_t n, sl_code *rc, sl_err *e)
{
    pq_reader *rd = pq_reader_open_mem("sweep.parquet", p, n, e);
    pq_head h;
    char *out = NULL;
    size_t len = 0;
    FILE *m;
    *rc = rd ? pq_head_read(rd, 1000000, &h, e) : e->code;
    if (*rc == SL_OK) {
        m = open_memstream(&out, &len); /* libc's allocator: not under the fault injection */
        for (size_t i = 0; i < (size_t)h.nrows * h.ncols; i++) fprintf(m, "%s|", h.cells[i] ? h.cells[i] : "NULL");
        fprintf(m, "rows=%lld", (long long)h.nrows);
        fclose(m);
        pq_head_free(&h);
    }
    pq_reader_close(rd);
    return out;
}

/* The reader behind inspect: opening a file and decoding all its rows, with each
 * allocation failing in turn up to the count the allocator reports, on a file of ours
 * (the sweep options: dictionaries, PLAIN fallback, DELTA, zstd, NULLs) and on pyarrow's
 * (tests/fuzz/corpus/inspect: DELTA_BYTE_ARRAY, BYTE_STREAM_SPLIT, v2 pages, gzip, snappy
 * dictionaries). Every failure is SL_E_NOMEM with a message, never a crash, a leak
 * (ASan) or different values; the rows read when nothing fails are the same each time. */
static void reader_alloc_failures(void)
{
    static const char *const files[] = {NULL, "pyarrow-dba-bss.parquet", "pyarrow-delta.parquet",
                                        "pyarrow-plain-v2.parquet", "pyarrow-gzip.parquet",
                                        "pyarrow-snappy-dict.parquet"};
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        sl_err e = {0};
        uint8_t *data = NULL;
        size_t len = 0;
        sl_sink *sink = NULL;
        if (!files[fi]) { /* ours, written with every feature on */
            pq_options o;
            pq_file_info info;
            sweep_options(&o);
            o.row_group_rows = 25; /* few rows (each cell is an allocation), three row groups */
            sink = sl_sink_mem_open(&e);
            CHECK(sink);
            CHECK_EQ_INT(write_file(sink, &o, 60, &info, &e), SL_OK);
            data = (uint8_t *)sl_sink_mem_data(sink, &len);
        } else {
            char path[256];
            FILE *f;
            snprintf(path, sizeof path, "tests/fuzz/corpus/inspect/%s", files[fi]);
            f = fopen(path, "rb");
            CHECK(f != NULL);
            fseek(f, 0, SEEK_END);
            len = (size_t)ftell(f);
            fseek(f, 0, SEEK_SET);
            data = malloc(len);
            CHECK(data && fread(data, 1, len, f) == len);
            fclose(f);
        }
        long total = -1;
        char *want = NULL;
        for (long n = -1;; n++) {
            sl_code rc;
            sl_alloc_fail_after(n);
            char *got = head_text(data, len, &rc, &e);
            long made = sl_alloc_fail_after(-1);
            if (n == -1) {
                if (rc != SL_OK) fprintf(stderr, "    %s: %s\n", files[fi] ? files[fi] : "ours", e.msg);
                CHECK_EQ_INT(rc, SL_OK);
                want = got;
                got = NULL;
                total = made;
                if (getenv("SL_SWEEP_VERBOSE")) fprintf(stderr, "    %s: %ld allocations\n", files[fi] ? files[fi] : "ours", total);
                CHECK(total > 5);
            } else if (rc == SL_OK) {
                CHECK_STR(got, want);
            } else {
                if (rc != SL_E_NOMEM || !e.msg[0])
                    fprintf(stderr, "    %s n=%ld of %ld: rc %d '%s'\n", files[fi] ? files[fi] : "ours", n, total, rc,
                            e.msg);
                CHECK_EQ_INT(rc, SL_E_NOMEM);
                CHECK(e.msg[0] != 0);
            }
            free(got);
            if (n >= total) break;
        }
        free(want);
        if (sink) sl_sink_release(sink);
        else free(data);
    }
}

/* A sink whose writes fail after a budget: the error reaches the caller. */
typedef struct fail_sink {
    sl_sink base;
    size_t budget;
} fail_sink;
static sl_code fs_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    fail_sink *f = (fail_sink *)s;
    (void)p;
    if (n > f->budget) return sl_err_set(err, SL_E_IO, "disk full (test)");
    f->budget -= n;
    return SL_OK;
}
static sl_code fs_finish(sl_sink *s, sl_err *err) { (void)s; (void)err; return SL_OK; }
static void fs_abort(sl_sink *s) { (void)s; }
static void fs_release(sl_sink *s) { (void)s; }
static const sl_sink_vtable fs_vt = {"fail", fs_write, fs_finish, fs_abort, fs_release};

static void writer_sink_failure(void)
{
    for (size_t budget = 0; budget < 6000; budget += 700) {
        fail_sink f = {{&fs_vt, 0, SL_SINK_OPEN}, budget};
        sl_err e = {0};
        pq_options o;
        pq_options_default(&o);
        o.row_group_rows = 100;
        pq_file_info info;
        sl_code rc = write_file(&f.base, &o, 500, &info, &e);
        CHECK_EQ_INT(rc, SL_E_IO);
        CHECK(strstr(e.msg, "disk full") != NULL);
    }
}

/* A file of two columns (a string and an int64) through the writer. */
static sl_code write_other(sl_sink *sink, const pq_options *o, sl_err *err)
{
    sl_schema *s = sl_schema_create(2, NULL);
    if (!s) return sl_err_set(err, SL_E_NOMEM, "schema");
    sl_code rc = sl_schema_set(s, 0, "name", (sl_type){SL_STRING, 0, 0}, 1, NULL, NULL);
    if (rc == SL_OK) rc = sl_schema_set(s, 1, "n", (sl_type){SL_INT64, 0, 0}, 0, NULL, NULL);
    pq_file_info info;
    if (rc == SL_OK) rc = write_rows(sink, o, s, 100, &info, err);
    sl_schema_free(s);
    return rc;
}

/* Writers that take their buffers from a spare (what the previous writer left: chunks
 * grown to its row groups, page scratch holding its last page) write the same bytes as
 * writers that start empty, also after a writer that failed half-way and after one of
 * other columns. */
static void writer_spare_same_bytes(void)
{
    sl_err e = {0};
    pq_options o;
    pq_file_info info;
    size_t len, want_len;
    sweep_options(&o);
    sl_sink *want = sl_sink_mem_open(&e);
    CHECK(want);
    CHECK_EQ_INT(write_file(want, &o, 1000, &info, &e), SL_OK);
    const uint8_t *wp = sl_sink_mem_data(want, &want_len);

    pq_spare *sp = pq_spare_create();
    CHECK(sp);
    o.spare = sp;
    /* 0: a larger file first; 1: a failing sink; 2: the file above; 3: other columns;
     * 4: the file above */
    for (int round = 0; round < 5; round++) {
        if (round == 1) { /* fails after about half the file */
            fail_sink f = {{&fs_vt, 0, SL_SINK_OPEN}, want_len / 2};
            sl_err fe = {0};
            CHECK_EQ_INT(write_file(&f.base, &o, 1000, &info, &fe), SL_E_IO);
            continue;
        }
        sl_sink *sink = sl_sink_mem_open(&e);
        CHECK(sink);
        if (round == 3) {
            CHECK_EQ_INT(write_other(sink, &o, &e), SL_OK);
            sl_sink_release(sink);
            continue;
        }
        CHECK_EQ_INT(write_file(sink, &o, round == 0 ? 3000 : 1000, &info, &e), SL_OK);
        const uint8_t *p = sl_sink_mem_data(sink, &len);
        if (round > 0) {
            CHECK_EQ_INT(len, want_len);
            CHECK_BYTES(p, wp, len);
        }
        sl_sink_release(sink);
    }
    pq_spare_free(sp);
    sl_sink_release(want);
}

/* One INT64 column `name` of `rows` values, value(i) each, written with o: 1 when the
 * file's column chunk has a dictionary page (read back from its footer), 0 when not,
 * -1 when the file could not be written or read. */
static int write_col_has_dict(const pq_options *o, const char *name, int text, size_t rows, int64_t (*value)(size_t))
{
    sl_err e = {0};
    int has = -1;
    sl_schema *s = sl_schema_create(1, NULL);
    sl_batch *b = NULL;
    sl_sink *sink = NULL;
    pq_writer *w = NULL;
    pq_reader *rd = NULL;
    pq_file_info info;
    size_t len;
    if (!s || sl_schema_set(s, 0, name, (sl_type){text ? SL_STRING : SL_INT64, 0, 0}, 0, NULL, NULL) != SL_OK)
        goto out;
    if (!(b = sl_batch_create(s, rows, 0, &e))) goto out;
    for (size_t i = 0; i < rows; i++) {
        if (text) { /* the value as an address: distinct values stay distinct */
            char t[64];
            int n = snprintf(t, sizeof t, "user%lld@example.org", (long long)value(i));
            if (sl_col_set_bytes(&b->cols[0], i, t, (size_t)n, &e) != SL_OK) goto out;
        } else {
            SL_COL_VALUES(&b->cols[0], int64_t)[i] = value(i);
        }
        sl_batch_commit_row(b);
    }
    if (!(sink = sl_sink_mem_open(&e)) || !(w = pq_writer_open(sink, s, o, &e))) goto out;
    if (pq_writer_write(w, b, &e) != SL_OK || pq_writer_close(w, &info, &e) != SL_OK) goto out;
    const uint8_t *p = sl_sink_mem_data(sink, &len);
    if (!(rd = pq_reader_open_mem("ints.parquet", p, len, &e))) goto out;
    const pq_file_meta *m = pq_reader_meta(rd);
    if (m->n_row_groups == 1) has = m->row_groups[0].columns[0].dictionary_page_offset >= 0;
out:
    pq_reader_close(rd);
    pq_writer_free(w);
    if (sink) sl_sink_release(sink);
    sl_batch_free(b);
    sl_schema_free(s);
    return has;
}
static int64_t spread(size_t i) { return (int64_t)(i * 2654435761u % 1000003u); }
static int64_t three(size_t i) { return (int64_t)(i % 3) * 1000000007; }
static int64_t twice(size_t i) { return (int64_t)(i / 2); }
static int write_ints_has_dict(const pq_options *o, const char *name, size_t rows, int64_t (*value)(size_t))
{
    return write_col_has_dict(o, name, 0, rows, value);
}

/* With dictionary_carry a spare carries which integer columns lost the dictionary:
 * after a file whose values are all different (DELTA wins), the next writer of the same
 * columns does not try the dictionary even for three distinct values, which otherwise
 * (no spare, a fresh spare, after a file that kept its dictionary, without
 * dictionary_carry, or in a column of another name) get one. */
static void writer_spare_remembers_lost_dictionary(void)
{
    pq_options o;
    pq_options_default(&o);
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 1);
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, spread), 0);
    pq_spare *sp = pq_spare_create();
    CHECK(sp);
    o.spare = sp;
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, spread), 0);
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 1); /* without dictionary_carry */
    o.dictionary_carry = 1;
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 1);  /* the last file kept it: tried */
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 1);  /* won again: tried again */
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, spread), 0); /* it loses here */
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 0);  /* so not tried */
    CHECK_EQ_INT(write_ints_has_dict(&o, "n", 5000, three), 0);  /* nor after that */
    CHECK_EQ_INT(write_ints_has_dict(&o, "m", 5000, three), 1);  /* another column: tried */
    pq_spare_free(sp);
}

/* The same for a string column, whose dictionary is given up when its first page is no
 * smaller under it (distinct addresses) or when it passes dictionary_max. */
static void writer_spare_remembers_lost_text_dictionary(void)
{
    pq_options o;
    pq_options_default(&o);
    CHECK_EQ_INT(write_col_has_dict(&o, "e", 1, 5000, three), 1);
    pq_spare *sp = pq_spare_create();
    CHECK(sp);
    o.spare = sp;
    o.dictionary_carry = 1;
    CHECK_EQ_INT(write_col_has_dict(&o, "e", 1, 5000, three), 1);  /* a fresh spare: tried */
    CHECK_EQ_INT(write_col_has_dict(&o, "e", 1, 5000, spread), 0); /* first page: plain is smaller */
    CHECK_EQ_INT(write_col_has_dict(&o, "e", 1, 5000, three), 0);  /* so not tried */
    CHECK_EQ_INT(write_col_has_dict(&o, "f", 1, 5000, three), 1);  /* another column: tried */
    o.dictionary_carry = 0;
    CHECK_EQ_INT(write_col_has_dict(&o, "f", 1, 5000, spread), 0);
    CHECK_EQ_INT(write_col_has_dict(&o, "f", 1, 5000, three), 1); /* without dictionary_carry */
    /* past dictionary_max: a first page that the dictionary wins (each value twice),
     * then more entries than the limit holds */
    o.dictionary_carry = 1;
    o.dictionary_max = 4096;
    CHECK_EQ_INT(write_col_has_dict(&o, "g", 1, 5000, twice), 1); /* pages under it before */
    CHECK_EQ_INT(write_col_has_dict(&o, "g", 1, 5000, three), 0); /* given up: not tried */
    pq_spare_free(sp);
}

static void codec_names(void)
{
    pq_codec c;
    CHECK_EQ_INT(pq_codec_parse("zstd", &c, NULL), SL_OK);
    CHECK_EQ_INT(c, PQ_CODEC_ZSTD);
    CHECK_EQ_INT(pq_codec_parse("none", &c, NULL), SL_OK);
    CHECK_EQ_INT(c, PQ_CODEC_NONE);
    sl_err e = {0};
    CHECK_EQ_INT(pq_codec_parse("lz4", &c, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "'lz4'") != NULL);
    CHECK_STR(pq_codec_name(PQ_CODEC_SNAPPY), "snappy");
}

T_SUITE(suite_pqwrite) = {
    {"varint_zigzag_vectors", varint_zigzag_vectors},
    {"thrift_encoder_vectors", thrift_encoder_vectors},
    {"thrift_encoder_reader_agree", thrift_encoder_reader_agree},
    {"hybrid_vectors", hybrid_vectors},
    {"hybrid_bit_widths_0_to_32", hybrid_bit_widths_0_to_32},
    {"delta_vectors", delta_vectors},
    {"plain_bool_vector", plain_bool_vector},
    {"stats_order", stats_order},
    {"stats_bytes_random", stats_bytes_random},
    {"stats_truncation", stats_truncation},
    {"writer_file_structure", writer_file_structure},
    {"writer_alloc_failures", writer_alloc_failures},
    {"reader_alloc_failures", reader_alloc_failures},
    {"writer_sink_failure", writer_sink_failure},
    {"writer_spare_same_bytes", writer_spare_same_bytes},
    {"writer_spare_remembers_lost_dictionary", writer_spare_remembers_lost_dictionary},
    {"writer_spare_remembers_lost_text_dictionary", writer_spare_remembers_lost_text_dictionary},
    {"codec_names", codec_names},
    T_END,
};
