/* task.c - the half of the task model (task.h) that export and run share: a task
 * attempt's files, running one task, taking one result per task at commit, and the
 * threads that run a whole plan in one process. What is particular to each command
 * (its plan, its task body, its commit) lives in export.c and run.c. */
#include "task.h"

#include "dryrun.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "../common/sl_time.h"
#include "../mysql/my_conn.h"
#include "../mysql/my_reader.h"
#include "exec.h"
#include "progress.h"
#include "task_int.h"

/* ---------------------------------------------------------------------------------- */
/* the plan's fields */

const char *sl_plan_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long long sl_plan_int(const json_t *o, const char *key, long long dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

int sl_plan_ntasks(const json_t *plan) { return (int)json_array_size(json_object_get(plan, "tasks")); }

void sl_plan_pq_options(const json_t *plan, pq_options *po)
{
    const json_t *w = json_object_get(plan, "writer");
    pq_options_default(po);
    pq_codec_parse(sl_plan_str(w, "compression"), &po->codec, NULL);
    po->zstd_level = (int)sl_plan_int(w, "zstd_level", po->zstd_level);
    po->page_size = (size_t)sl_plan_int(w, "page_size", (long long)po->page_size);
    po->row_group_size = (size_t)sl_plan_int(w, "row_group_size", (long long)po->row_group_size);
    po->dictionary_max = (size_t)sl_plan_int(w, "dictionary_max", (long long)po->dictionary_max);
}

json_t *sl_plan_writer_json(const pq_options *po)
{
    return json_pack("{s:s, s:i, s:I, s:I, s:I}", "compression", pq_codec_name(po->codec), "zstd_level",
                     po->zstd_level, "page_size", (json_int_t)po->page_size, "row_group_size",
                     (json_int_t)po->row_group_size, "dictionary_max", (json_int_t)po->dictionary_max);
}

my_consistency sl_plan_consistency(const json_t *plan)
{
    return strcmp(sl_plan_str(plan, "consistency"), "none") == 0 ? MY_NONE : MY_SNAPSHOT;
}

json_t *sl_plan_parse(const char *text, size_t len, const char *what, sl_err *err)
{
    json_error_t je;
    json_t *p = json_loadb(text, len, 0, &je);
    if (!p) {
        sl_err_set(err, SL_E_FORMAT, "%s is not a plan (JSON error at line %d: %s)", what, je.line, je.text);
        return NULL;
    }
    const char *cmd = sl_plan_str(p, "command");
    if (!json_is_object(p) || sl_plan_int(p, "plan_version", 0) != SL_PLAN_VERSION ||
        (strcmp(cmd, "export") != 0 && strcmp(cmd, "run") != 0) || !json_is_array(json_object_get(p, "tasks")) ||
        !*sl_plan_str(p, "run_id") || !*sl_plan_str(p, "date") || !*sl_plan_str(p, "output")) {
        sl_err_set(err, SL_E_FORMAT,
                   "%s is not a sluice plan of version %d (from `sluice plan export|run ... --json`)", what,
                   SL_PLAN_VERSION);
        json_decref(p);
        return NULL;
    }
    return p;
}

json_t *sl_plan_envelope(const char *command, const char *run_id, const char *date, const char *output,
                         my_consistency mode, int explicit_mode, const char *database, const pq_options *po)
{
    char created[40];
    sl_ts_format(sl_now_us() / 1000000 * 1000000, created, sizeof created);
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:o, s:[]}", "plan_version", SL_PLAN_VERSION,
                     "command", command, "run_id", run_id, "date", date, "output", output, "consistency",
                     mode == MY_SNAPSHOT ? "snapshot" : "none", "consistency_explicit", explicit_mode, "database",
                     database ? database : "", "created_at", created, "writer", sl_plan_writer_json(po), "tasks");
}

json_t *sl_plan_snapshot_json(const json_t *plan)
{
    json_t *snap = json_pack("{s:s, s:I}", "consistency", sl_plan_str(plan, "consistency"), "connections",
                             (json_int_t)sl_plan_int(plan, "connections", 1));
    const json_t *fb = json_object_get(plan, "fallback_reason");
    if (json_is_string(fb)) json_object_set(snap, "fallback_reason", (json_t *)fb);
    const json_t *lk = json_object_get(plan, "lock_used"); /* set by sl_plan_execute (exec.h) */
    if (json_is_object(lk)) json_object_set(snap, "lock", (json_t *)lk);
    return snap;
}

sl_code sl_task_begin(const json_t *plan, MYSQL *conn, sl_err *err)
{
    return my_snapshot_begin(&conn, 1, sl_plan_consistency(plan), err);
}

sl_code sl_task_check_stop(const sl_task_ctx *ctx, sl_err *err)
{
    SL_TRY(sl_stop_check(err));
    if (ctx->stop && atomic_load(ctx->stop)) return sl_err_set(err, SL_E_INTERNAL, "stopped: another task failed");
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* a task attempt's files */

typedef struct tf_part {
    char *prefix;
    sl_commit *c;
} tf_part;

struct sl_task_files {
    sl_task_ctx *ctx;
    const json_t *plan;
    pq_options pq;
    tf_part *parts;
    int nparts, cap;
};

sl_task_files *sl_task_files_create(sl_task_ctx *ctx, const json_t *plan, sl_err *err)
{
    sl_task_files *tf = sl_calloc(1, sizeof *tf);
    if (!tf) {
        sl_err_set(err, SL_E_NOMEM, "out of memory for a task's files");
        return NULL;
    }
    tf->ctx = ctx;
    tf->plan = plan;
    sl_plan_pq_options(plan, &tf->pq);
    return tf;
}

void sl_task_files_reuse(sl_task_files *tf, pq_spare *spare)
{
    tf->pq.spare = spare;
    tf->pq.dictionary_carry = spare != NULL;
}

/* Whether the partition's "_SUCCESS" records run_id: as the run that wrote it, or among
 * the runs an appending manifest lists. */
static sl_code committed_by(sl_store *st, const char *partition, const char *run_id, int *yes, sl_err *err)
{
    json_t *m = NULL, *r;
    size_t i;
    *yes = 0;
    SL_TRY(sl_manifest_read(st, partition, &m, err));
    if (!m) return SL_OK;
    *yes = strcmp(sl_plan_str(m, "run_id"), run_id) == 0;
    json_array_foreach(json_object_get(m, "runs"), i, r) *yes |= strcmp(sl_plan_str(r, "run_id"), run_id) == 0;
    json_decref(m);
    return SL_OK;
}

static sl_code superseded(const json_t *plan, const char *partition, const char *what, sl_err *err)
{
    return sl_err_set(err, SL_E_SUPERSEDED,
                      "run %s is already committed (partition %s holds its _SUCCESS) without this attempt, %s; "
                      "it lost to another attempt of the same task, and the run's output is complete",
                      sl_plan_str(plan, "run_id"), partition, what);
}

struct sl_task_checked {
    pthread_mutex_t mu;
    char **parts;
    int n, cap;
};

sl_task_checked *sl_task_checked_create(void)
{
    sl_task_checked *k = sl_calloc(1, sizeof *k);
    if (k && pthread_mutex_init(&k->mu, NULL) != 0) {
        sl_free(k);
        return NULL;
    }
    return k;
}

void sl_task_checked_free(sl_task_checked *k)
{
    if (!k) return;
    for (int i = 0; i < k->n; i++) sl_free(k->parts[i]);
    sl_free(k->parts);
    pthread_mutex_destroy(&k->mu);
    sl_free(k);
}

/* Whether k holds partition; the caller holds k->mu. */
static int checked_find(const sl_task_checked *k, const char *partition)
{
    for (int i = 0; i < k->n; i++)
        if (strcmp(k->parts[i], partition) == 0) return 1;
    return 0;
}

static int checked_has(sl_task_checked *k, const char *partition)
{
    pthread_mutex_lock(&k->mu);
    int yes = checked_find(k, partition);
    pthread_mutex_unlock(&k->mu);
    return yes;
}

/* Out of memory: not recorded, so the next task there checks again. */
static void checked_add(sl_task_checked *k, const char *partition)
{
    pthread_mutex_lock(&k->mu);
    int have = checked_find(k, partition);
    if (!have && k->n == k->cap) {
        int nc = k->cap ? k->cap * 2 : 8;
        char **np = sl_realloc(k->parts, (size_t)nc * sizeof *np);
        if (np) {
            k->parts = np;
            k->cap = nc;
        }
    }
    if (!have && k->n < k->cap && (k->parts[k->n] = sl_strdup(partition)) != NULL) k->n++;
    pthread_mutex_unlock(&k->mu);
}

static sl_commit *part_commit(sl_task_files *tf, const char *partition, sl_err *err)
{
    for (int i = 0; i < tf->nparts; i++)
        if (strcmp(tf->parts[i].prefix, partition) == 0) return tf->parts[i].c;
    if (tf->nparts == tf->cap) {
        int nc = tf->cap ? tf->cap * 2 : 8;
        tf_part *np = sl_realloc(tf->parts, (size_t)nc * sizeof *np);
        if (!np) {
            sl_err_set(err, SL_E_NOMEM, "out of memory for a task's files");
            return NULL;
        }
        tf->parts = np;
        tf->cap = nc;
    }
    tf_part *p = &tf->parts[tf->nparts];
    p->prefix = sl_strdup(partition);
    if (!p->prefix) {
        sl_err_set(err, SL_E_NOMEM, "out of memory for a task's files");
        return NULL;
    }
    sl_task_checked *k = tf->ctx->checked;
    int known = k && checked_has(k, partition);
    p->c = (known ? sl_commit_begin_checked : sl_commit_begin)(tf->ctx->store, partition,
                                                               sl_plan_str(tf->plan, "run_id"),
                                                               sl_plan_str(tf->plan, "date"), err);
    if (p->c && k && !known) checked_add(k, partition);
    if (!p->c) {
        /* An attempt that starts after its run was committed: lost, not a usage error. */
        int yes = 0;
        if (err && err->code == SL_E_USAGE &&
            committed_by(tf->ctx->store, partition, sl_plan_str(tf->plan, "run_id"), &yes, NULL) == SL_OK && yes)
            superseded(tf->plan, partition, "which started after the commit and wrote nothing", err);
        sl_free(p->prefix);
        return NULL;
    }
    tf->nparts++;
    return p->c;
}

/* <stem>-<run id>[-<attempt>]<suffix>: a file of this attempt. */
static void attempt_name(const sl_task_files *tf, const char *stem, const char *suffix, char *name, size_t cap)
{
    const char *attempt = tf->ctx->attempt;
    snprintf(name, cap, "%s-%s%s%s%s", stem, sl_plan_str(tf->plan, "run_id"), attempt ? "-" : "",
             attempt ? attempt : "", suffix);
}

sl_code sl_task_files_open_raw(sl_task_files *tf, const char *partition, const char *stem, const char *ext,
                               sl_sink **sink, char *name, size_t name_cap, sl_err *err)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".%s", ext);
    attempt_name(tf, stem, suffix, name, name_cap);
    sl_commit *c = part_commit(tf, partition, err);
    if (!c) return err && err->code ? err->code : SL_E_STORAGE;
    *sink = sl_commit_create_file(c, name, err);
    return *sink ? SL_OK : err && err->code ? err->code : SL_E_STORAGE;
}

sl_code sl_task_files_open(sl_task_files *tf, const char *partition, const char *stem, const sl_schema *schema,
                           const char *source, sl_sink **sink, pq_writer **w, char *name, size_t name_cap,
                           sl_err *err)
{
    *sink = NULL;
    *w = NULL;
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".%s.parquet", pq_codec_name(tf->pq.codec));
    attempt_name(tf, stem, suffix, name, name_cap);
    sl_commit *c = part_commit(tf, partition, err);
    if (!c) return err && err->code ? err->code : SL_E_STORAGE;
    return sl_exec_open_parquet(c, name, schema, &tf->pq, source, sl_plan_str(tf->plan, "run_id"),
                                sl_plan_str(tf->plan, "date"), sl_plan_consistency(tf->plan), sink, w, err);
}

sl_code sl_task_files_done(sl_task_files *tf, const char *partition, const char *name, int64_t rows, json_t *files,
                           sl_err *err)
{
    sl_commit *c = part_commit(tf, partition, err);
    if (!c) return err && err->code ? err->code : SL_E_STORAGE;
    uint64_t bytes;
    char sum[SL_SHA256_TEXT_SIZE];
    SL_TRY(sl_commit_set_rows(c, name, rows, err));
    SL_TRY(sl_commit_file_info(c, name, &bytes, sum, err));
    json_t *f = json_pack("{s:s, s:s, s:I, s:I, s:s}", "partition", partition, "name", name, "rows",
                          (json_int_t)rows, "bytes", (json_int_t)bytes, "checksum", sum);
    if (!f || json_array_append_new(files, f) != 0) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return SL_OK;
}

void sl_task_files_free(sl_task_files *tf, int ok)
{
    if (!tf) return;
    for (int i = 0; i < tf->nparts; i++) {
        if (!ok) sl_commit_abort(tf->parts[i].c);
        sl_commit_free(tf->parts[i].c); /* never finished: the files stay for the commit */
        sl_free(tf->parts[i].prefix);
    }
    sl_free(tf->parts);
    sl_free(tf);
}

/* ---------------------------------------------------------------------------------- */
/* one task */

sl_code sl_task_execute(const json_t *plan, int k, MYSQL *conn, sl_task_ctx *ctx, json_t **result, sl_err *err)
{
    *result = NULL;
    const json_t *task = json_array_get(json_object_get(plan, "tasks"), (size_t)k);
    if (k < 0 || !json_is_object(task))
        return sl_err_set(err, SL_E_USAGE, "the plan has no task %d (it has %d, numbered from 0)", k,
                          sl_plan_ntasks(plan));
    json_t *res = json_pack("{s:i, s:[]}", "task", k, "files");
    if (!res) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (ctx->attempt) json_object_set_new(res, "attempt", json_string(ctx->attempt));
    double t0 = sl_mono_seconds();
    int64_t started = sl_now_us();
    sl_code rc = strcmp(sl_plan_str(plan, "command"), "export") == 0
                     ? sl_export_task(plan, k, task, conn, ctx, res, err)
                     : sl_run_task(plan, k, task, conn, ctx, res, err);
    if (rc != SL_OK) {
        json_decref(res);
        return rc;
    }
    json_object_set_new(res, "seconds", json_real(sl_mono_seconds() - t0));
    json_object_set_new(res, "started_us", json_integer(started));
    json_object_set_new(res, "ended_us", json_integer(sl_now_us()));
    *result = res;
    return SL_OK;
}

sl_code sl_task_check_superseded(sl_store *st, const json_t *plan, const json_t *result, sl_err *err)
{
    const json_t *files = json_object_get(result, "files"), *f;
    size_t i, j;
    json_array_foreach(files, i, f)
    {
        const char *part = sl_plan_str(f, "partition");
        int seen = 0, yes = 0;
        for (j = 0; j < i && !seen; j++) seen = strcmp(sl_plan_str(json_array_get(files, j), "partition"), part) == 0;
        if (seen) continue; /* one manifest read per partition */
        sl_code rc = committed_by(st, part, sl_plan_str(plan, "run_id"), &yes, err);
        if (rc != SL_OK) {
            sl_result_delete_files(st, result);
            return sl_err_prefix(err, "checking whether the run was committed without this attempt (its files "
                                      "were deleted): ");
        }
        if (yes) {
            char what[200];
            size_t n = json_array_size(files) + json_array_size(json_object_get(result, "spilled"));
            snprintf(what, sizeof what, "which finished later: its %zu file%s deleted", n, n == 1 ? " was" : "s were");
            sl_result_delete_files(st, result);
            return superseded(plan, part, what, err);
        }
    }
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the commit: one result per task */

/* Deletes the files of result[list] (best effort). */
static void delete_listed(sl_store *st, const json_t *result, const char *list)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(result, list), i, f)
    {
        char key[2048];
        sl_err e = {0};
        snprintf(key, sizeof key, "%s%s", sl_plan_str(f, "partition"), sl_plan_str(f, "name"));
        if (sl_store_remove(st, key, &e) != SL_OK) sl_warn("could not delete %s: %s", key, e.msg);
    }
}

void sl_result_delete_files(sl_store *st, const json_t *result)
{
    delete_listed(st, result, "files");
    delete_listed(st, result, "spilled");
}

sl_code sl_result_add_files(sl_commit *c, const char *partition, const json_t *result, sl_err *err)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(result, "files"), i, f)
    {
        if (strcmp(sl_plan_str(f, "partition"), partition) != 0) continue;
        SL_TRY(sl_commit_add_file(c, sl_plan_str(f, "name"), (uint64_t)sl_plan_int(f, "bytes", -1),
                                  sl_plan_int(f, "rows", -1), sl_plan_str(f, "checksum"), err));
    }
    return SL_OK;
}

sl_code sl_plan_commit(const sl_config *cfg, const json_t *plan, json_t *const *results, int n,
                       const sl_commit_info *info, json_t **summary, sl_err *err)
{
    int ntasks = sl_plan_ntasks(plan);
    sl_code rc = SL_OK;
    json_t **chosen = sl_calloc((size_t)(ntasks > 0 ? ntasks : 1), sizeof *chosen);
    if (!chosen) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (summary) *summary = NULL;
    sl_store *st = sl_store_open(sl_plan_str(plan, "output"), cfg, err);
    if (!st) {
        sl_free(chosen);
        return err && err->code ? err->code : SL_E_STORAGE;
    }
    for (int i = 0; i < n; i++) {
        const json_t *r = results[i];
        long long k = sl_plan_int(r, "task", -1);
        const json_t *a = json_object_get(r, "attempt");
        if (k < 0 || k >= ntasks || !json_is_array(json_object_get(r, "files"))) {
            rc = sl_err_set(err, SL_E_FORMAT, "result %d is not a result of a task of this plan (task %lld of %d)",
                            i + 1, k, ntasks);
            goto fail;
        }
        if (!chosen[k]) {
            chosen[k] = (json_t *)r;
            continue;
        }
        /* Another attempt of a task that already has its result (a retry after a lost
         * answer, a speculative copy): its files are not the run's. */
        sl_info("task %lld: a second result (attempt %s) is not taken; deleting its files", k,
                json_is_string(a) ? json_string_value(a) : "?");
        if (strcmp(sl_plan_str(r, "attempt"), sl_plan_str(chosen[k], "attempt")) != 0 || !json_is_string(a))
            sl_result_delete_files(st, r);
    }
    for (int k = 0; k < ntasks; k++)
        if (!chosen[k]) {
            int missing = 0;
            for (int j = k; j < ntasks; j++) missing += !chosen[j];
            rc = sl_err_set(err, SL_E_INTERNAL,
                            "task %d has no result (%d of %d tasks have none): nothing was committed", k, missing,
                            ntasks);
            goto fail;
        }
    /* Across processes the lock that aligned the snapshots was taken by one task (`sluice
     * task --sync`), which reports it in its result: the manifest records it as the
     * threaded run's (plan "lock_used"). A shallow copy of the plan carries it. */
    json_t *lplan = NULL;
    for (int k = 0; k < ntasks && !json_object_get(plan, "lock_used"); k++)
        if (json_is_object(json_object_get(chosen[k], "lock_used"))) {
            lplan = json_copy((json_t *)plan);
            if (lplan) json_object_set(lplan, "lock_used", json_object_get(chosen[k], "lock_used"));
            break;
        }
    const json_t *cplan = lplan ? lplan : plan;
    json_t *sum = json_object();
    if (!sum) {
        json_decref(lplan);
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto fail;
    }
    rc = strcmp(sl_plan_str(plan, "command"), "export") == 0 ? sl_export_commit(cplan, chosen, st, info, sum, err)
                                                              : sl_run_commit(cplan, chosen, st, info, sum, err);
    json_decref(lplan);
    /* A failed commit deleted the data files it took (or left a partition it could not
     * restore with them); the spilled streams are no manifest's, whatever happened. */
    for (int i = 0; rc != SL_OK && i < n; i++) delete_listed(st, results[i], "spilled");
    if (rc == SL_OK && summary) *summary = sum;
    else json_decref(sum);
    rc = sl_exec_output_failure(rc, err);
    sl_free(chosen);
    sl_store_free(st);
    return rc;
fail:
    /* Nothing was committed: every result's files go (the next commit would delete them
     * anyway; this keeps a failed run from leaving them until then). */
    for (int i = 0; i < n; i++) sl_result_delete_files(st, results[i]);
    sl_free(chosen);
    sl_store_free(st);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* threads of one process */

typedef struct px_gather {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *all;
    int arrived;
} px_gather;

typedef struct px_run {
    const sl_config *cfg;
    json_t *plan;
    int ntasks, next;
    json_t **results;
    int *attempts;
    pthread_mutex_t mu;
    atomic_int failed;
    sl_err first_err;
    my_params mp;
    my_consistency mode;
    int max_attempts, retry;
    sl_store *store;
    int nunits;
    atomic_llong *unit_rows;
    int *unit_left;
    px_gather g;
    sl_conn_pool helpers; /* lent to the tasks (the plan's "helper_connections") */
    sl_task_checked *checked;
} px_run;

typedef struct px_worker {
    px_run *run;
    MYSQL *conn;
    pq_spare *spare; /* its tasks' writer buffers, one task after another */
} px_worker;

static void px_fail(px_run *run, const sl_err *err)
{
    pthread_mutex_lock(&run->mu);
    if (!atomic_load(&run->failed)) {
        run->first_err = *err;
        atomic_store(&run->failed, 1);
    }
    pthread_mutex_unlock(&run->mu);
    pthread_mutex_lock(&run->g.mu);
    pthread_cond_broadcast(&run->g.cv); /* a task waiting to gather stops waiting */
    pthread_mutex_unlock(&run->g.mu);
}

/* The shards' messages meet in g->all, which only this function touches, under g->mu:
 * it keeps a copy of each message and gives each participant a copy of them all, since
 * jansson's reference counts are not for objects that threads share. */
static sl_code px_gather_fn(void *ud, int participant, int n, json_t *mine, json_t **all, sl_err *err)
{
    px_run *run = ud;
    px_gather *g = &run->g;
    sl_code rc = SL_OK;
    pthread_mutex_lock(&g->mu);
    if (!g->all) {
        g->all = json_array();
        for (int i = 0; g->all && i < n; i++) json_array_append_new(g->all, json_null());
    }
    json_t *copy = g->all ? json_deep_copy(mine) : NULL;
    if (!copy || json_array_set_new(g->all, (size_t)participant, copy) != 0) {
        pthread_mutex_unlock(&g->mu);
        return sl_err_set(err, SL_E_NOMEM, "out of memory gathering the shards' totals");
    }
    if (++g->arrived == n) pthread_cond_broadcast(&g->cv);
    while (g->arrived < n && !atomic_load(&run->failed)) pthread_cond_wait(&g->cv, &g->mu);
    if (g->arrived < n) rc = sl_err_set(err, SL_E_INTERNAL, "stopped: another task failed");
    else if (!(*all = json_deep_copy(g->all))) rc = sl_err_set(err, SL_E_NOMEM, "out of memory gathering the shards' totals");
    pthread_mutex_unlock(&g->mu);
    return rc;
}

void sl_conn_pool_init(sl_conn_pool *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
}

void sl_conn_pool_fill(sl_conn_pool *p, MYSQL **conns, int n)
{
    pthread_mutex_lock(&p->mu);
    p->conns = conns;
    p->n = n;
    pthread_mutex_unlock(&p->mu);
}

MYSQL *sl_conn_pool_take(void *pool)
{
    sl_conn_pool *p = pool;
    MYSQL *m = NULL;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; !m && i < p->n; i++) {
        m = p->conns[i];
        p->conns[i] = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return m;
}

void sl_conn_pool_give(void *pool, MYSQL *conn, int ok)
{
    sl_conn_pool *p = pool;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; ok && conn && i < p->n; i++)
        if (!p->conns[i]) {
            p->conns[i] = conn;
            conn = NULL;
        }
    pthread_mutex_unlock(&p->mu);
    my_close(conn); /* its read failed (it may be in the middle of a result), or no slot */
}

void sl_conn_pool_close(sl_conn_pool *p)
{
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->n; i++) {
        my_close(p->conns[i]);
        p->conns[i] = NULL;
    }
    pthread_mutex_unlock(&p->mu);
}

void sl_conn_pool_free(sl_conn_pool *p)
{
    sl_conn_pool_close(p);
    pthread_mutex_destroy(&p->mu);
}

static sl_code px_reconnect(px_worker *wk, sl_err *err)
{
    my_close(wk->conn);
    wk->conn = my_connect(&wk->run->mp, 0, err);
    if (!wk->conn) return err->code ? err->code : SL_E_DB_CONNECT;
    return my_snapshot_begin(&wk->conn, 1, MY_NONE, err);
}

static const char *task_label(const json_t *plan, int k, char *buf, size_t cap)
{
    const json_t *t = json_array_get(json_object_get(plan, "tasks"), (size_t)k);
    snprintf(buf, cap, "%s", sl_plan_str(t, "label"));
    if (!buf[0]) snprintf(buf, cap, "task %d", k);
    return buf;
}

void sl_task_ahead_init(sl_task_ahead *a, int (*claim)(void *ud), void *claim_ud, const json_t *plan,
                        atomic_int *stop)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->claim = claim;
    a->claim_ud = claim_ud;
    a->plan = plan;
    a->stop = stop;
    a->k = -1;
}

void sl_task_ahead_start(sl_task_ahead *a, sl_task_open_fn open)
{
    pthread_mutex_lock(&a->mu);
    if (a->k < 0 && !sl_stop_requested() && !(a->stop && atomic_load(a->stop))) {
        int k = a->claim(a->claim_ud);
        if (k >= 0) {
            a->k = k;
            sl_err_clear(&a->err);
            a->rd = open(a->plan, json_array_get(json_object_get(a->plan, "tasks"), (size_t)k), a->conn, a, &a->err);
        }
    }
    pthread_mutex_unlock(&a->mu);
}

int sl_task_ahead_take(sl_task_ahead *a, int k, MYSQL *conn, my_reader **rd, sl_err *err)
{
    pthread_mutex_lock(&a->mu);
    a->conn = conn;
    int taken = a->k == k;
    if (taken) {
        *rd = a->rd;
        if (!*rd && err) *err = a->err;
        a->k = -1;
        a->rd = NULL;
    }
    pthread_mutex_unlock(&a->mu);
    return taken;
}

int sl_task_ahead_pending(sl_task_ahead *a)
{
    pthread_mutex_lock(&a->mu);
    int k = a->k;
    pthread_mutex_unlock(&a->mu);
    return k;
}

void sl_task_ahead_free(sl_task_ahead *a)
{
    my_reader_free(a->rd);
    a->rd = NULL;
    a->k = -1;
    pthread_mutex_destroy(&a->mu);
}

/* The next task of the run's queue, or -1 when none is left or the run failed. */
static int px_claim(void *ud)
{
    px_run *run = ud;
    pthread_mutex_lock(&run->mu);
    int k = !atomic_load(&run->failed) && run->next < run->ntasks ? run->next++ : -1;
    pthread_mutex_unlock(&run->mu);
    return k;
}

static void *px_worker_main(void *arg)
{
    px_worker *wk = arg;
    px_run *run = wk->run;
    mysql_thread_init();
    wk->spare = pq_spare_create(); /* NULL: each writer takes its own */
    sl_task_ahead ahead;
    int chain = strcmp(sl_plan_str(run->plan, "command"), "export") == 0;
    sl_task_ahead_init(&ahead, px_claim, run, run->plan, &run->failed);
    while (!atomic_load(&run->failed) && !sl_stop_requested()) {
        int k = sl_task_ahead_pending(&ahead); /* claimed when the previous task's read ended */
        if (k < 0) k = px_claim(run);
        if (k < 0) break;
        sl_task_ctx ctx = {run->cfg,         run->store,        NULL,          &run->failed,
                           run->unit_rows,   px_gather_fn,      run,           wk->spare,
                           sl_conn_pool_take, sl_conn_pool_give, &run->helpers, chain ? &ahead : NULL,
                           run->checked};
        sl_err err = {0};
        sl_code rc;
        int attempt = 0;
        char label[300];
        json_t *res = NULL;
        for (;;) {
            attempt++;
            rc = sl_task_execute(run->plan, k, wk->conn, &ctx, &res, &err);
            if (rc != SL_E_DB_LOST || atomic_load(&run->failed) || sl_stop_requested()) break;
            if (run->mode == MY_SNAPSHOT) {
                sl_err_prefix(&err, "the connection was lost inside the shared snapshot, which a new connection "
                                    "cannot rejoin, so the run stops with nothing marked complete (rerun it, or "
                                    "use --consistency=none to let partitions retry): ");
                break;
            }
            if (!run->retry) break;
            if (attempt >= run->max_attempts) {
                sl_err_prefix(&err, "gave up after %d attempts: ", attempt);
                break;
            }
            sl_warn("%s: connection lost (%s); retrying from its start on a new connection (attempt %d of %d)",
                    task_label(run->plan, k, label, sizeof label), err.msg, attempt + 1, run->max_attempts);
            sl_err e2 = {0};
            if (px_reconnect(wk, &e2) != SL_OK) {
                err = e2;
                rc = e2.code;
                break;
            }
            sl_err_clear(&err);
        }
        if (rc != SL_OK) {
            if (!atomic_load(&run->failed) && rc != SL_E_INTERNAL)
                sl_err_prefix(&err, "%s: ", task_label(run->plan, k, label, sizeof label));
            px_fail(run, &err);
            break;
        }
        json_object_set_new(res, "attempts", json_integer(attempt));
        const json_t *units = json_object_get(json_array_get(json_object_get(run->plan, "tasks"), (size_t)k), "units");
        pthread_mutex_lock(&run->mu);
        run->results[k] = res;
        size_t i;
        json_t *u;
        json_array_foreach(units, i, u)
        {
            long long x = json_integer_value(u);
            if (x >= 0 && x < run->nunits) run->unit_left[x]--;
        }
        pthread_mutex_unlock(&run->mu);
    }
    if (sl_stop_requested()) { /* wakes the tasks waiting to gather with this one's shard */
        sl_err e;
        sl_stop_error(&e);
        px_fail(run, &e);
    }
    sl_task_ahead_free(&ahead); /* a read started for a task the run stopped before */
    pq_spare_free(wk->spare);
    wk->spare = NULL;
    mysql_thread_end();
    return NULL;
}

static void px_progress(void *ud, int i, const char **name, long long *done, long long *estimate, int *finished)
{
    px_run *run = ud;
    const json_t *u = json_array_get(json_object_get(run->plan, "units"), (size_t)i);
    *name = sl_plan_str(u, "name");
    *done = atomic_load(&run->unit_rows[i]);
    *estimate = sl_plan_int(u, "estimate", -1);
    pthread_mutex_lock(&run->mu);
    *finished = run->unit_left[i] <= 0;
    pthread_mutex_unlock(&run->mu);
}

sl_code sl_plan_execute(const sl_config *cfg, json_t *plan, sl_progress_mode progress, json_t **summary,
                        sl_err *err)
{
    px_run run;
    memset(&run, 0, sizeof run);
    run.cfg = cfg;
    run.plan = plan;
    run.ntasks = sl_plan_ntasks(plan);
    run.mode = sl_plan_consistency(plan);
    run.max_attempts = (int)sl_plan_int(plan, "max_attempts", 1);
    run.retry = run.max_attempts > 1;
    pthread_mutex_init(&run.mu, NULL);
    sl_conn_pool_init(&run.helpers);
    pthread_mutex_init(&run.g.mu, NULL);
    pthread_cond_init(&run.g.cv, NULL);
    int nworkers = (int)sl_plan_int(plan, "connections", 1);
    if (nworkers > run.ntasks) nworkers = run.ntasks;
    if (nworkers < 1) nworkers = 1;
    int nhelpers = (int)sl_plan_int(plan, "helper_connections", 0);
    if (nhelpers < 0 || nhelpers > run.ntasks) nhelpers = nhelpers < 0 ? 0 : run.ntasks;
    px_worker *workers = NULL;
    MYSQL **conns = NULL;
    sl_code rc;
    const char *fallback = NULL;
    my_lock_opts lock_opts;
    my_lock_info lock_info;
    sl_exec_plan_lock_opts(plan, &lock_opts);
    *summary = NULL;

    run.nunits = (int)json_array_size(json_object_get(plan, "units"));
    run.results = sl_calloc((size_t)run.ntasks + 1, sizeof *run.results);
    run.unit_rows = sl_calloc((size_t)run.nunits + 1, sizeof *run.unit_rows);
    run.unit_left = sl_calloc((size_t)run.nunits + 1, sizeof *run.unit_left);
    run.checked = sl_task_checked_create(); /* NULL: every task checks */
    workers = sl_calloc((size_t)nworkers, sizeof *workers);
    conns = sl_calloc((size_t)(nworkers + nhelpers), sizeof *conns);
    if (!run.results || !run.unit_rows || !run.unit_left || !workers || !conns) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < run.ntasks; k++) {
        size_t i;
        json_t *u;
        json_array_foreach(json_object_get(json_array_get(json_object_get(plan, "tasks"), (size_t)k), "units"), i, u)
        {
            long long x = json_integer_value(u);
            if (x >= 0 && x < run.nunits) run.unit_left[x]++;
        }
    }
    SL_TRY_GOTO(rc, my_params_from_config(cfg, &run.mp, 0, err), done);
    double t_stage = sl_mono_seconds(), t_snapshot = 0, t_tasks = 0; /* the plan's "timings_used" */
    rc = sl_exec_connect(&run.mp, conns, nworkers + nhelpers, &run.mode,
                         json_is_true(json_object_get(plan, "consistency_explicit")), &fallback, &lock_opts,
                         &lock_info, err);
    for (int i = 0; i < nworkers; i++) workers[i] = (px_worker){&run, conns[i], NULL};
    sl_conn_pool_fill(&run.helpers, conns + nworkers, nhelpers); /* the pool's from here */
    if (rc != SL_OK) goto done;
    json_object_set_new(plan, "lock_used", sl_exec_lock_json(&lock_opts, &lock_info));
    t_snapshot = sl_mono_seconds() - t_stage;
    if (fallback) {
        json_object_set_new(plan, "consistency", json_string("none"));
        json_object_set_new(plan, "fallback_reason", json_string(fallback));
    }
    run.store = sl_store_open(sl_plan_str(plan, "output"), cfg, err);
    if (!run.store) {
        rc = err->code ? err->code : SL_E_STORAGE;
        goto done;
    }
    t_stage = sl_mono_seconds();
    int started = sl_exec_run_threads(nworkers, px_worker_main, workers, sizeof *workers, progress, run.nunits,
                                      px_progress, &run);
    if (started < nworkers) {
        sl_err e = {0};
        sl_err_set(&e, SL_E_INTERNAL, "could start only %d of %d worker threads", started, nworkers);
        px_fail(&run, &e);
    }
    for (int i = 0; i < nworkers; i++) {
        my_close(workers[i].conn);
        workers[i].conn = NULL;
    }
    sl_conn_pool_close(&run.helpers);
    if (atomic_load(&run.failed)) {
        *err = run.first_err;
        rc = err->code ? err->code : SL_E_INTERNAL;
        for (int k = 0; k < run.ntasks; k++)
            if (run.results[k]) sl_result_delete_files(run.store, run.results[k]);
        goto done;
    }
    t_tasks = sl_mono_seconds() - t_stage;
    t_stage = sl_mono_seconds();
    rc = sl_plan_commit(cfg, plan, run.results, run.ntasks, NULL, summary, err);
    json_object_set_new(plan, "timings_used", json_pack("{s:f, s:f, s:f}", "snapshot_seconds", t_snapshot,
                                                        "tasks_seconds", t_tasks, "commit_seconds",
                                                        sl_mono_seconds() - t_stage));
done:
    for (int i = 0; workers && i < nworkers; i++) my_close(workers[i].conn);
    sl_conn_pool_free(&run.helpers);
    for (int k = 0; run.results && k < run.ntasks; k++) json_decref(run.results[k]);
    sl_free(run.results);
    sl_free(run.unit_rows);
    sl_free(run.unit_left);
    sl_task_checked_free(run.checked);
    sl_free(workers);
    sl_free(conns);
    json_decref(run.g.all);
    sl_store_free(run.store);
    pthread_cond_destroy(&run.g.cv);
    pthread_mutex_destroy(&run.g.mu);
    pthread_mutex_destroy(&run.mu);
    /* A failure a stop caused (a socket the watcher cut) is reported as the stop. */
    return sl_exec_output_failure(sl_stop_override(rc, err), err);
}

sl_code sl_plan_here(const sl_config *cfg, json_t *plan, int dry_run, sl_progress_mode progress, char *run_id,
                     size_t run_id_cap, const char **consistency, my_lock_info *lock, json_t **summary, sl_err *err)
{
    if (dry_run) return sl_dryrun_plan(cfg, plan, stdout, err);
    snprintf(run_id, run_id_cap, "%s", sl_plan_str(plan, "run_id"));
    sl_code rc = sl_plan_execute(cfg, plan, progress, summary, err);
    *consistency = sl_plan_consistency(plan) == MY_SNAPSHOT ? "snapshot" : "none";
    sl_exec_plan_lock_info(plan, lock);
    return rc;
}
