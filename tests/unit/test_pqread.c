/* test_pqread.c - the Parquet reading side: thrift compact decoding from hand-made
 * byte vectors (valid, truncated, garbage), the footer reader and value decoders. */
#include <stdlib.h>
#include <unistd.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/parquet/pq_decode.h"
#include "../../src/parquet/pq_format.h"
#include "../../src/parquet/pq_reader.h"
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

/* FileMetaData { 1: version 1; 2: schema [ {4: "s", 5: 1 child}, {1: INT64, 3: REQUIRED, 4: "x"} ];
 * 3: num_rows 3; 4: row_groups []; 6: created_by "me" } */
static const uint8_t tiny_meta[] = {0x15, 0x02, 0x19, 0x2c, 0x48, 0x01, 's', 0x15, 0x02, 0x00, 0x15, 0x04, 0x25, 0x00,
                                    0x18, 0x01, 'x', 0x00, 0x16, 0x06, 0x19, 0x0c, 0x28, 0x02, 'm', 'e', 0x00};

static void meta_parse_tiny(void)
{
    pq_file_meta m;
    sl_err e = {0};
    CHECK_EQ_INT(pq_meta_parse(tiny_meta, sizeof tiny_meta, &m, &e), SL_OK);
    CHECK_EQ_INT(m.version, 1);
    CHECK_EQ_INT(m.num_rows, 3);
    CHECK_EQ_INT(m.n_schema, 2);
    CHECK_EQ_INT(m.schema[0].num_children, 1);
    CHECK_EQ_INT(m.schema[0].type, -1);
    CHECK_EQ_INT(m.schema[1].type, PQ_INT64);
    CHECK_EQ_INT(m.schema[1].repetition, PQ_REQUIRED);
    CHECK(m.schema[1].name.len == 1 && m.schema[1].name.p[0] == 'x');
    CHECK_EQ_INT(m.n_row_groups, 0);
    CHECK(m.created_by.set && m.created_by.len == 2);
    pq_meta_free(&m);
}

static void meta_parse_rejects_broken(void)
{
    pq_file_meta m;
    sl_err e = {0};
    uint8_t b[sizeof tiny_meta];
    for (size_t n = 0; n < sizeof tiny_meta; n++) CHECK_EQ_INT(pq_meta_parse(tiny_meta, n, &m, &e), SL_E_FORMAT);
    memcpy(b, tiny_meta, sizeof b);
    b[0] = 0x18; /* version as binary: wrong wire type */
    CHECK_EQ_INT(pq_meta_parse(b, sizeof b, &m, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, "wrong type") != NULL);
    memcpy(b, tiny_meta, sizeof b);
    b[8] = 0x04; /* root claims 2 children, only 1 follows */
    CHECK_EQ_INT(pq_meta_parse(b, sizeof b, &m, &e), SL_E_FORMAT);
    CHECK(strstr(e.msg, "num_children") != NULL);
    memcpy(b, tiny_meta, sizeof b);
    b[11] = 0x20; /* leaf physical type 16 */
    CHECK_EQ_INT(pq_meta_parse(b, sizeof b, &m, &e), SL_E_FORMAT);
    /* Every single-byte corruption either parses or fails cleanly (ASan run checks the rest). */
    for (size_t i = 0; i < sizeof b; i++)
        for (int v = 0; v < 256; v += 7) {
            memcpy(b, tiny_meta, sizeof b);
            b[i] = (uint8_t)v;
            if (pq_meta_parse(b, sizeof b, &m, &e) == SL_OK) pq_meta_free(&m);
        }
}

static void meta_parse_alloc_failures(void)
{
    pq_file_meta m;
    sl_code rc;
    for (long n = 0; n < 20; n++) {
        sl_alloc_fail_after(n);
        rc = pq_meta_parse(tiny_meta, sizeof tiny_meta, &m, NULL);
        sl_alloc_fail_after(-1);
        CHECK(rc == SL_OK || rc == SL_E_NOMEM);
        if (rc == SL_OK) pq_meta_free(&m);
    }
}

static void reader_open_checks_magic_and_length(void)
{
    char path[] = "/tmp/sluice-pqread-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    sl_err e = {0};
    pq_reader *rd;
    uint8_t len[4] = {(uint8_t)sizeof tiny_meta, 0, 0, 0};
    CHECK(fd >= 0);
    f = fdopen(fd, "wb");
    fwrite("PAR1", 1, 4, f);
    fwrite(tiny_meta, 1, sizeof tiny_meta, f);
    fwrite(len, 1, 4, f);
    fwrite("PAR1", 1, 4, f);
    fclose(f);
    rd = pq_reader_open(path, &e);
    CHECK(rd != NULL);
    CHECK_EQ_INT(pq_reader_meta(rd)->num_rows, 3);
    pq_reader_close(rd);
    f = fopen(path, "r+b");
    fseek(f, -8, SEEK_END);
    fputc(0xff, f); /* footer length past the file */
    fclose(f);
    CHECK(pq_reader_open(path, &e) == NULL);
    CHECK_EQ_INT(e.code, SL_E_FORMAT);
    CHECK(strstr(e.msg, path) != NULL && strstr(e.msg, "footer length") != NULL);
    f = fopen(path, "wb");
    fputs("PAR1", f);
    fclose(f);
    CHECK(pq_reader_open(path, &e) == NULL);
    CHECK_EQ_INT(e.code, SL_E_FORMAT);
    CHECK(strstr(e.msg, "not a Parquet file") != NULL);
    unlink(path);
    CHECK(pq_reader_open(path, &e) == NULL);
    CHECK_EQ_INT(e.code, SL_E_IO);
}

static void hybrid_runs(void)
{
    /* RLE: 5 x 3 (width 2); bit-packed: one group of 8 one-bit values 1,0,0,0,1,1,0,1 */
    static const uint8_t v2[] = {0x0a, 0x03};
    static const uint8_t v1[] = {0x03, 0xb1};
    uint32_t out[16];
    CHECK_EQ_INT(pq_hybrid_decode(v2, sizeof v2, 2, out, 5, NULL), SL_OK);
    CHECK(out[0] == 3 && out[4] == 3);
    CHECK_EQ_INT(pq_hybrid_decode(v2, sizeof v2, 2, out, 6, NULL), SL_E_FORMAT); /* runs out */
    CHECK_EQ_INT(pq_hybrid_decode(v2, sizeof v2, 1, out, 5, NULL), SL_E_FORMAT); /* 3 needs 2 bits */
    CHECK_EQ_INT(pq_hybrid_decode(v1, sizeof v1, 1, out, 8, NULL), SL_OK);
    CHECK(out[0] == 1 && out[1] == 0 && out[3] == 0 && out[4] == 1 && out[5] == 1 && out[6] == 0 && out[7] == 1);
    CHECK_EQ_INT(pq_hybrid_decode(v1, sizeof v1, 2, out, 8, NULL), SL_E_FORMAT); /* 8 x 2 bits need 2 bytes */
    CHECK_EQ_INT(pq_hybrid_decode(v1, 1, 1, out, 1, NULL), SL_E_FORMAT);
    CHECK_EQ_INT(pq_hybrid_decode(v1, sizeof v1, 33, out, 1, NULL), SL_E_FORMAT);
}

static void format_values(void)
{
    pq_schema_el el;
    sl_buf b;
    static const uint8_t dneg[] = {0xff, 0x85}, dsmall[] = {0x00, 0x05};
    uint8_t le8[8];
    int64_t v;
    sl_buf_init(&b, 1 << 16);
    memset(&el, 0, sizeof el);
    el.type = PQ_FIXED_LEN_BYTE_ARRAY;
    el.type_length = 2;
    el.converted_type = -1;
    el.logical.kind = PQ_LT_DECIMAL;
    el.logical.scale = 2;
    CHECK_EQ_INT(pq_value_format(&el, dneg, 2, &b, NULL), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, NULL), SL_OK);
    CHECK_STR((char *)b.data, "-1.23");
    sl_buf_reset(&b);
    el.logical.scale = 3;
    CHECK_EQ_INT(pq_value_format(&el, dsmall, 2, &b, NULL), SL_OK);
    sl_buf_cstr(&b, NULL);
    CHECK_STR((char *)b.data, "0.005");
    CHECK_EQ_INT(pq_value_format(&el, dsmall, 1, &b, NULL), SL_E_FORMAT); /* width mismatch */
    el.type = PQ_INT64;
    el.logical.kind = PQ_LT_TIMESTAMP;
    el.logical.unit = PQ_TU_MICROS;
    v = -1;
    for (int i = 0; i < 8; i++) le8[i] = (uint8_t)((uint64_t)v >> (8 * i));
    sl_buf_reset(&b);
    CHECK_EQ_INT(pq_value_format(&el, le8, 8, &b, NULL), SL_OK);
    sl_buf_cstr(&b, NULL);
    CHECK_STR((char *)b.data, "1969-12-31 23:59:59.999999");
    el.logical.kind = PQ_LT_INTEGER;
    el.logical.bits = 64;
    el.logical.is_signed = 0;
    sl_buf_reset(&b);
    CHECK_EQ_INT(pq_value_format(&el, le8, 8, &b, NULL), SL_OK);
    sl_buf_cstr(&b, NULL);
    CHECK_STR((char *)b.data, "18446744073709551615");
    el.logical.kind = PQ_LT_DATE;
    el.type = PQ_INT32;
    memset(le8, 0, 4);
    sl_buf_reset(&b);
    CHECK_EQ_INT(pq_value_format(&el, le8, 4, &b, NULL), SL_OK);
    sl_buf_cstr(&b, NULL);
    CHECK_STR((char *)b.data, "1970-01-01");
    sl_buf_free(&b);
}

T_SUITE(suite_pqread) = {
    {"thrift_varint_and_zigzag", thrift_varint_and_zigzag},
    {"thrift_bad_varints", thrift_bad_varints},
    {"thrift_struct_fields_delta_and_long", thrift_struct_fields_delta_and_long},
    {"thrift_skip_nested", thrift_skip_nested},
    {"thrift_garbage_and_depth", thrift_garbage_and_depth},
    {"meta_parse_tiny", meta_parse_tiny},
    {"meta_parse_rejects_broken", meta_parse_rejects_broken},
    {"meta_parse_alloc_failures", meta_parse_alloc_failures},
    {"reader_open_checks_magic_and_length", reader_open_checks_magic_and_length},
    {"hybrid_runs", hybrid_runs},
    {"format_values", format_values},
    T_END,
};
