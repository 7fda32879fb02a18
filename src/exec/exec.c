/* exec.c - worker connections in one snapshot (see exec.h). */
#include "exec.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/sl_alloc.h"

#include "../common/sl_log.h"

/* One connection opened on a thread of its own (connect_all). */
typedef struct opening {
    const my_params *mp;
    MYSQL *m;
    sl_err err;
    pthread_t th;
    int started;
} opening;

static void *open_main(void *arg)
{
    opening *o = arg;
    mysql_thread_init();
    o->m = my_connect(o->mp, 0, &o->err);
    mysql_thread_end();
    return NULL;
}

/* Opens n connections at once, each on its own thread but the first: the handshakes'
 * round trips overlap instead of adding up. On failure the first error, in the order of
 * out[], and none left open. */
static sl_code connect_all(const my_params *mp, MYSQL **out, int n, sl_err *err)
{
    opening *o = sl_calloc((size_t)n, sizeof *o);
    sl_code rc = SL_OK;
    if (!o) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    mysql_library_init(0, NULL, NULL); /* before the threads: Connector/C's one-time setup */
    for (int i = 0; i < n; i++) o[i].mp = mp;
    for (int i = 1; i < n; i++) o[i].started = pthread_create(&o[i].th, NULL, open_main, &o[i]) == 0;
    o[0].m = my_connect(mp, 0, &o[0].err);
    for (int i = 1; i < n; i++) {
        if (o[i].started) pthread_join(o[i].th, NULL);
        else open_main(&o[i]); /* no thread to be had: in turn */
    }
    for (int i = 0; i < n; i++) {
        if (!o[i].m && rc == SL_OK) {
            if (err) *err = o[i].err;
            rc = o[i].err.code ? o[i].err.code : SL_E_DB_CONNECT;
        }
    }
    for (int i = 0; i < n; i++) {
        if (rc != SL_OK) my_close(o[i].m);
        out[i] = rc == SL_OK ? o[i].m : NULL;
    }
    sl_free(o);
    return rc;
}

sl_code sl_exec_connect(const my_params *mp, MYSQL **conns, int n, my_consistency *mode, int explicit_mode,
                        const char **fallback, const my_lock_opts *lo, my_lock_info *li, sl_err *err)
{
    my_lock_info dummy;
    MYSQL *lock = NULL;
    if (!li) li = &dummy;
    memset(li, 0, sizeof *li);
    li->kind = MY_LOCK_NONE;
    *fallback = NULL;
    /* the workers' connections and, for a shared snapshot, the lock's, all at once */
    int with_lock = *mode == MY_SNAPSHOT && n > 1;
    MYSQL **all = sl_calloc((size_t)n + 1, sizeof *all);
    if (!all) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    sl_code crc = connect_all(mp, all, n + with_lock, err);
    if (crc == SL_OK) {
        memcpy(conns, all, (size_t)n * sizeof *conns);
        lock = with_lock ? all[n] : NULL;
    }
    sl_free(all);
    if (crc != SL_OK) return crc;
    sl_code rc = my_snapshot_begin_locked(lock, conns, n, *mode, lo, li, err);
    my_close(lock);
    if (rc == SL_OK && li->kind != MY_LOCK_NONE)
        sl_info("snapshot lock %s: %d attempt%s, waited %.3f s, held %.3f s", my_lock_kind_name(li->kind),
                li->attempts, li->attempts == 1 ? "" : "s", li->wait_seconds, li->held_seconds);
    if (rc != SL_OK && *mode == MY_SNAPSHOT && !explicit_mode && li->denied) {
        *fallback = "the user may not take the snapshot lock (RELOAD privilege); each connection reads its own "
                    "snapshot";
        sl_warn("no shared snapshot: %s. Falling back to --consistency=none (reported in the manifest); grant "
                "RELOAD to the user for one consistent snapshot across connections.", err ? err->msg : "");
        *mode = MY_NONE;
        memset(li, 0, sizeof *li);
        li->kind = MY_LOCK_NONE;
        for (int i = 0; i < n; i++) my_exec(conns[i], "ROLLBACK", NULL);
        sl_err_clear(err);
        rc = my_snapshot_begin(conns, n, MY_NONE, err);
    }
    return rc;
}

json_t *sl_exec_lock_json(const my_lock_opts *lo, const my_lock_info *li)
{
    json_t *l = json_pack("{s:s, s:i, s:f, s:f, s:f, s:i, s:i}", "kind", my_lock_kind_name(li->kind), "attempts",
                          li->attempts, "wait_seconds", li->wait_seconds, "held_seconds", li->held_seconds,
                          "writes_blocked_seconds", li->blocked_seconds, "lock_wait_timeout", lo->wait_timeout,
                          "lock_retries", lo->retries);
    if (l && li->blocker[0]) json_object_set_new(l, "blocked_by", json_string(li->blocker));
    return l;
}

void sl_exec_plan_set_lock(json_t *plan, const my_lock_opts *lo)
{
    json_object_set_new(plan, "lock", json_pack("{s:i, s:i, s:s}", "wait_timeout", lo->wait_timeout, "retries",
                                                 lo->retries, "kind", my_lock_kind_name(lo->kind)));
}

void sl_exec_plan_lock_opts(const json_t *plan, my_lock_opts *lo)
{
    const json_t *l = json_object_get(plan, "lock");
    my_lock_opts_default(lo);
    if (!json_is_object(l)) return;
    const json_t *t = json_object_get(l, "wait_timeout"), *r = json_object_get(l, "retries");
    if (json_is_integer(t) && json_integer_value(t) >= 1 && json_integer_value(t) <= 3600)
        lo->wait_timeout = (int)json_integer_value(t);
    if (json_is_integer(r) && json_integer_value(r) >= 0 && json_integer_value(r) <= 100)
        lo->retries = (int)json_integer_value(r);
    const char *k = json_string_value(json_object_get(l, "kind"));
    if (k) my_lock_kind_parse(k, &lo->kind, NULL);
}

void sl_exec_plan_lock_info(const json_t *plan, my_lock_info *li)
{
    const json_t *l = json_object_get(plan, "lock_used");
    memset(li, 0, sizeof *li);
    li->kind = MY_LOCK_NONE;
    if (!json_is_object(l)) return;
    const char *k = json_string_value(json_object_get(l, "kind"));
    li->kind = k && strcmp(k, "backup_stage") == 0 ? MY_LOCK_BACKUP_STAGE
               : k && strcmp(k, "ftwrl") == 0     ? MY_LOCK_FTWRL
                                                  : MY_LOCK_NONE;
    li->attempts = (int)json_integer_value(json_object_get(l, "attempts"));
    li->wait_seconds = json_number_value(json_object_get(l, "wait_seconds"));
    li->held_seconds = json_number_value(json_object_get(l, "held_seconds"));
    li->blocked_seconds = json_number_value(json_object_get(l, "writes_blocked_seconds"));
    const char *b = json_string_value(json_object_get(l, "blocked_by"));
    if (b) snprintf(li->blocker, sizeof li->blocker, "%s", b);
}

json_t *sl_exec_schema_json(const sl_schema *s)
{
    json_t *a = json_array();
    for (int i = 0; a && i < s->ncols; i++) {
        const sl_field *f = &s->fields[i];
        char type[64];
        if (f->type.id == SL_DECIMAL) snprintf(type, sizeof type, "decimal(%d,%d)", f->type.precision, f->type.scale);
        else snprintf(type, sizeof type, "%s", sl_type_name(f->type.id));
        json_array_append_new(a, json_pack("{s:s, s:s, s:b, s:s?}", "name", f->name, "type", type, "nullable",
                                           f->nullable, "mysql_type", f->origin));
    }
    return a;
}

int sl_exec_run_threads(int n, void *(*fn)(void *), void *base, size_t stride, sl_progress_mode mode, int nitems,
                        sl_progress_fn pfn, void *pud)
{
    pthread_t *th = sl_calloc((size_t)(n > 0 ? n : 1), sizeof *th);
    if (!th) return 0;
    if (mode == SL_PROGRESS_AUTO) mode = isatty(2) ? SL_PROGRESS_BAR : SL_PROGRESS_LOG;
    /* JSON logs: every stderr line must be an object, so progress goes as log events. */
    if (sl_log_get_format() == SL_LOG_JSON && mode == SL_PROGRESS_BAR) mode = SL_PROGRESS_LOG;
    sl_progress *prog = sl_progress_start(mode, nitems, pfn, pud);
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&th[i], NULL, fn, (char *)base + (size_t)i * stride) != 0) break;
        started++;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    sl_progress_stop(prog);
    sl_free(th);
    return started;
}

sl_code sl_exec_open_parquet(sl_commit *c, const char *name, const sl_schema *schema, const pq_options *base,
                             const char *source, const char *run_id, const char *as_of, my_consistency mode,
                             sl_sink **sink, pq_writer **w, sl_err *err)
{
    pq_kv kv[] = {{"sluice.source", source}, {"sluice.run_id", run_id}, {"sluice.as_of", as_of},
                  {"sluice.consistency", mode == MY_SNAPSHOT ? "snapshot" : "none"}};
    pq_options po = *base;
    po.kv = kv;
    po.kv_count = (int)(sizeof kv / sizeof kv[0]);
    *w = NULL;
    *sink = sl_commit_create_file(c, name, err);
    if (!*sink) return err && err->code ? err->code : SL_E_STORAGE;
    *w = pq_writer_open(*sink, schema, &po, err);
    if (!*w) return err && err->code ? err->code : SL_E_INTERNAL;
    return SL_OK;
}

sl_code sl_exec_output_failure(sl_code rc, sl_err *err)
{
    if (rc != SL_E_IO) return rc;
    if (err) err->code = SL_E_STORAGE;
    return SL_E_STORAGE;
}

sl_code sl_exec_memory_check(size_t limit, sl_err *err)
{
    if (limit < SL_MEMORY_LIMIT_MIN)
        return sl_err_set(err, SL_E_USAGE,
                          "--memory-limit %.1fM is too small to work with: sluice needs at least %zuM for its read "
                          "batches and the row groups, pages and dictionaries of the files it writes",
                          (double)limit / 1048576.0, SL_MEMORY_LIMIT_MIN >> 20);
    return SL_OK;
}

void sl_exec_memory_pq(pq_options *pq, size_t share, int keep_row_group, int keep_page)
{
    size_t small = share / 16 < ((size_t)16 << 10) ? (size_t)16 << 10 : share / 16;
    if (!keep_page && pq->page_size > small) pq->page_size = small;
    if (pq->dictionary_max > small) pq->dictionary_max = small;
    if (!keep_row_group && pq->row_group_size > share / 2) pq->row_group_size = share / 2;
    if (pq->row_group_size < pq->page_size) pq->row_group_size = pq->page_size;
}
