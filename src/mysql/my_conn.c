/* my_conn.c - connections and their session settings, error classification. */
#include "my_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_stop.h"
#include "my_stop.h"

sl_code my_params_from_config(const sl_config *cfg, my_params *p, int flags, sl_err *err)
{
    int64_t port, timeout;
    memset(p, 0, sizeof *p);
    p->host = sl_config_get_or(cfg, "MYSQL_HOST", "127.0.0.1");
    SL_TRY(sl_config_get_int(cfg, "MYSQL_PORT", 3306, 1, 65535, &port, err));
    SL_TRY(sl_config_get_int(cfg, "MYSQL_CONNECT_TIMEOUT", 10, 1, 3600, &timeout, err));
    p->port = (unsigned)port;
    p->connect_timeout = (unsigned)timeout;
    p->socket = sl_config_get_or(cfg, "MYSQL_SOCKET", NULL);
    p->user = sl_config_get_or(cfg, "MYSQL_USER", NULL);
    p->password = sl_config_get(cfg, "MYSQL_PASSWORD");
    p->database = sl_config_get_or(cfg, "MYSQL_DATABASE", NULL);
    if (!p->user)
        return sl_err_set(err, SL_E_CONFIG, "setting MYSQL_USER is not set (environment or .env)");
    if (!p->database && !(flags & MY_NO_DATABASE))
        return sl_err_set(err, SL_E_CONFIG, "setting MYSQL_DATABASE is not set (environment or .env)");
    return SL_OK;
}

const char *my_params_describe(const my_params *p, char *buf, unsigned long cap)
{
    if (strcmp(p->host, "localhost") == 0 && p->socket)
        snprintf(buf, cap, "%s@localhost (socket %s)", p->user, p->socket);
    else
        snprintf(buf, cap, "%s@%s:%u", p->user, p->host, p->port);
    return buf;
}

sl_code my_classify(unsigned e)
{
    switch (e) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case 1698: /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */
        return SL_E_DB_AUTH;
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_IPSOCK_ERROR:
        return SL_E_DB_CONNECT;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case 1927: /* ER_CONNECTION_KILLED */
    case ER_QUERY_INTERRUPTED:
        return SL_E_DB_LOST;
    case ER_NO_SUCH_TABLE:
    case ER_BAD_FIELD_ERROR:
        return SL_E_SCHEMA;
    case ER_BAD_DB_ERROR:
        return SL_E_CONFIG;
    default:
        return SL_E_DB;
    }
}

sl_code my_error(MYSQL *m, sl_err *err, const char *what)
{
    unsigned e = mysql_errno(m);
    return sl_err_set(err, my_classify(e), "%s: %s (MySQL error %u)", what, mysql_error(m), e);
}

sl_code my_exec(MYSQL *m, const char *sql, sl_err *err)
{
    if (mysql_real_query(m, sql, (unsigned long)strlen(sql)) != 0) return my_error(m, err, "query failed");
    /* Drain any result so the connection stays usable. */
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) mysql_free_result(r);
    } while (mysql_next_result(m) == 0);
    return SL_OK;
}

MYSQL *my_connect(const my_params *p, int flags, sl_err *err)
{
    char who[512];
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = p->connect_timeout;
    const char *host = p->host;
    if (!(flags & MY_UNWATCHED) && sl_stop_requested()) {
        if (m) mysql_close(m);
        sl_stop_error(err);
        return NULL;
    }
    if (!m) {
        sl_err_set(err, SL_E_NOMEM, "out of memory creating a MySQL handle");
        return NULL;
    }
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    {
        my_bool on = (flags & MY_LOCAL_INFILE) ? 1 : 0;
        mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &on);
    }
    /* Never read the user's ~/.my.cnf behind their back: settings come from sluice's. */
    if (!mysql_real_connect(m, host, p->user, p->password, (flags & MY_NO_DATABASE) ? NULL : p->database,
                            p->port, p->socket, CLIENT_MULTI_STATEMENTS)) {
        unsigned e = mysql_errno(m);
        sl_code code = my_classify(e);
        my_params_describe(p, who, sizeof who);
        if (e == ER_BAD_DB_ERROR)
            sl_err_set(err, SL_E_CONFIG, "database '%s' does not exist on %s (setting MYSQL_DATABASE)",
                       p->database, who);
        else if (code == SL_E_DB_AUTH)
            sl_err_set(err, code, "the server refused the credentials of %s: check MYSQL_USER and MYSQL_PASSWORD "
                       "(MySQL error %u)", who, e);
        else
            sl_err_set(err, code == SL_E_DB ? SL_E_DB_CONNECT : code,
                       "cannot connect to %s: %s (MySQL error %u); check MYSQL_HOST, MYSQL_PORT, MYSQL_SOCKET",
                       who, mysql_error(m), e);
        mysql_close(m);
        return NULL;
    }
    if (my_exec(m, "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 3600, "
                   "SESSION net_read_timeout = 3600, NAMES utf8mb4 COLLATE utf8mb4_bin", err) != SL_OK) {
        sl_err_prefix(err, "setting up the session: ");
        mysql_close(m);
        return NULL;
    }
    if (!(flags & MY_UNWATCHED)) my_stop_watch(m, p);
    return m;
}

void my_close(MYSQL *m)
{
    if (!m) return;
    my_stop_unwatch(m);
    mysql_close(m);
}

sl_code my_quote_ident(const char *ident, char *buf, unsigned long cap, sl_err *err)
{
    unsigned long j = 0;
    if (!*ident) return sl_err_set(err, SL_E_USAGE, "empty identifier");
    if (j + 1 >= cap) goto toolong;
    buf[j++] = '`';
    for (const char *p = ident; *p; p++) {
        if (j + 3 >= cap) goto toolong;
        if (*p == '`') buf[j++] = '`';
        buf[j++] = *p;
    }
    buf[j++] = '`';
    buf[j] = '\0';
    return SL_OK;
toolong:
    return sl_err_set(err, SL_E_USAGE, "identifier '%.64s...' is too long", ident);
}
