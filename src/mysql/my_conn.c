/* my_conn.c - connections and their session settings (TLS included), error
 * classification. */
#include "my_conn.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../common/sl_log.h"

static const char *const ssl_mode_names[] = {"PREFERRED", "DISABLED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"};

const char *my_ssl_mode_name(my_ssl_mode mode)
{
    return (unsigned)mode < sizeof ssl_mode_names / sizeof ssl_mode_names[0] ? ssl_mode_names[mode] : "?";
}

static sl_code ssl_from_config(const sl_config *cfg, my_params *p, sl_err *err)
{
    const char *mode = sl_config_get(cfg, "MYSQL_SSL_MODE");
    char where[300];
    p->ssl_mode = MY_SSL_PREFERRED;
    if (mode && *mode) {
        size_t i, n = sizeof ssl_mode_names / sizeof ssl_mode_names[0];
        for (i = 0; i < n && strcasecmp(mode, ssl_mode_names[i]) != 0; i++) {}
        if (i == n)
            return sl_err_set(err, SL_E_CONFIG,
                              "setting MYSQL_SSL_MODE (%s) is '%.40s'; it takes DISABLED, PREFERRED, REQUIRED, "
                              "VERIFY_CA or VERIFY_IDENTITY",
                              sl_config_source(cfg, "MYSQL_SSL_MODE", where, sizeof where), mode);
        p->ssl_mode = (my_ssl_mode)i;
    }
    p->ssl_ca = sl_config_get(cfg, "MYSQL_SSL_CA");
    p->ssl_cert = sl_config_get(cfg, "MYSQL_SSL_CERT");
    p->ssl_key = sl_config_get(cfg, "MYSQL_SSL_KEY");
    if (p->ssl_ca && !*p->ssl_ca) p->ssl_ca = NULL;
    if (p->ssl_cert && !*p->ssl_cert) p->ssl_cert = NULL;
    if (p->ssl_key && !*p->ssl_key) p->ssl_key = NULL;
    if ((p->ssl_mode == MY_SSL_VERIFY_CA || p->ssl_mode == MY_SSL_VERIFY_IDENTITY) && !p->ssl_ca)
        return sl_err_set(err, SL_E_CONFIG,
                          "MYSQL_SSL_MODE=%s needs the CA to check the server's certificate against: set MYSQL_SSL_CA "
                          "(or --mysql-ssl-ca) to a PEM file (the system's bundle, e.g. "
                          "/etc/ssl/certs/ca-certificates.crt, for a publicly signed server)",
                          my_ssl_mode_name(p->ssl_mode));
    if (!p->ssl_cert != !p->ssl_key)
        return sl_err_set(err, SL_E_CONFIG, "a client certificate needs both MYSQL_SSL_CERT and MYSQL_SSL_KEY (%s is "
                          "not set)", p->ssl_cert ? "MYSQL_SSL_KEY" : "MYSQL_SSL_CERT");
    if (p->ssl_mode == MY_SSL_DISABLED && (p->ssl_cert || p->ssl_ca))
        return sl_err_set(err, SL_E_CONFIG, "MYSQL_SSL_MODE=DISABLED contradicts MYSQL_SSL_%s: drop one of them",
                          p->ssl_cert ? "CERT" : "CA");
    if (p->ssl_ca && (p->ssl_mode == MY_SSL_PREFERRED || p->ssl_mode == MY_SSL_REQUIRED))
        sl_warn("MYSQL_SSL_CA is not used with MYSQL_SSL_MODE=%s, which does not check the server's certificate; "
                "set MYSQL_SSL_MODE=VERIFY_CA or VERIFY_IDENTITY to check it", my_ssl_mode_name(p->ssl_mode));
    return SL_OK;
}

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
    return ssl_from_config(cfg, p, err);
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
    case 5010: /* CR_PLUGIN_NOT_ALLOWED: refused a password plugin (restricted_auth) */
        return SL_E_DB_CONNECT;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SSL_CONNECTION_ERROR: /* on an open connection: the TLS stream broke (a killed connection) */
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

const char *my_tls_describe(MYSQL *m, char *buf, unsigned long cap)
{
    const char *cipher = mysql_get_ssl_cipher(m), *version = NULL;
    if (!cipher) {
        snprintf(buf, cap, "not encrypted");
        return buf;
    }
    if (mariadb_get_infov(m, MARIADB_CONNECTION_TLS_VERSION, &version) != 0) version = NULL;
    snprintf(buf, cap, "%s %s", version ? version : "TLS", cipher);
    return buf;
}

/* Password plugins that keep the password out of the wire (a scramble, a signature or
 * RSA): the list sluice allows on a connection not verified before authentication.
 * Connector/C matches names with strstr, so no entry may contain "mysql_clear_password"
 * or "dialog", the two that send the password itself. */
static const char safe_auth_plugins[] =
    "mysql_native_password,client_ed25519,parsec,caching_sha2_password,sha256_password,auth_gssapi_client";

/* TLS options for Connector/C (3.3), whose own switches differ from MYSQL_SSL_MODE:
 * any CA given makes it check the chain, MYSQL_OPT_SSL_VERIFY_SERVER_CERT adds the host
 * name and refuses a server without TLS before authenticating, and nothing else refuses
 * one (MYSQL_OPT_SSL_ENFORCE does not, checked against MariaDB 10.11): REQUIRED and
 * VERIFY_CA are checked after connecting (my_connect). */
static void set_tls(MYSQL *m, const my_params *p)
{
    my_bool on = 1;
    if (p->ssl_mode == MY_SSL_DISABLED) return;
    /* PREFERRED and REQUIRED do not check the certificate (the MySQL meaning), so the CA
     * is handed over only when it is to be used. */
    const char *ca = p->ssl_mode >= MY_SSL_VERIFY_CA ? p->ssl_ca : NULL;
    mysql_ssl_set(m, p->ssl_key, p->ssl_cert, ca, NULL, NULL);
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &on); /* asks for TLS even without any file */
    if (p->ssl_mode == MY_SSL_VERIFY_IDENTITY) mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
    else {
        my_bool off = 0;
        mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &off);
    }
}

static void connect_error(MYSQL *m, const my_params *p, sl_err *err)
{
    char who[512];
    unsigned e = mysql_errno(m);
    sl_code code = my_classify(e);
    my_params_describe(p, who, sizeof who);
    if (e == ER_BAD_DB_ERROR)
        sl_err_set(err, SL_E_CONFIG, "database '%s' does not exist on %s (setting MYSQL_DATABASE)", p->database, who);
    else if (code == SL_E_DB_AUTH)
        sl_err_set(err, code, "the server refused the credentials of %s: check MYSQL_USER and MYSQL_PASSWORD "
                   "(MySQL error %u)", who, e);
    else if (e == 5010) /* CR_PLUGIN_NOT_ALLOWED */
        sl_err_set(err, SL_E_DB_CONNECT,
                   "refused to authenticate to %s: the server asked for a password plugin that sends the password in "
                   "clear text (mysql_clear_password or dialog), which sluice sends only over a connection verified "
                   "before authentication: set MYSQL_SSL_MODE=VERIFY_IDENTITY with MYSQL_SSL_CA (MySQL error %u)",
                   who, e);
    else if (e == CR_SSL_CONNECTION_ERROR && strstr(mysql_error(m), "Validation of SSL server certificate failed"))
        /* Connector/C's words when the chain is good but no name of the certificate is the host. */
        sl_err_set(err, SL_E_DB_CONNECT,
                   "TLS to %s failed (MYSQL_SSL_MODE=%s): the server's certificate does not carry the host name "
                   "'%s' that sluice connected to (MYSQL_HOST; over a socket the name is 'localhost'): connect with a "
                   "name the certificate carries, or use VERIFY_CA (MySQL error %u: %s)",
                   who, my_ssl_mode_name(p->ssl_mode), p->host, e, mysql_error(m));
    else if (e == CR_SSL_CONNECTION_ERROR)
        sl_err_set(err, SL_E_DB_CONNECT,
                   "TLS to %s failed (MYSQL_SSL_MODE=%s): %s (MySQL error %u); check MYSQL_SSL_CA against the "
                   "server's certificate, the host name in MYSQL_HOST against the names it carries, and "
                   "MYSQL_SSL_CERT/MYSQL_SSL_KEY",
                   who, my_ssl_mode_name(p->ssl_mode), mysql_error(m), e);
    else
        sl_err_set(err, code == SL_E_DB ? SL_E_DB_CONNECT : code,
                   "cannot connect to %s: %s (MySQL error %u); check MYSQL_HOST, MYSQL_PORT, MYSQL_SOCKET", who,
                   mysql_error(m), e);
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
    set_tls(m, p);
    if (p->ssl_mode != MY_SSL_VERIFY_IDENTITY) mysql_optionsv(m, MARIADB_OPT_RESTRICTED_AUTH, safe_auth_plugins);
    /* Never read the user's ~/.my.cnf behind their back: settings come from sluice's.
     * No CLIENT_MULTI_STATEMENTS: sluice sends one statement at a time, and a text that
     * reaches a query (a --where) must not be able to carry a second one. */
    if (!mysql_real_connect(m, host, p->user, p->password, (flags & MY_NO_DATABASE) ? NULL : p->database, p->port,
                            p->socket, 0)) {
        connect_error(m, p, err);
        mysql_close(m);
        return NULL;
    }
    if (p->ssl_mode >= MY_SSL_REQUIRED && !mysql_get_ssl_cipher(m)) {
        my_params_describe(p, who, sizeof who);
        sl_err_set(err, SL_E_DB_CONNECT,
                   "MYSQL_SSL_MODE=%s, but %s does not offer TLS: the connection was closed before any query (set "
                   "up TLS on the server (ssl_cert, ssl_key), or lower MYSQL_SSL_MODE)",
                   my_ssl_mode_name(p->ssl_mode), who);
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
