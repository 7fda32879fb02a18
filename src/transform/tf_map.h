/* tf_map.h - an open-addressing hash map from 64-bit keys (ids) to dense 32-bit slots,
 * for the per-customer, per-product and per-order state of the analytics: one probe
 * array that doubles when half full, no allocation per key. */
#ifndef SL_TF_MAP_H
#define SL_TF_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

typedef struct tf_map_entry {
    uint64_t key;
    uint32_t val; /* dense index + 1; 0 = empty */
} tf_map_entry;

typedef struct tf_map {
    tf_map_entry *e; /* key and value side by side: a probe touches one cache line */
    size_t cap;      /* power of two */
    size_t n;
} tf_map;

static inline size_t tf_map_slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

/* Asks the CPU to load key's first probe: a caller with many keys at hand prefetches a
 * group of them, then looks them up, so that the cache misses overlap. */
static inline void tf_map_prefetch(const tf_map *m, uint64_t key)
{
    if (m->cap) __builtin_prefetch(&m->e[tf_map_slot(key, m->cap)]);
}

void tf_map_init(tf_map *m);
/* Room for n keys without growing (the rehash of every key a doubling costs). */
sl_code tf_map_reserve(tf_map *m, size_t n, sl_err *err);
void tf_map_free(tf_map *m);
/* The dense index of key (0, 1, 2... in insertion order), adding it if new; *added says
 * whether it was new. */
sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err);
/* The index of key, or -1. */
int64_t tf_map_get(const tf_map *m, uint64_t key);

#endif
