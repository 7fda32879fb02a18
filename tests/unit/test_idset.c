/* test_idset.c - the window's id set (src/transform/tf_idset.c) against a plain sorted
 * list of the ids added: dense runs (bitmap chunks), sparse and random ids (arrays),
 * repeats, ids across chunk edges and near 2^64, adds after a freeze. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/transform/tf_idset.h"
#include "test.h"

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int in_model(const uint64_t *sorted, size_t n, uint64_t id)
{
    return bsearch(&id, sorted, n, sizeof *sorted, cmp_u64) != NULL;
}

/* Adds ids[0, n), freezes, then checks every added id and its neighbours (and some
 * random ids) against the model. */
static int check_ids(tf_idset *s, const uint64_t *ids, size_t n, uint64_t seed)
{
    sl_err err = {0};
    for (size_t i = 0; i < n; i++)
        if (tf_idset_add(s, ids[i], &err) != SL_OK) return 0;
    tf_idset_freeze(s);
    uint64_t *m = malloc((n ? n : 1) * sizeof *m);
    if (!m) return 0;
    memcpy(m, ids, n * sizeof *m);
    qsort(m, n, sizeof *m, cmp_u64);
    int ok = 1;
    for (size_t i = 0; ok && i < n; i++) {
        uint64_t v = ids[i];
        ok = tf_idset_has(s, v) && tf_idset_has(s, v - 1) == in_model(m, n, v - 1) &&
             tf_idset_has(s, v + 1) == in_model(m, n, v + 1);
    }
    for (int i = 0; ok && i < 100000; i++) {
        uint64_t v = rnd_next(&seed);
        v = i % 2 ? v : (n ? m[v % n] + v % 131 : v); /* near the ids too */
        ok = tf_idset_has(s, v) == in_model(m, n, v);
    }
    free(m);
    return ok;
}

/* check_ids on a fresh set, which is freed after; *bytes its size. ids is freed too. */
static int check_fresh(uint64_t *ids, size_t n, uint64_t seed, size_t *bytes)
{
    tf_idset s;
    tf_idset_init(&s);
    int ok = check_ids(&s, ids, n, seed);
    *bytes = tf_idset_bytes(&s);
    tf_idset_free(&s);
    free(ids);
    return ok;
}

static void dense_run_becomes_bitmaps(void)
{
    enum { N = 300000 };
    uint64_t *ids = malloc(N * sizeof *ids);
    CHECK(ids != NULL);
    for (size_t i = 0; i < N; i++) ids[i] = 1000 + i;
    size_t bytes;
    CHECK(check_fresh(ids, N, 7, &bytes));
    CHECK(bytes < (size_t)N / 8 + 4 * 8192); /* about a bit an id */
}

static void sparse_ids_in_arrays(void)
{
    enum { N = 200000 };
    uint64_t *ids = malloc(N * sizeof *ids), r = 99;
    CHECK(ids != NULL);
    for (size_t i = 0; i < N; i++) ids[i] = 40 + i * 100 + rnd_next(&r) % 100; /* 1 in 100: ascending, sparse */
    size_t bytes;
    CHECK(check_fresh(ids, N, 11, &bytes));
    CHECK(bytes <= (size_t)N * 4); /* arrays of about 655 ids, 2 bytes each, up to double that room */
}

static void any_order_with_repeats_and_edges(void)
{
    enum { N = 150000 };
    uint64_t *ids = malloc(N * sizeof *ids), r = 12345;
    CHECK(ids != NULL);
    for (size_t i = 0; i < N; i++) {
        uint64_t x = rnd_next(&r);
        switch (i % 5) {
        case 0: ids[i] = x; break;                              /* anywhere in 64 bits */
        case 1: ids[i] = UINT64_MAX - x % 70000; break;         /* near the top */
        case 2: ids[i] = (x % 40) * 65536 + 65535 - x % 3; break; /* at chunk edges */
        case 3: ids[i] = ids[x % i]; break;                     /* a repeat */
        default: ids[i] = x % 5000000; break;                   /* a dense-ish range, any order */
        }
    }
    size_t bytes;
    CHECK(check_fresh(ids, N, 3, &bytes));
}

static void adds_after_a_freeze(void)
{
    enum { N = 20000 };
    uint64_t *ids = malloc(2 * N * sizeof *ids), r = 5;
    CHECK(ids != NULL);
    for (size_t i = 0; i < 2 * N; i++) ids[i] = rnd_next(&r) % 3000000;
    tf_idset s;
    tf_idset_init(&s);
    CHECK(check_ids(&s, ids, N, 1));
    /* more ids after lookups began: in descending order, so that the arrays are unsorted */
    uint64_t *more = ids + N;
    qsort(more, N, sizeof *more, cmp_u64);
    for (size_t i = 0; i < N / 2; i++) {
        uint64_t t = more[i];
        more[i] = more[N - 1 - i];
        more[N - 1 - i] = t;
    }
    sl_err err = {0};
    for (size_t i = 0; i < N; i++) CHECK(tf_idset_add(&s, more[i], &err) == SL_OK);
    int ok = check_ids(&s, ids, 2 * N, 2); /* the first half again: repeats */
    tf_idset_free(&s);
    free(ids);
    CHECK(ok);
}

static void empty_set(void)
{
    tf_idset s;
    tf_idset_init(&s);
    tf_idset_freeze(&s);
    CHECK(!tf_idset_has(&s, 0) && !tf_idset_has(&s, 42) && !tf_idset_has(&s, UINT64_MAX));
    tf_idset_free(&s);
}

typedef struct collected {
    uint64_t *v;
    size_t n, cap;
} collected;

static sl_code collect(void *ud, uint64_t id, sl_err *err)
{
    collected *c = ud;
    if (c->n == c->cap) return sl_err_set(err, SL_E_LIMIT, "more ids than were added");
    c->v[c->n++] = id;
    return SL_OK;
}

/* tf_idset_each gives every id once, ascending (as unsigned), whatever the order of the
 * adds and the kind of chunk (bitmaps, arrays, ids near 2^64, repeats). */
static void each_in_ascending_order(void)
{
    enum { N = 120000 };
    uint64_t *ids = malloc(N * sizeof *ids), r = 77;
    CHECK(ids != NULL);
    for (size_t i = 0; i < N; i++) {
        uint64_t x = rnd_next(&r);
        switch (i % 4) {
        case 0: ids[i] = 500000 + x % 70000; break; /* dense: bitmap chunks */
        case 1: ids[i] = x; break;                  /* anywhere: an array each */
        case 2: ids[i] = UINT64_MAX - x % 1000; break;
        default: ids[i] = ids[x % i]; break;        /* a repeat */
        }
    }
    tf_idset s;
    tf_idset_init(&s);
    sl_err err = {0};
    for (size_t i = 0; i < N; i++) CHECK(tf_idset_add(&s, ids[i], &err) == SL_OK);
    qsort(ids, N, sizeof *ids, cmp_u64);
    size_t u = 0;
    for (size_t i = 0; i < N; i++)
        if (i == 0 || ids[i] != ids[u - 1]) ids[u++] = ids[i];
    collected c = {malloc(N * sizeof(uint64_t)), 0, N};
    CHECK(c.v && tf_idset_each(&s, collect, &c, &err) == SL_OK);
    CHECK_EQ_INT(c.n, u);
    CHECK(memcmp(c.v, ids, u * sizeof *ids) == 0);
    tf_idset_free(&s);
    free(c.v);
    free(ids);
}

/* What an id costs when each is alone in its 65,536: a chunk, its map entry and a small
 * array (the window's bound counts it so), and the count is back at 0 once freed. */
static void sparse_ids_cost_their_chunks(void)
{
    enum { N = 5000 };
    tf_idset s;
    tf_idset_init(&s);
    sl_err err = {0};
    for (uint64_t i = 0; i < N; i++) CHECK(tf_idset_add(&s, i * 100003, &err) == SL_OK);
    size_t bytes = tf_idset_bytes(&s);
    CHECK(bytes >= (size_t)N * (sizeof(tf_idchunk) + 16 * sizeof(uint16_t) + sizeof(tf_map_entry)));
    CHECK(bytes <= (size_t)N * 200);
    tf_idset_free(&s);
    CHECK_EQ_INT(tf_idset_bytes(&s), 0);
}

T_SUITE(suite_idset) = {
    {"dense_run_becomes_bitmaps", dense_run_becomes_bitmaps},
    {"sparse_ids_in_arrays", sparse_ids_in_arrays},
    {"any_order_with_repeats_and_edges", any_order_with_repeats_and_edges},
    {"adds_after_a_freeze", adds_after_a_freeze},
    {"empty_set", empty_set},
    {"each_in_ascending_order", each_in_ascending_order},
    {"sparse_ids_cost_their_chunks", sparse_ids_cost_their_chunks},
    T_END,
};
