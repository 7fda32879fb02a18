/* test_incremental.c - the option forms of incremental loads (--lookback,
 * --incremental-nulls) and the partition folders of --layout. The watermark itself is
 * tested end to end against MariaDB in tests/integration/test_incremental.py. */
#include <string.h>

#include "../../src/exec/incremental.h"
#include "../../src/exec/layout.h"
#include "test.h"

static void lookback_forms(void)
{
    sl_incr_lookback lb;
    sl_err e;
    CHECK_EQ_INT(sl_incr_lookback_parse("1000", &lb, &e), SL_OK);
    CHECK(lb.given && !lb.is_duration);
    CHECK_EQ_INT(lb.count, 1000);
    CHECK_STR(lb.text, "1000");
    CHECK_EQ_INT(sl_incr_lookback_parse("0", &lb, &e), SL_OK);
    CHECK_EQ_INT(lb.count, 0);
    CHECK_EQ_INT(sl_incr_lookback_parse("9223372036854775807", &lb, &e), SL_OK);
    CHECK_EQ_INT(sl_incr_lookback_parse("9223372036854775808", &lb, &e), SL_E_USAGE); /* past int64 */
    CHECK_EQ_INT(sl_incr_lookback_parse("90s", &lb, &e), SL_OK);
    CHECK(lb.given && lb.is_duration);
    CHECK_EQ_INT(lb.us, 90000000LL);
    CHECK_EQ_INT(sl_incr_lookback_parse("1h30m", &lb, &e), SL_OK);
    CHECK_EQ_INT(lb.us, 5400000000LL);
    CHECK_EQ_INT(sl_incr_lookback_parse("2d", &lb, &e), SL_OK);
    CHECK_EQ_INT(lb.us, 172800000000LL);
    CHECK_EQ_INT(sl_incr_lookback_parse("36500d", &lb, &e), SL_OK); /* the 100-year cap itself */
    CHECK_EQ_INT(sl_incr_lookback_parse("36500d1s", &lb, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_incr_lookback_parse("99999999999999999999h", &lb, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_incr_lookback_parse("3000000000d", &lb, &e), SL_E_USAGE); /* n * unit would overflow */
    CHECK_EQ_INT(sl_incr_lookback_parse("36499d24h", &lb, &e), SL_OK);
    CHECK_EQ_INT(sl_incr_lookback_parse("36499d24h1s", &lb, &e), SL_E_USAGE);
    static const char *const bad[] = {"", "h", "2", "2x", "1.5h", "-1", "-1h", "1h-", "1 h", "h1", "2hh", "1w"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (strcmp(bad[i], "2") == 0) continue; /* a count: valid */
        CHECK_EQ_INT(sl_incr_lookback_parse(bad[i], &lb, &e), SL_E_USAGE);
        CHECK(!lb.given);
        CHECK(strstr(e.msg, bad[i]));
    }
    CHECK_EQ_INT(sl_incr_lookback_parse(NULL, &lb, NULL), SL_E_USAGE);
}

static void nulls_forms(void)
{
    sl_incr_nulls n = SL_INCR_NULLS_ERROR;
    sl_err e;
    CHECK_EQ_INT(sl_incr_nulls_parse("include", &n, &e), SL_OK);
    CHECK_EQ_INT(n, SL_INCR_NULLS_INCLUDE);
    CHECK_EQ_INT(sl_incr_nulls_parse("skip", &n, &e), SL_OK);
    CHECK_EQ_INT(n, SL_INCR_NULLS_SKIP);
    CHECK_EQ_INT(sl_incr_nulls_parse("error", &n, &e), SL_OK);
    CHECK_EQ_INT(n, SL_INCR_NULLS_ERROR);
    CHECK_EQ_INT(sl_incr_nulls_parse("Skip", &n, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "Skip"));
}

static void layout_partitions(void)
{
    char buf[64];
    sl_layout l = SL_LAYOUT_HIVE;
    sl_err e;
    CHECK_EQ_INT(sl_layout_parse("date", &l, &e), SL_OK);
    CHECK_EQ_INT(l, SL_LAYOUT_DATE);
    sl_layout_partition(l, "raw/orders", "2026-12-02", buf, sizeof buf);
    CHECK_STR(buf, "raw/orders/2026-12-02");
    CHECK_EQ_INT(sl_layout_parse("hive", &l, &e), SL_OK);
    sl_layout_partition(l, "raw/orders", "2026-12-02", buf, sizeof buf);
    CHECK_STR(buf, "raw/orders/date=2026-12-02");
    sl_layout_partition(l, "business_insights", "2026-12-02", buf, sizeof buf);
    CHECK_STR(buf, "business_insights/date=2026-12-02");
    CHECK_STR(sl_layout_name(l), "hive");
    CHECK_EQ_INT(sl_layout_parse("Hive", &l, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "Hive"));
}

T_SUITE(suite_incremental) = {
    {"lookback_forms", lookback_forms},
    {"nulls_forms", nulls_forms},
    {"layout_partitions", layout_partitions},
    T_END,
};
