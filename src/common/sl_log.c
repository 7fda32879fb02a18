/* sl_log.c - stderr logging with one lock so that lines of threads do not interleave. */
#include "sl_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static sl_log_level current = SL_LOG_INFO;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

void sl_log_set_level(sl_log_level level) { current = level; }
sl_log_level sl_log_get_level(void) { return current; }

void sl_log(sl_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = {"error", "warning", "info", "debug"};
    char stamp[32];
    time_t now;
    struct tm tm;
    va_list ap;
    if (level > current) return;
    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pthread_mutex_lock(&lock);
    fprintf(stderr, "sluice: %s %s: ", stamp, tags[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&lock);
}
