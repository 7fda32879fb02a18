/* my_conn.h - opening a MariaDB/MySQL connection from sluice's settings, with the
 * session every stage relies on: utf8mb4, UTC, long network timeouts. Errors say
 * which host, port and user failed, never the password. */
#ifndef SL_MY_CONN_H
#define SL_MY_CONN_H

#include <mysql.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"

typedef struct my_params {
    const char *host;     /* MYSQL_HOST, default "127.0.0.1" */
    unsigned port;        /* MYSQL_PORT, default 3306 */
    const char *socket;   /* MYSQL_SOCKET, used when host is "localhost" */
    const char *user;     /* MYSQL_USER, required */
    const char *password; /* MYSQL_PASSWORD, may be NULL */
    const char *database; /* MYSQL_DATABASE, required unless MY_NO_DATABASE */
    unsigned connect_timeout; /* MYSQL_CONNECT_TIMEOUT seconds, default 10 */
} my_params;

enum {
    MY_NO_DATABASE = 1, /* connect without selecting the database */
    MY_LOCAL_INFILE = 2, /* allow LOAD DATA LOCAL INFILE (seed) */
    MY_UNWATCHED = 4     /* not cut by a stop (my_stop.h): the connection that KILLs */
};

/* Pointers in p borrow from cfg, which must outlive p. */
sl_code my_params_from_config(const sl_config *cfg, my_params *p, int flags, sl_err *err);
/* "user@host:port" or "user@localhost (socket)", for messages. */
const char *my_params_describe(const my_params *p, char *buf, unsigned long cap);

/* Once a stop is requested (common/sl_stop.h) no new connection opens (SL_E_STOPPED),
 * and the open ones are cut (my_stop.h). */
MYSQL *my_connect(const my_params *p, int flags, sl_err *err);
void my_close(MYSQL *m);

/* Runs a statement that returns no rows. On failure, classifies the error. */
sl_code my_exec(MYSQL *m, const char *sql, sl_err *err);
/* Maps a client or server error number to an sl_code (2006/2013 -> SL_E_DB_LOST, ...). */
sl_code my_classify(unsigned errnum);
/* Sets err from the connection's last error: "<what>: <server message> (error N)". */
sl_code my_error(MYSQL *m, sl_err *err, const char *what);

/* Quotes an identifier with backticks into buf (doubling backticks inside). */
sl_code my_quote_ident(const char *ident, char *buf, unsigned long cap, sl_err *err);

#endif
