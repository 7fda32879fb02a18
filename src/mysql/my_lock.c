/* my_lock.c - the bounded snapshot lock (see my_lock.h): which lock, the long-query
 * guard, a timeout the server enforces (lock_wait_timeout, honoured by both FTWRL and
 * BACKUP STAGE on MariaDB 10.11) backed by a watchdog that kills the statement from
 * another connection, retries with backoff, and the blocker named from the processlist. */
#include "my_lock.h"

#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "../common/sl_time.h"
#include "my_conn.h"

void my_lock_opts_default(my_lock_opts *o)
{
    o->wait_timeout = 5;
    o->retries = 3;
    o->kind = MY_LOCK_AUTO;
}

const char *my_lock_kind_name(my_lock_kind k)
{
    switch (k) {
    case MY_LOCK_BACKUP_STAGE: return "backup_stage";
    case MY_LOCK_FTWRL: return "ftwrl";
    case MY_LOCK_NONE: return "none";
    default: return "auto";
    }
}

sl_code my_lock_kind_parse(const char *s, my_lock_kind *k, sl_err *err)
{
    if (strcmp(s, "auto") == 0) *k = MY_LOCK_AUTO;
    else if (strcmp(s, "backup-stage") == 0 || strcmp(s, "backup_stage") == 0) *k = MY_LOCK_BACKUP_STAGE;
    else if (strcmp(s, "ftwrl") == 0) *k = MY_LOCK_FTWRL;
    else return sl_err_set(err, SL_E_USAGE, "--snapshot-lock takes auto, backup-stage or ftwrl, not '%.40s'", s);
    return SL_OK;
}

static const char *statement_of(my_lock_kind k)
{
    return k == MY_LOCK_BACKUP_STAGE ? "BACKUP STAGE BLOCK_COMMIT" : "FLUSH TABLES WITH READ LOCK";
}

/* ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR */
static int is_privilege_error(unsigned e) { return e == 1227 || e == 1044 || e == 1142; }

/* ER_LOCK_WAIT_TIMEOUT, ER_QUERY_INTERRUPTED (the watchdog), ER_STATEMENT_TIMEOUT */
static int is_timeout_error(unsigned e) { return e == 1205 || e == 1317 || e == 1969; }

/* One nanosleep: a signal (a stop asked for, common/sl_stop.h) cuts the backoff short
 * rather than being slept through; the loop then checks for the stop. */
static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- the watchdog: kills the lock statement if the server lets it wait too long ---- */

typedef struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, killed;
    MYSQL *watch;
    unsigned long victim;
    double deadline; /* sl_mono_seconds() */
} watchdog;

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        double left = w->deadline - sl_mono_seconds();
        if (left <= 0) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (left < 0.2 ? left : 0.2);
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    int fire = !w->done;
    pthread_mutex_unlock(&w->mu);
    if (fire) {
        char sql[64];
        snprintf(sql, sizeof sql, "KILL QUERY %lu", w->victim);
        w->killed = my_exec(w->watch, sql, NULL) == SL_OK;
    }
    return NULL;
}

sl_code my_exec_bounded(MYSQL *m, MYSQL *watch, const char *sql, double limit, int *killed, sl_err *err)
{
    watchdog w = {.watch = watch, .victim = mysql_thread_id(m), .deadline = sl_mono_seconds() + limit};
    pthread_t th;
    int started = 0;
    if (watch) {
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        started = pthread_create(&th, NULL, watchdog_main, &w) == 0;
    }
    sl_code rc = my_exec(m, sql, err);
    if (watch) {
        pthread_mutex_lock(&w.mu);
        w.done = 1;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        if (started) pthread_join(th, NULL);
        pthread_cond_destroy(&w.cv);
        pthread_mutex_destroy(&w.mu);
    }
    if (killed) *killed = w.killed;
    return rc;
}

/* ---- the processlist ---- */

/* Copies s into out with control characters as '?': the text came from another session. */
static void clean_copy(char *out, size_t cap, const char *s)
{
    size_t j = 0;
    for (; s && *s && j + 1 < cap; s++) out[j++] = ((unsigned char)*s < 0x20 || *s == 0x7f) ? ' ' : *s;
    out[j] = '\0';
}

typedef struct blocker {
    int found;
    char id[24], user[80], seconds[24], text[160];
} blocker;

/* The longest-running statement of another session (never one of `own`) running at
 * least min_seconds; writes_only leaves out plain reads, which FTWRL does not wait for.
 * Statements themselves waiting for the global read or backup lock are queued behind
 * the lock, not in its way. Without the PROCESS privilege only the user's own sessions
 * are visible. Errors leave b->found at 0: the guard is advice, the timeout the bound. */
static void find_blocker(MYSQL *watch, const unsigned long *own, int nown, int min_seconds, int writes_only,
                         blocker *b)
{
    char sql[1400];
    int n = snprintf(sql, sizeof sql,
                     "SELECT ID, USER, TIME, LEFT(INFO, 120) FROM information_schema.PROCESSLIST "
                     "WHERE COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump', 'Killed') AND INFO IS NOT NULL "
                     "AND TIME >= %d AND IFNULL(STATE, '') NOT LIKE 'Waiting for %% lock'%s AND ID NOT IN (",
                     min_seconds,
                     writes_only ? " AND INFO NOT REGEXP '^[[:space:](]*(SELECT|SHOW|DO|SET|EXPLAIN|DESCRIBE)[[:space:]]'"
                                 : "");
    for (int i = 0; i < nown && n < (int)sizeof sql - 40; i++) n += snprintf(sql + n, sizeof sql - (size_t)n, "%lu,", own[i]);
    snprintf(sql + n, sizeof sql - (size_t)n, "CONNECTION_ID()) ORDER BY TIME DESC LIMIT 1");
    memset(b, 0, sizeof *b);
    if (!watch || mysql_real_query(watch, sql, (unsigned long)strlen(sql)) != 0) return;
    MYSQL_RES *r = mysql_store_result(watch);
    if (!r) return;
    MYSQL_ROW row = mysql_fetch_row(r);
    if (row) {
        b->found = 1;
        clean_copy(b->id, sizeof b->id, row[0]);
        clean_copy(b->user, sizeof b->user, row[1]);
        clean_copy(b->seconds, sizeof b->seconds, row[2]);
        clean_copy(b->text, sizeof b->text, row[3]);
    }
    mysql_free_result(r);
}

static void note_blocker(my_lock_info *li, const blocker *b)
{
    if (b->found)
        snprintf(li->blocker, sizeof li->blocker, "connection %s (user %s), running %s s", b->id, b->user, b->seconds);
}

/* ---- acquire / release ---- */

my_lock_kind my_lock_resolve(MYSQL *m, my_lock_kind k)
{
    if (k != MY_LOCK_AUTO) return k;
    const char *info = mysql_get_server_info(m);
    /* BACKUP STAGE exists from MariaDB 10.4.1; MySQL has none (LOCK INSTANCE FOR BACKUP
     * does not stop commits), so FTWRL is its consistent choice. */
    if (info && strstr(info, "MariaDB") && mysql_get_server_version(m) >= 100401) return MY_LOCK_BACKUP_STAGE;
    return MY_LOCK_FTWRL;
}

static sl_code exec_bounded(MYSQL *m, MYSQL *watch, const char *sql, double limit, sl_err *err)
{
    int killed = 0;
    sl_code rc = my_exec_bounded(m, watch, sql, limit, &killed, err);
    if (killed) sl_warn("the snapshot lock statement (%s) outlived lock_wait_timeout and was killed", sql);
    return rc;
}

/* One attempt at the lock, its wait added to li. */
static sl_code attempt(MYSQL *lock, MYSQL *watch, const my_lock_opts *o, my_lock_info *li, sl_err *err)
{
    double limit = o->wait_timeout + 1.0; /* the server's own timeout fires first */
    double t0 = sl_mono_seconds();
    sl_code rc;
    if (li->kind == MY_LOCK_BACKUP_STAGE) {
        /* START only registers the backup: it waits for another backup, blocking no one. */
        rc = exec_bounded(lock, watch, "BACKUP STAGE START", limit, err);
        double t1 = sl_mono_seconds();
        li->wait_seconds += t1 - t0;
        t0 = t1;
        if (rc != SL_OK) return rc;
        rc = exec_bounded(lock, watch, "BACKUP STAGE BLOCK_COMMIT", limit, err);
    } else {
        rc = exec_bounded(lock, watch, "FLUSH TABLES WITH READ LOCK", limit, err);
    }
    double w = sl_mono_seconds() - t0;
    li->wait_seconds += w;
    li->blocked_seconds += w; /* while FTWRL or BLOCK_COMMIT waits, new writes or commits queue behind it */
    if (rc == SL_OK) li->locked_at = sl_mono_seconds();
    return rc;
}

sl_code my_lock_acquire(MYSQL *lock, MYSQL *watch, const unsigned long *own, int nown, const my_lock_opts *opts,
                        my_lock_info *li, sl_err *err)
{
    my_lock_opts dflt;
    char sql[80], stmt_err[sizeof err->msg];
    blocker b = {0};
    int guard_hits = 0;
    double backoff = 1;
    if (!opts) {
        my_lock_opts_default(&dflt);
        opts = &dflt;
    }
    memset(li, 0, sizeof *li);
    li->kind = my_lock_resolve(lock, opts->kind);
    /* The server gives up waiting by itself after lock_wait_timeout (whole seconds). */
    snprintf(sql, sizeof sql, "SET SESSION lock_wait_timeout = %d", opts->wait_timeout);
    SL_TRY(my_exec(lock, sql, err));
    stmt_err[0] = '\0';
    for (int a = 0; a <= opts->retries; a++) {
        if (a > 0) {
            sl_info("snapshot lock: attempt %d of %d in %.0f s%s%s", a + 1, opts->retries + 1, backoff,
                    b.found ? "; waiting for " : "", b.found ? li->blocker : "");
            sleep_seconds(backoff);
            if (guard_hits) li->guard_seconds += backoff;
            backoff = backoff * 2 > 30 ? 30 : backoff * 2;
        }
        SL_TRY(sl_stop_check(err)); /* a stop asked for during the backoff: no further attempt */
        li->attempts = a + 1;
        guard_hits = 0;
        /* The guard: FTWRL would queue behind a running write and block every other
         * write meanwhile; one already running longer than the timeout is unlikely to
         * end in time, so do not start waiting. BACKUP STAGE BLOCK_COMMIT waits only for
         * commits in progress, which are short: running statements do not hold it up. */
        if (li->kind == MY_LOCK_FTWRL) {
            find_blocker(watch, own, nown, opts->wait_timeout, 1, &b);
            if (b.found) {
                note_blocker(li, &b);
                guard_hits = 1;
                continue;
            }
        }
        sl_err e = {0};
        if (attempt(lock, watch, opts, li, &e) == SL_OK) return SL_OK;
        unsigned en = mysql_errno(lock);
        snprintf(stmt_err, sizeof stmt_err, "%s", e.msg);
        if (li->kind == MY_LOCK_BACKUP_STAGE) my_exec(lock, "BACKUP STAGE END", NULL); /* a retry starts anew */
        if (is_privilege_error(en)) {
            li->denied = 1;
            return sl_err_set(err, SL_E_DB, "the user may not take the snapshot lock %s: %s", statement_of(li->kind),
                              stmt_err);
        }
        if (!is_timeout_error(en)) {
            if (err) *err = e;
            return sl_err_prefix(err, "taking the snapshot lock (%s): ", statement_of(li->kind));
        }
        find_blocker(watch, own, nown, 0, li->kind == MY_LOCK_FTWRL, &b);
        note_blocker(li, &b);
    }
    if (b.found)
        return sl_err_set(err, SL_E_DB,
                          "could not take the snapshot lock (%s, at most %d s per attempt) in %d attempts: it was "
                          "blocked by connection %s of user %s, running for %s s: %s; writes on the source were "
                          "blocked for %.1f s in all. Retry when it has finished, raise --lock-wait-timeout or "
                          "--lock-retries, or pass --consistency=none",
                          statement_of(li->kind), opts->wait_timeout, li->attempts, b.id, b.user, b.seconds, b.text,
                          li->blocked_seconds);
    return sl_err_set(err, SL_E_DB,
                      "could not take the snapshot lock (%s, at most %d s per attempt) in %d attempts (%s); no "
                      "blocking statement is visible to this user (grant PROCESS to let sluice name it); writes "
                      "on the source were blocked for %.1f s in all. Raise --lock-wait-timeout or --lock-retries, "
                      "or pass --consistency=none",
                      statement_of(li->kind), opts->wait_timeout, li->attempts,
                      stmt_err[0] ? stmt_err : "timed out", li->blocked_seconds);
}

sl_code my_lock_release(MYSQL *lock, my_lock_info *li, sl_err *err)
{
    sl_code rc = my_exec(lock, li->kind == MY_LOCK_BACKUP_STAGE ? "BACKUP STAGE END" : "UNLOCK TABLES", err);
    li->held_seconds = sl_mono_seconds() - li->locked_at;
    li->blocked_seconds += li->held_seconds;
    return rc;
}

void my_lock_describe(my_lock_kind k, const my_lock_opts *o, int n, char *buf, size_t cap)
{
    char bounds[200];
    snprintf(bounds, sizeof bounds, "each attempt waits at most %d s (--lock-wait-timeout), then %d more attempt%s "
             "(--lock-retries)", o->wait_timeout, o->retries, o->retries == 1 ? "" : "s");
    if (k == MY_LOCK_BACKUP_STAGE)
        snprintf(buf, cap, "BACKUP STAGE START + BACKUP STAGE BLOCK_COMMIT (needs RELOAD), held while the %d "
                 "connections run START TRANSACTION WITH CONSISTENT SNAPSHOT, then BACKUP STAGE END; blocks other "
                 "sessions' commits only, not their running statements; %s", n, bounds);
    else if (k == MY_LOCK_FTWRL)
        snprintf(buf, cap, "FLUSH TABLES WITH READ LOCK (needs RELOAD), held while the %d connections run START "
                 "TRANSACTION WITH CONSISTENT SNAPSHOT, then UNLOCK TABLES; it waits for running writes, and every "
                 "write on the server waits while it is pending or held; %s", n, bounds);
    else
        snprintf(buf, cap, "no lock");
}
