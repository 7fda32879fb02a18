/* commit.h - the commit protocol, written once over store.h for local folders and S3:
 * a partition (a key prefix the caller names, e.g. "raw/orders/2026-12-02/") is
 * complete when its "_SUCCESS" manifest exists, and then holds exactly the files
 * that manifest lists. Readers read "_SUCCESS" first and only the files it lists.
 *
 *   1. sl_commit_begin            one run, one partition
 *   2. sl_commit_create_file      a sink per data file, named with the run id, so a
 *      ... write, sl_sink_finish  new run never overwrites a file of a complete one
 *      sl_commit_set_rows         (threads may write files of one commit in parallel)
 *      sl_sink_release
 *   3. sl_commit_finish           checks every file is complete and still there, writes
 *                                 "_SUCCESS" last (atomically), then deletes everything
 *                                 else in the partition: earlier runs' files and what
 *                                 crashed runs left behind
 *   or sl_commit_abort            deletes this run's files; the previous output stays
 *   4. sl_commit_free
 *
 * An appending commit (sl_commit_begin_append, for incremental loads: several runs of
 * one date) takes the same steps; its "_SUCCESS" lists the files of every run already
 * committed to the partition plus its own, and its cleanup keeps them. The previous
 * manifest is only ever replaced by a superset of itself, in one atomic write, so the
 * crash guarantee below holds unchanged.
 *
 * A crash at any point leaves the previous "_SUCCESS" and every file it lists in place
 * (plus this run's leftovers, which the next successful commit deletes). Concurrent
 * runs on one partition are not supported (no lock), and partitions must not nest:
 * cleanup leaves alone any sub-folder holding its own "_SUCCESS". */
#ifndef SL_COMMIT_H
#define SL_COMMIT_H

#include <jansson.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "sink.h"
#include "store.h"

#define SL_MANIFEST_NAME "_SUCCESS"
#define SL_MANIFEST_VERSION 1

/* Run ids: "YYYYMMDDTHHMMSSZ-xxxxxxxx", the UTC start time (so ids sort by time) and 32
 * random bits (OpenSSL RAND_bytes), e.g. "20261202T134501Z-3f9a1c07"; 25 characters. */
#define SL_RUN_ID_SIZE 32
sl_code sl_run_id(char out[SL_RUN_ID_SIZE], sl_err *err);

typedef struct sl_commit sl_commit;

/* partition: a valid key prefix (store.h), with or without the trailing '/'; not empty.
 * run_id: 1 to 64 characters of [A-Za-z0-9._-]. as_of: the data's date, "YYYY-MM-DD".
 * The store must outlive the commit and its file sinks. Reads the current "_SUCCESS"
 * to refuse a run id already committed to this partition (SL_E_USAGE); writes nothing. */
sl_commit *sl_commit_begin(sl_store *st, const char *partition, const char *run_id, const char *as_of,
                           sl_err *err);

/* As sl_commit_begin, without reading "_SUCCESS": for a commit whose files another
 * commit of the run will list (a task's), in a partition where the same process's
 * sl_commit_begin has already checked this run id. It must not be finished. */
sl_commit *sl_commit_begin_checked(sl_store *st, const char *partition, const char *run_id, const char *as_of,
                                   sl_err *err);

/* As sl_commit_begin, but the commit appends: it keeps the manifest it reads here (the
 * "base", if the partition is committed) and its finish writes a manifest listing the
 * base's files and this run's, with "runs" extended by this run; the base's files are
 * not deleted. Finish fails (SL_E_STORAGE, nothing written, this run's files deleted)
 * if the partition's manifest changed since begin (another run committed it) or if a
 * file the base lists is missing or of another size. A run id that the base records
 * among its runs is refused. */
sl_commit *sl_commit_begin_append(sl_store *st, const char *partition, const char *run_id, const char *as_of,
                                  sl_err *err);

/* The manifest an appending commit appends to (read by sl_commit_begin_append; NULL for
 * a replacing commit or a partition not yet committed). Borrowed, valid until free. */
const json_t *sl_commit_base(const sl_commit *c);

/* Fields for this run's entry in the manifest's "runs" list (a JSON object, copied;
 * e.g. {"incremental": {...}}); the entry's run_id, created_at, rows, bytes and files
 * are the commit's own and are refused here. Call before sl_commit_finish. */
sl_code sl_commit_set_run_info(sl_commit *c, const json_t *info, sl_err *err);

/* A sink for the data file <partition><name>. name is a valid key relative to the
 * partition (it may have folders: "daily_sales/part-00000-<run>.parquet"), contains the
 * run id, does not start a segment with "_SUCCESS", and is new in this commit - or its
 * earlier sink failed (or was aborted) and has been released: that is a retry, and the
 * file is written again from its start. The
 * bytes pass through SHA-256; when the sink finishes, the file is recorded with its
 * size and checksum. Abort (or release before finish) marks it failed: the commit can
 * then only abort. The caller owns the sink and releases it as usual; it may do so
 * before or after the commit is finished, aborted or freed. Thread-safe. */
sl_sink *sl_commit_create_file(sl_commit *c, const char *name, sl_err *err);

/* Rows of a file of this commit, before or after its sink finishes; required for every
 * file before sl_commit_finish. Thread-safe. */
sl_code sl_commit_set_rows(sl_commit *c, const char *name, int64_t rows, sl_err *err);

/* The size and checksum ("sha256:<hex>") of a file of this commit whose sink finished;
 * SL_E_INTERNAL for a file that is not (yet) complete. Thread-safe. */
sl_code sl_commit_file_info(sl_commit *c, const char *name, uint64_t *bytes, char checksum[SL_SHA256_TEXT_SIZE],
                            sl_err *err);

/* Records a file another process wrote and completed under this partition (a task of
 * exec/task.h), with the size, rows and checksum that process measured. Checked like
 * every file at finish (present, same size); deleted by abort. The name follows the
 * rules of sl_commit_create_file. Not concurrently with finish. */
sl_code sl_commit_add_file(sl_commit *c, const char *name, uint64_t bytes, int64_t rows, const char *checksum,
                           sl_err *err);

/* A small file under a fixed name the partition keeps from run to run (the run report,
 * "report.html"): `data` (copied) is written by sl_commit_finish once every data file
 * is checked, atomically, just before "_SUCCESS", and listed in the manifest with 0
 * rows. The name follows create_file's rules except that it need not hold the run id.
 * Since the name is shared with the previous run's file, abort never deletes it: a run
 * that fails after writing it (only the "_SUCCESS" write remains) or is killed then
 * leaves its file in place of the previous one, which the previous manifest's checksum
 * then no longer matches; the data files and the previous "_SUCCESS" are untouched.
 * Not thread-safe with finish; call before it. */
sl_code sl_commit_add_fixed(sl_commit *c, const char *name, const void *data, size_t len, sl_err *err);

/* Completes the partition. Fails (writing no "_SUCCESS") if a stop was requested
 * (SL_E_STOPPED) or a file is still open,
 * failed, has no row count, or is missing from the store or of another size than was
 * written; the commit is then aborted (this run's files deleted, best effort).
 * `extra` (NULL or a JSON object; borrowed) is merged into the manifest's top level:
 * the caller's "schema", "source" snapshot, "metrics" and so on; keys the commit writes
 * itself (below) are refused. After "_SUCCESS" is written, keys of the partition that
 * it does not list are deleted; a deletion that fails is logged (a warning naming the
 * key) and left for the next run, and finish still succeeds: the partition is complete.
 * Call once, after every file sink is finished; not concurrently with create_file.
 *
 * The manifest, JSON:
 *   {"manifest_version": 1, "sluice_version": "0.1.0", "run_id": "...",
 *    "as_of": "YYYY-MM-DD", "created_at": "YYYY-MM-DDTHH:MM:SSZ" (UTC),
 *    "partition": "<prefix ending in '/'>", "total_rows": N, "total_bytes": N,
 *    "files": [{"name": relative to the partition, "key": relative to the store root,
 *               "bytes": N, "rows": N, "checksum": "sha256:<64 lowercase hex>"}, ...]
 *               (sorted by name; the checksum is of the exact bytes stored),
 *    "runs": [{"run_id", "created_at", "rows", "bytes", "files": [names], ...run info}]
 *               (every run whose files the manifest lists, oldest first: this run alone
 *               unless the commit appends; total_rows/total_bytes cover all of them),
 *    ...extra} */
sl_code sl_commit_finish(sl_commit *c, const json_t *extra, sl_err *err);

/* Several partitions committed as one (a multi-table export, a run with --raw), all or
 * nothing as far as a failure or a stop can be undone:
 *   1. every commit is checked as sl_commit_finish does and its manifest built; a
 *      failure aborts them all before any "_SUCCESS" is written;
 *   2. the manifests are written in the order given, a stop (common/sl_stop.h) checked
 *      before each; if one fails or a stop comes, the manifests already written are put
 *      back as they were when the commits began (the previous "_SUCCESS", byte for byte,
 *      or none), then every commit is aborted (this run's files deleted);
 *   3. only when all are written are older files deleted, partition by partition (not
 *      after a stop: the next run does it).
 * What can still be left: a crash (SIGKILL, power loss) inside step 2 leaves the
 * partitions written so far on this run and the others on the previous one, each
 * complete and consistent (its manifest names its run); a restore that fails leaves that
 * partition on this run (logged, its files kept). `extras` may be NULL; extras[i]
 * belongs to cs[i]. Returns the first failure (SL_E_STOPPED for a stop). */
sl_code sl_commit_finish_all(sl_commit *const *cs, const json_t *const *extras, size_t n, sl_err *err);

/* Deletes this run's files (best effort; failures are logged) and leaves everything else.
 * No-op after a successful finish or a previous abort; accepts NULL. */
void sl_commit_abort(sl_commit *c);

/* Frees memory only: a commit neither finished nor aborted leaves its files where they
 * are, as a crashed run would (the next commit of the partition deletes them). Accepts NULL. */
void sl_commit_free(sl_commit *c);

/* "<partition>/_SUCCESS". */
const char *sl_commit_manifest_key(const sl_commit *c);

/* Reads and checks a partition's manifest: *out is the parsed object (the caller
 * json_decref()s it), or NULL with SL_OK when the partition has no "_SUCCESS" (never
 * committed). A manifest that is not JSON or lacks run_id/files/name/bytes/rows/checksum
 * is SL_E_FORMAT naming its key. */
sl_code sl_manifest_read(sl_store *st, const char *partition, json_t **out, sl_err *err);

/* Replaces a partition's manifest with m (atomically: a reader sees the old one or the
 * new one), for `sluice report`, which updates the entry of the report it regenerated.
 * m must be a manifest as sl_manifest_read returns it. */
sl_code sl_manifest_write(sl_store *st, const char *partition, const json_t *m, sl_err *err);

#endif
