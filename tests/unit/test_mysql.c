/* test_mysql.c - the settings side of src/mysql without a server: MYSQL_SSL_MODE and its
 * files as my_params_from_config reads them, and the snapshot lock's option names. What
 * needs a server (TLS, the lock) is in tests/integration/test_tls.py and test_lock.py. */
#include <stdlib.h>

#include "../../src/mysql/my_conn.h"
#include "../../src/mysql/my_lock.h"
#include "test.h"

static const char *const ssl_keys[] = {"MYSQL_SSL_MODE", "MYSQL_SSL_CA", "MYSQL_SSL_CERT", "MYSQL_SSL_KEY"};

/* A config with user and database set by flag, the MYSQL_SSL_* of the environment cleared,
 * and `dotenv` loaded. */
static sl_config *config_with(const char *dotenv)
{
    sl_err e = {0};
    sl_config *c = sl_config_create(&e);
    if (!c) return NULL;
    for (size_t i = 0; i < sizeof ssl_keys / sizeof ssl_keys[0]; i++) unsetenv(ssl_keys[i]);
    sl_config_set(c, "MYSQL_USER", "u", &e);
    sl_config_set(c, "MYSQL_DATABASE", "d", &e);
    if (sl_config_load_string(c, "t.env", dotenv, &e) != SL_OK) {
        sl_config_free(c);
        return NULL;
    }
    return c;
}

static void ssl_modes_parse_with_the_mysql_names(void)
{
    static const struct {
        const char *text;
        my_ssl_mode mode;
    } cases[] = {{"", MY_SSL_PREFERRED},
                 {"MYSQL_SSL_MODE=DISABLED\n", MY_SSL_DISABLED},
                 {"MYSQL_SSL_MODE=preferred\n", MY_SSL_PREFERRED},
                 {"MYSQL_SSL_MODE=Required\n", MY_SSL_REQUIRED},
                 {"MYSQL_SSL_MODE=VERIFY_CA\nMYSQL_SSL_CA=/ca.pem\n", MY_SSL_VERIFY_CA},
                 {"MYSQL_SSL_MODE=VERIFY_IDENTITY\nMYSQL_SSL_CA=/ca.pem\n", MY_SSL_VERIFY_IDENTITY}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_err e = {0};
        my_params p;
        sl_config *c = config_with(cases[i].text);
        CHECK(c);
        CHECK_EQ_INT(my_params_from_config(c, &p, 0, &e), SL_OK);
        CHECK_EQ_INT(p.ssl_mode, cases[i].mode);
        sl_config_free(c);
    }
    CHECK_STR(my_ssl_mode_name(MY_SSL_VERIFY_IDENTITY), "VERIFY_IDENTITY");
    CHECK_STR(my_ssl_mode_name(MY_SSL_PREFERRED), "PREFERRED");
}

static void bad_ssl_settings_name_the_setting(void)
{
    static const struct {
        const char *text, *word;
    } cases[] = {{"MYSQL_SSL_MODE=VERIFY\n", "MYSQL_SSL_MODE (t.env:1)"},
                 {"MYSQL_SSL_MODE=VERIFY_CA\n", "MYSQL_SSL_CA"},
                 {"MYSQL_SSL_MODE=VERIFY_IDENTITY\nMYSQL_SSL_CA=\n", "MYSQL_SSL_CA"},
                 {"MYSQL_SSL_CERT=/c.pem\n", "MYSQL_SSL_KEY"},
                 {"MYSQL_SSL_KEY=/k.pem\n", "MYSQL_SSL_CERT"},
                 {"MYSQL_SSL_MODE=DISABLED\nMYSQL_SSL_CA=/ca.pem\n", "DISABLED"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_err e = {0};
        my_params p;
        sl_config *c = config_with(cases[i].text);
        CHECK(c);
        CHECK_EQ_INT(my_params_from_config(c, &p, 0, &e), SL_E_CONFIG);
        CHECK(strstr(e.msg, cases[i].word) != NULL);
        sl_config_free(c);
    }
}

static void a_flag_beats_the_environment(void)
{
    sl_err e = {0};
    my_params p;
    sl_config *c = config_with("MYSQL_SSL_MODE=DISABLED\n");
    CHECK(c);
    setenv("MYSQL_SSL_MODE", "REQUIRED", 1);
    CHECK_EQ_INT(my_params_from_config(c, &p, 0, &e), SL_OK);
    CHECK_EQ_INT(p.ssl_mode, MY_SSL_REQUIRED);
    CHECK_EQ_INT(sl_config_set(c, "MYSQL_SSL_MODE", "VERIFY_IDENTITY", &e), SL_OK);
    CHECK_EQ_INT(sl_config_set(c, "MYSQL_SSL_CA", "/ca.pem", &e), SL_OK);
    CHECK_EQ_INT(my_params_from_config(c, &p, 0, &e), SL_OK);
    CHECK_EQ_INT(p.ssl_mode, MY_SSL_VERIFY_IDENTITY);
    CHECK_STR(p.ssl_ca, "/ca.pem");
    unsetenv("MYSQL_SSL_MODE");
    sl_config_free(c);
}

static void lock_options(void)
{
    sl_err e = {0};
    my_lock_opts o;
    my_lock_kind k = MY_LOCK_NONE;
    my_lock_opts_default(&o);
    CHECK_EQ_INT(o.wait_timeout, 5);
    CHECK_EQ_INT(o.retries, 3);
    CHECK_EQ_INT(o.kind, MY_LOCK_AUTO);
    CHECK_EQ_INT(my_lock_kind_parse("backup-stage", &k, &e), SL_OK);
    CHECK_EQ_INT(k, MY_LOCK_BACKUP_STAGE);
    CHECK_EQ_INT(my_lock_kind_parse("ftwrl", &k, &e), SL_OK);
    CHECK_EQ_INT(k, MY_LOCK_FTWRL);
    CHECK_EQ_INT(my_lock_kind_parse("auto", &k, &e), SL_OK);
    CHECK_EQ_INT(k, MY_LOCK_AUTO);
    CHECK_EQ_INT(my_lock_kind_parse("instance", &k, &e), SL_E_USAGE);
    CHECK(strstr(e.msg, "--snapshot-lock") && strstr(e.msg, "instance"));
    CHECK_STR(my_lock_kind_name(MY_LOCK_BACKUP_STAGE), "backup_stage");
    CHECK_STR(my_lock_kind_name(MY_LOCK_FTWRL), "ftwrl");
    CHECK_STR(my_lock_kind_name(MY_LOCK_NONE), "none");
}

T_SUITE(suite_mysql) = {
    {"ssl_modes_parse_with_the_mysql_names", ssl_modes_parse_with_the_mysql_names},
    {"bad_ssl_settings_name_the_setting", bad_ssl_settings_name_the_setting},
    {"a_flag_beats_the_environment", a_flag_beats_the_environment},
    {"lock_options", lock_options},
    T_END,
};
