/* test_tfmap.c - the analytics' id map (src/transform/tf_map.c) against a plain list of
 * the keys put so far: every key pattern that moves keys between the direct and the
 * hash part (ascending runs, any order, gaps, keys below the first, a range reserved
 * ahead, a hash key that the growing direct range reaches later). */
#include <stdint.h>
#include <stdlib.h>

#include "../../src/transform/tf_map.h"
#include "test.h"

typedef struct model {
    uint64_t *keys; /* keys[i] has index i */
    size_t n;
} model;

static int64_t model_get(const model *md, uint64_t key)
{
    for (size_t i = 0; i < md->n; i++)
        if (md->keys[i] == key) return (int64_t)i;
    return -1;
}

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Puts every key of `keys` (repeats allowed), checking put and get against the model at
 * each step, then that iteration gives each key once with its index. */
static int run_keys(tf_map *m, const uint64_t *keys, size_t count)
{
    model md = {calloc(count + 1, sizeof(uint64_t)), 0};
    sl_err err = {0};
    int ok = md.keys != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        int64_t want = model_get(&md, keys[i]);
        if (tf_map_get(m, keys[i]) != want) ok = 0;
        uint32_t idx;
        int added = -1;
        if (tf_map_put(m, keys[i], &idx, &added, &err) != SL_OK) ok = 0;
        if (want < 0) {
            if (!added || idx != md.n) ok = 0;
            md.keys[md.n++] = keys[i];
        } else if (added || (int64_t)idx != want) {
            ok = 0;
        }
        if (m->n != md.n) ok = 0;
    }
    size_t pos = 0, seen = 0;
    uint64_t key;
    uint32_t idx;
    uint8_t *hit = calloc(md.n + 1, 1);
    while (ok && hit && tf_map_next(m, &pos, &key, &idx)) {
        if (idx >= md.n || md.keys[idx] != key || hit[idx]) ok = 0;
        else hit[idx] = 1;
        seen++;
    }
    if (seen != md.n || !hit) ok = 0;
    for (size_t i = 0; ok && i < 64; i++) /* absent keys stay absent */
        if (model_get(&md, md.n ? md.keys[i % md.n] + 1000003 : i) < 0 &&
            tf_map_get(m, md.n ? md.keys[i % md.n] + 1000003 : i) != -1)
            ok = 0;
    free(hit);
    free(md.keys);
    return ok;
}

static void ascending_dense_then_gaps(void)
{
    enum { N = 20000 };
    uint64_t *k = malloc(N * sizeof *k);
    CHECK(k != NULL);
    for (size_t i = 0; i < N; i++) k[i] = i < N / 2 ? 1000 + i : 1000 + i * 7; /* dense, then 1 in 7 */
    tf_map m;
    tf_map_init(&m);
    int ok = run_keys(&m, k, N);
    CHECK(m.dlen > 0); /* the dense run went direct */
    tf_map_free(&m);
    free(k);
    CHECK(ok);
}

static void any_order_with_repeats_and_negatives(void)
{
    enum { N = 20000 };
    uint64_t *k = malloc(N * sizeof *k), s = 0x9E3779B97F4A7C15ULL;
    CHECK(k != NULL);
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rnd_next(&s);
        switch (r % 4) {
        case 0: k[i] = r >> 40; break;                   /* a random id below 2^24 */
        case 1: k[i] = (uint64_t)-(int64_t)(r % 5000); break; /* a negative id */
        case 2: k[i] = i ? k[(r >> 8) % i] : 7; break;   /* a repeat */
        default: k[i] = 5000 + (r >> 50); break;          /* a dense-ish block */
        }
    }
    tf_map m;
    tf_map_init(&m);
    int ok = run_keys(&m, k, N);
    tf_map_free(&m);
    free(k);
    CHECK(ok);
}

static void hash_key_reached_by_the_direct_range(void)
{
    /* 100 starts the range; 9000 is too far ahead and goes to the hash part; the run
     * 101..12000 then stretches the range over 9000, whose direct slot stays empty: the
     * put of 9000 in the run must find it in the hash part, not add it twice. */
    enum { N = 12000 };
    uint64_t *k = malloc((N + 4) * sizeof *k);
    CHECK(k != NULL);
    size_t n = 0;
    k[n++] = 100;
    k[n++] = 9000;
    for (uint64_t v = 101; v <= N; v++) k[n++] = v;
    k[n++] = 9000;
    tf_map m;
    tf_map_init(&m);
    int ok = run_keys(&m, k, n);
    CHECK(m.hn == 1 && m.lo == 100 && m.dlen >= N - 99);
    tf_map_free(&m);
    free(k);
    CHECK(ok);
}

static void range_reserved_ahead(void)
{
    enum { N = 20000 };
    uint64_t *k = malloc(N * sizeof *k), s = 12345;
    CHECK(k != NULL);
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rnd_next(&s);
        k[i] = r % 10 == 0 ? 1 + (r >> 20) : 10 + r % 40000; /* mostly inside [10, 40010) */
    }
    tf_map m;
    tf_map_init(&m);
    sl_err err = {0};
    CHECK(tf_map_reserve_range(&m, 10, 40000, &err) == SL_OK);
    CHECK(tf_map_reserve(&m, 100, &err) == SL_OK);
    int ok = run_keys(&m, k, N);
    CHECK(m.lo == 10 && m.dlen == 40000);
    tf_map_free(&m);
    free(k);
    CHECK(ok);
}

T_SUITE(suite_tfmap) = {
    {"ascending_dense_then_gaps", ascending_dense_then_gaps},
    {"any_order_with_repeats_and_negatives", any_order_with_repeats_and_negatives},
    {"hash_key_reached_by_the_direct_range", hash_key_reached_by_the_direct_range},
    {"range_reserved_ahead", range_reserved_ahead},
    T_END,
};
