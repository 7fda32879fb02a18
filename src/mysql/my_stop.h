/* my_stop.h - a stop (common/sl_stop.h) reaches the database: every open connection is
 * listed, and when a stop is requested the watcher cuts their sockets (a thread blocked
 * in a fetch gets an error at once) and then asks the server, on a connection of its
 * own, to KILL them, so no query of a stopped run keeps the server busy. */
#ifndef SL_MY_STOP_H
#define SL_MY_STOP_H

#include <mysql.h>

#include "my_conn.h"

/* Lists m (called by my_connect). p is copied; its strings must outlive the watcher
 * (they borrow the settings, which do). A connection listed after the stop is cut at once. */
void my_stop_watch(MYSQL *m, const my_params *p);
/* Unlists m; call before mysql_close, so that its socket is never cut once closed (the
 * descriptor could by then belong to another file). */
void my_stop_unwatch(MYSQL *m);

#endif
