/* sl_stop.h - clean stops on SIGINT and SIGTERM. The signal handler only records the
 * signal (an atomic, async-signal-safe) and wakes a watcher thread through a pipe; the
 * stages poll sl_stop_requested() where they loop (read batches, uploads, commits) and
 * the watcher runs the hooks that cut what may block (database sockets), so the main
 * thread can unwind through the usual failure paths: sinks aborted, uploads aborted,
 * this run's files deleted, no _SUCCESS. A second signal exits at once (_exit), with
 * 128 + its number.
 *
 * Exit codes: a stop is SL_E_STOPPED, which sl_exit_code() maps to 128 + the signal
 * (130 for SIGINT, 143 for SIGTERM), as shells report a process killed by a signal. */
#ifndef SL_STOP_H
#define SL_STOP_H

#include "sl_error.h"

/* Installs the SIGINT/SIGTERM handlers (SA_RESTART: interrupted system calls resume;
 * the watcher's hooks are what unblocks), ignores SIGPIPE (a peer closing a socket
 * is then an error of the write, not the death of the process) and starts the
 * watcher thread. Idempotent. */
sl_code sl_stop_install(sl_err *err);

/* Stops and joins the watcher (after its hooks have run, if a stop was requested) and
 * puts the default handlers back. Call before freeing what the hooks use. */
void sl_stop_uninstall(void);

/* 0, or the number of the signal that asked for the stop. Cheap: an atomic load. */
int sl_stop_requested(void);

/* Whether the calling thread's work should be cut short now: a stop was requested and
 * the thread is not inside a shield. Transfers poll this (sink/s3.c). */
int sl_stop_interrupts(void);

/* A shield (on = 1, then 0; they nest) marks what a stop must not cut on this thread:
 * writing a manifest, putting one back. Other threads are not affected. */
void sl_stop_shield(int on);

/* SL_E_STOPPED in err, "stopped by SIGTERM" (or SIGINT). */
sl_code sl_stop_error(sl_err *err);

/* SL_OK, or sl_stop_error() when a stop was requested. */
sl_code sl_stop_check(sl_err *err);

/* A failure that a stop caused (a socket the watcher cut, an aborted transfer) is
 * reported as the stop: rc unchanged when it is SL_OK or no stop was requested. */
sl_code sl_stop_override(sl_code rc, sl_err *err);

/* Registers fn(ud) to run once on the watcher thread when a stop is requested (at once,
 * on the caller's thread, if it already was). At most 8 hooks; registered for the life
 * of the process. */
sl_code sl_stop_hook_add(void (*fn)(void *), void *ud, sl_err *err);

/* As if signal sig had arrived (tests; also usable by an embedding program). */
void sl_stop_request(int sig);
/* Tests only: forgets the stop, so hooks run again on the next one. */
void sl_stop_reset(void);

#endif
