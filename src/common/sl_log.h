/* sl_log.h - log lines on stderr: levels, a quiet switch, and a timestamp.
 * Never pass a secret to these functions. */
#ifndef SL_LOG_H
#define SL_LOG_H

typedef enum { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 } sl_log_level;

void sl_log_set_level(sl_log_level level);
sl_log_level sl_log_get_level(void);
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
