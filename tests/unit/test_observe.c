/* test_observe.c - the log module's lines (text and JSON, the run id, levels) and the
 * metrics file (exposition format, label escaping, atomic replacement, failures). The
 * JSON is parsed back with jansson; the exposition text is checked line by line. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_log.h"
#include "../../src/exec/metrics.h"
#include "test.h"

/* Runs fn with stderr sent to a temporary file; returns what it wrote (malloc'ed). */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/sl_log_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    if (buf && pread(fd, buf, (size_t)n, 0) != n) buf[0] = 0;
    close(fd);
    unlink(path);
    return buf;
}

static void emit_json(void)
{
    sl_log_set_format(SL_LOG_JSON);
    sl_log_set_level(SL_LOG_INFO);
    sl_log_set_run_id("20261206T120158Z-0c71e7f9");
    sl_log_event(SL_LOG_INFO, "table_done", json_pack("{s:s, s:i, s:s}", "table", "orders \"x\"", "rows", 42, "msg",
                                                     "a field may not replace the message"),
                 "orders: %d rows done", 42);
    sl_log_event(SL_LOG_DEBUG, "hidden", json_pack("{s:i}", "x", 1), "below the level");
    sl_warn("server said \xff\xfe (not UTF-8)\nsecond line");
    sl_log_set_run_id(NULL);
    sl_info("no run");
    sl_log_set_format(SL_LOG_TEXT);
}

static void test_json_lines(void)
{
    char *out = capture_stderr(emit_json);
    CHECK(out);
    char *save = NULL, *line;
    int n = 0;
    json_t *o[3] = {NULL, NULL, NULL};
    for (line = strtok_r(out, "\n", &save); line && n < 3; line = strtok_r(NULL, "\n", &save))
        o[n++] = json_loads(line, 0, NULL);
    int more = line != NULL;
    int ok = n == 3 && !more && o[0] && o[1] && o[2];
    free(out);
    if (ok) {
        ok = !strcmp(json_string_value(json_object_get(o[0], "event")), "table_done") &&
             !strcmp(json_string_value(json_object_get(o[0], "level")), "info") &&
             !strcmp(json_string_value(json_object_get(o[0], "run_id")), "20261206T120158Z-0c71e7f9") &&
             !strcmp(json_string_value(json_object_get(o[0], "msg")), "orders: 42 rows done") &&
             !strcmp(json_string_value(json_object_get(o[0], "table")), "orders \"x\"") &&
             json_integer_value(json_object_get(o[0], "rows")) == 42 &&
             strlen(json_string_value(json_object_get(o[0], "time"))) == 24 &&
             !strcmp(json_string_value(json_object_get(o[1], "event")), "message") &&
             !strcmp(json_string_value(json_object_get(o[1], "level")), "warning") &&
             strstr(json_string_value(json_object_get(o[1], "msg")), "second line") &&
             json_is_null(json_object_get(o[2], "run_id"));
    }
    for (int i = 0; i < 3; i++) json_decref(o[i]);
    CHECK(ok);
}

static void emit_text(void)
{
    sl_log_set_format(SL_LOG_TEXT);
    sl_log_set_level(SL_LOG_WARN);
    sl_log_set_run_id("R1");
    sl_log_event(SL_LOG_WARN, "e", json_pack("{s:s, s:i}", "table", "t", "rows", 3), "hello");
    sl_info("hidden");
    sl_log_set_run_id(NULL);
    sl_log_set_level(SL_LOG_INFO);
}

static void test_text_lines(void)
{
    char *out = capture_stderr(emit_text);
    CHECK(out);
    int ok = strncmp(out, "sluice: ", 8) == 0 && strstr(out, " warning: [R1] hello (table=t, rows=3)\n") &&
             !strstr(out, "hidden");
    free(out);
    CHECK(ok);
}

static void test_parse(void)
{
    sl_log_level l;
    sl_log_format f;
    CHECK(sl_log_parse_level("WARN", &l) == 0 && l == SL_LOG_WARN);
    CHECK(sl_log_parse_level("debug", &l) == 0 && l == SL_LOG_DEBUG);
    CHECK(sl_log_parse_level("loud", &l) != 0);
    CHECK(sl_log_parse_format("json", &f) == 0 && f == SL_LOG_JSON);
    CHECK(sl_log_parse_format("JSON5", &f) != 0);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    if (buf) buf[fread(buf, 1, 65535, f)] = 0;
    fclose(f);
    return buf;
}

static void test_metrics_file(void)
{
    char dir[] = "/tmp/sl_metrics_XXXXXX", path[128];
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/x.prom", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("old\n", f);
    fclose(f);
    sl_err err = {0};
    CHECK(sl_metrics_check_path(path, &err) == SL_OK);
    sl_metrics *m = sl_metrics_create("export", &err);
    CHECK(m);
    sl_metrics_set_run(m, "RID", "2026-01-02", "none");
    sl_metrics_table(m, "we\"ird\\name\nx", 10, -1, 0.5, 2);
    sl_metrics_table(m, "t2", 3, 100, 0.25, 0);
    sl_metrics_stage(m, "commit", 1.5);
    sl_metrics_retries(m, "partition", 2);
    sl_metrics_retries(m, "partition", 1);
    sl_metrics_lock(m, "ftwrl", 0.125, 0.5, 0.625);
    sl_code rc = sl_metrics_write(m, path, 6, &err);
    sl_metrics_free(m);
    CHECK(rc == SL_OK);
    char *text = read_all(path);
    CHECK(text);
    int ok = strstr(text, "# TYPE sluice_success gauge\nsluice_success{command=\"export\"} 0\n") &&
             strstr(text, "sluice_exit_code{command=\"export\"} 6\n") &&
             strstr(text, "sluice_run_info{command=\"export\",run_id=\"RID\",date=\"2026-01-02\",consistency=\"none\"") &&
             strstr(text, "sluice_table_rows{command=\"export\",table=\"we\\\"ird\\\\name\\nx\"} 10\n") &&
             strstr(text, "sluice_table_bytes{command=\"export\",table=\"t2\"} 100\n") &&
             !strstr(text, "sluice_table_bytes{command=\"export\",table=\"we") && /* -1: none written */
             strstr(text, "sluice_zero_dates{command=\"export\",table=\"t2\"} 0\n") &&
             strstr(text, "sluice_stage_duration_seconds{command=\"export\",stage=\"commit\"} 1.5\n") &&
             strstr(text, "sluice_retries{command=\"export\",kind=\"partition\"} 3\n") &&
             strstr(text, "sluice_retries{command=\"export\",kind=\"s3_request\"} 0\n") &&
             strstr(text, "sluice_lock_wait_seconds{command=\"export\",lock=\"ftwrl\"} 0.125\n") &&
             strstr(text, "sluice_lock_held_seconds{command=\"export\",lock=\"ftwrl\"} 0.5\n") &&
             strstr(text, "sluice_lock_writes_blocked_seconds{command=\"export\",lock=\"ftwrl\"} 0.625\n") &&
             !strstr(text, "sluice_files_written") && !strstr(text, "old");
    free(text);
    CHECK(ok);
    /* only the target is left in the folder */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A %s)\" = x.prom", dir);
    CHECK(system(cmd) == 0);
    /* a folder that does not exist: a clear error, before and at the end */
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/x.prom", dir);
    CHECK(sl_metrics_check_path(bad, &err) == SL_E_STORAGE && strstr(err.msg, bad));
    CHECK(sl_metrics_check_path(dir, &err) == SL_E_STORAGE && strstr(err.msg, "folder"));
    unlink(path);
    rmdir(dir);
}

/* Every allocation of create and write fails in turn: a clean error, never a crash or leak. */
static void test_metrics_out_of_memory(void)
{
    char path[] = "/tmp/sl_metrics_oom_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    long total = -1;
    for (long n = 0; n < 200; n++) {
        sl_err err = {0};
        sl_alloc_fail_after(n);
        sl_metrics *m = sl_metrics_create("run", &err);
        sl_code rc = m ? sl_metrics_write(m, path, 0, &err) : err.code;
        sl_metrics_free(m);
        long used = sl_alloc_fail_after(-1);
        if (rc == SL_OK) {
            total = n;
            break;
        }
        CHECK(rc == SL_E_NOMEM && err.msg[0]);
        (void)used;
    }
    unlink(path);
    CHECK(total > 0);
}

T_SUITE(suite_observe) = {
    {"log_json_lines", test_json_lines},
    {"log_text_lines", test_text_lines},
    {"log_parse", test_parse},
    {"metrics_file", test_metrics_file},
    {"metrics_out_of_memory", test_metrics_out_of_memory},
    T_END,
};
