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
#include "../parquet/parquet.h"
#include "../sink/commit.h"
#include "progress.h"

/* Opens n connections and starts their transactions in *mode. A snapshot across several
 * connections is lined up under the bounded lock of mysql/my_lock.h, taken on one more
 * connection opened and closed here (lo: its options, NULL for the defaults); what it
 * cost goes to *li (may be NULL). When the snapshot is refused for lack of privilege and
 * !explicit_mode, warns, sets *mode to MY_NONE and *fallback to the reason (static
 * text). conns[] is filled (NULLs on failure; close them with my_close in every case). */
sl_code sl_exec_connect(const my_params *mp, MYSQL **conns, int n, my_consistency *mode, int explicit_mode,
                        const char **fallback, const my_lock_opts *lo, my_lock_info *li, sl_err *err);

/* The manifest's snapshot.lock: {"kind", "attempts", "wait_seconds", "held_seconds",
 * "writes_blocked_seconds", "lock_wait_timeout", "lock_retries", "blocked_by"?}. */
json_t *sl_exec_lock_json(const my_lock_opts *lo, const my_lock_info *li);
/* The lock options travel in the plan ("lock": {"wait_timeout", "retries", "kind"}), and
 * what the lock cost comes back in it ("lock_used", set by sl_plan_execute). */
void sl_exec_plan_set_lock(json_t *plan, const my_lock_opts *lo);
void sl_exec_plan_lock_opts(const json_t *plan, my_lock_opts *lo);   /* defaults when absent */
void sl_exec_plan_lock_info(const json_t *plan, my_lock_info *li);   /* zeros, kind NONE, when absent */

/* A Parquet file of a run: a sink for `name` in commit c and a writer on it, whose
 * footer carries sluice.source, sluice.run_id, sluice.as_of and sluice.consistency.
 * On failure *sink and *w hold what was opened (free them as usual). */
sl_code sl_exec_open_parquet(sl_commit *c, const char *name, const sl_schema *schema, const pq_options *base,
                             const char *source, const char *run_id, const char *as_of, my_consistency mode,
                             sl_sink **sink, pq_writer **w, sl_err *err);

/* A run's failure code for the CLI: a local output folder that failed (SL_E_IO) is an
 * output storage failure (exit 7), as S3's are. */
sl_code sl_exec_output_failure(sl_code rc, sl_err *err);

/* --memory-limit: what a run may use beyond the fixed overhead the README states
 * (SL_MEMORY_OVERHEAD: the program, its libraries and connections). The parts that grow
 * with the data are sized from it: read batches, row groups, pages, dictionaries. */
#define SL_MEMORY_LIMIT_DEFAULT ((size_t)256 << 20)
#define SL_MEMORY_LIMIT_MIN ((size_t)32 << 20)
#define SL_MEMORY_OVERHEAD ((size_t)32 << 20)

/* SL_E_USAGE naming the minimum when limit is too small to work with. */
sl_code sl_exec_memory_check(size_t limit, sl_err *err);

/* Writer sizes for a file that may hold `share` bytes: row groups of at most share / 2,
 * pages and dictionaries of at most share / 16 (never under 16 KiB). Sizes given
 * explicitly (keep_row_group, keep_page) stay. */
void sl_exec_memory_pq(pq_options *pq, size_t share, int keep_row_group, int keep_page);

/* A schema for a manifest: [{"name", "type", "nullable", "mysql_type"}, ...]. */
json_t *sl_exec_schema_json(const sl_schema *s);

/* Runs fn on n threads (thread i gets (char *)base + i * stride) while a progress
 * display of the resolved mode (SL_PROGRESS_AUTO: a bar on a terminal, log lines
 * otherwise) polls pfn; returns when all have ended, with how many could start. */
int sl_exec_run_threads(int n, void *(*fn)(void *), void *base, size_t stride, sl_progress_mode mode, int nitems,
                        sl_progress_fn pfn, void *pud);

#endif
