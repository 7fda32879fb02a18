/* sl_error.h - the project-wide error codes, the error detail struct, and the
 * propagation macros. Codes never change number; retired ones stay as placeholders.
 * Exit codes of the CLI are derived from codes by sl_exit_code(). */
#ifndef SL_ERROR_H
#define SL_ERROR_H

#include <stddef.h>

typedef enum sl_code {
    SL_OK = 0,
    SL_E_NOMEM = 1,        /* an allocation failed */
    SL_E_USAGE = 2,        /* bad command-line arguments */
    SL_E_CONFIG = 3,       /* bad or missing setting, malformed .env */
    SL_E_IO = 4,           /* local file system */
    SL_E_DB_CONNECT = 5,   /* database unreachable */
    SL_E_DB_AUTH = 6,      /* database refused the credentials */
    SL_E_DB = 7,           /* database error during work */
    SL_E_DB_LOST = 8,      /* connection dropped mid-stream (2006/2013) */
    SL_E_SCHEMA = 9,       /* a table or column is missing or of the wrong type */
    SL_E_LIMIT = 10,       /* a configured memory cap was hit */
    SL_E_FORMAT = 11,      /* an input file is not valid (not Parquet, corrupt) */
    SL_E_DATA = 12,        /* a value cannot be represented (zero date, overflow) */
    SL_E_STORAGE = 13,     /* output storage failed (S3, endpoint, bucket) */
    SL_E_STORAGE_AUTH = 14,/* output storage refused the credentials */
    SL_E_INTERNAL = 15,    /* a bug: an invariant did not hold */
    SL_E_UNSUPPORTED = 16, /* a valid input sluice does not handle */
    SL_E_STOPPED = 17,     /* SIGINT or SIGTERM asked the run to stop (sl_stop.h) */
    SL_E_SUPERSEDED = 18,  /* a task attempt found its run committed without it (task.h) */
    SL_E__COUNT
} sl_code;

/* Detail for the caller: which table, column, file or key, and what to do about it.
 * Every function that takes an sl_err accepts NULL. Secrets never go in msg. */
typedef struct sl_err {
    sl_code code;
    char msg[1024];
} sl_err;

const char *sl_strerror(sl_code code);

/* Record code and a formatted message in e (if not NULL); returns code, so that
 * `return sl_err_set(err, SL_E_IO, "...")` reads naturally. */
sl_code sl_err_set(sl_err *e, sl_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefix the existing message with more context ("table orders: " + msg). */
sl_code sl_err_prefix(sl_err *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void sl_err_clear(sl_err *e);

/* Documented process exit codes (README "Exit codes"). */
enum {
    SL_EXIT_OK = 0,
    SL_EXIT_FAILURE = 1,  /* runtime failure */
    SL_EXIT_USAGE = 2,    /* usage error */
    SL_EXIT_CONFIG = 3,   /* configuration error */
    SL_EXIT_DB = 4,       /* database unreachable or credentials refused */
    SL_EXIT_SCHEMA = 5,   /* source table or column missing */
    SL_EXIT_DATA = 6,     /* a source value cannot be represented */
    SL_EXIT_STORAGE = 7,  /* output storage failed */
    SL_EXIT_INPUT = 8,    /* an input file is invalid (not Parquet, corrupt) */
    SL_EXIT_SIGINT = 130, /* stopped by SIGINT (128 + 2), cleaned up */
    SL_EXIT_SIGTERM = 143 /* stopped by SIGTERM (128 + 15), cleaned up */
};
int sl_exit_code(sl_code code);

#define SL_TRY(expr)                                                    \
    do {                                                                \
        sl_code sl_try_rc_ = (expr);                                    \
        if (sl_try_rc_ != SL_OK) return sl_try_rc_;                     \
    } while (0)

/* For functions that clean up at a label: `SL_TRY_GOTO(rc, f(), done);` */
#define SL_TRY_GOTO(rc, expr, label)                                    \
    do {                                                                \
        (rc) = (expr);                                                  \
        if ((rc) != SL_OK) goto label;                                  \
    } while (0)

#endif
