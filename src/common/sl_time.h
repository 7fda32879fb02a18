/* sl_time.h - calendar arithmetic without the C library's time zone state:
 * proleptic Gregorian days since 1970-01-01, microsecond timestamps, parsing
 * and formatting of 'YYYY-MM-DD' and 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC). */
#ifndef SL_TIME_H
#define SL_TIME_H

#include <stdint.h>

#include "sl_error.h"

/* Days since 1970-01-01 for a valid civil date (Howard Hinnant's days_from_civil). */
static inline int32_t sl_days_from_civil(int y, unsigned m, unsigned d)
{
    int era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    /* (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5: the days of a March-based year before
     * month m, as a table (GCC made a division of the formula's two arms). */
    static const uint16_t before[12] = {306, 337, 0, 31, 61, 92, 122, 153, 184, 214, 245, 275};
    doy = before[(m - 1) % 12] + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

void sl_civil_from_days(int32_t days, int *y, unsigned *m, unsigned *d);

/* Whether y-m-d is a date of the proleptic Gregorian calendar. */
static inline int sl_date_valid(int y, unsigned m, unsigned d)
{
    static const unsigned char mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned lim;
    if (m < 1 || m > 12 || d < 1) return 0;
    lim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) lim = 29;
    return d <= lim;
}

#define SL_US_PER_DAY 86400000000LL

/* a / b rounded toward minus infinity (b > 0), and *rem (may be NULL) = a - q * b, in
 * [0, b): C's `/` rounds toward zero, which puts -1 us on day 0 instead of day -1.
 * Inline, so that a constant b (a day, an hour) is a multiplication, not a 64-bit
 * division (tens of cycles, for every order of `sluice run`). */
static inline int64_t sl_floor_div(int64_t a, int64_t b, int64_t *rem)
{
    int64_t q = a / b, r = a % b;
    if (r < 0) { /* b > 0: a negative remainder means a < 0 and q was rounded up */
        r += b;
        q--;
    }
    if (rem) *rem = r;
    return q;
}
/* The day (days since 1970-01-01) holding the instant `us` (UTC microseconds), and
 * *us_of_day (may be NULL) the microseconds since that day's midnight, 0 <= x < 1 day.
 * The one place the floor of a day is computed: instants before 1970 are negative. */
static inline int64_t sl_day_floor(int64_t us, int64_t *us_of_day) { return sl_floor_div(us, SL_US_PER_DAY, us_of_day); }

/* Microseconds since the epoch (UTC). Inline, with the two above: the reader calls them for
 * every DATE and DATETIME value. */
static inline int64_t sl_ts_make(int y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, unsigned us)
{
    int64_t days = sl_days_from_civil(y, mo, d);
    return ((days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + s) * 1000000) + us;
}
/* 'YYYY-MM-DD' (time 00:00:00) or 'YYYY-MM-DD HH:MM:SS[.f{1,6}]' (a 'T' is accepted too). */
sl_code sl_ts_parse(const char *s, int64_t *out_us, sl_err *err);
/* Writes 'YYYY-MM-DD HH:MM:SS' (and '.ffffff' when us != 0) to buf (>= 32 bytes). */
void sl_ts_format(int64_t ts_us, char *buf, unsigned long cap);
void sl_date_format(int32_t days, char *buf, unsigned long cap); /* YYYY-MM-DD */
int64_t sl_now_us(void);
/* Monotonic seconds, for timings. */
double sl_mono_seconds(void);

#endif
