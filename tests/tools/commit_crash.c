/* commit_crash.c - test tool: commits N files of deterministic bytes to one partition
 * of a local folder through the commit protocol, slowly enough to be killed (kill -9)
 * at any point by tests/integration/test_commit.py, which then checks that the previous
 * "_SUCCESS" and its files are intact and that the next run cleans up.
 *
 * Usage: commit_crash ROOT PARTITION [--files N] [--size BYTES] [--chunk BYTES]
 *          [--sleep-ms MS (between chunks)] [--pause-before-finish-ms MS] [--threads T]
 *          [--run-id ID] [--as-of YYYY-MM-DD] [--append 1 (an appending commit)]
 * Prints, one line each, flushed: "run <id>", "file <name> done" per file, "finishing",
 * then "committed"; exits with sluice's exit code for the error otherwise. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/sink/commit.h"
#include "../../src/sink/store.h"

typedef struct {
    sl_commit *c;
    const char *run;
    int first, step, files;
    size_t size, chunk;
    long sleep_ms;
    sl_code rc;
    sl_err err;
} job;

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void say(const char *fmt, const char *arg)
{
    pthread_mutex_lock(&out_mu);
    printf(fmt, arg);
    fflush(stdout);
    pthread_mutex_unlock(&out_mu);
}

static void nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    if (ms > 0) nanosleep(&ts, NULL);
}

/* Bytes of file i of a run: xorshift64 seeded from the run id and i (FNV-1a). */
static uint64_t seed_of(const char *run, int i)
{
    uint64_t h = 1469598103934665603u;
    for (const char *p = run; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211u;
    h = (h ^ (uint64_t)i) * 1099511628211u;
    return h ? h : 1;
}

static sl_code write_one(job *j, int i)
{
    char name[128];
    uint8_t *buf;
    uint64_t x = seed_of(j->run, i);
    size_t left = j->size;
    sl_sink *s;
    sl_code rc = SL_OK;
    snprintf(name, sizeof name, "part-%05d-%s.bin", i, j->run);
    s = sl_commit_create_file(j->c, name, &j->err);
    if (!s) return j->err.code;
    buf = sl_malloc(j->chunk);
    if (!buf) rc = sl_err_set(&j->err, SL_E_NOMEM, "out of memory");
    while (rc == SL_OK && left) {
        size_t k = left < j->chunk ? left : j->chunk;
        for (size_t b = 0; b < k; b++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[b] = (uint8_t)x;
        }
        rc = sl_sink_write(s, buf, k, &j->err);
        left -= k;
        nap(j->sleep_ms);
    }
    if (rc == SL_OK) rc = sl_sink_finish(s, &j->err);
    sl_sink_release(s);
    sl_free(buf);
    if (rc == SL_OK) rc = sl_commit_set_rows(j->c, name, (int64_t)i + 1, &j->err);
    if (rc == SL_OK) say("file %s done\n", name);
    return rc;
}

static void *run_job(void *ud)
{
    job *j = ud;
    for (int i = j->first; i < j->files && j->rc == SL_OK; i += j->step) j->rc = write_one(j, i);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *root, *part, *as_of = "2026-12-02";
    char run[SL_RUN_ID_SIZE] = "";
    int files = 4, threads = 1, append = 0;
    size_t size = 1 << 18, chunk = 1 << 16;
    long sleep_ms = 0, pause_ms = 0;
    sl_err err = {0};
    sl_store *st;
    sl_commit *c;
    job jobs[16];
    pthread_t th[16];
    sl_code rc = SL_OK;
    json_t *extra;
    if (argc < 3) {
        fprintf(stderr, "usage: commit_crash ROOT PARTITION [--files N] [--size B] [--chunk B] [--sleep-ms MS] "
                        "[--pause-before-finish-ms MS] [--threads T] [--run-id ID] [--as-of DATE] [--append 1]\n");
        return 2;
    }
    root = argv[1];
    part = argv[2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--files") == 0) files = atoi(v);
        else if (strcmp(k, "--size") == 0) size = (size_t)atol(v);
        else if (strcmp(k, "--chunk") == 0) chunk = (size_t)atol(v);
        else if (strcmp(k, "--sleep-ms") == 0) sleep_ms = atol(v);
        else if (strcmp(k, "--pause-before-finish-ms") == 0) pause_ms = atol(v);
        else if (strcmp(k, "--threads") == 0) threads = atoi(v);
        else if (strcmp(k, "--run-id") == 0) snprintf(run, sizeof run, "%s", v);
        else if (strcmp(k, "--as-of") == 0) as_of = v;
        else if (strcmp(k, "--append") == 0) append = atoi(v);
        else {
            fprintf(stderr, "commit_crash: unknown option %s\n", k);
            return 2;
        }
    }
    if (threads < 1 || threads > 16 || chunk == 0 || files < 0) {
        fprintf(stderr, "commit_crash: bad --threads, --chunk or --files\n");
        return 2;
    }
    if (!run[0] && sl_run_id(run, &err) != SL_OK) goto fail;
    st = sl_store_open(root, NULL, &err);
    if (!st) goto fail;
    c = (append ? sl_commit_begin_append : sl_commit_begin)(st, part, run, as_of, &err);
    if (!c) {
        sl_store_free(st);
        goto fail;
    }
    say("run %s\n", run);
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){.c = c, .run = run, .first = t, .step = threads, .files = files, .size = size,
                        .chunk = chunk, .sleep_ms = sleep_ms, .rc = SL_OK};
        pthread_create(&th[t], NULL, run_job, &jobs[t]);
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        if (rc == SL_OK && jobs[t].rc != SL_OK) {
            rc = jobs[t].rc;
            err = jobs[t].err;
        }
    }
    if (rc == SL_OK) {
        say("%s", "finishing\n");
        nap(pause_ms);
        extra = json_pack("{s:{s:s, s:i}}", "metrics", "tool", "commit_crash", "threads", threads);
        rc = sl_commit_finish(c, extra, &err);
        json_decref(extra);
    } else {
        sl_commit_abort(c);
    }
    sl_commit_free(c);
    sl_store_free(st);
    if (rc != SL_OK) goto fail;
    say("%s", "committed\n");
    return 0;
fail:
    fprintf(stderr, "commit_crash: %s: %s\n", sl_strerror(err.code), err.msg);
    return sl_exit_code(err.code ? err.code : SL_E_INTERNAL);
}
