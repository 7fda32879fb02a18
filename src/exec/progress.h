/* progress.h - what a long run shows while it works: on a terminal, one line redrawn
 * a few times a second (rows, percent of the row estimate, rate, ETA, the tables in
 * flight) and a line per finished table; elsewhere, a log line every 10 seconds and
 * per finished table; nothing when quiet. Rows are polled from the run through a
 * callback, from a thread of its own. */
#ifndef SL_PROGRESS_H
#define SL_PROGRESS_H

#include "export.h"

typedef struct sl_progress sl_progress;

/* Item i's name, rows done, row estimate (-1 unknown) and whether it has finished. */
typedef void (*sl_progress_fn)(void *ud, int i, const char **name, long long *done, long long *estimate,
                               int *finished);

/* NULL for SL_PROGRESS_OFF (or when the thread cannot start: progress is optional). */
sl_progress *sl_progress_start(sl_progress_mode mode, int nitems, sl_progress_fn fn, void *ud);
/* Draws the final state and stops; accepts NULL. */
void sl_progress_stop(sl_progress *p);

#endif
