/* pq_encode.c - Parquet value encodings (see the header and parquet-format's
 * Encodings.md). */
#include "pq_encode.h"

#include <string.h>

#include "pq_thrift_write.h"

/* Bit-packs 8 values of w bits (0..32, LSB first) into w bytes at p: whole 32-bit words
 * while they fill, the last partial word's bytes at the end. */
static inline __attribute__((always_inline)) void pack8_w(const uint32_t *v, const int w, uint8_t *p)
{
    uint64_t acc = 0;
    int bits = 0;
    for (int i = 0; i < 8; i++) {
        acc |= (uint64_t)v[i] << bits;
        bits += w;
        if (bits >= 32) {
            uint32_t word = (uint32_t)acc;
            memcpy(p, &word, 4);
            p += 4;
            acc >>= 32;
            bits -= 32;
        }
    }
    for (; bits > 0; bits -= 8) {
        *p++ = (uint8_t)acc;
        acc >>= 8;
    }
}

/* One copy per width, as pack32_64 below. */
static void pack8(const uint32_t *v, int w, uint8_t *p)
{
#define W1(k) case k: pack8_w(v, k, p); return;
#define W8(k) W1(k) W1(k + 1) W1(k + 2) W1(k + 3) W1(k + 4) W1(k + 5) W1(k + 6) W1(k + 7)
    switch (w) {
    W8(1) W8(9) W8(17) W8(25)
    default: return; /* 0: nothing to write */
    }
#undef W8
#undef W1
}

static sl_code put_varint(sl_buf *out, uint64_t v, sl_err *err)
{
    uint8_t b[10];
    return sl_buf_append(out, b, pq_varint_put(b, v), err);
}

static sl_code put_rle(sl_buf *out, uint32_t value, size_t count, int w, sl_err *err)
{
    SL_TRY(put_varint(out, (uint64_t)count << 1, err));
    uint8_t b[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16), (uint8_t)(value >> 24)};
    return sl_buf_append(out, b, (size_t)(w + 7) / 8, err);
}

/* One encoder for both element sizes: GET(i) reads value i. */
#define HYBRID_BODY(GET)                                                                   \
    if (bit_width < 0 || bit_width > 32)                                                   \
        return sl_err_set(err, SL_E_INTERNAL, "hybrid encoder: bit width %d", bit_width); \
    size_t i = 0;                                                                          \
    while (i < n) {                                                                        \
        uint32_t x = GET(i);                                                               \
        size_t r = 1;                                                                      \
        while (i + r < n && GET(i + r) == x) r++;                                          \
        if (r >= 8) {                                                                      \
            SL_TRY(put_rle(out, x, r, bit_width, err));                                    \
            i += r;                                                                        \
            continue;                                                                      \
        }                                                                                  \
        /* Bit-packed groups of 8 until a run of 8 starts at a group boundary. */          \
        size_t j = i, groups = 0;                                                          \
        do {                                                                               \
            j += 8;                                                                        \
            groups++;                                                                      \
            if (j >= n || groups == 63) break;                                             \
            size_t k = 1;                                                                  \
            while (k < 8 && j + k < n && GET(j + k) == GET(j)) k++;                        \
            if (k >= 8) break;                                                             \
        } while (1);                                                                       \
        SL_TRY(put_varint(out, (uint64_t)groups << 1 | 1, err));                           \
        SL_TRY(sl_buf_reserve(out, groups * (size_t)bit_width, err));                      \
        for (size_t g = 0; g < groups; g++) {                                              \
            uint32_t tmp[8];                                                               \
            for (int t = 0; t < 8; t++) {                                                  \
                size_t at = i + g * 8 + (size_t)t;                                         \
                tmp[t] = at < n ? GET(at) : 0;                                             \
            }                                                                              \
            pack8(tmp, bit_width, out->data + out->len);                                   \
            out->len += (size_t)bit_width;                                                 \
        }                                                                                  \
        i = j < n ? j : n;                                                                 \
    }                                                                                      \
    return SL_OK;

sl_code pq_hybrid_encode(const uint32_t *v, size_t n, int bit_width, sl_buf *out, sl_err *err)
{
#define GET32(k) v[k]
    HYBRID_BODY(GET32)
#undef GET32
}

sl_code pq_hybrid_encode_u8(const uint8_t *v, size_t n, int bit_width, sl_buf *out, sl_err *err)
{
#define GET8(k) ((uint32_t)v[k])
    HYBRID_BODY(GET8)
#undef GET8
}

sl_code pq_plain_bool_encode(const uint8_t *v, size_t n, sl_buf *out, sl_err *err)
{
    size_t nb = (n + 7) / 8;
    SL_TRY(sl_buf_reserve(out, nb, err));
    uint8_t *p = out->data + out->len;
    memset(p, 0, nb);
    for (size_t i = 0; i < n; i++)
        if (v[i]) p[i >> 3] |= (uint8_t)(1u << (i & 7));
    out->len += nb;
    return SL_OK;
}

/* Bit-packs 32 values of w bits (0..64) LSB first into 4*w bytes: 32 values make whole
 * 32-bit words, so the accumulator is stored a word at a time. Up to 32 bits a value, a
 * 64-bit accumulator holds the rest of a word plus a value; above, a 128-bit one. */
#define PACK32_WORDS(ACC)                                 \
    do {                                                  \
        ACC acc = 0;                                      \
        int bits = 0;                                     \
        for (int i = 0; i < 32; i++) {                    \
            acc |= (ACC)v[i] << bits;                     \
            bits += w;                                    \
            while (bits >= 32) {                          \
                uint32_t word = (uint32_t)acc;            \
                memcpy(p, &word, 4);                      \
                p += 4;                                   \
                acc >>= 32;                               \
                bits -= 32;                               \
            }                                             \
        }                                                 \
    } while (0)

static inline __attribute__((always_inline)) void pack32_w(const uint64_t *v, const int w, uint8_t *p)
{
    if (w <= 32) PACK32_WORDS(uint64_t);
    else PACK32_WORDS(unsigned __int128);
}

/* One copy of the loop per width: with w a constant, every shift and store is fixed
 * and the 32 steps unroll without a branch. */
static void pack32_64(const uint64_t *v, int w, uint8_t *p)
{
#define W1(k) case k: pack32_w(v, k, p); return;
#define W8(k) W1(k) W1(k + 1) W1(k + 2) W1(k + 3) W1(k + 4) W1(k + 5) W1(k + 6) W1(k + 7)
    switch (w) {
    W8(1) W8(9) W8(17) W8(25) W8(33) W8(41) W8(49) W8(57)
    default: return; /* 0: nothing to write */
    }
#undef W8
#undef W1
}
#undef PACK32_WORDS

enum { DELTA_BLOCK = 128, DELTA_MINI = 4, DELTA_PER_MINI = 32 };

/* deltas[] are already the wrapped differences at the type's width, as uint64 with the
 * type's sign-extension; `mask` keeps the type's bits. Inlined into each encoder, so
 * that is32 and mask are constants; the minimum and the widths are taken over four
 * lanes without a data-dependent branch. */
static inline __attribute__((always_inline)) sl_code delta_blocks(const uint64_t *deltas, size_t nd,
                                                                  const uint64_t mask, const int is32,
                                                                  sl_buf *out, sl_err *err)
{
#define DELTA_AT(k) (is32 ? (int64_t)(int32_t)deltas[k] : (int64_t)deltas[k])
    for (size_t b = 0; b < nd; b += DELTA_BLOCK) {
        size_t cnt = nd - b < DELTA_BLOCK ? nd - b : DELTA_BLOCK, i = 0;
        int64_t lane[4] = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
        for (; i + 4 <= cnt; i += 4)
            for (int l = 0; l < 4; l++) {
                int64_t d = DELTA_AT(b + i + (size_t)l);
                lane[l] = d < lane[l] ? d : lane[l];
            }
        for (; i < cnt; i++) {
            int64_t d = DELTA_AT(b + i);
            lane[0] = d < lane[0] ? d : lane[0];
        }
        int64_t mind = lane[0];
        for (int l = 1; l < 4; l++) mind = lane[l] < mind ? lane[l] : mind;
        SL_TRY(put_varint(out, pq_zigzag64(mind), err));
        uint64_t rel[DELTA_BLOCK];
        for (i = 0; i < cnt; i++) rel[i] = (deltas[b + i] - (uint64_t)mind) & mask;
        for (; i < DELTA_BLOCK; i++) rel[i] = 0;
        uint8_t widths[DELTA_MINI];
        size_t minis = (cnt + DELTA_PER_MINI - 1) / DELTA_PER_MINI;
        for (size_t m = 0; m < DELTA_MINI; m++) {
            uint64_t all[4] = {0, 0, 0, 0};
            if (m < minis)
                for (size_t j = 0; j < DELTA_PER_MINI; j += 4)
                    for (int l = 0; l < 4; l++) all[l] |= rel[m * DELTA_PER_MINI + j + (size_t)l];
            widths[m] = (uint8_t)pq_bit_width(all[0] | all[1] | all[2] | all[3]);
        }
        SL_TRY(sl_buf_append(out, widths, DELTA_MINI, err));
        for (size_t m = 0; m < minis; m++) {
            size_t nbytes = (size_t)widths[m] * DELTA_PER_MINI / 8;
            SL_TRY(sl_buf_reserve(out, nbytes + 16, err));
            pack32_64(rel + m * DELTA_PER_MINI, widths[m], out->data + out->len);
            out->len += nbytes;
        }
    }
#undef DELTA_AT
    return SL_OK;
}

static sl_code delta_header(size_t n, int64_t first, sl_buf *out, sl_err *err)
{
    SL_TRY(put_varint(out, DELTA_BLOCK, err));
    SL_TRY(put_varint(out, DELTA_MINI, err));
    SL_TRY(put_varint(out, n, err));
    return put_varint(out, pq_zigzag64(first), err);
}

/* Deltas are computed one block at a time to keep the stack small. */
#define DELTA_BODY(T, UT, MASK, IS32)                                                  \
    SL_TRY(delta_header(n, n ? (int64_t)v[0] : 0, out, err));                          \
    uint64_t d[DELTA_BLOCK];                                                           \
    for (size_t s = 1; s < n; s += DELTA_BLOCK) {                                      \
        size_t cnt = n - s < DELTA_BLOCK ? n - s : DELTA_BLOCK;                        \
        for (size_t i = 0; i < cnt; i++) {                                             \
            UT diff = (UT)((UT)v[s + i] - (UT)v[s + i - 1]);                           \
            d[i] = (uint64_t)(int64_t)(T)diff;                                         \
        }                                                                              \
        SL_TRY(delta_blocks(d, cnt, MASK, IS32, out, err));                            \
    }                                                                                  \
    return SL_OK;

sl_code pq_delta_encode_i32(const int32_t *v, size_t n, sl_buf *out, sl_err *err)
{
    DELTA_BODY(int32_t, uint32_t, 0xFFFFFFFFu, 1)
}

sl_code pq_delta_encode_i64(const int64_t *v, size_t n, sl_buf *out, sl_err *err)
{
    DELTA_BODY(int64_t, uint64_t, ~(uint64_t)0, 0)
}
