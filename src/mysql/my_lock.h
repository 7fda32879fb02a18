/* my_lock.h - the brief server-wide lock that lines up several connections' snapshots,
 * bounded so that it never stalls the source: every lock statement waits at most
 * --lock-wait-timeout seconds (then it is abandoned, killed from another connection if
 * the server does not give up by itself, and writes resume), a long-query guard keeps it
 * from queuing behind a long write, and the figures of what it cost go to the manifest. */
#ifndef SL_MY_LOCK_H
#define SL_MY_LOCK_H

#include <mysql.h>

#include "../common/sl_error.h"

typedef enum my_lock_kind {
    MY_LOCK_AUTO = 0,     /* BACKUP STAGE on MariaDB 10.4+, FTWRL elsewhere (MySQL) */
    MY_LOCK_BACKUP_STAGE, /* BACKUP STAGE START + BLOCK_COMMIT: blocks commits only */
    MY_LOCK_FTWRL,        /* FLUSH TABLES WITH READ LOCK: waits for running writes, blocks all writes */
    MY_LOCK_NONE          /* no lock was needed (one connection, or --consistency=none) */
} my_lock_kind;

typedef struct my_lock_opts {
    int wait_timeout; /* --lock-wait-timeout: seconds one lock statement may wait, default 5 */
    int retries;      /* --lock-retries: attempts after the first, default 3 */
    my_lock_kind kind; /* --snapshot-lock, default AUTO */
} my_lock_opts;

/* What the lock cost, for the manifest and the run's result. Times are measured by
 * sluice around the statements, so they are upper bounds of what the server saw. */
typedef struct my_lock_info {
    my_lock_kind kind;     /* the lock used (NONE: none was needed) */
    int attempts;          /* lock attempts made, guard refusals included */
    double wait_seconds;   /* waiting for the lock, all attempts */
    double held_seconds;   /* from obtaining the lock to releasing it */
    double blocked_seconds; /* how long writes (FTWRL) or commits (BACKUP STAGE) of other sessions
                              could be blocked: the blocking part of the waits, plus the hold */
    double guard_seconds;  /* spent backing off because a long query was running */
    char blocker[200];     /* the last statement that kept the lock away: "connection 12 (app), running
                              14 s" (never its text: the manifest may be public); "" if none */
    int denied;            /* the user may not take the lock (RELOAD missing) */
    double locked_at;      /* sl_mono_seconds() when the lock was obtained (for my_lock_release) */
} my_lock_info;

void my_lock_opts_default(my_lock_opts *o);
/* "backup_stage", "ftwrl", "none", "auto". */
const char *my_lock_kind_name(my_lock_kind k);
/* "auto", "backup-stage" (or backup_stage), "ftwrl"; SL_E_USAGE otherwise. */
sl_code my_lock_kind_parse(const char *s, my_lock_kind *k, sl_err *err);

/* Takes the lock on `lock`. `watch` (another connection of the same user, or NULL) reads
 * the processlist for the long-query guard and kills the lock statement if it outlives
 * its timeout; `own` lists the thread ids of every sluice connection (never taken for a
 * blocker). Retries with backoff (1, 2, 4 ... s) after a timeout; fails with SL_E_DB
 * naming the statement that blocked it (its text truncated, from the processlist) when
 * every attempt failed, or the missing privilege (li->denied). On success the lock is
 * held: release it with my_lock_release in every case. */
sl_code my_lock_acquire(MYSQL *lock, MYSQL *watch, const unsigned long *own, int nown, const my_lock_opts *o,
                        my_lock_info *li, sl_err *err);
sl_code my_lock_release(MYSQL *lock, my_lock_info *li, sl_err *err);

/* Runs sql on m (my_exec); when watch (another connection of the same user) is set and
 * the statement still runs `limit` seconds later, kills it from watch with KILL QUERY
 * (*killed set; the statement then fails with ER_QUERY_INTERRUPTED). The lock's
 * watchdog, in case the server does not honour lock_wait_timeout. */
sl_code my_exec_bounded(MYSQL *m, MYSQL *watch, const char *sql, double limit, int *killed, sl_err *err);
/* The kind my_lock_acquire takes on m's server for k (AUTO resolved by version). */
my_lock_kind my_lock_resolve(MYSQL *m, my_lock_kind k);
/* For --dry-run: what lining up n connections takes with lock kind k (resolved) and
 * options o, in words: the statements, what they block, the bounds. Keep it in step
 * with my_lock_acquire and my_snapshot_begin_locked. */
void my_lock_describe(my_lock_kind k, const my_lock_opts *o, int n, char *buf, size_t cap);

#endif
