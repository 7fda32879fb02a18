/* pq_thrift_read.c - thrift compact protocol decoding for Parquet metadata, written
 * against thrift's doc/specs/thrift-compact-protocol.md. Hostile input is the normal
 * case here: every length, count and nesting level is checked before use. */
#include "pq_thrift_read.h"

#include <string.h>

#include "pq_format.h"

static sl_code fail(pq_tr *r, const char *what)
{
    return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: %s at byte %zu", what, pq_tr_offset(r));
}

void pq_tr_init(pq_tr *r, const void *data, size_t len, sl_err *err)
{
    r->start = r->p = (const uint8_t *)data;
    r->end = r->p + len;
    r->depth = 0;
    r->err = err;
}

size_t pq_tr_offset(const pq_tr *r) { return (size_t)(r->p - r->start); }

sl_code pq_tr_varint(pq_tr *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (r->p >= r->end) return fail(r, "truncated varint");
        b = *r->p++;
        /* The tenth byte may only carry the top bit of a 64-bit value. */
        if (shift == 63 && (b & 0x7e)) return fail(r, "varint overflows 64 bits");
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return SL_OK;
        }
    }
    return fail(r, "varint longer than 10 bytes");
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

sl_code pq_tr_byte(pq_tr *r, int8_t *out)
{
    if (r->p >= r->end) return fail(r, "truncated byte");
    *out = (int8_t)*r->p++;
    return SL_OK;
}

sl_code pq_tr_i64(pq_tr *r, int64_t *out)
{
    uint64_t v = 0;
    SL_TRY(pq_tr_varint(r, &v));
    *out = unzigzag(v);
    return SL_OK;
}

sl_code pq_tr_i32(pq_tr *r, int32_t *out)
{
    int64_t v;
    SL_TRY(pq_tr_i64(r, &v));
    if (v < INT32_MIN || v > INT32_MAX) return fail(r, "i32 out of range");
    *out = (int32_t)v;
    return SL_OK;
}

sl_code pq_tr_i16(pq_tr *r, int16_t *out)
{
    int64_t v;
    SL_TRY(pq_tr_i64(r, &v));
    if (v < INT16_MIN || v > INT16_MAX) return fail(r, "i16 out of range");
    *out = (int16_t)v;
    return SL_OK;
}

sl_code pq_tr_double(pq_tr *r, double *out)
{
    uint64_t bits = 0;
    if (r->end - r->p < 8) return fail(r, "truncated double");
    for (int i = 0; i < 8; i++) bits |= (uint64_t)r->p[i] << (8 * i); /* little-endian */
    r->p += 8;
    memcpy(out, &bits, sizeof *out);
    return SL_OK;
}

sl_code pq_tr_binary(pq_tr *r, const uint8_t **out, uint32_t *len)
{
    uint64_t n = 0;
    SL_TRY(pq_tr_varint(r, &n));
    if (n > (uint64_t)(r->end - r->p)) return fail(r, "binary length past the end");
    *out = r->p;
    *len = (uint32_t)n;
    r->p += n;
    return SL_OK;
}

sl_code pq_tr_struct_begin(pq_tr *r, int16_t *last)
{
    if (r->depth >= PQ_TR_MAX_DEPTH) return fail(r, "nesting too deep");
    r->depth++;
    *last = 0;
    return SL_OK;
}

void pq_tr_struct_end(pq_tr *r)
{
    if (r->depth > 0) r->depth--;
}

sl_code pq_tr_field_next(pq_tr *r, int16_t *last, pq_tr_field *f)
{
    uint8_t b;
    int delta;
    if (r->p >= r->end) return fail(r, "truncated struct (no stop byte)");
    b = *r->p++;
    f->type = b & 0x0f;
    if (f->type == TC_STOP) {
        if (b != 0) return fail(r, "bad stop byte");
        f->id = 0;
        return SL_OK;
    }
    if (f->type > TC_STRUCT) return fail(r, "unknown field type");
    delta = b >> 4;
    if (delta) {
        if (*last > INT16_MAX - delta) return fail(r, "field id overflow");
        f->id = (int16_t)(*last + delta);
    } else {
        SL_TRY(pq_tr_i16(r, &f->id)); /* long form: zigzag varint id follows */
    }
    *last = f->id;
    return SL_OK;
}

sl_code pq_tr_field_bool(pq_tr *r, const pq_tr_field *f, int *out)
{
    if (f->type == TC_TRUE) *out = 1;
    else if (f->type == TC_FALSE) *out = 0;
    else return fail(r, "expected a boolean field");
    return SL_OK;
}

sl_code pq_tr_list_begin(pq_tr *r, int *elem_type, uint32_t *count)
{
    uint8_t b;
    uint64_t n;
    if (r->p >= r->end) return fail(r, "truncated list header");
    b = *r->p++;
    *elem_type = b & 0x0f;
    n = b >> 4;
    if (n == 15) SL_TRY(pq_tr_varint(r, &n));
    if (*elem_type == TC_STOP || *elem_type > TC_STRUCT) return fail(r, "bad list element type");
    /* Every element takes at least one byte, so a count above the bytes left is garbage. */
    if (n > (uint64_t)(r->end - r->p)) return fail(r, "list count past the end");
    *count = (uint32_t)n;
    return SL_OK;
}

sl_code pq_tr_bool_elem(pq_tr *r, int *out)
{
    int8_t b = 0;
    SL_TRY(pq_tr_byte(r, &b));
    *out = b == 1;
    return SL_OK;
}

sl_code pq_tr_skip(pq_tr *r, int type)
{
    uint64_t u;
    int8_t b = 0;
    double d;
    const uint8_t *p;
    uint32_t n;
    switch (type) {
    case TC_TRUE:
    case TC_FALSE: return SL_OK; /* as a field, the value was in the header */
    case TC_BYTE: return pq_tr_byte(r, &b);
    case TC_I16:
    case TC_I32:
    case TC_I64: return pq_tr_varint(r, &u);
    case TC_DOUBLE: return pq_tr_double(r, &d);
    case TC_BINARY: return pq_tr_binary(r, &p, &n);
    case TC_LIST:
    case TC_SET: {
        int et;
        uint32_t cnt;
        SL_TRY(pq_tr_list_begin(r, &et, &cnt));
        if (r->depth >= PQ_TR_MAX_DEPTH) return fail(r, "nesting too deep");
        r->depth++;
        for (uint32_t i = 0; i < cnt; i++) {
            sl_code rc = (et == TC_TRUE || et == TC_FALSE) ? pq_tr_byte(r, &b) : pq_tr_skip(r, et);
            if (rc != SL_OK) return rc;
        }
        r->depth--;
        return SL_OK;
    }
    case TC_MAP: {
        uint8_t kv;
        int kt, vt;
        SL_TRY(pq_tr_varint(r, &u));
        if (u == 0) return SL_OK;
        if (u > (uint64_t)(r->end - r->p)) return fail(r, "map count past the end");
        if (r->p >= r->end) return fail(r, "truncated map header");
        kv = *r->p++;
        kt = kv >> 4;
        vt = kv & 0x0f;
        if (kt == TC_STOP || kt > TC_STRUCT || vt == TC_STOP || vt > TC_STRUCT) return fail(r, "bad map types");
        if (r->depth >= PQ_TR_MAX_DEPTH) return fail(r, "nesting too deep");
        r->depth++;
        for (uint64_t i = 0; i < u; i++) {
            sl_code rc = (kt == TC_TRUE || kt == TC_FALSE) ? pq_tr_byte(r, &b) : pq_tr_skip(r, kt);
            if (rc == SL_OK) rc = (vt == TC_TRUE || vt == TC_FALSE) ? pq_tr_byte(r, &b) : pq_tr_skip(r, vt);
            if (rc != SL_OK) return rc;
        }
        r->depth--;
        return SL_OK;
    }
    case TC_STRUCT: {
        int16_t last;
        pq_tr_field f;
        SL_TRY(pq_tr_struct_begin(r, &last));
        for (;;) {
            SL_TRY(pq_tr_field_next(r, &last, &f));
            if (f.type == TC_STOP) break;
            SL_TRY(pq_tr_skip(r, f.type));
        }
        pq_tr_struct_end(r);
        return SL_OK;
    }
    default: return fail(r, "unknown type");
    }
}
