/* tf_map.c - the id hash map (see the header). */
#include "tf_map.h"

#include "../common/sl_alloc.h"

static size_t slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

void tf_map_init(tf_map *m)
{
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->n = 0;
}

void tf_map_free(tf_map *m)
{
    sl_free(m->keys);
    sl_free(m->vals);
    tf_map_init(m);
}

static sl_code grow(tf_map *m, sl_err *err)
{
    size_t nc = m->cap ? m->cap * 2 : 1024;
    uint64_t *nk = sl_malloc(nc * sizeof *nk);
    uint32_t *nv = sl_calloc(nc, sizeof *nv);
    if (!nk || !nv) {
        sl_free(nk);
        sl_free(nv);
        return sl_err_set(err, SL_E_NOMEM, "out of memory growing an id map to %zu entries", nc);
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->vals[i]) continue;
        size_t s = slot(m->keys[i], nc);
        while (nv[s]) s = (s + 1) & (nc - 1);
        nk[s] = m->keys[i];
        nv[s] = m->vals[i];
    }
    sl_free(m->keys);
    sl_free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
    return SL_OK;
}

sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err)
{
    if ((m->n + 1) * 2 > m->cap) SL_TRY(grow(m, err));
    if (m->n >= UINT32_MAX - 1) return sl_err_set(err, SL_E_LIMIT, "more than 4 billion distinct ids");
    size_t s = slot(key, m->cap);
    while (m->vals[s]) {
        if (m->keys[s] == key) {
            *index = m->vals[s] - 1;
            if (added) *added = 0;
            return SL_OK;
        }
        s = (s + 1) & (m->cap - 1);
    }
    m->keys[s] = key;
    m->vals[s] = (uint32_t)++m->n;
    *index = (uint32_t)(m->n - 1);
    if (added) *added = 1;
    return SL_OK;
}

int64_t tf_map_get(const tf_map *m, uint64_t key)
{
    if (!m->cap) return -1;
    size_t s = slot(key, m->cap);
    while (m->vals[s]) {
        if (m->keys[s] == key) return (int64_t)m->vals[s] - 1;
        s = (s + 1) & (m->cap - 1);
    }
    return -1;
}
