/* test_config.c - .env parsing: comments, quotes, export, precedence, error lines. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_config.h"
#include "test.h"

static void parses_the_dotenv_dialect(void)
{
    sl_err e = {0};
    sl_config *c = sl_config_create(&e);
    const char *text =
        "# a comment\n"
        "\n"
        "SLT_HOST=db.example.com\n"
        "export SLT_PORT=3307\n"
        "  SLT_SPACED  =  value with spaces   # trailing comment\n"
        "SLT_SQ='single # not a comment \\n'\n"
        "SLT_DQ=\"line1\\nline2 \\\"q\\\"\"\n"
        "SLT_EMPTY=\n"
        "SLT_HASH=abc#def\n"
        "SLT_CRLF=x\r\n"
        "SLT_HOST=later-wins\n";
    CHECK(c);
    CHECK_EQ_INT(sl_config_load_string(c, "t.env", text, &e), SL_OK);
    CHECK_STR(sl_config_get(c, "SLT_HOST"), "later-wins");
    CHECK_STR(sl_config_get(c, "SLT_PORT"), "3307");
    CHECK_STR(sl_config_get(c, "SLT_SPACED"), "value with spaces");
    CHECK_STR(sl_config_get(c, "SLT_SQ"), "single # not a comment \\n");
    CHECK_STR(sl_config_get(c, "SLT_DQ"), "line1\nline2 \"q\"");
    CHECK_STR(sl_config_get(c, "SLT_EMPTY"), "");
    CHECK_STR(sl_config_get(c, "SLT_HASH"), "abc#def");
    CHECK_STR(sl_config_get(c, "SLT_CRLF"), "x");
    CHECK(sl_config_get(c, "SLT_MISSING") == NULL);
    sl_config_free(c);
}

static void precedence_flag_env_file(void)
{
    sl_err e = {0};
    char src[64];
    sl_config *c = sl_config_create(&e);
    CHECK_EQ_INT(sl_config_load_string(c, "t.env", "SLT_P1=file\nSLT_P2=file\nSLT_P3=file\n", &e), SL_OK);
    setenv("SLT_P2", "env", 1);
    setenv("SLT_P3", "env", 1);
    CHECK_EQ_INT(sl_config_set(c, "SLT_P3", "flag", &e), SL_OK);
    CHECK_STR(sl_config_get(c, "SLT_P1"), "file");
    CHECK_STR(sl_config_get(c, "SLT_P2"), "env");
    CHECK_STR(sl_config_get(c, "SLT_P3"), "flag");
    CHECK_STR(sl_config_source(c, "SLT_P1", src, sizeof src), "t.env:1");
    CHECK_STR(sl_config_source(c, "SLT_P2", src, sizeof src), "environment");
    unsetenv("SLT_P2");
    unsetenv("SLT_P3");
    sl_config_free(c);
}

static void malformed_lines_name_file_and_line(void)
{
    sl_err e = {0};
    sl_config *c = sl_config_create(&e);
    CHECK_EQ_INT(sl_config_load_string(c, "my.env", "A=1\nB=2\nthis is not a setting\n", &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "my.env:3") != NULL);
    CHECK_EQ_INT(sl_config_load_string(c, "my.env", "A=1\nSECRET=\"hunter2\n", &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "my.env:2") != NULL);
    CHECK(strstr(e.msg, "unterminated") != NULL);
    CHECK(strstr(e.msg, "hunter2") == NULL);
    CHECK_EQ_INT(sl_config_load_string(c, "my.env", "1A=x\n", &e), SL_E_CONFIG);
    CHECK_EQ_INT(sl_config_load_string(c, "my.env", "A='x' junk\n", &e), SL_E_CONFIG);
    sl_config_free(c);
}

static void integers_are_range_checked(void)
{
    sl_err e = {0};
    int64_t v;
    sl_config *c = sl_config_create(&e);
    CHECK_EQ_INT(sl_config_load_string(c, "x.env", "SLT_N=12\nSLT_BAD=12x\nSLT_BIG=70000\n", &e), SL_OK);
    CHECK_EQ_INT(sl_config_get_int(c, "SLT_N", 0, 1, 100, &v, &e), SL_OK);
    CHECK_EQ_INT(v, 12);
    CHECK_EQ_INT(sl_config_get_int(c, "SLT_UNSET", 7, 1, 100, &v, &e), SL_OK);
    CHECK_EQ_INT(v, 7);
    CHECK_EQ_INT(sl_config_get_int(c, "SLT_BAD", 0, 1, 100, &v, &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "SLT_BAD") && strstr(e.msg, "x.env:2"));
    CHECK_EQ_INT(sl_config_get_int(c, "SLT_BIG", 0, 1, 65535, &v, &e), SL_E_CONFIG);
    sl_config_free(c);
}

/* Every allocation of loading a .env file fails in turn (n = 0 .. the count the allocator
 * reports for a whole load): each is SL_E_NOMEM with a message, never a crash, a leak
 * (ASan) or a half-read value; the same text then loads into the same config. */
static void load_alloc_failures(void)
{
    static const char text[] = "# settings\n"
                               "export SLT_A=1\n"
                               "SLT_B='single'\n"
                               "SLT_C=\"esc\\n\\t\\\"q\\\" \\x\"  # comment\n"
                               "SLT_D = plain value # comment\n"
                               "SLT_A=2\n";
    long total = -1;
    char path[] = "/tmp/sluice-config-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(f);
    fputs(text, f);
    fclose(f);
    for (long n = -1;; n++) {
        sl_err e = {0};
        sl_config *c;
        sl_code rc;
        sl_alloc_fail_after(n);
        c = sl_config_create(&e);
        rc = c ? sl_config_load_file(c, path, 1, &e) : e.code;
        long made = sl_alloc_fail_after(-1);
        if (n == -1) {
            CHECK_EQ_INT(rc, SL_OK);
            total = made;
            CHECK(total > 10);
        } else {
            CHECK(rc == SL_OK || rc == SL_E_NOMEM);
            if (rc == SL_E_NOMEM) CHECK(e.msg[0] != 0);
            /* After a failure the config still answers, and a new load completes it. */
            if (c && rc != SL_OK) CHECK_EQ_INT(sl_config_load_string(c, "sweep.env", text, &e), SL_OK);
        }
        if (c) {
            CHECK_STR(sl_config_get(c, "SLT_A"), "2");
            CHECK_STR(sl_config_get(c, "SLT_B"), "single");
            CHECK_STR(sl_config_get(c, "SLT_C"), "esc\n\t\"q\" \\x");
            CHECK_STR(sl_config_get(c, "SLT_D"), "plain value");
        }
        sl_config_free(c);
        if (n >= total) break; /* every allocation of the load has failed once */
    }
    unlink(path);
}

T_SUITE(suite_config) = {
    {"parses_the_dotenv_dialect", parses_the_dotenv_dialect},
    {"precedence_flag_env_file", precedence_flag_env_file},
    {"malformed_lines_name_file_and_line", malformed_lines_name_file_and_line},
    {"integers_are_range_checked", integers_are_range_checked},
    {"load_alloc_failures", load_alloc_failures},
    T_END,
};
