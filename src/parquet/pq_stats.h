/* pq_vstats.h - min/max statistics in a column's sort order (parquet.thrift's
 * ColumnOrder / TypeDefinedOrder): signed or unsigned integers, floats without NaN,
 * big-endian two's-complement decimals, and byte strings compared as unsigned bytes.
 * Values are kept whole while a page or chunk is being written; only their encoded
 * form (pq_stats_bound) is truncated, to PQ_STATS_TRUNCATE bytes, so that a truncated
 * min is still a lower bound and a truncated max still an upper bound. */
#ifndef SL_PQ_STATS_H
#define SL_PQ_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

#define PQ_STATS_TRUNCATE 64

typedef enum pq_order {
    PQ_ORD_BOOL,
    PQ_ORD_I32,
    PQ_ORD_U32,
    PQ_ORD_I64,
    PQ_ORD_U64,
    PQ_ORD_FLOAT,
    PQ_ORD_DOUBLE,
    PQ_ORD_SIGNED_BE, /* FIXED_LEN_BYTE_ARRAY decimals */
    PQ_ORD_BYTES,     /* binary: unsigned bytes */
    PQ_ORD_TEXT       /* UTF-8: unsigned bytes, truncated at character boundaries */
} pq_order;

typedef struct pq_vstats {
    int has;         /* min and max hold a value */
    int64_t nulls;
    sl_buf min, max; /* PLAIN form of the value, without a length prefix */
    uint64_t pmin, pmax; /* byte arrays: prefix8 of min and max (pq_stats.c) */
} pq_vstats;

void pq_stats_init(pq_vstats *s);
void pq_stats_reset(pq_vstats *s);
void pq_stats_free(pq_vstats *s);

/* <0, 0, >0 as a is below, equal to or above b in the order. */
int pq_stats_cmp(pq_order o, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Takes one value into the statistics (NaN is skipped for floats). */
sl_code pq_stats_add(pq_vstats *s, pq_order o, const uint8_t *v, size_t len, sl_err *err);
/* Takes n fixed-width values laid out contiguously, width bytes each. */
sl_code pq_stats_add_fixed(pq_vstats *s, pq_order o, const uint8_t *v, size_t n, size_t width, sl_err *err);
sl_code pq_stats_merge(pq_vstats *dst, const pq_vstats *src, pq_order o, sl_err *err);

/* The bound to write: for floats, -0.0 as the min and +0.0 as the max when zero is a
 * bound; for strings, truncated (max incremented so it stays an upper bound). Writes
 * into out; *exact is 0 when truncated. is_max selects which bound. */
sl_code pq_stats_bound(const pq_vstats *s, pq_order o, int is_max, sl_buf *out, int *exact, sl_err *err);

#endif
