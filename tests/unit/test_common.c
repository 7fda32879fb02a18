/* test_common.c - errors, capped buffers, calendar arithmetic, allocation faults. */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_buf.h"
#include "../../src/common/sl_error.h"
#include "../../src/common/sl_stop.h"
#include "../../src/common/sl_time.h"
#include "test.h"

static void error_messages_and_exit_codes(void)
{
    sl_err e = {0};
    CHECK_EQ_INT(sl_err_set(&e, SL_E_CONFIG, "bad %s", "x"), SL_E_CONFIG);
    CHECK_STR(e.msg, "bad x");
    sl_err_prefix(&e, "file %s: ", ".env");
    CHECK_STR(e.msg, "file .env: bad x");
    CHECK_EQ_INT(sl_err_set(NULL, SL_E_IO, "ignored"), SL_E_IO);
    CHECK_EQ_INT(sl_exit_code(SL_OK), 0);
    CHECK_EQ_INT(sl_exit_code(SL_E_USAGE), 2);
    CHECK_EQ_INT(sl_exit_code(SL_E_CONFIG), 3);
    CHECK_EQ_INT(sl_exit_code(SL_E_DB_AUTH), 4);
    CHECK_EQ_INT(sl_exit_code(SL_E_DB_CONNECT), 4);
    CHECK_EQ_INT(sl_exit_code(SL_E_SCHEMA), 5);
    CHECK_EQ_INT(sl_exit_code(SL_E_FORMAT), 8);
    CHECK_EQ_INT(sl_exit_code(SL_E_DB_LOST), 1);
    for (int c = 0; c < SL_E__COUNT; c++) CHECK(strcmp(sl_strerror((sl_code)c), "unknown error") != 0);
}

static atomic_int hook_runs;
static void count_hook(void *ud) { atomic_fetch_add((atomic_int *)ud, 1); }

/* A real SIGTERM to this process: the handler records it, the watcher thread runs the
 * hooks once, the exit code is 143, a shield hides it from the calling thread only. */
static void stop_on_signal(void)
{
    sl_err e = {0};
    CHECK_EQ_INT(sl_stop_install(&e), SL_OK);
    CHECK_EQ_INT(sl_stop_hook_add(count_hook, &hook_runs, &e), SL_OK);
    CHECK_EQ_INT(sl_stop_requested(), 0);
    CHECK_EQ_INT(sl_stop_check(&e), SL_OK);
    raise(SIGTERM);
    for (int i = 0; i < 200 && atomic_load(&hook_runs) == 0; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
    CHECK_EQ_INT(atomic_load(&hook_runs), 1);
    CHECK_EQ_INT(sl_stop_requested(), SIGTERM);
    CHECK_EQ_INT(sl_stop_check(&e), SL_E_STOPPED);
    CHECK_STR(e.msg, "stopped by SIGTERM");
    CHECK_EQ_INT(sl_exit_code(SL_E_STOPPED), 143);
    CHECK_EQ_INT(sl_stop_override(SL_E_DB_LOST, &e), SL_E_STOPPED);
    CHECK_EQ_INT(sl_stop_override(SL_OK, &e), SL_OK);
    CHECK(sl_stop_interrupts());
    sl_stop_shield(1);
    CHECK(!sl_stop_interrupts());
    sl_stop_shield(0);
    sl_stop_uninstall();
    sl_stop_reset();
    CHECK_EQ_INT(sl_stop_requested(), 0);
    sl_stop_request(SIGINT); /* without a signal: the hooks run on the caller */
    CHECK_EQ_INT(atomic_load(&hook_runs), 2);
    CHECK_EQ_INT(sl_exit_code(SL_E_STOPPED), 130);
    sl_stop_reset();
}

static void buffer_cap_is_enforced(void)
{
    sl_buf b;
    sl_err e = {0};
    sl_buf_init(&b, 10);
    CHECK_EQ_INT(sl_buf_append(&b, "0123456789", 10, &e), SL_OK);
    CHECK_EQ_INT(sl_buf_append(&b, "x", 1, &e), SL_E_LIMIT);
    CHECK(strstr(e.msg, "limit of 10 bytes") != NULL);
    CHECK_EQ_INT(b.len, 10);
    sl_buf_reset(&b);
    CHECK_EQ_INT(sl_buf_printf(&b, &e, "%d-%s", 42, "ab"), SL_OK);
    CHECK_EQ_INT(b.len, 5);
    CHECK_STR((char *)b.data, "42-ab");
    sl_buf_free(&b);
}

static void allocation_failure_is_reported(void)
{
    sl_buf b;
    sl_err e = {0};
    sl_buf_init(&b, 0);
    sl_alloc_fail_after(0);
    CHECK_EQ_INT(sl_buf_append(&b, "x", 1, &e), SL_E_NOMEM);
    sl_alloc_fail_after(-1);
    CHECK_EQ_INT(sl_buf_append(&b, "x", 1, &e), SL_OK);
    sl_buf_free(&b);
}

static void civil_days_round_trip(void)
{
    /* Known values: 1970-01-01 = 0, 2000-03-01 = 11017, 1969-12-31 = -1,
     * 9999-12-31 = 2932896, 1000-01-01 = -354285, 0001-01-01 = -719162. */
    CHECK_EQ_INT(sl_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ_INT(sl_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ_INT(sl_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ_INT(sl_days_from_civil(9999, 12, 31), 2932896);
    CHECK_EQ_INT(sl_days_from_civil(1000, 1, 1), -354285);
    CHECK_EQ_INT(sl_days_from_civil(1, 1, 1), -719162);
    for (int32_t d = -800000; d < 3000000; d += 997) {
        int y;
        unsigned m, dd;
        sl_civil_from_days(d, &y, &m, &dd);
        CHECK(sl_date_valid(y, m, dd));
        CHECK_EQ_INT(sl_days_from_civil(y, m, dd), d);
    }
    CHECK(!sl_date_valid(2023, 2, 29));
    CHECK(sl_date_valid(2024, 2, 29));
    CHECK(!sl_date_valid(1900, 2, 29));
    CHECK(sl_date_valid(2000, 2, 29));
    CHECK(!sl_date_valid(2024, 0, 10));
}

static void timestamps_parse_and_format(void)
{
    int64_t t;
    char buf[40];
    sl_err e = {0};
    CHECK_EQ_INT(sl_ts_parse("2024-01-02 03:04:05", &t, &e), SL_OK);
    CHECK_EQ_INT(t, 1704164645LL * 1000000);
    sl_ts_format(t, buf, sizeof buf);
    CHECK_STR(buf, "2024-01-02 03:04:05");
    CHECK_EQ_INT(sl_ts_parse("1969-12-31 23:59:59.5", &t, &e), SL_OK);
    CHECK_EQ_INT(t, -500000);
    sl_ts_format(t, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31 23:59:59.500000");
    CHECK_EQ_INT(sl_ts_parse("2024-06-01", &t, &e), SL_OK);
    sl_ts_format(t, buf, sizeof buf);
    CHECK_STR(buf, "2024-06-01 00:00:00");
    CHECK_EQ_INT(sl_ts_parse("2024-02-30 00:00:00", &t, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "2024-02-30") != NULL);
    CHECK_EQ_INT(sl_ts_parse("2024-01-01 24:00:00", &t, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_ts_parse("2024-01-01 10:00", &t, &e), SL_E_USAGE);
    CHECK_EQ_INT(sl_ts_parse("2024-01-01 10:00:00x", &t, &e), SL_E_USAGE);
    sl_date_format(-1, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31");
}

static void day_floor_negative_values(void)
{
    /* Expected days from the calendar, not from the code: 1969-12-31 is day -1,
     * 1900-01-01 is day -25567 (70 years, 17 of them leap). */
    int64_t r = -7;
    CHECK_EQ_INT(sl_day_floor(0, &r), 0);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(sl_day_floor(-1, &r), -1); /* 1969-12-31 23:59:59.999999 */
    CHECK_EQ_INT(r, SL_US_PER_DAY - 1);
    CHECK_EQ_INT(sl_day_floor(-SL_US_PER_DAY, &r), -1);
    CHECK_EQ_INT(r, 0);
    CHECK_EQ_INT(sl_day_floor(-SL_US_PER_DAY - 1, &r), -2);
    CHECK_EQ_INT(r, SL_US_PER_DAY - 1);
    CHECK_EQ_INT(sl_day_floor(SL_US_PER_DAY - 1, NULL), 0);
    CHECK_EQ_INT(sl_day_floor(SL_US_PER_DAY, NULL), 1);
    /* 1900-01-01 12:00:00 */
    CHECK_EQ_INT(sl_day_floor(-25567 * SL_US_PER_DAY + SL_US_PER_DAY / 2, &r), -25567);
    CHECK_EQ_INT(r, SL_US_PER_DAY / 2);
    CHECK_EQ_INT(sl_day_floor(INT64_MIN, &r), -106751992); /* no overflow at the type's edge */
    CHECK(r >= 0 && r < SL_US_PER_DAY);
    CHECK_EQ_INT(sl_floor_div(-7, 2, &r), -4);
    CHECK_EQ_INT(r, 1);
    CHECK_EQ_INT(sl_floor_div(7, 2, &r), 3);
    CHECK_EQ_INT(r, 1);
    for (int64_t us = -3 * SL_US_PER_DAY; us <= 3 * SL_US_PER_DAY; us += 3600000000LL - 1) {
        int64_t d = sl_day_floor(us, &r);
        CHECK(r >= 0 && r < SL_US_PER_DAY);
        CHECK_EQ_INT(d * SL_US_PER_DAY + r, us);
    }
}

T_SUITE(suite_common) = {
    {"day_floor_negative_values", day_floor_negative_values},
    {"error_messages_and_exit_codes", error_messages_and_exit_codes},
    {"buffer_cap_is_enforced", buffer_cap_is_enforced},
    {"allocation_failure_is_reported", allocation_failure_is_reported},
    {"civil_days_round_trip", civil_days_round_trip},
    {"timestamps_parse_and_format", timestamps_parse_and_format},
    {"stop_on_signal", stop_on_signal},
    T_END,
};
