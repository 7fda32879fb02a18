/* my_stop.c - cutting the database connections of a stopped run (see my_stop.h). */
#include "my_stop.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "../common/sl_log.h"
#include "../common/sl_stop.h"

#define MAX_WATCHED 256

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static MYSQL *watched[MAX_WATCHED];
static unsigned long ids[MAX_WATCHED];
static int nwatched, cut;
static my_params params; /* of the last listed connection: the KILL goes as the same user */
static int have_params;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void cut_socket(MYSQL *m)
{
    my_socket fd = mysql_get_socket(m);
    /* shutdown, not close: the descriptor stays valid for the thread inside libmariadb,
     * whose read then returns at once; the owner closes it as usual. */
    if (fd != (my_socket)-1) shutdown((int)fd, SHUT_RDWR);
}

/* On the watcher thread: cut every socket, then KILL the sessions. */
static void on_stop(void *ud)
{
    unsigned long kill_ids[MAX_WATCHED];
    int n;
    my_params p;
    (void)ud;
    pthread_mutex_lock(&mu);
    cut = 1;
    n = nwatched;
    for (int i = 0; i < n; i++) {
        cut_socket(watched[i]);
        kill_ids[i] = ids[i];
    }
    p = params;
    int known = have_params;
    pthread_mutex_unlock(&mu);
    if (!n || !known) return;
    /* A cut socket ends a streaming read on the server at its next write, but not a
     * statement still computing (a sort, a lock wait): KILL ends those. Best effort,
     * with a short connect timeout: the run's cleanup does not wait for it. */
    mysql_thread_init();
    if (p.connect_timeout > 3) p.connect_timeout = 3;
    MYSQL *k = my_connect(&p, MY_NO_DATABASE | MY_UNWATCHED, NULL);
    for (int i = 0; k && i < n; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "KILL CONNECTION %lu", kill_ids[i]);
        mysql_real_query(k, sql, (unsigned long)strlen(sql)); /* gone already (1094): fine */
    }
    if (k) sl_debug("stop: %d database session(s) killed", n);
    my_close(k);
    mysql_thread_end();
}

static void add_hook(void) { sl_stop_hook_add(on_stop, NULL, NULL); }

void my_stop_watch(MYSQL *m, const my_params *p)
{
    pthread_once(&once, add_hook);
    pthread_mutex_lock(&mu);
    if (nwatched < MAX_WATCHED) {
        watched[nwatched] = m;
        ids[nwatched] = mysql_thread_id(m);
        nwatched++;
    }
    params = *p;
    have_params = 1;
    if (cut) cut_socket(m); /* the stop came while it was connecting */
    pthread_mutex_unlock(&mu);
}

void my_stop_unwatch(MYSQL *m)
{
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nwatched; i++)
        if (watched[i] == m) {
            watched[i] = watched[nwatched - 1];
            ids[i] = ids[nwatched - 1];
            nwatched--;
            break;
        }
    pthread_mutex_unlock(&mu);
}
