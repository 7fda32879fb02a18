/* tf_map.h - an open-addressing hash map from 64-bit keys (ids) to dense 32-bit slots,
 * for the per-customer, per-product and per-order state of the analytics: one probe
 * array that doubles when half full, no allocation per key. */
#ifndef SL_TF_MAP_H
#define SL_TF_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

typedef struct tf_map {
    uint64_t *keys;
    uint32_t *vals; /* dense index + 1; 0 = empty */
    size_t cap;     /* power of two */
    size_t n;
} tf_map;

void tf_map_init(tf_map *m);
void tf_map_free(tf_map *m);
/* The dense index of key (0, 1, 2... in insertion order), adding it if new; *added says
 * whether it was new. */
sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err);
/* The index of key, or -1. */
int64_t tf_map_get(const tf_map *m, uint64_t key);

#endif
