/* test_select.c - tf_select_i64 (src/transform/analytics.c), the VIP threshold's
 * selection, against qsort of a copy: every rank of inputs made to defeat a quickselect
 * (sorted, reversed, all equal, few distinct values, organ pipes, extremes of int64). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/transform/analytics.h"
#include "test.h"

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Every rank k of v (n values) selected from a fresh copy equals sorted[k - 1]. */
static int all_ranks_agree(const int64_t *v, size_t n)
{
    int64_t *sorted = malloc(n * sizeof *v), *work = malloc(n * sizeof *v);
    memcpy(sorted, v, n * sizeof *v);
    qsort(sorted, n, sizeof *v, cmp);
    int ok = 1;
    size_t step = n > 500 ? n / 97 : 1; /* large inputs: about a hundred ranks, both ends */
    for (size_t k = 1; k <= n && ok; k += (k < 3 || k + 3 > n) ? 1 : step) {
        memcpy(work, v, n * sizeof *v);
        ok = tf_select_i64(work, n, k) == sorted[k - 1];
        if (!ok) fprintf(stderr, "    n=%zu k=%zu: selected differs from sorted %lld\n", n, k, (long long)sorted[k - 1]);
    }
    if (ok && n) { /* the last rank too */
        memcpy(work, v, n * sizeof *v);
        ok = tf_select_i64(work, n, n) == sorted[n - 1];
    }
    free(sorted);
    free(work);
    return ok;
}

static void select_equals_sorting(void)
{
    static const size_t sizes[] = {1, 2, 3, 16, 17, 18, 100, 1000, 20000};
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        int64_t *v = malloc(n * sizeof *v);
        for (int shape = 0; shape < 7; shape++) {
            for (size_t i = 0; i < n; i++) {
                switch (shape) {
                case 0: v[i] = (int64_t)rnd_next(&s); break;                  /* any int64 */
                case 1: v[i] = (int64_t)i; break;                             /* ascending */
                case 2: v[i] = (int64_t)(n - i); break;                       /* descending */
                case 3: v[i] = 42; break;                                     /* all equal */
                case 4: v[i] = (int64_t)(rnd_next(&s) % 3) - 1; break;        /* three values */
                case 5: v[i] = (int64_t)(i < n / 2 ? i : n - i); break;       /* organ pipe */
                default: v[i] = i % 2 ? INT64_MIN : INT64_MAX; break;         /* extremes */
                }
            }
            CHECK(all_ranks_agree(v, n));
        }
        free(v);
    }
}

T_SUITE(suite_select) = {
    {"select_equals_sorting", select_equals_sorting},
    T_END,
};
