/* sl_error.c - names of error codes, formatting of error details, and the
 * mapping from error codes to the documented process exit codes. */
#include "sl_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>

#include "sl_stop.h"

static const char *const names[SL_E__COUNT] = {
    [SL_OK] = "ok",
    [SL_E_NOMEM] = "out of memory",
    [SL_E_USAGE] = "usage error",
    [SL_E_CONFIG] = "configuration error",
    [SL_E_IO] = "file system error",
    [SL_E_DB_CONNECT] = "database unreachable",
    [SL_E_DB_AUTH] = "database refused the credentials",
    [SL_E_DB] = "database error",
    [SL_E_DB_LOST] = "database connection lost",
    [SL_E_SCHEMA] = "schema error",
    [SL_E_LIMIT] = "memory limit reached",
    [SL_E_FORMAT] = "invalid input file",
    [SL_E_DATA] = "value cannot be represented",
    [SL_E_STORAGE] = "storage error",
    [SL_E_STORAGE_AUTH] = "storage refused the credentials",
    [SL_E_INTERNAL] = "internal error",
    [SL_E_UNSUPPORTED] = "unsupported",
    [SL_E_STOPPED] = "stopped by a signal",
    [SL_E_SUPERSEDED] = "the run was committed without this attempt",
};

const char *sl_strerror(sl_code code)
{
    if ((int)code < 0 || code >= SL_E__COUNT || !names[code]) return "unknown error";
    return names[code];
}

sl_code sl_err_set(sl_err *e, sl_code code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

sl_code sl_err_prefix(sl_err *e, const char *fmt, ...)
{
    char old[sizeof e->msg];
    size_t n, m;
    va_list ap;
    if (!e) return SL_E_INTERNAL;
    memcpy(old, e->msg, sizeof old);
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    n = strlen(e->msg);
    m = strnlen(old, sizeof old - 1);
    if (m > sizeof e->msg - 1 - n) m = sizeof e->msg - 1 - n;
    memcpy(e->msg + n, old, m);
    e->msg[n + m] = '\0';
    return e->code;
}

void sl_err_clear(sl_err *e)
{
    if (e) {
        e->code = SL_OK;
        e->msg[0] = '\0';
    }
}

int sl_exit_code(sl_code code)
{
    switch (code) {
    case SL_OK: return SL_EXIT_OK;
    case SL_E_USAGE: return SL_EXIT_USAGE;
    case SL_E_CONFIG: return SL_EXIT_CONFIG;
    case SL_E_DB_CONNECT:
    case SL_E_DB_AUTH: return SL_EXIT_DB;
    case SL_E_SCHEMA: return SL_EXIT_SCHEMA;
    case SL_E_DATA: return SL_EXIT_DATA;
    case SL_E_STORAGE:
    case SL_E_STORAGE_AUTH: return SL_EXIT_STORAGE;
    case SL_E_FORMAT: return SL_EXIT_INPUT;
    case SL_E_STOPPED: return 128 + (sl_stop_requested() ? sl_stop_requested() : SIGINT);
    default: return SL_EXIT_FAILURE;
    }
}
