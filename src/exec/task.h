/* task.h - the one task model of `sluice export` and `sluice run`: a run is a plan, a set
 * of independent tasks and a commit. The same three steps run on threads of one process
 * (sl_plan_execute) or spread over processes and machines (`sluice plan`, `sluice task`,
 * `sluice commit`, e.g. one Spark task per sluice task), and give the same output.
 *
 *   1. plan     sl_export_plan / sl_run_plan (export.h, run.h), on one control
 *               connection: the run id, the date, the as-of, the consistency, the output
 *               and the options, and the tasks (a table's key range; run: the inventory
 *               side, and the orders side in customer-id ranges). A plan is JSON and holds
 *               no secret: settings come from each process's own flags, environment, .env.
 *   2. tasks    sl_task_execute, once per task and attempt, each on its own connection
 *               (in the shared snapshot when the plan asks for one): reads its share,
 *               writes its files into their partitions under names that carry the run id
 *               (and, across processes, the attempt id, so two attempts of one task never
 *               write the same key), and returns a result (JSON): every file with rows,
 *               bytes and SHA-256, and the partial state the commit merges. A task writes
 *               no "_SUCCESS" and deletes only its own attempt's files, when it fails.
 *   3. commit   sl_plan_commit, once, after the tasks: takes exactly one result per task
 *               (the first given; the files of any other result of that task are deleted),
 *               fails with no "_SUCCESS" when a task has none, merges the partial states,
 *               writes the files only the whole run can write (run: hourly_orders,
 *               customer_segments, product_turnover) and commits each partition with the
 *               protocol of sink/commit.h: "_SUCCESS" last, then everything it does not
 *               list is deleted (losers, crashed attempts).
 *
 * Crash guarantee: a crash anywhere (a task, a process, a machine, the commit) leaves
 * every partition's previous "_SUCCESS" and the files it lists as they were; what a
 * failed or crashed attempt left behind is never listed, and the next commit of the
 * partition deletes it. A run or export that commits several partitions (tables; raw
 * tables and business_insights) commits them as one (sink/commit.h,
 * sl_commit_finish_all): a failure or a stop puts back the manifests already written. */
#ifndef SL_TASK_H
#define SL_TASK_H

#include <jansson.h>
#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "../mysql/my_plan.h"
#include "../parquet/parquet.h"
#include "../sink/commit.h"
#include "../sink/store.h"
#include "export.h"

#define SL_PLAN_VERSION 1

/* Partial results a run's order shards exchange before they write (the VIP threshold
 * needs every customer's total): gives this task's message and receives every
 * participant's, as a JSON array indexed by participant (the caller json_decref()s it).
 * In one process the threads meet at a barrier; across processes `sluice task`
 * writes its message as a line on stdout and reads the array as a line on stdin. */
typedef sl_code (*sl_gather_fn)(void *ud, int participant, int nparticipants, json_t *mine, json_t **all,
                                sl_err *err);

/* What a task gets from whoever runs it. */
/* The partitions where a run's tasks in this process have checked that the run has not
 * committed (the first commit a task begins there reads its "_SUCCESS"): the later
 * tasks' commits there do not read it again. In one process the run commits only
 * after all of its tasks, so once is enough; a task run alone (`sluice plan task`, a
 * Spark executor) has none and checks. */
typedef struct sl_task_checked sl_task_checked;
sl_task_checked *sl_task_checked_create(void);
void sl_task_checked_free(sl_task_checked *k); /* accepts NULL */

typedef struct sl_task_ctx {
    const sl_config *cfg;
    sl_store *store;          /* the plan's output, opened with the running process's settings */
    const char *attempt;      /* NULL in one process; otherwise an id unique to this attempt */
    atomic_int *stop;         /* NULL, or set by the runner when another task failed */
    atomic_llong *unit_rows;  /* NULL, or rows read per progress unit of the plan */
    sl_gather_fn gather;
    void *gather_ud;
    pq_spare *spare;          /* NULL, or writer buffers kept from one task to the next */
    /* NULL, or where a task takes a spare connection of the run's snapshot for a second
     * read at the same time as its own (the plan's "helper_connections"): NULL when
     * none is left, then the task reads one after the other. Given back with ok = 0
     * when it failed (it is closed, not lent again). */
    MYSQL *(*helper_take)(void *ud);
    void (*helper_give)(void *ud, MYSQL *conn, int ok);
    void *helper_ud;
    /* NULL, or where an export task starts the read of the runner's next task on the same
     * connection as soon as its own read has ended (sl_task_ahead), so that the server
     * sends the next chunk's rows while this task writes its last batches and closes its
     * file. The runner then runs that task next. */
    struct sl_task_ahead *ahead;
    sl_task_checked *checked; /* NULL, or the run's checked partitions (above) */
} sl_task_ctx;

/* One worker's read started ahead: the task it claimed (claim: the runner's next task,
 * or -1 when none is left) and its reader, streaming on the worker's connection, or
 * why opening it failed. Only the functions below touch it, under mu. */
typedef struct sl_task_ahead {
    pthread_mutex_t mu;
    int (*claim)(void *ud);
    void *claim_ud;
    const json_t *plan;
    atomic_int *stop;        /* NULL, or the runner's "another task failed" */
    MYSQL *conn;             /* the connection of the task running now */
    int k;                   /* the claimed task, -1 for none */
    struct my_reader *rd;    /* its reader, or NULL when opening it failed: */
    sl_err err;
} sl_task_ahead;

/* How a command opens the read of one of its tasks on conn (export: its key range). */
typedef struct my_reader *(*sl_task_open_fn)(const json_t *plan, const json_t *task, MYSQL *conn, sl_task_ahead *a,
                                             sl_err *err);

void sl_task_ahead_init(sl_task_ahead *a, int (*claim)(void *ud), void *claim_ud, const json_t *plan,
                        atomic_int *stop);
/* On a reader's thread, once its whole result is read (the connection is free): claims
 * the runner's next task and opens its read with open, unless the slot holds one already
 * (a task read to its end before the worker took it) or the run is stopping. */
void sl_task_ahead_start(sl_task_ahead *a, sl_task_open_fn open);
/* Task k is about to run on conn: 1 when the slot held its read, which the slot gives up
 * (*rd, or NULL with why in err when opening it failed); 0 when it did not. */
int sl_task_ahead_take(sl_task_ahead *a, int k, MYSQL *conn, struct my_reader **rd, sl_err *err);
/* The claimed task left in the slot (-1 for none); the slot keeps its reader for it. */
int sl_task_ahead_pending(sl_task_ahead *a);
/* Frees a reader that no task took (the run stopped). */
void sl_task_ahead_free(sl_task_ahead *a);

/* Spare connections a runner lends its tasks (sl_task_ctx's helper_take and helper_give
 * are sl_conn_pool_take and sl_conn_pool_give, helper_ud the pool): n slots of conns, NULL
 * where lent or closed. A connection given back with ok = 0 is closed, not lent again. */
typedef struct sl_conn_pool {
    pthread_mutex_t mu;
    MYSQL **conns;
    int n;
} sl_conn_pool;

void sl_conn_pool_init(sl_conn_pool *p);
/* The pool's connections from now on: the n of conns (the array stays the caller's). */
void sl_conn_pool_fill(sl_conn_pool *p, MYSQL **conns, int n);
MYSQL *sl_conn_pool_take(void *pool);
void sl_conn_pool_give(void *pool, MYSQL *conn, int ok);
/* Closes the connections not lent (again: no-op); _free also ends the pool. */
void sl_conn_pool_close(sl_conn_pool *p);
void sl_conn_pool_free(sl_conn_pool *p);

/* The files one task attempt writes: one commit of sink/commit.h per partition it
 * writes into, used only to name and checksum the files, never finished. */
typedef struct sl_task_files sl_task_files;

sl_task_files *sl_task_files_create(sl_task_ctx *ctx, const json_t *plan, sl_err *err);
/* A Parquet file <partition><stem>-<run id>[-<attempt>].<codec>.parquet of the run, with
 * the footer of sl_exec_open_parquet. *sink and *w as there. */
sl_code sl_task_files_open(sl_task_files *tf, const char *partition, const char *stem, const sl_schema *schema,
                           const char *source, sl_sink **sink, pq_writer **w, char *name, size_t name_cap,
                           sl_err *err);
/* A file of the attempt that is not a dataset's (a spilled stream of pack.h): a sink for
 * <partition><stem>-<run id>[-<attempt>].<ext>, named as above. Record it, once its sink
 * is finished, with sl_task_files_done (0 rows) in the result's "spilled": deleted with
 * the attempt's files when the attempt loses or fails, never in a manifest, so the
 * partition's commit deletes it with what it does not list. */
sl_code sl_task_files_open_raw(sl_task_files *tf, const char *partition, const char *stem, const char *ext,
                               sl_sink **sink, char *name, size_t name_cap, sl_err *err);
/* After pq_writer_close: records the file (rows, bytes, checksum) in the result's files. */
sl_code sl_task_files_done(sl_task_files *tf, const char *partition, const char *name, int64_t rows,
                           json_t *files, sl_err *err);
/* The files' writers start from the buffers of `spare` and leave theirs there, and from
 * the dictionaries its columns gave up (pq_options.dictionary_carry): only for a task
 * that has one file open at a time (pq_spare). */
void sl_task_files_reuse(sl_task_files *tf, pq_spare *spare);
/* ok: leaves the files for the commit; !ok: deletes them. Accepts NULL. */
void sl_task_files_free(sl_task_files *tf, int ok);

/* The plan's writer options (compression, sizes) and consistency. */
void sl_plan_pq_options(const json_t *plan, pq_options *po);
my_consistency sl_plan_consistency(const json_t *plan);
/* A plan read from JSON text, with its version and command checked. */
json_t *sl_plan_parse(const char *text, size_t len, const char *what, sl_err *err);
/* Starts the transaction task k of the plan reads in, on its own connection: in a
 * snapshot alone (the cross-process alignment is the runner's, see sluice_spark.py). */
sl_code sl_task_begin(const json_t *plan, MYSQL *conn, sl_err *err);

/* Runs task k of the plan on conn; *result is the task's result object. */
sl_code sl_task_execute(const json_t *plan, int k, MYSQL *conn, sl_task_ctx *ctx, json_t **result, sl_err *err);

/* Across processes, after an attempt has written its files and before it hands in its
 * result: if a partition it wrote into already holds the "_SUCCESS" of the plan's run,
 * the run was committed without this attempt (it is a retry or a speculative copy that
 * finished late). Its files, which no manifest lists and which the commit's cleanup
 * may have missed, are then deleted and it fails with SL_E_SUPERSEDED. Files complete
 * before a partition's "_SUCCESS" is written are the commit's cleanup's to delete; the
 * window left is an attempt that dies between its last file and this check (README,
 * "The task model"). A manifest that cannot be read fails the attempt too (its files
 * deleted). */
sl_code sl_task_check_superseded(sl_store *st, const json_t *plan, const json_t *result, sl_err *err);

/* Deletes every file a task's result lists, its "spilled" too (best effort: failures are
 * logged). */
void sl_result_delete_files(sl_store *st, const json_t *result);

/* The engine that ran the tasks, for the manifests: {"engine": "threads"|"spark"|...,
 * more fields}; NULL: threads in this process. Borrowed. */
typedef struct sl_commit_info {
    const json_t *engine;
} sl_commit_info;

/* Step 3. results: n result objects in the order given (any number per task); on
 * failure every result's files are deleted and no "_SUCCESS" is written. *summary (may
 * be NULL) receives {"files", "rows", "bytes", "datasets": {...}} for the CLI. */
sl_code sl_plan_commit(const sl_config *cfg, const json_t *plan, json_t *const *results, int n,
                       const sl_commit_info *info, json_t **summary, sl_err *err);

/* Steps 2 and 3 on threads of this process: one connection per task slot (the plan's
 * "connections"), and the plan's "helper_connections" lent to the tasks (sl_task_ctx),
 * all in one snapshot when the plan asks for it, with the progress
 * display; a task that loses its connection without a snapshot is retried up to the
 * plan's max_attempts. */
sl_code sl_plan_execute(const sl_config *cfg, json_t *plan, sl_progress_mode progress, json_t **summary,
                        sl_err *err);

/* The end of `sluice export` and `sluice run` in one process, once planned: with dry_run
 * the plan is printed (sl_dryrun_plan) and nothing runs; otherwise sl_plan_execute, and
 * the run id, the consistency it ran in and its snapshot lock are given back. */
sl_code sl_plan_here(const sl_config *cfg, json_t *plan, int dry_run, sl_progress_mode progress, char *run_id,
                     size_t run_id_cap, const char **consistency, my_lock_info *lock, json_t **summary, sl_err *err);

/* Number of tasks in a plan. */
int sl_plan_ntasks(const json_t *plan);

#endif
