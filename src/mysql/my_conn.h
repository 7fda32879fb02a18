/* my_conn.h - opening a MariaDB/MySQL connection from sluice's settings, with the
 * session every stage relies on: utf8mb4, UTC, long network timeouts, and TLS as
 * MYSQL_SSL_MODE asks. Errors say which host, port and user failed, never the password. */
#ifndef SL_MY_CONN_H
#define SL_MY_CONN_H

#include <mysql.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"

/* MYSQL_SSL_MODE, with the MySQL client's names and meanings. */
typedef enum my_ssl_mode {
    MY_SSL_PREFERRED = 0, /* TLS when the server offers it, else clear text (the default) */
    MY_SSL_DISABLED,      /* never TLS */
    MY_SSL_REQUIRED,      /* TLS or fail; the server's certificate is not checked */
    MY_SSL_VERIFY_CA,     /* TLS, certificate chain checked against MYSQL_SSL_CA */
    MY_SSL_VERIFY_IDENTITY /* as VERIFY_CA, and the host name must match the certificate */
} my_ssl_mode;

typedef struct my_params {
    const char *host;     /* MYSQL_HOST, default "127.0.0.1" */
    unsigned port;        /* MYSQL_PORT, default 3306 */
    const char *socket;   /* MYSQL_SOCKET, used when host is "localhost" */
    const char *user;     /* MYSQL_USER, required */
    const char *password; /* MYSQL_PASSWORD, may be NULL */
    const char *database; /* MYSQL_DATABASE, required unless MY_NO_DATABASE */
    unsigned connect_timeout; /* MYSQL_CONNECT_TIMEOUT seconds, default 10 */
    my_ssl_mode ssl_mode; /* MYSQL_SSL_MODE, default PREFERRED */
    const char *ssl_ca;   /* MYSQL_SSL_CA: CA file for VERIFY_CA / VERIFY_IDENTITY */
    const char *ssl_cert; /* MYSQL_SSL_CERT: client certificate (REQUIRE X509 users) */
    const char *ssl_key;  /* MYSQL_SSL_KEY: its private key */
} my_params;

enum {
    MY_NO_DATABASE = 1, /* connect without selecting the database */
    MY_LOCAL_INFILE = 2, /* allow LOAD DATA LOCAL INFILE (seed) */
    MY_UNWATCHED = 4     /* not cut by a stop (my_stop.h): the connection that KILLs */
};

/* Pointers in p borrow from cfg, which must outlive p. */
sl_code my_params_from_config(const sl_config *cfg, my_params *p, int flags, sl_err *err);
/* The MYSQL_SSL_MODE name of a mode ("VERIFY_CA"). */
const char *my_ssl_mode_name(my_ssl_mode mode);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384", or "not encrypted". */
const char *my_tls_describe(MYSQL *m, char *buf, unsigned long cap);
/* "user@host:port" or "user@localhost (socket)", for messages. */
const char *my_params_describe(const my_params *p, char *buf, unsigned long cap);

/* Connects as p says. TLS: MYSQL_SSL_MODE as in the MySQL client; a connection that
 * must be encrypted and is not is closed and fails (SL_E_DB_CONNECT, exit 4). Password
 * plugins that send the password in clear text (mysql_clear_password, dialog) are
 * refused unless the connection is TLS-verified before authentication (VERIFY_IDENTITY):
 * only then can no one in the middle strip TLS and read the password. One statement per
 * query: multi-statements are off, so no text sent can smuggle a second statement.
 * Once a stop is requested (common/sl_stop.h) no new connection opens (SL_E_STOPPED),
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
