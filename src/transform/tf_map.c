/* tf_map.c - the id hash map (see the header). */
#include "tf_map.h"

#include "../common/sl_alloc.h"

#define slot tf_map_slot

void tf_map_init(tf_map *m)
{
    m->e = NULL;
    m->cap = m->n = 0;
}

void tf_map_free(tf_map *m)
{
    sl_free(m->e);
    tf_map_init(m);
}

static sl_code grow_to(tf_map *m, size_t nc, sl_err *err)
{
    tf_map_entry *ne = sl_calloc(nc, sizeof *ne);
    if (!ne) return sl_err_set(err, SL_E_NOMEM, "out of memory growing an id map to %zu entries", nc);
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->e[i].val) continue;
        size_t s = slot(m->e[i].key, nc);
        while (ne[s].val) s = (s + 1) & (nc - 1);
        ne[s] = m->e[i];
    }
    sl_free(m->e);
    m->e = ne;
    m->cap = nc;
    return SL_OK;
}

static sl_code grow(tf_map *m, sl_err *err) { return grow_to(m, m->cap ? m->cap * 2 : 1024, err); }

sl_code tf_map_reserve(tf_map *m, size_t n, sl_err *err)
{
    size_t nc = m->cap ? m->cap : 1024;
    while (nc < 2 * n) nc *= 2; /* put grows past half full */
    return nc > m->cap ? grow_to(m, nc, err) : SL_OK;
}

sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err)
{
    if ((m->n + 1) * 2 > m->cap) SL_TRY(grow(m, err));
    if (m->n >= UINT32_MAX - 1) return sl_err_set(err, SL_E_LIMIT, "more than 4 billion distinct ids");
    size_t s = slot(key, m->cap);
    while (m->e[s].val) {
        if (m->e[s].key == key) {
            *index = m->e[s].val - 1;
            if (added) *added = 0;
            return SL_OK;
        }
        s = (s + 1) & (m->cap - 1);
    }
    m->e[s].key = key;
    m->e[s].val = (uint32_t)++m->n;
    *index = (uint32_t)(m->n - 1);
    if (added) *added = 1;
    return SL_OK;
}

int64_t tf_map_get(const tf_map *m, uint64_t key)
{
    if (!m->cap) return -1;
    size_t s = slot(key, m->cap);
    while (m->e[s].val) {
        if (m->e[s].key == key) return (int64_t)m->e[s].val - 1;
        s = (s + 1) & (m->cap - 1);
    }
    return -1;
}
