/* task_int.h - what task.c, export.c and run.c share inside exec/ (task.h is the public
 * side): reading plan fields, the plan's common fields, results' files, and each
 * command's task body and commit. */
#ifndef SL_TASK_INT_H
#define SL_TASK_INT_H

#include "task.h"

/* A string field ("" when absent) and an integer field (dflt when absent). */
const char *sl_plan_str(const json_t *o, const char *key);
long long sl_plan_int(const json_t *o, const char *key, long long dflt);

/* The fields every plan has, with an empty "tasks" array to fill. */
json_t *sl_plan_envelope(const char *command, const char *run_id, const char *date, const char *output,
                         my_consistency mode, int explicit_mode, const char *database, const pq_options *po);
json_t *sl_plan_writer_json(const pq_options *po);
/* The manifests' "snapshot": {"consistency", "connections", "fallback_reason"?, "lock"?}. */
json_t *sl_plan_snapshot_json(const json_t *plan);

/* Between batches of a task: SL_E_STOPPED after SIGINT/SIGTERM (common/sl_stop.h), or
 * SL_E_INTERNAL once another task failed (ctx->stop). */
sl_code sl_task_check_stop(const sl_task_ctx *ctx, sl_err *err);

/* Adds the result's files of `partition` to commit c (sl_commit_add_file). */
sl_code sl_result_add_files(sl_commit *c, const char *partition, const json_t *result, sl_err *err);

/* Each command's task body: reads task `task` (k-th of the plan), fills result's "files"
 * and its own fields; on failure deletes what it wrote. */
sl_code sl_export_task(const json_t *plan, int k, const json_t *task, MYSQL *conn, sl_task_ctx *ctx,
                       json_t *result, sl_err *err);
sl_code sl_run_task(const json_t *plan, int k, const json_t *task, MYSQL *conn, sl_task_ctx *ctx, json_t *result,
                    sl_err *err);
/* Each command's commit, given exactly one result per task (chosen[k]); fills summary. */
sl_code sl_export_commit(const json_t *plan, json_t *const *chosen, sl_store *st, const sl_commit_info *info,
                         json_t *summary, sl_err *err);
sl_code sl_run_commit(const json_t *plan, json_t *const *chosen, sl_store *st, const sl_commit_info *info,
                      json_t *summary, sl_err *err);

/* The manifest's per-task record of who ran it: {"executor", "attempts"} when known. */
json_t *sl_result_engine_json(const json_t *result);

#endif
