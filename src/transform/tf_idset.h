/* tf_idset.h - a set of 64-bit ids (the order ids of the sales window) in at most 4
 * bytes an id: the ids are grouped by their high 48 bits into chunks of 65,536 ids, each
 * chunk the low 16 bits of its ids in an array (2 bytes an id), or a bitmap of 8 KiB once
 * it holds 2,048 (1 bit an id when they are dense; a bit test is also the cheapest lookup,
 * and every order item looks up). Adding is appending; tf_idset_freeze sorts the arrays
 * before the lookups, which then cost a chunk lookup (tf_map) and a bit test or a binary
 * search of fewer than 2,048 entries. */
#ifndef SL_TF_IDSET_H
#define SL_TF_IDSET_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "tf_map.h"

typedef struct tf_idchunk {
    uint16_t *low;  /* the ids' low bits, sorted once frozen (NULL for a bitmap) */
    uint64_t *bits; /* 1,024 words, or NULL */
    uint32_t n, cap;
} tf_idchunk;

typedef struct tf_idset {
    tf_map hi; /* id >> 16 -> chunk */
    tf_idchunk *ch;
    size_t nch, cap;
    size_t bytes; /* the chunks' arrays and bitmaps, and the chunk array */
    int frozen;
} tf_idset;

void tf_idset_init(tf_idset *s);
void tf_idset_free(tf_idset *s);
/* Adds id (again: no harm); after a freeze, the next lookups need a freeze again. */
sl_code tf_idset_add(tf_idset *s, uint64_t id, sl_err *err);
/* Sorts and deduplicates the arrays: call between the adds and the lookups. */
void tf_idset_freeze(tf_idset *s);
/* Whether id was added (the set frozen since the last add). */
int tf_idset_has(const tf_idset *s, uint64_t id);
/* The bytes the set holds, its chunk map included (kept as it grows: constant time).
 * Sparse ids cost more than 4 bytes each: an id alone in its 65,536 costs a chunk, its
 * map entry and an array of 16 (about 70 bytes). */
size_t tf_idset_bytes(const tf_idset *s);
/* Every id, in ascending order (the set frozen first). */
sl_code tf_idset_each(tf_idset *s, sl_code (*fn)(void *ud, uint64_t id, sl_err *err), void *ud, sl_err *err);

#endif
