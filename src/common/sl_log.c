/* sl_log.c - stderr logging, text or JSON lines, with one lock so that lines of threads
 * do not interleave. JSON lines are built with jansson, never by hand. */
#include "sl_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static sl_log_level current = SL_LOG_INFO;
static sl_log_format format = SL_LOG_TEXT;
static char run_id[64];
static int tty = -1; /* whether stderr is a terminal; -1 until asked */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static const char *const tags[] = {"error", "warning", "info", "debug"};

void sl_log_set_level(sl_log_level level) { current = level; }
sl_log_level sl_log_get_level(void) { return current; }
void sl_log_set_format(sl_log_format f) { format = f; }
sl_log_format sl_log_get_format(void) { return format; }

void sl_log_set_run_id(const char *id)
{
    pthread_mutex_lock(&lock);
    snprintf(run_id, sizeof run_id, "%s", id ? id : "");
    pthread_mutex_unlock(&lock);
}

int sl_log_parse_level(const char *s, sl_log_level *out)
{
    static const struct { const char *name; sl_log_level level; } names[] = {
        {"error", SL_LOG_ERROR}, {"warn", SL_LOG_WARN}, {"warning", SL_LOG_WARN}, {"info", SL_LOG_INFO},
        {"debug", SL_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    return -1;
}

int sl_log_parse_format(const char *s, sl_log_format *out)
{
    if (strcmp(s, "text") == 0) *out = SL_LOG_TEXT;
    else if (strcmp(s, "json") == 0) *out = SL_LOG_JSON;
    else return -1;
    return 0;
}

/* A field's value as text for the text format: strings bare, the rest as JSON. */
static void text_value(FILE *out, json_t *v)
{
    if (json_is_string(v)) {
        fputs(json_string_value(v), out);
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) fputs(s, out);
    free(s);
}

/* Replaces, in place, every byte that is not part of well-formed UTF-8 by '?': JSON
 * text must be UTF-8, and a server's message or a file name need not be. */
static void utf8_clean(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 && *p >= 0xc2 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                : (*p & 0xf8) == 0xf0 && *p <= 0xf4 ? 3 : -1;
        int ok = n >= 0;
        for (int i = 1; ok && i <= n; i++) ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 2) ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0); /* overlong, surrogates */
        if (ok && n == 3) ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

static void vlog_event(sl_log_level level, const char *event, json_t *fields, const char *fmt, va_list ap)
{
    char msg[2048], stamp[40];
    struct timespec ts;
    struct tm tm;
    if (level > current) {
        json_decref(fields);
        return;
    }
    vsnprintf(msg, sizeof msg, fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&lock);
    if (format == SL_LOG_JSON) {
        /* Milliseconds: lines of one second keep their order for a collector. */
        size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000L);
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(stamp));
        json_object_set_new(o, "level", json_string(tags[level]));
        json_object_set_new(o, "run_id", run_id[0] ? json_string(run_id) : json_null());
        json_object_set_new(o, "event", json_string(event));
        utf8_clean(msg);
        json_object_set_new(o, "msg", json_string(msg));
        const char *k;
        json_t *v;
        json_object_foreach(fields, k, v) if (!json_object_get(o, k)) json_object_set(o, k, v);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (line) {
            fputs(line, stderr);
            fputc('\n', stderr);
            free(line);
        } else {
            /* Out of memory: still one JSON object on the line, without the fields. */
            fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"log_failed\"}\n", stamp, tags[level]);
        }
        json_decref(o);
    } else {
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        /* On a terminal a progress line may be on screen: erase it first (it is
         * redrawn at its next tick), so a log line never lands after its text. */
        if (tty < 0) tty = isatty(2);
        if (tty) fputs("\r\033[K", stderr);
        fprintf(stderr, "sluice: %s %s: ", stamp, tags[level]);
        if (run_id[0]) fprintf(stderr, "[%s] ", run_id);
        fputs(msg, stderr);
        const char *k;
        json_t *v;
        int first = 1;
        json_object_foreach(fields, k, v) {
            fprintf(stderr, "%s%s=", first ? " (" : ", ", k);
            text_value(stderr, v);
            first = 0;
        }
        if (!first) fputc(')', stderr);
        fputc('\n', stderr);
    }
    fflush(stderr);
    pthread_mutex_unlock(&lock);
    json_decref(fields);
}

void sl_log_event(sl_log_level level, const char *event, json_t *fields, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_event(level, event, fields, fmt, ap);
    va_end(ap);
}

void sl_log(sl_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_event(level, "message", NULL, fmt, ap);
    va_end(ap);
}
