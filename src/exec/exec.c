/* exec.c - worker connections in one snapshot (see exec.h). */
#include "exec.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/sl_alloc.h"

#include "../common/sl_log.h"

sl_code sl_exec_connect(const my_params *mp, MYSQL **conns, int n, my_consistency *mode, int explicit_mode,
                        const char **fallback, const my_lock_opts *lo, my_lock_info *li, sl_err *err)
{
    my_lock_info dummy;
    MYSQL *lock = NULL;
    if (!li) li = &dummy;
    memset(li, 0, sizeof *li);
    li->kind = MY_LOCK_NONE;
    *fallback = NULL;
    for (int i = 0; i < n; i++) {
        conns[i] = my_connect(mp, 0, err);
        if (!conns[i]) return err && err->code ? err->code : SL_E_DB_CONNECT;
    }
    if (*mode == MY_SNAPSHOT && n > 1) {
        lock = my_connect(mp, 0, err);
        if (!lock) return err && err->code ? err->code : SL_E_DB_CONNECT;
    }
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

json_t *sl_exec_snapshot_json(my_consistency mode, int connections, const char *fallback, const my_lock_opts *lo,
                              const my_lock_info *li)
{
    json_t *snap = json_pack("{s:s, s:i}", "consistency", mode == MY_SNAPSHOT ? "snapshot" : "none", "connections",
                             connections);
    if (!snap) return NULL;
    if (fallback) json_object_set_new(snap, "fallback_reason", json_string(fallback));
    if (li) {
        json_t *l = json_pack("{s:s, s:i, s:f, s:f, s:f}", "kind", my_lock_kind_name(li->kind), "attempts",
                              li->attempts, "wait_seconds", li->wait_seconds, "held_seconds", li->held_seconds,
                              "writes_blocked_seconds", li->blocked_seconds);
        if (l && lo) {
            json_object_set_new(l, "lock_wait_timeout", json_integer(lo->wait_timeout));
            json_object_set_new(l, "lock_retries", json_integer(lo->retries));
        }
        if (l && li->blocker[0]) json_object_set_new(l, "blocked_by", json_string(li->blocker));
        json_object_set_new(snap, "lock", l);
    }
    return snap;
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
