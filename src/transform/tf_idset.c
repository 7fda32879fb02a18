/* tf_idset.c - the id set (see the header). */
#include "tf_idset.h"

#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"

enum { ARRAY_MAX = 2048, WORDS = 65536 / 64 }; /* 2,048 ids and more: a bitmap, at most 4 bytes an id */

void tf_idset_init(tf_idset *s) { memset(s, 0, sizeof *s); }

void tf_idset_free(tf_idset *s)
{
    for (size_t i = 0; i < s->nch; i++) {
        sl_free(s->ch[i].low);
        sl_free(s->ch[i].bits);
    }
    sl_free(s->ch);
    tf_map_free(&s->hi);
    tf_idset_init(s);
}

static sl_code to_bitmap(tf_idset *s, tf_idchunk *c, sl_err *err)
{
    uint64_t *b = sl_calloc(WORDS, sizeof *b);
    if (!b) return sl_err_set(err, SL_E_NOMEM, "out of memory for the window's orders");
    for (uint32_t i = 0; i < c->n; i++) b[c->low[i] / 64] |= (uint64_t)1 << (c->low[i] % 64);
    sl_free(c->low);
    s->bytes += WORDS * sizeof *b - c->cap * sizeof *c->low;
    c->low = NULL;
    c->bits = b;
    c->n = c->cap = 0;
    return SL_OK;
}

sl_code tf_idset_add(tf_idset *s, uint64_t id, sl_err *err)
{
    uint32_t k;
    int added;
    SL_TRY(tf_map_put(&s->hi, id >> 16, &k, &added, err));
    if (added) {
        if (s->nch == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 64;
            tf_idchunk *n = sl_realloc(s->ch, nc * sizeof *n);
            if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for the window's orders");
            s->bytes += (nc - s->cap) * sizeof *n;
            s->ch = n;
            s->cap = nc;
        }
        memset(&s->ch[s->nch++], 0, sizeof *s->ch);
    }
    tf_idchunk *c = &s->ch[k];
    uint16_t low = (uint16_t)(id & 0xffff);
    if (c->bits) {
        c->bits[low / 64] |= (uint64_t)1 << (low % 64);
        return SL_OK;
    }
    if (c->n == c->cap) {
        if (c->cap == ARRAY_MAX) {
            SL_TRY(to_bitmap(s, c, err));
            c->bits[low / 64] |= (uint64_t)1 << (low % 64);
            return SL_OK;
        }
        uint32_t nc = c->cap ? c->cap * 2 : 16;
        uint16_t *n = sl_realloc(c->low, nc * sizeof *n);
        if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory for the window's orders");
        s->bytes += (nc - c->cap) * sizeof *n;
        c->low = n;
        c->cap = nc;
    }
    c->low[c->n++] = low;
    s->frozen = 0;
    return SL_OK;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

void tf_idset_freeze(tf_idset *s)
{
    if (s->frozen) return;
    for (size_t i = 0; i < s->nch; i++) {
        tf_idchunk *c = &s->ch[i];
        if (c->bits || c->n < 2) continue;
        int sorted = 1;
        for (uint32_t j = 1; j < c->n && sorted; j++) sorted = c->low[j] > c->low[j - 1];
        if (sorted) continue; /* a scan in key order gives them so */
        qsort(c->low, c->n, sizeof *c->low, cmp_u16);
        uint32_t k = 1;
        for (uint32_t j = 1; j < c->n; j++)
            if (c->low[j] != c->low[k - 1]) c->low[k++] = c->low[j];
        c->n = k;
    }
    s->frozen = 1;
}

int tf_idset_has(const tf_idset *s, uint64_t id)
{
    int64_t k = tf_map_get(&s->hi, id >> 16);
    if (k < 0) return 0;
    const tf_idchunk *c = &s->ch[k];
    uint16_t low = (uint16_t)(id & 0xffff);
    if (c->bits) return (int)(c->bits[low / 64] >> (low % 64) & 1);
    uint32_t lo = 0, hi = c->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (c->low[mid] < low) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n && c->low[lo] == low;
}

size_t tf_idset_bytes(const tf_idset *s)
{
    return s->bytes + s->hi.dcap * sizeof *s->hi.d + s->hi.cap * sizeof *s->hi.e;
}

typedef struct chunk_key {
    uint64_t hi;
    uint32_t k;
} chunk_key;

static int cmp_chunk_key(const void *a, const void *b)
{
    const chunk_key *x = a, *y = b;
    return x->hi < y->hi ? -1 : x->hi > y->hi;
}

sl_code tf_idset_each(tf_idset *s, sl_code (*fn)(void *ud, uint64_t id, sl_err *err), void *ud, sl_err *err)
{
    tf_idset_freeze(s);
    chunk_key *keys = sl_malloc((s->nch ? s->nch : 1) * sizeof *keys);
    if (!keys) return sl_err_set(err, SL_E_NOMEM, "out of memory ordering the window's orders");
    size_t pos = 0, n = 0;
    uint64_t hi;
    uint32_t k;
    while (tf_map_next(&s->hi, &pos, &hi, &k)) keys[n++] = (chunk_key){hi, k};
    qsort(keys, n, sizeof *keys, cmp_chunk_key);
    sl_code rc = SL_OK;
    for (size_t i = 0; rc == SL_OK && i < n; i++) {
        const tf_idchunk *c = &s->ch[keys[i].k];
        uint64_t base = keys[i].hi << 16;
        if (c->bits) {
            for (uint32_t w = 0; rc == SL_OK && w < WORDS; w++)
                for (uint64_t b = c->bits[w]; rc == SL_OK && b; b &= b - 1)
                    rc = fn(ud, base | (uint64_t)(w * 64 + (uint32_t)__builtin_ctzll(b)), err);
        } else {
            for (uint32_t j = 0; rc == SL_OK && j < c->n; j++) rc = fn(ud, base | c->low[j], err);
        }
    }
    sl_free(keys);
    return rc;
}
