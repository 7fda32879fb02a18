/* sl_bytes.h - whether two short byte strings are equal, inline.
 *
 * The texts compared per value (an ENUM's members in the reader, a dictionary's entries
 * and the last value in the Parquet writer) are mostly a few bytes long, where a call to
 * memcmp costs more than the comparison: up to 16 bytes are compared by two overlapping
 * loads from each end, which read no byte outside either string. */
#ifndef SL_BYTES_H
#define SL_BYTES_H

#include <stdint.h>
#include <string.h>

static inline int sl_bytes_equal(const void *pa, const void *pb, size_t n)
{
    const unsigned char *a = pa, *b = pb;
    if (n >= 8 && n <= 16) {
        uint64_t x, y, u, v;
        memcpy(&x, a, 8), memcpy(&y, a + n - 8, 8), memcpy(&u, b, 8), memcpy(&v, b + n - 8, 8);
        return ((x ^ u) | (y ^ v)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4), memcpy(&y, a + n - 4, 4), memcpy(&u, b, 4), memcpy(&v, b + n - 4, 4);
        return ((x ^ u) | (y ^ v)) == 0;
    }
    if (n < 4) {
        for (size_t k = 0; k < n; k++)
            if (a[k] != b[k]) return 0;
        return 1;
    }
    return memcmp(a, b, n) == 0;
}

#endif
