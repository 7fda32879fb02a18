/* tf_map.h - a map from 64-bit keys (ids) to dense 32-bit slots, for the per-customer,
 * per-product and per-order state of the analytics: no allocation per key.
 *
 * Two parts. Ids usually come dense (AUTO_INCREMENT keys): a direct part holds a run of
 * them as an array indexed by key - lo (4 bytes a key, one load a lookup), grown while the
 * keys stay at least half dense. Every other key goes to an open-addressing hash part
 * that doubles when half full. A key is in one part only: the direct part's empty slot
 * inside its range sends the lookup on to the hash part, which holds the keys put before
 * the range reached them. */
#ifndef SL_TF_MAP_H
#define SL_TF_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "../common/sl_prefetch.h"

typedef struct tf_map_entry {
    uint64_t key;
    uint32_t val; /* dense index + 1; 0 = empty */
} tf_map_entry;

typedef struct tf_map {
    size_t n;        /* keys in both parts: the next dense index */
    uint32_t *d;     /* direct part: d[key - lo] = dense index + 1, 0 = not here */
    uint64_t lo;
    size_t dlen, dcap;
    tf_map_entry *e; /* hash part: key and value side by side, one cache line a probe */
    size_t cap;      /* power of two, 0 before the first hash key */
    size_t hn;       /* keys in the hash part */
    size_t want;     /* tf_map_reserve's hint for the hash part's first size */
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
    if (key - m->lo < m->dlen) SL_PREFETCH(&m->d[key - m->lo]);
    else if (m->cap) SL_PREFETCH(&m->e[tf_map_slot(key, m->cap)]);
}

void tf_map_init(tf_map *m);
/* Room for n keys in the hash part without growing (the rehash of every key a doubling
 * costs), taken when the first key goes there: dense keys never need it. */
sl_code tf_map_reserve(tf_map *m, size_t n, sl_err *err);
/* An empty map's direct part set to the ids [lo, lo + len) at once: for keys that come
 * in any order from a range known before (the customer ids of the orders, once the
 * customers' own map has shown theirs dense). */
sl_code tf_map_reserve_range(tf_map *m, uint64_t lo, size_t len, sl_err *err);
void tf_map_free(tf_map *m);
/* The dense index of key (0, 1, 2... in insertion order), adding it if new; *added says
 * whether it was new. */
sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err);
/* The index of key, or -1. */
int64_t tf_map_get(const tf_map *m, uint64_t key);
/* Every key and its index: *pos starts at 0; returns 0 at the end. The direct part's keys
 * come first, in ascending order (as uint64), then the hash part's in no set order. */
int tf_map_next(const tf_map *m, size_t *pos, uint64_t *key, uint32_t *index);

#endif
