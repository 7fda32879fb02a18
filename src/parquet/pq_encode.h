/* pq_encode.h - the value encodings of Parquet's Encodings.md that the writer uses:
 * the RLE/bit-packed hybrid (definition levels, dictionary indices), bit-packing,
 * DELTA_BINARY_PACKED for INT32/INT64, and PLAIN booleans. All append to an sl_buf. */
#ifndef SL_PQ_ENCODE_H
#define SL_PQ_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

/* Bits needed to hold v (0 for 0). */
static inline int pq_bit_width(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

/* RLE/bit-packed hybrid of n values of bit_width bits (0..32), no length prefix.
 * Runs of 8 or more equal values become RLE runs, the rest bit-packed groups of 8. */
sl_code pq_hybrid_encode(const uint32_t *v, size_t n, int bit_width, sl_buf *out, sl_err *err);
/* Same for one-byte values (definition levels). */
sl_code pq_hybrid_encode_u8(const uint8_t *v, size_t n, int bit_width, sl_buf *out, sl_err *err);

/* PLAIN booleans: bit-packed, least significant bit first. */
sl_code pq_plain_bool_encode(const uint8_t *v, size_t n, sl_buf *out, sl_err *err);

/* DELTA_BINARY_PACKED with blocks of 128 values in 4 miniblocks of 32. Deltas wrap at
 * the type's width (32 or 64 bits), as readers decode them. */
sl_code pq_delta_encode_i32(const int32_t *v, size_t n, sl_buf *out, sl_err *err);
sl_code pq_delta_encode_i64(const int64_t *v, size_t n, sl_buf *out, sl_err *err);

#endif
