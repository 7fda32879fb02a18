/* test_pqread.c - the Parquet reading side: thrift compact decoding from hand-made
 * byte vectors (valid, truncated, garbage), the footer reader and value decoders. */
#include "../../src/parquet/pq_format.h"
#include "../../src/parquet/pq_thrift_read.h"
#include "test.h"

static void thrift_varint_and_zigzag(void)
{
    static const uint8_t v[] = {0x00, 0x01, 0x02, 0x03, 0xac, 0x02, 0xfe, 0xff, 0xff, 0xff, 0x0f,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pq_tr r;
    int32_t i;
    int64_t l;
    uint64_t u;
    pq_tr_init(&r, v, sizeof v, NULL);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK_EQ_INT(i, 0);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK_EQ_INT(i, -1);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK_EQ_INT(i, 1);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK_EQ_INT(i, -2);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK); /* 0xac 0x02 = 300 -> zigzag 150 */
    CHECK_EQ_INT(i, 150);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK); /* 0xfffffffe -> INT32_MAX */
    CHECK_EQ_INT(i, INT32_MAX);
    CHECK_EQ_INT(pq_tr_varint(&r, &u), SL_OK);
    CHECK(u == UINT64_MAX);
    CHECK_EQ_INT(pq_tr_offset(&r), sizeof v);
    CHECK_EQ_INT(pq_tr_i64(&r, &l), SL_E_FORMAT); /* nothing left */
}

static void thrift_bad_varints(void)
{
    static const uint8_t trunc[] = {0x80, 0x80};
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    static const uint8_t i32big[] = {0x80, 0x80, 0x80, 0x80, 0x20}; /* zigzag 2^33 */
    sl_err e = {0};
    pq_tr r;
    uint64_t u;
    int32_t i;
    pq_tr_init(&r, trunc, sizeof trunc, &e);
    CHECK_EQ_INT(pq_tr_varint(&r, &u), SL_E_FORMAT);
    CHECK(strstr(e.msg, "truncated varint") != NULL);
    pq_tr_init(&r, big, sizeof big, &e);
    CHECK_EQ_INT(pq_tr_varint(&r, &u), SL_E_FORMAT);
    pq_tr_init(&r, i32big, sizeof i32big, &e);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_E_FORMAT);
}

/* struct { 1: i32 = 5; 3: binary "abc"; 20 (long form): i64 = -3; 21: true; 22: double 1.5 } */
static const uint8_t sample_struct[] = {0x15, 0x0a, 0x28, 0x03, 'a', 'b', 'c', 0x06, 0x28, 0x05,
                                        0x11, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x00};

static void thrift_struct_fields_delta_and_long(void)
{
    pq_tr r;
    int16_t last;
    pq_tr_field f;
    int32_t i;
    int64_t l;
    const uint8_t *p;
    uint32_t n;
    int b;
    double d;
    pq_tr_init(&r, sample_struct, sizeof sample_struct, NULL);
    CHECK_EQ_INT(pq_tr_struct_begin(&r, &last), SL_OK);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.id, 1);
    CHECK_EQ_INT(f.type, TC_I32);
    CHECK_EQ_INT(pq_tr_i32(&r, &i), SL_OK);
    CHECK_EQ_INT(i, 5);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.id, 3);
    CHECK_EQ_INT(f.type, TC_BINARY);
    CHECK_EQ_INT(pq_tr_binary(&r, &p, &n), SL_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(memcmp(p, "abc", 3) == 0);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.id, 20);
    CHECK_EQ_INT(f.type, TC_I64);
    CHECK_EQ_INT(pq_tr_i64(&r, &l), SL_OK);
    CHECK_EQ_INT(l, -3);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.id, 21);
    CHECK_EQ_INT(pq_tr_field_bool(&r, &f, &b), SL_OK);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.id, 22);
    CHECK_EQ_INT(pq_tr_double(&r, &d), SL_OK);
    CHECK(d == 1.5);
    CHECK_EQ_INT(pq_tr_field_next(&r, &last, &f), SL_OK);
    CHECK_EQ_INT(f.type, TC_STOP);
    pq_tr_struct_end(&r);
    CHECK_EQ_INT(pq_tr_offset(&r), sizeof sample_struct);
}

static void thrift_skip_nested(void)
{
    /* struct { 1: struct { 1: list<struct{1: i32}> [ {7}, {8} ]; 2: map<binary,i32> {"k": 1} }; 2: set<bool>[t,f] }, then 0x99 */
    static const uint8_t v[] = {0x1c, 0x19, 0x2c, 0x15, 0x0e, 0x00, 0x15, 0x10, 0x00,
                                0x1b, 0x01, 0x85, 0x01, 'k', 0x02, 0x00,
                                0x1a, 0x21, 0x01, 0x02, 0x00, 0x99};
    pq_tr r;
    pq_tr_init(&r, v, sizeof v, NULL);
    CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_OK);
    CHECK_EQ_INT(pq_tr_offset(&r), sizeof v - 1);
    CHECK_EQ_INT(r.depth, 0);
    /* Every truncation of it fails cleanly. */
    for (size_t n = 0; n < sizeof v - 1; n++) {
        pq_tr_init(&r, v, n, NULL);
        CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    }
    for (size_t n = 0; n < sizeof sample_struct; n++) {
        pq_tr_init(&r, sample_struct, n, NULL);
        CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    }
}

static void thrift_garbage_and_depth(void)
{
    uint8_t deep[200];
    static const uint8_t badtype[] = {0x1d, 0x00};      /* field type 13 */
    static const uint8_t hugelist[] = {0x19, 0xf5, 0xff, 0xff, 0xff, 0x0f, 0x00};
    static const uint8_t hugebin[] = {0x18, 0xff, 0xff, 0x03, 'a', 0x00};
    sl_err e = {0};
    pq_tr r;
    memset(deep, 0x1c, sizeof deep); /* struct in struct in struct ... */
    pq_tr_init(&r, deep, sizeof deep, &e);
    CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    CHECK(strstr(e.msg, "deep") != NULL);
    pq_tr_init(&r, badtype, sizeof badtype, NULL);
    CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    pq_tr_init(&r, hugelist, sizeof hugelist, NULL);
    CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    pq_tr_init(&r, hugebin, sizeof hugebin, NULL);
    CHECK_EQ_INT(pq_tr_skip(&r, TC_STRUCT), SL_E_FORMAT);
    /* Pseudo-random garbage never reads past the end (ASan run proves it). */
    {
        uint32_t x = 12345;
        uint8_t g[64];
        for (int it = 0; it < 2000; it++) {
            for (size_t k = 0; k < sizeof g; k++) {
                x = x * 1103515245u + 12345u;
                g[k] = (uint8_t)(x >> 16);
            }
            pq_tr_init(&r, g, (size_t)(x % sizeof g), NULL);
            (void)pq_tr_skip(&r, TC_STRUCT);
            CHECK(r.p <= r.end);
        }
    }
}

T_SUITE(suite_pqread) = {
    {"thrift_varint_and_zigzag", thrift_varint_and_zigzag},
    {"thrift_bad_varints", thrift_bad_varints},
    {"thrift_struct_fields_delta_and_long", thrift_struct_fields_delta_and_long},
    {"thrift_skip_nested", thrift_skip_nested},
    {"thrift_garbage_and_depth", thrift_garbage_and_depth},
    T_END,
};
