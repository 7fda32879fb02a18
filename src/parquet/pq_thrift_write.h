/* pq_thrift_write.h - the thrift compact protocol encoder for Parquet metadata (page
 * headers, column and offset indexes, the footer). Writes append to an sl_buf; the first
 * failure (the buffer's cap) is kept in `rc` and later calls do nothing, so a struct is
 * written as a straight sequence of calls and checked once at the end (zstd's habit).
 *
 * Fields must be written in increasing id order within a struct: the compact protocol
 * encodes id deltas. */
#ifndef SL_PQ_THRIFT_WRITE_H
#define SL_PQ_THRIFT_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

#define PQ_TW_MAX_DEPTH 16

typedef struct pq_tw {
    sl_buf *out;
    int16_t last[PQ_TW_MAX_DEPTH]; /* last field id per open struct */
    int depth;
    sl_code rc;
    sl_err *err;
} pq_tw;

void pq_tw_init(pq_tw *w, sl_buf *out, sl_err *err);

/* Primitive encodings, exposed for the unit tests and the encoders. */
size_t pq_varint_put(uint8_t *p, uint64_t v); /* p needs 10 bytes */
static inline uint64_t pq_zigzag64(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline uint32_t pq_zigzag32(int32_t v) { return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31); }

/* A top-level message (a struct with no field header), and nested structs. */
void pq_tw_begin(pq_tw *w);
void pq_tw_end(pq_tw *w); /* writes the stop byte */
void pq_tw_struct(pq_tw *w, int16_t id);      /* field header; close with pq_tw_end */

void pq_tw_bool(pq_tw *w, int16_t id, int v);
void pq_tw_i8(pq_tw *w, int16_t id, int8_t v);
void pq_tw_i16(pq_tw *w, int16_t id, int16_t v);
void pq_tw_i32(pq_tw *w, int16_t id, int32_t v);
void pq_tw_i64(pq_tw *w, int16_t id, int64_t v);
void pq_tw_binary(pq_tw *w, int16_t id, const void *p, size_t n);
void pq_tw_string(pq_tw *w, int16_t id, const char *s);

/* A list field: header, then exactly `count` elements of elem_type (TC_*). */
void pq_tw_list(pq_tw *w, int16_t id, int elem_type, uint32_t count);
void pq_tw_elem_i32(pq_tw *w, int32_t v);
void pq_tw_elem_i64(pq_tw *w, int64_t v);
void pq_tw_elem_bool(pq_tw *w, int v);
void pq_tw_elem_binary(pq_tw *w, const void *p, size_t n);
void pq_tw_elem_struct(pq_tw *w); /* a struct element; close with pq_tw_end */

#endif
