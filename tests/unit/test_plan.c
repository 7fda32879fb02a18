/* test_plan.c - the parts of chunk planning that need no server: a plan's JSON form
 * (read back exactly; plans that would lose or repeat rows refused), the WHERE text of a
 * range, and chunks grouped into balanced ranges. The planning queries are tested against MariaDB in
 * tests/integration/test_partitions.py. */
#include <jansson.h>
#include <stdint.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/mysql/my_plan.h"
#include "test.h"

static void plan_json_round_trip(void)
{
    my_chunk ch[3] = {{{0, 1, 0, -5}, 10}, {{1, 1, -5, 1000}, 20}, {{1, 0, 1000, 0}, -1}};
    my_plan p = {ch, 3, 1, INT64_MIN, INT64_MAX, 1, 30, 7, 0.25};
    json_t *j = my_plan_json(&p);
    char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    CHECK(text != NULL);
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    free(text);
    my_plan q;
    sl_err err = {0};
    CHECK_EQ_INT(my_plan_from_json(back, &q, &err), SL_OK);
    CHECK_EQ_INT(q.count, 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(q.chunks[i].r.has_lo, ch[i].r.has_lo);
        CHECK_EQ_INT(q.chunks[i].r.has_hi, ch[i].r.has_hi);
        if (ch[i].r.has_lo) CHECK_EQ_INT(q.chunks[i].r.lo, ch[i].r.lo);
        if (ch[i].r.has_hi) CHECK_EQ_INT(q.chunks[i].r.hi, ch[i].r.hi);
        CHECK_EQ_INT(q.chunks[i].est_rows, ch[i].est_rows);
    }
    CHECK(q.has_keys && q.min == INT64_MIN && q.max == INT64_MAX && q.indexed && q.est_rows == 30 && q.probes == 7);
    my_plan_free(&q);
    my_plan_free(&q); /* twice: harmless */
    json_decref(j);
    json_decref(back);
}

static void plan_json_that_loses_rows_is_refused(void)
{
    static const char *const bad[] = {
        "{\"chunks\": []}",
        "{\"chunks\": [{\"from\": 1}]}",                                    /* the first must be open below */
        "{\"chunks\": [{\"to_before\": 5}]}",                               /* the last must be open above */
        "{\"chunks\": [{\"to_before\": 5}, {\"from\": 6}]}",                /* a gap: key 5 in no chunk */
        "{\"chunks\": [{\"to_before\": 5}, {\"from\": 4}]}",                /* an overlap: key 4 twice */
        "{\"chunks\": [{\"to_before\": 5}, {\"from\": 5, \"to_before\": 5}, {\"from\": 5}]}", /* empty */
        "{\"chunks\": [{\"to_before\": \"5\"}, {\"from\": 5}]}",
        "{\"chunks\": 3}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i], 0, &je);
        CHECK(j != NULL);
        my_plan q;
        sl_err err = {0};
        CHECK_EQ_INT(my_plan_from_json(j, &q, &err), SL_E_FORMAT);
        CHECK(q.chunks == NULL && err.msg[0]);
        json_decref(j);
    }
}

static void range_where_text(void)
{
    char buf[200];
    my_range r = {1, 1, -3, 7};
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "`k` BETWEEN -3 AND 6");
    r = (my_range){1, 1, INT64_MIN, INT64_MIN + 1}; /* one key: the bounds' ends */
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "`k` BETWEEN -9223372036854775808 AND -9223372036854775808");
    r = (my_range){1, 1, 5, 5}; /* no key: no row */
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "1=0");
    r = (my_range){1, 1, INT64_MAX - 1, INT64_MAX};
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "`k` BETWEEN 9223372036854775806 AND 9223372036854775806");
    r = (my_range){0, 1, 0, INT64_MIN + 1};
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "(`k` < -9223372036854775807 OR `k` IS NULL)");
    r = (my_range){1, 0, INT64_MAX, 0};
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "`k` >= 9223372036854775807");
    r = (my_range){0, 0, 0, 0};
    my_range_where(&r, "`k`", buf, sizeof buf);
    CHECK_STR(buf, "1=1");
}

static void group_keeps_order_and_balance(void)
{
    /* 8 chunks with estimates; 3 groups of about a third each, contiguous, open ends */
    my_chunk ch[8];
    int64_t est[8] = {10, 10, 10, 100, 10, 10, 10, 10};
    for (int i = 0; i < 8; i++) ch[i] = (my_chunk){{i > 0, i < 7, i * 10, (i + 1) * 10}, est[i]};
    my_plan p = {ch, 8, 1, 0, 79, 1, 170, 8, 0};
    my_range *g = NULL;
    int n = 0;
    sl_err err = {0};
    CHECK_EQ_INT(my_plan_group(&p, 3, &g, &n, &err), SL_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(!g[0].has_lo && g[0].has_hi && g[0].hi == 40); /* 10+10+10+100 passes 170/3 */
    CHECK(g[1].has_lo && g[1].lo == 40 && g[1].has_hi && g[1].hi == 60); /* half of the 40 left */
    CHECK(g[2].has_lo && g[2].lo == 60 && !g[2].has_hi);
    sl_free(g);
    /* more groups than chunks: one chunk each */
    CHECK_EQ_INT(my_plan_group(&p, 50, &g, &n, &err), SL_OK);
    CHECK_EQ_INT(n, 8);
    for (int i = 0; i < 8; i++) CHECK(g[i].has_lo == (i > 0) && g[i].has_hi == (i < 7));
    sl_free(g);
    CHECK_EQ_INT(my_plan_group(&p, 1, &g, &n, &err), SL_OK);
    CHECK(n == 1 && !g[0].has_lo && !g[0].has_hi);
    sl_free(g);
}

const t_case suite_plan[] = {
    {"plan_json_round_trip", plan_json_round_trip},
    {"plan_json_that_loses_rows_is_refused", plan_json_that_loses_rows_is_refused},
    {"range_where_text", range_where_text},
    {"group_keeps_order_and_balance", group_keeps_order_and_balance},
    {NULL, NULL},
};
