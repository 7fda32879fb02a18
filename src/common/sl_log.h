/* sl_log.h - log lines on stderr: levels, a text or JSON format (one object a line, for
 * log collectors), and the run id every line of a run carries. Never pass a secret to
 * these functions. */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <jansson.h>

typedef enum { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 } sl_log_level;
typedef enum { SL_LOG_TEXT = 0, SL_LOG_JSON = 1 } sl_log_format;

void sl_log_set_level(sl_log_level level);
sl_log_level sl_log_get_level(void);
void sl_log_set_format(sl_log_format format);
sl_log_format sl_log_get_format(void);
/* The run id put on every later line (copied; NULL or "" removes it). */
void sl_log_set_run_id(const char *run_id);
/* "error", "warn" (or "warning"), "info", "debug" -> level; -1 for anything else. */
int sl_log_parse_level(const char *s, sl_log_level *out);
/* "text", "json" -> format; -1 for anything else. */
int sl_log_parse_format(const char *s, sl_log_format *out);

/* A line of event `event` (a stable snake_case name) with a message and fields.
 * fields is a JSON object whose reference is taken in every case (NULL for none).
 * JSON: {"time", "level", "run_id", "event", "msg", <fields>...}; text: the message
 * followed by the fields as key=value. */
void sl_log_event(sl_log_level level, const char *event, json_t *fields, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* A line of event "message". */
void sl_log(sl_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#define sl_error_log(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif
