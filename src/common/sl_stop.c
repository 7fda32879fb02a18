/* sl_stop.c - the stop flag, its signal handler, and the watcher thread that runs the
 * stop hooks outside signal context (see sl_stop.h). */
#include "sl_stop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* The handler touches only this atomic and write(2): both async-signal-safe, the atomic
 * because it is lock-free. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be a lock-free atomic");
static atomic_int stop_sig;
static atomic_int wake_wr = -1; /* write end of the watcher's pipe, or -1 */
static int wake_rd = -1;
static atomic_int quitting;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* hooks, hooks_ran, the watcher */
static struct {
    void (*fn)(void *);
    void *ud;
} hooks[8];
static int nhooks, hooks_ran, watching;
static pthread_t watcher;

static void on_signal(int sig)
{
    int saved = errno, expected = 0;
    /* A second signal: the user (or the orchestrator) does not want to wait for the
     * cleanup. The next successful commit deletes what is left. */
    if (!atomic_compare_exchange_strong(&stop_sig, &expected, sig)) _exit(128 + sig);
    int fd = atomic_load(&wake_wr);
    if (fd >= 0) {
        ssize_t w = write(fd, "s", 1); /* non-blocking: a full pipe already wakes the watcher */
        (void)w;
    }
    errno = saved;
}

static void run_hooks(void)
{
    pthread_mutex_lock(&mu);
    if (!hooks_ran) {
        hooks_ran = 1;
        for (int i = 0; i < nhooks; i++) hooks[i].fn(hooks[i].ud);
    }
    pthread_mutex_unlock(&mu);
}

static void *watch_main(void *ud)
{
    (void)ud;
    for (;;) {
        char c;
        ssize_t r = read(wake_rd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || atomic_load(&quitting)) break;
        if (atomic_load(&stop_sig)) run_hooks();
    }
    return NULL;
}

sl_code sl_stop_install(sl_err *err)
{
    int fds[2];
    struct sigaction sa;
    pthread_mutex_lock(&mu);
    if (watching) {
        pthread_mutex_unlock(&mu);
        return SL_OK;
    }
    if (wake_rd < 0) {
        if (pipe2(fds, O_CLOEXEC) != 0) {
            pthread_mutex_unlock(&mu);
            return sl_err_set(err, SL_E_INTERNAL, "cannot make the stop watcher's pipe: %s", strerror(errno));
        }
        fcntl(fds[1], F_SETFL, O_NONBLOCK);
        wake_rd = fds[0];
        atomic_store(&wake_wr, fds[1]); /* kept open for the life of the process: the handler may use it */
    }
    atomic_store(&quitting, 0);
    if (pthread_create(&watcher, NULL, watch_main, NULL) != 0) {
        pthread_mutex_unlock(&mu);
        return sl_err_set(err, SL_E_INTERNAL, "cannot start the stop watcher thread");
    }
    watching = 1;
    pthread_mutex_unlock(&mu);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A signal that came before the handler was in place killed the process; one that
     * came between the flag and the watcher is picked up here. */
    if (atomic_load(&stop_sig)) {
        ssize_t w = write(atomic_load(&wake_wr), "s", 1);
        (void)w;
    }
    return SL_OK;
}

void sl_stop_uninstall(void)
{
    pthread_mutex_lock(&mu);
    int was = watching;
    watching = 0;
    pthread_mutex_unlock(&mu);
    if (!was) return;
    /* The handlers stay: a signal during the rest of the exit still means "stop now". */
    atomic_store(&quitting, 1);
    ssize_t w = write(atomic_load(&wake_wr), "q", 1);
    (void)w;
    pthread_join(watcher, NULL);
}

int sl_stop_requested(void) { return atomic_load_explicit(&stop_sig, memory_order_relaxed); }

static _Thread_local int shield;

void sl_stop_shield(int on) { shield += on ? 1 : -1; }

int sl_stop_interrupts(void) { return shield <= 0 && sl_stop_requested(); }

sl_code sl_stop_error(sl_err *err)
{
    int s = sl_stop_requested();
    return sl_err_set(err, SL_E_STOPPED, "stopped by %s", s == SIGTERM ? "SIGTERM" : s == SIGINT ? "SIGINT" : "a signal");
}

sl_code sl_stop_check(sl_err *err) { return sl_stop_requested() ? sl_stop_error(err) : SL_OK; }

sl_code sl_stop_override(sl_code rc, sl_err *err)
{
    if (rc == SL_OK || rc == SL_E_STOPPED || !sl_stop_requested()) return rc;
    return sl_stop_error(err);
}

sl_code sl_stop_hook_add(void (*fn)(void *), void *ud, sl_err *err)
{
    pthread_mutex_lock(&mu);
    if (nhooks == (int)(sizeof hooks / sizeof hooks[0])) {
        pthread_mutex_unlock(&mu);
        return sl_err_set(err, SL_E_INTERNAL, "too many stop hooks");
    }
    hooks[nhooks].fn = fn;
    hooks[nhooks].ud = ud;
    nhooks++;
    if (hooks_ran) fn(ud); /* the stop came first */
    pthread_mutex_unlock(&mu);
    return SL_OK;
}

void sl_stop_request(int sig)
{
    int expected = 0;
    if (atomic_compare_exchange_strong(&stop_sig, &expected, sig)) run_hooks();
}

void sl_stop_reset(void)
{
    pthread_mutex_lock(&mu);
    atomic_store(&stop_sig, 0);
    hooks_ran = 0;
    pthread_mutex_unlock(&mu);
}
