/* pq_thrift_write.c - thrift compact protocol encoder (see the header). The wire format
 * is thrift's doc/specs/thrift-compact-protocol.md: varints are ULEB128, signed integers
 * zigzag first, a field header is (delta << 4 | type) when 0 < delta <= 15 and otherwise
 * the type byte followed by the zigzag i16 id; booleans carry their value in the type. */
#include "pq_thrift_write.h"

#include <string.h>

#include "pq_format.h"

void pq_tw_init(pq_tw *w, sl_buf *out, sl_err *err)
{
    memset(w, 0, sizeof *w);
    w->out = out;
    w->err = err;
}

size_t pq_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void put(pq_tw *w, const void *p, size_t n)
{
    if (w->rc == SL_OK) w->rc = sl_buf_append(w->out, p, n, w->err);
}

static void put_varint(pq_tw *w, uint64_t v)
{
    uint8_t b[10];
    put(w, b, pq_varint_put(b, v));
}

static void field(pq_tw *w, int16_t id, int type)
{
    if (w->rc != SL_OK) return;
    if (w->depth <= 0) {
        w->rc = sl_err_set(w->err, SL_E_INTERNAL, "thrift writer: field %d outside a struct", id);
        return;
    }
    int16_t *last = &w->last[w->depth - 1];
    int delta = id - *last;
    if (id <= *last) {
        w->rc = sl_err_set(w->err, SL_E_INTERNAL, "thrift writer: field %d after field %d", id, *last);
        return;
    }
    if (delta <= 15) {
        uint8_t b = (uint8_t)(delta << 4 | type);
        put(w, &b, 1);
    } else {
        uint8_t b = (uint8_t)type;
        put(w, &b, 1);
        put_varint(w, pq_zigzag32(id));
    }
    *last = id;
}

static void push(pq_tw *w)
{
    if (w->rc != SL_OK) return;
    if (w->depth >= PQ_TW_MAX_DEPTH) {
        w->rc = sl_err_set(w->err, SL_E_INTERNAL, "thrift writer: structs nested too deep");
        return;
    }
    w->last[w->depth++] = 0;
}

void pq_tw_begin(pq_tw *w) { push(w); }

void pq_tw_end(pq_tw *w)
{
    uint8_t stop = TC_STOP;
    put(w, &stop, 1);
    if (w->rc == SL_OK && w->depth > 0) w->depth--;
}

void pq_tw_struct(pq_tw *w, int16_t id)
{
    field(w, id, TC_STRUCT);
    push(w);
}

void pq_tw_bool(pq_tw *w, int16_t id, int v) { field(w, id, v ? TC_TRUE : TC_FALSE); }

void pq_tw_i8(pq_tw *w, int16_t id, int8_t v)
{
    field(w, id, TC_BYTE);
    put(w, &v, 1);
}

void pq_tw_i16(pq_tw *w, int16_t id, int16_t v)
{
    field(w, id, TC_I16);
    put_varint(w, pq_zigzag32(v));
}

void pq_tw_i32(pq_tw *w, int16_t id, int32_t v)
{
    field(w, id, TC_I32);
    put_varint(w, pq_zigzag32(v));
}

void pq_tw_i64(pq_tw *w, int16_t id, int64_t v)
{
    field(w, id, TC_I64);
    put_varint(w, pq_zigzag64(v));
}

void pq_tw_binary(pq_tw *w, int16_t id, const void *p, size_t n)
{
    field(w, id, TC_BINARY);
    pq_tw_elem_binary(w, p, n);
}

void pq_tw_string(pq_tw *w, int16_t id, const char *s) { pq_tw_binary(w, id, s, strlen(s)); }

void pq_tw_list(pq_tw *w, int16_t id, int elem_type, uint32_t count)
{
    field(w, id, TC_LIST);
    if (count < 15) {
        uint8_t b = (uint8_t)(count << 4 | (uint32_t)elem_type);
        put(w, &b, 1);
    } else {
        uint8_t b = (uint8_t)(0xF0 | elem_type);
        put(w, &b, 1);
        put_varint(w, count);
    }
}

void pq_tw_elem_i32(pq_tw *w, int32_t v) { put_varint(w, pq_zigzag32(v)); }
void pq_tw_elem_i64(pq_tw *w, int64_t v) { put_varint(w, pq_zigzag64(v)); }

void pq_tw_elem_bool(pq_tw *w, int v)
{
    uint8_t b = v ? TC_TRUE : TC_FALSE;
    put(w, &b, 1);
}

void pq_tw_elem_binary(pq_tw *w, const void *p, size_t n)
{
    put_varint(w, n);
    if (n) put(w, p, n);
}

void pq_tw_elem_struct(pq_tw *w) { push(w); }
