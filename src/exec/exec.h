/* exec.h - what the run commands (export, run) share: opening the worker
 * connections in one snapshot, with the documented fallback when the user may not
 * take the global read lock. */
#ifndef SL_EXEC_H
#define SL_EXEC_H

#include <jansson.h>
#include <mysql.h>

#include "../batch/batch.h"
#include "../common/sl_error.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_plan.h"
#include "progress.h"

/* Opens n connections and starts their transactions in *mode. When the snapshot is
 * refused for lack of privilege and !explicit_mode, warns, sets *mode to MY_NONE and
 * *fallback to the reason (static text). conns[] is filled (NULLs on failure; close
 * them with my_close in every case). */
sl_code sl_exec_connect(const my_params *mp, MYSQL **conns, int n, my_consistency *mode, int explicit_mode,
                        const char **fallback, sl_err *err);

/* A schema for a manifest: [{"name", "type", "nullable", "mysql_type"}, ...]. */
json_t *sl_exec_schema_json(const sl_schema *s);

/* Runs fn on n threads (thread i gets (char *)base + i * stride) while a progress
 * display of the resolved mode (SL_PROGRESS_AUTO: a bar on a terminal, log lines
 * otherwise) polls pfn; returns when all have ended, with how many could start. */
int sl_exec_run_threads(int n, void *(*fn)(void *), void *base, size_t stride, sl_progress_mode mode, int nitems,
                        sl_progress_fn pfn, void *pud);

#endif
