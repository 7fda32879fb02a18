/* tf_map.c - the id map (see the header). */
#include "tf_map.h"

#include <string.h>

#include "../common/sl_alloc.h"

#define slot tf_map_slot

enum { DIRECT_SLACK = 4096 }; /* keys the direct part may run ahead of half density */

void tf_map_init(tf_map *m) { memset(m, 0, sizeof *m); }

void tf_map_free(tf_map *m)
{
    sl_free(m->d);
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

static size_t cap_for(size_t n)
{
    size_t nc = 1024;
    while (nc < 2 * n) nc *= 2; /* put grows past half full */
    return nc;
}

sl_code tf_map_reserve(tf_map *m, size_t n, sl_err *err)
{
    if (!m->cap) {
        m->want = n;
        return SL_OK;
    }
    size_t nc = cap_for(n);
    return nc > m->cap ? grow_to(m, nc, err) : SL_OK;
}

sl_code tf_map_reserve_range(tf_map *m, uint64_t lo, size_t len, sl_err *err)
{
    if (m->n || m->d || !len || len > UINT32_MAX) return SL_OK;
    m->d = sl_calloc(len, sizeof *m->d);
    if (!m->d) return sl_err_set(err, SL_E_NOMEM, "out of memory for an id map of %zu ids", len);
    m->lo = lo;
    m->dlen = m->dcap = len;
    return SL_OK;
}

/* The hash part's slot of key: its entry, or the empty slot where it would go. */
static tf_map_entry *hash_find(const tf_map *m, uint64_t key)
{
    size_t s = slot(key, m->cap);
    while (m->e[s].val && m->e[s].key != key) s = (s + 1) & (m->cap - 1);
    return &m->e[s];
}

/* Whether the direct part can take key, stretching its range up to it (keys above the
 * range only: ids come in ascending runs) while at least half of it stays used. */
static sl_code direct_take(tf_map *m, uint64_t key, int *ok, sl_err *err)
{
    *ok = 0;
    if (!m->d && m->n == 0) m->lo = key; /* the first key starts the range */
    if (key < m->lo) return SL_OK;
    uint64_t len = key - m->lo + 1;
    if (len <= m->dlen) {
        *ok = 1;
        return SL_OK;
    }
    if (len > 2 * (uint64_t)(m->n + 1) + DIRECT_SLACK || len > UINT32_MAX) return SL_OK;
    if (len > m->dcap) {
        size_t nc = m->dcap ? m->dcap : DIRECT_SLACK;
        while (nc < len) nc *= 2;
        uint32_t *nd = sl_realloc(m->d, nc * sizeof *nd);
        if (!nd) return sl_err_set(err, SL_E_NOMEM, "out of memory growing an id map to %zu ids", nc);
        memset(nd + m->dcap, 0, (nc - m->dcap) * sizeof *nd);
        m->d = nd;
        m->dcap = nc;
    }
    m->dlen = (size_t)len;
    *ok = 1;
    return SL_OK;
}

sl_code tf_map_put(tf_map *m, uint64_t key, uint32_t *index, int *added, sl_err *err)
{
    uint32_t *dv = NULL;
    if (key - m->lo < m->dlen) {
        dv = &m->d[key - m->lo];
        if (*dv) {
            *index = *dv - 1;
            if (added) *added = 0;
            return SL_OK;
        }
    }
    if (m->hn) { /* put before the direct range reached it? */
        tf_map_entry *e = hash_find(m, key);
        if (e->val) {
            *index = e->val - 1;
            if (added) *added = 0;
            return SL_OK;
        }
    }
    if (m->n >= UINT32_MAX - 1) return sl_err_set(err, SL_E_LIMIT, "more than 4 billion distinct ids");
    if (!dv) {
        int ok;
        SL_TRY(direct_take(m, key, &ok, err));
        if (ok) dv = &m->d[key - m->lo];
    }
    if (dv) {
        *dv = (uint32_t)++m->n;
    } else {
        if ((m->hn + 1) * 2 > m->cap) SL_TRY(grow_to(m, m->cap ? m->cap * 2 : cap_for(m->want), err));
        tf_map_entry *e = hash_find(m, key);
        e->key = key;
        e->val = (uint32_t)++m->n;
        m->hn++;
    }
    *index = (uint32_t)(m->n - 1);
    if (added) *added = 1;
    return SL_OK;
}

int64_t tf_map_get(const tf_map *m, uint64_t key)
{
    if (key - m->lo < m->dlen && m->d[key - m->lo]) return (int64_t)m->d[key - m->lo] - 1;
    if (!m->hn) return -1;
    const tf_map_entry *e = hash_find(m, key);
    return e->val ? (int64_t)e->val - 1 : -1;
}

int tf_map_next(const tf_map *m, size_t *pos, uint64_t *key, uint32_t *index)
{
    for (; *pos < m->dlen; (*pos)++) {
        if (!m->d[*pos]) continue;
        *key = m->lo + *pos;
        *index = m->d[*pos] - 1;
        (*pos)++;
        return 1;
    }
    for (; *pos < m->dlen + m->cap; (*pos)++) {
        const tf_map_entry *e = &m->e[*pos - m->dlen];
        if (!e->val) continue;
        *key = e->key;
        *index = e->val - 1;
        (*pos)++;
        return 1;
    }
    return 0;
}
