/* sl_time.c - civil calendar <-> day numbers, after Howard Hinnant's public-domain
 * algorithms (http://howardhinnant.github.io/date_algorithms.html), valid for years
 * -9999..9999, which covers MySQL's range ('1000-01-01'..'9999-12-31'). */
#include "sl_time.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void sl_civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
    int era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)yoe + era * 400 + (*m <= 2);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p)) return 0;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *out = v;
    return 1;
}

sl_code sl_ts_parse(const char *s, int64_t *out_us, sl_err *err)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, us = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d))
        goto bad;
    if (*p == ' ' || *p == 'T') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &sec))
            goto bad;
        if (*p == '.') {
            int n = 0;
            p++;
            while (isdigit((unsigned char)*p) && n < 6) {
                us = us * 10 + (*p++ - '0');
                n++;
            }
            if (n == 0 || isdigit((unsigned char)*p)) goto bad;
            while (n++ < 6) us *= 10;
        }
    }
    if (*p == 'Z') p++;
    if (*p != '\0') goto bad;
    if (!sl_date_valid(y, (unsigned)mo, (unsigned)d) || h > 23 || mi > 59 || sec > 59) goto bad;
    *out_us = sl_ts_make(y, (unsigned)mo, (unsigned)d, (unsigned)h, (unsigned)mi, (unsigned)sec, (unsigned)us);
    return SL_OK;
bad:
    return sl_err_set(err, SL_E_USAGE, "invalid date-time '%s': expected 'YYYY-MM-DD HH:MM:SS' (UTC)", s);
}

void sl_ts_format(int64_t ts, char *buf, unsigned long cap)
{
    int64_t rem;
    int64_t days = sl_day_floor(ts, &rem);
    int y;
    unsigned m, d;
    unsigned secs = (unsigned)(rem / 1000000), us = (unsigned)(rem % 1000000);
    sl_civil_from_days((int32_t)days, &y, &m, &d);
    if (us)
        snprintf(buf, cap, "%04d-%02u-%02u %02u:%02u:%02u.%06u", y, m, d, secs / 3600, secs / 60 % 60, secs % 60, us);
    else
        snprintf(buf, cap, "%04d-%02u-%02u %02u:%02u:%02u", y, m, d, secs / 3600, secs / 60 % 60, secs % 60);
}

void sl_date_format(int32_t days, char *buf, unsigned long cap)
{
    int y;
    unsigned m, d;
    sl_civil_from_days(days, &y, &m, &d);
    snprintf(buf, cap, "%04d-%02u-%02u", y, m, d);
}

int64_t sl_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

double sl_mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
