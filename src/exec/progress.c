/* progress.c - the progress line and log (see the header). */
#include "progress.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "../common/sl_time.h"

struct sl_progress {
    sl_progress_mode mode;
    int n;
    sl_progress_fn fn;
    void *ud;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double t0, last_log;
    unsigned char *reported; /* finished items already announced */
    double *first_seen;      /* when each item's first rows arrived (0: not yet) */
    int drawn;               /* a bar line is on screen */
};

static void human(long long v, char *buf, size_t cap)
{
    if (v >= 10000000) snprintf(buf, cap, "%.1fM", (double)v / 1e6);
    else if (v >= 10000) snprintf(buf, cap, "%.0fk", (double)v / 1e3);
    else snprintf(buf, cap, "%lld", v);
}

/* "orders 48% 210k/s ETA 0:02" for one item in flight. */
static void item_text(const sl_progress *p, int i, const char *name, long long d, long long e, double now, char *out,
                      size_t cap)
{
    char rs[32];
    double el = p->first_seen[i] > 0 ? now - p->first_seen[i] : 0;
    double rate = el > 0.05 ? (double)d / el : 0;
    human((long long)rate, rs, sizeof rs);
    if (e > 0 && rate > 0) {
        int pct = d >= e ? 99 : (int)(100.0 * (double)d / (double)e);
        long s = d >= e ? 0 : (long)((double)(e - d) / rate);
        snprintf(out, cap, "%s %d%% %s/s ETA %ld:%02ld", name, pct, rs, s / 60, s % 60);
    } else {
        snprintf(out, cap, "%s %s/s", name, rs);
    }
}

static void draw(sl_progress *p, int final)
{
    long long done = 0, est = 0;
    int unknown = 0, finished_all = 1, shown = 0, more = 0;
    char inflight[200] = "";
    double now = sl_mono_seconds(), el = now - p->t0;
    for (int i = 0; i < p->n; i++) {
        const char *name;
        long long d, e;
        int fin;
        p->fn(p->ud, i, &name, &d, &e, &fin);
        done += d;
        if (e >= 0) est += e > d ? e : d;
        else unknown = 1;
        finished_all &= fin;
        if (fin && !p->reported[i]) {
            p->reported[i] = 1;
            if (p->mode == SL_PROGRESS_BAR) {
                fprintf(stderr, "\r\033[K  %-24s %lld rows done\n", name, d);
                p->drawn = 0;
            } else {
                sl_log_event(SL_LOG_INFO, "table_done", json_pack("{s:s, s:I}", "table", name, "rows", (json_int_t)d),
                             "%s: %lld rows done", name, d);
            }
        } else if (!fin && d > 0) {
            if (p->first_seen[i] == 0) p->first_seen[i] = now;
            char it[120];
            item_text(p, i, name, d, e, now, it, sizeof it);
            if (shown < 2 && strlen(inflight) + strlen(it) + 4 < sizeof inflight) {
                if (inflight[0]) strcat(inflight, " | ");
                strcat(inflight, it);
                shown++;
            } else {
                more++;
            }
        }
    }
    if (more) {
        size_t l = strlen(inflight);
        snprintf(inflight + l, sizeof inflight - l, " (+%d more)", more);
    }
    double rate = el > 0 ? (double)done / el : 0;
    int pct = !unknown && est > 0 ? (int)(100.0 * (double)done / (double)est) : -1;
    if (pct > 100) pct = 100;
    /* Estimates are information_schema's (and a --where reads less): a finished run says so. */
    if (final && finished_all && pct >= 0) pct = 100;
    char rows[32], rs[32], eta[32] = "";
    human(done, rows, sizeof rows);
    human((long long)rate, rs, sizeof rs);
    if (pct >= 0 && rate > 0 && !finished_all) {
        long s = (long)((double)(est - done) / rate);
        if (s < 0) s = 0;
        snprintf(eta, sizeof eta, "ETA %ld:%02ld", s / 60, s % 60);
    }
    if (p->mode == SL_PROGRESS_BAR) {
        char bar[31];
        int fill = pct >= 0 ? pct * 30 / 100 : 0;
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '=' : ' ';
        bar[30] = 0;
        if (pct >= 0)
            fprintf(stderr, "\r\033[K[%s] %3d%% %s rows %s/s %s  %s", bar, pct, rows, rs, eta, inflight);
        else
            fprintf(stderr, "\r\033[K%s rows %s/s  %s", rows, rs, inflight);
        p->drawn = 1;
        if (final) {
            fputc('\n', stderr);
            p->drawn = 0;
        }
        fflush(stderr);
    } else if (!final && el - p->last_log >= 10) {
        p->last_log = el;
        json_t *f = json_pack("{s:I, s:f}", "rows", (json_int_t)done, "rows_per_second", rate);
        if (pct >= 0) {
            json_object_set_new(f, "percent", json_integer(pct));
            json_object_set_new(f, "estimated_rows", json_integer(est));
            sl_log_event(SL_LOG_INFO, "progress", f, "progress: %lld rows (%d%% of about %lld), %.0f rows/s, %s", done,
                         pct, est, rate, eta);
        } else {
            sl_log_event(SL_LOG_INFO, "progress", f, "progress: %lld rows, %.0f rows/s", done, rate);
        }
    }
}

static void *run(void *arg)
{
    sl_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long step = p->mode == SL_PROGRESS_BAR ? 250 : 1000; /* ms */
        ts.tv_nsec += step * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (!p->stop) draw(p, 0);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

sl_progress *sl_progress_start(sl_progress_mode mode, int nitems, sl_progress_fn fn, void *ud)
{
    if (mode == SL_PROGRESS_OFF || mode == SL_PROGRESS_AUTO) return NULL;
    sl_progress *p = sl_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->reported = sl_calloc((size_t)(nitems > 0 ? nitems : 1), 1);
    p->first_seen = sl_calloc((size_t)(nitems > 0 ? nitems : 1), sizeof *p->first_seen);
    if (!p->reported || !p->first_seen) {
        sl_free(p->reported);
        sl_free(p->first_seen);
        sl_free(p);
        return NULL;
    }
    p->mode = mode;
    p->n = nitems;
    p->fn = fn;
    p->ud = ud;
    p->t0 = sl_mono_seconds();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        sl_free(p->reported);
        sl_free(p->first_seen);
        sl_free(p);
        return NULL;
    }
    return p;
}

void sl_progress_stop(sl_progress *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    draw(p, 1);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    sl_free(p->reported);
    sl_free(p->first_seen);
    sl_free(p);
}
