/* main.c - sluice's entry point: global flags, the command table, --help and
 * --version. Each command lives in its own cmd_*.c file. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "../exec/export.h"
#include "cli.h"

static const cli_command commands[] = {
    {"check", "connect to the database, check the schema, print row estimates", cmd_check},
    {"seed", "create the source schema and load deterministic sample data", cmd_seed},
    {"run", "compute the business analytics and write business_insights/<date>/ (one _SUCCESS)", cmd_run},
    {"export", "copy tables or a query to Parquet, partitioned by date, with a _SUCCESS manifest", cmd_export},
    {"report", "regenerate report.html of a business_insights/<date>/ partition from its datasets", cmd_report},
    {"inspect", "print a Parquet file's schema, metadata, row groups, statistics and first rows", cmd_inspect},
    {"plan", "plan a run or export as independent tasks without running it (--json)", cmd_plan},
    {"task", "run one task of a plan and print its result (JSON)", cmd_task},
    {"commit", "commit a plan's task results: one per task, _SUCCESS last", cmd_commit},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* "128M", "64MiB", "1G", "1048576" -> bytes. */
int cli_parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !(v > 0)) return -1;
    double mult = 1;
    if (*end == 'k' || *end == 'K') mult = 1024, end++;
    else if (*end == 'm' || *end == 'M') mult = 1024.0 * 1024, end++;
    else if (*end == 'g' || *end == 'G') mult = 1024.0 * 1024 * 1024, end++;
    if (mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)) end += strlen(end);
    if (*end) return -1;
    v *= mult;
    if (v > 64.0 * 1024 * 1024 * 1024) return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_progress(const char *cmd, const char *arg, int *mode)
{
    static const char *const names[] = {"bar", "log", "off"};
    static const int modes[] = {SL_PROGRESS_BAR, SL_PROGRESS_LOG, SL_PROGRESS_OFF};
    for (int i = 0; i < 3; i++)
        if (strcmp(arg, names[i]) == 0) {
            *mode = modes[i];
            return 0;
        }
    return cli_usage_error(cmd, "--progress takes bar, log or off, not '%s'", arg);
}

int cli_parse_consistency(const char *cmd, const char *arg, int *mode)
{
    if (strcmp(arg, "snapshot") == 0) *mode = MY_SNAPSHOT;
    else if (strcmp(arg, "none") == 0) *mode = MY_NONE;
    else return cli_usage_error(cmd, "--consistency takes snapshot or none, not '%s'", arg);
    return 0;
}

int cli_parse_wide_decimal(const char *cmd, const char *arg, int *as_string)
{
    if (strcmp(arg, "string") == 0) *as_string = 1;
    else if (strcmp(arg, "decimal") == 0) *as_string = 0;
    else return cli_usage_error(cmd, "--wide-decimal takes string or decimal, not '%s'", arg);
    return 0;
}

int cli_parse_lock(const char *cmd, const char *flag, const char *arg, my_lock_opts *lo)
{
    char *end;
    sl_err e = {0};
    long v;
    if (strcmp(flag, "snapshot-lock") == 0) {
        if (my_lock_kind_parse(arg, &lo->kind, &e) != SL_OK) return cli_usage_error(cmd, "%s", e.msg);
        return 0;
    }
    errno = 0;
    v = strtol(arg, &end, 10);
    if (strcmp(flag, "lock-wait-timeout") == 0) {
        if (errno || end == arg || *end || v < 1 || v > 3600)
            return cli_usage_error(cmd, "--lock-wait-timeout takes whole seconds from 1 to 3600, not '%s'", arg);
        lo->wait_timeout = (int)v;
    } else {
        if (errno || end == arg || *end || v < 0 || v > 100)
            return cli_usage_error(cmd, "--lock-retries takes 0 to 100, not '%s'", arg);
        lo->retries = (int)v;
    }
    return 0;
}

const char cli_lock_help[] =
    "\nThe snapshot lock (README, \"The snapshot lock\"):\n"
    "  --lock-wait-timeout S      seconds the snapshot lock may wait, blocking writes meanwhile\n"
    "                             (default 5); then it is abandoned and writes resume at once\n"
    "  --lock-retries N           attempts after the first, 1, 2, 4 ... s apart (default 3); then\n"
    "                             the run fails (exit 1) naming the query that blocked the lock\n"
    "  --snapshot-lock L          auto (default: BACKUP STAGE BLOCK_COMMIT on MariaDB 10.4+, which\n"
    "                             blocks only commits; FLUSH TABLES WITH READ LOCK elsewhere),\n"
    "                             backup-stage or ftwrl. Needs RELOAD; README \"The snapshot lock\"\n";

void cli_print_global_help(FILE *out)
{
    fputs("\nGlobal options (anywhere on the line):\n"
          "  --env-file PATH   read settings from PATH instead of ./.env\n"
          "  --s3-endpoint URL S3-compatible endpoint, http(s)://host[:port] (the S3_ENDPOINT setting)\n"
          "  --mysql-ssl-mode M TLS to MySQL: DISABLED, PREFERRED (default), REQUIRED, VERIFY_CA or\n"
          "                    VERIFY_IDENTITY (the MYSQL_SSL_MODE setting; README \"TLS to MySQL\")\n"
          "  --mysql-ssl-ca F  CA file the server's certificate is checked against (MYSQL_SSL_CA)\n"
          "  --mysql-ssl-cert F  client certificate (MYSQL_SSL_CERT) for REQUIRE X509 accounts,\n"
          "  --mysql-ssl-key F   with its private key (MYSQL_SSL_KEY)\n"
          "  -q, --quiet       only errors on stderr (and no summary on stdout)\n"
          "  -v, --verbose     debug log lines on stderr\n"
          "  --log-format F    text (default) or json: one JSON object a line on stderr with time,\n"
          "                    level, run_id, event, msg and the event's fields\n"
          "  --log-level L     error, warn, info (default) or debug; over -q/-v for log lines\n"
          "\nExit codes: 0 success, 1 runtime failure, 2 usage error, 3 configuration error,\n"
          "  4 database unreachable or credentials refused, 5 source table or column missing,\n"
          "  6 source value cannot be represented, 7 output storage failed, 8 invalid input file,\n"
          "  130 / 143 stopped by SIGINT / SIGTERM (run, export, task, commit): reading stops,\n"
          "  uploads are aborted, this run's files are removed, no _SUCCESS is written\n"
          "  (a second signal exits at once).\n",
          out);
}

static void print_help(FILE *out)
{
    fputs("sluice - batch ingestion from MySQL/MariaDB to Parquet, with business analytics\n\n"
          "Usage: sluice [global options] <command> [options]\n\nCommands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'sluice <command> --help' for a command's options.\n"
          "Settings (MYSQL_HOST, MYSQL_PORT, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD,\n"
          "MYSQL_SOCKET, MYSQL_SSL_*, AWS_...) come from flags, then the environment, then ./.env.\n",
          out);
    cli_print_global_help(out);
}

int cli_fail(const char *cmd, const sl_err *err)
{
    sl_err stopped;
    int stop = err->code == SL_E_STOPPED || sl_stop_requested(); /* a failure a stop caused is the stop */
    if (stop && err->code != SL_E_STOPPED) {
        sl_stop_error(&stopped);
        err = &stopped;
    }
    int code = sl_exit_code(err->code);
    const char *msg = err->msg[0] ? err->msg : sl_strerror(err->code);
    if (sl_log_get_format() == SL_LOG_JSON)
        sl_log_event(SL_LOG_ERROR, stop ? "stopped" : "failed",
                     json_pack("{s:s, s:s, s:i}", "command", cmd, "error", sl_strerror(err->code), "exit_code", code),
                     stop ? "%s: nothing was committed; this run's files and uploads were removed and the previous "
                            "output is as it was" : "%s", msg);
    else if (stop)
        fprintf(stderr, "sluice %s: %s: nothing was committed; this run's files and uploads were removed and the "
                "previous output is as it was\n", cmd, msg);
    else
        fprintf(stderr, "sluice %s: error: %s\n", cmd, msg);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (sl_log_get_format() == SL_LOG_JSON)
        sl_log_event(SL_LOG_ERROR, "usage_error", json_pack("{s:s, s:i}", "command", cmd, "exit_code", SL_EXIT_USAGE),
                     "%s (try 'sluice %s --help')", msg, cmd);
    else
        fprintf(stderr, "sluice %s: %s\nTry 'sluice %s --help'.\n", cmd, msg, cmd);
    return SL_EXIT_USAGE;
}

int cli_stop_install(const char *cmd)
{
    sl_err err = {0};
    if (sl_stop_install(&err) != SL_OK) return cli_fail(cmd, &err);
    return 0;
}

void cli_stop_late(const char *cmd)
{
    int s = sl_stop_requested();
    if (s)
        sl_warn("sluice %s: %s came after the output was committed: the run is complete", cmd,
                s == 15 ? "SIGTERM" : s == 2 ? "SIGINT" : "a stop signal");
}

int cli_load_config(cli_ctx *ctx, const char *cmd, sl_err *err)
{
    (void)cmd;
    if (ctx->env_file) return sl_config_load_file(ctx->cfg, ctx->env_file, 1, err) == SL_OK ? 0 : -1;
    return sl_config_load_file(ctx->cfg, ".env", 0, err) == SL_OK ? 0 : -1;
}

/* Global flags that set a setting (over the environment and .env), as --s3-endpoint does. */
static const struct {
    const char *flag, *setting, *what;
} setting_flags[] = {
    {"--mysql-ssl-mode", "MYSQL_SSL_MODE", "a mode"},
    {"--mysql-ssl-ca", "MYSQL_SSL_CA", "a file"},
    {"--mysql-ssl-cert", "MYSQL_SSL_CERT", "a file"},
    {"--mysql-ssl-key", "MYSQL_SSL_KEY", "a file"},
};
#define NSETTING_FLAGS (sizeof setting_flags / sizeof setting_flags[0])

/* 1 when argv[*i] is one of setting_flags ("--flag VALUE" or "--flag=VALUE"), its value
 * kept in ctx->settings; *rc is a usage error's exit code when the value is missing. */
static int match_setting_flag(int argc, char **argv, int *i, cli_ctx *ctx, int *rc)
{
    const char *a = argv[*i];
    *rc = 0;
    for (size_t f = 0; f < NSETTING_FLAGS; f++) {
        size_t n = strlen(setting_flags[f].flag);
        if (strncmp(a, setting_flags[f].flag, n) != 0 || (a[n] != '\0' && a[n] != '=')) continue;
        const char *v;
        if (a[n] == '=') v = a + n + 1;
        else if (*i + 1 < argc) v = argv[++*i];
        else {
            *rc = cli_usage_error("", "%s needs %s", setting_flags[f].flag, setting_flags[f].what);
            return 1;
        }
        ctx->settings[f] = v;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    sl_err err = {0};
    int n = 0, rc = 0;
    const char *cmd = NULL, *log_format = NULL, *log_level = NULL;

#ifdef __GLIBC__
    /* Blocks of 1 MiB and more (maps, aggregates, row groups, batches) mapped on their
     * own and unmapped when freed. glibc's default raises that threshold after each such
     * free, so a run's later passes and files took their memory from the heap and kept it
     * after use: peak RSS at scale 20 was 270 MiB with it, 178 MiB with this. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif

    /* Pull the global options out of argv, wherever they stand before "--". */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            while (i < argc) argv[++n] = argv[i++];
            break;
        }
        if (strcmp(a, "--env-file") == 0) {
            if (i + 1 >= argc) return cli_usage_error("", "--env-file needs a path");
            ctx.env_file = argv[++i];
        } else if (strncmp(a, "--env-file=", 11) == 0) {
            ctx.env_file = a + 11;
        } else if (match_setting_flag(argc, argv, &i, &ctx, &rc)) {
            if (rc) return rc;
        } else if (strcmp(a, "--s3-endpoint") == 0) {
            if (i + 1 >= argc) return cli_usage_error("", "--s3-endpoint needs a URL");
            ctx.s3_endpoint = argv[++i];
        } else if (strncmp(a, "--s3-endpoint=", 14) == 0) {
            ctx.s3_endpoint = a + 14;
        } else if (strcmp(a, "--log-format") == 0 || strcmp(a, "--log-level") == 0) {
            if (i + 1 >= argc) return cli_usage_error("", "%s needs a value", a);
            *(a[6] == 'f' ? &log_format : &log_level) = argv[++i];
        } else if (strncmp(a, "--log-format=", 13) == 0) {
            log_format = a + 13;
        } else if (strncmp(a, "--log-level=", 12) == 0) {
            log_level = a + 12;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            ctx.quiet = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            ctx.verbose = 1;
        } else {
            argv[++n] = argv[i];
        }
    }
    argc = n + 1;
    argv[argc] = NULL;
    sl_log_set_level(ctx.quiet ? SL_LOG_ERROR : ctx.verbose ? SL_LOG_DEBUG : SL_LOG_INFO);
    if (log_format) {
        sl_log_format f;
        if (sl_log_parse_format(log_format, &f) != 0)
            return cli_usage_error("", "--log-format takes text or json, not '%s'", log_format);
        sl_log_set_format(f);
    }
    if (log_level) {
        sl_log_level l;
        if (sl_log_parse_level(log_level, &l) != 0)
            return cli_usage_error("", "--log-level takes error, warn, info or debug, not '%s'", log_level);
        sl_log_set_level(l);
    }

    if (argc < 2) {
        print_help(stderr);
        return SL_EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_help(stdout);
        return SL_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice version %s (build %s)\n", SLUICE_VERSION, SLUICE_BUILD);
        return SL_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(cmd, commands[i].name) != 0) continue;
        ctx.cfg = sl_config_create(&err);
        if (!ctx.cfg) return cli_fail(cmd, &err);
        if (ctx.s3_endpoint && sl_config_set(ctx.cfg, "S3_ENDPOINT", ctx.s3_endpoint, &err) != SL_OK) {
            sl_config_free(ctx.cfg);
            return cli_fail(cmd, &err);
        }
        for (size_t f = 0; f < NSETTING_FLAGS; f++)
            if (ctx.settings[f] && sl_config_set(ctx.cfg, setting_flags[f].setting, ctx.settings[f], &err) != SL_OK) {
                sl_config_free(ctx.cfg);
                return cli_fail(cmd, &err);
            }
        /* The commands that write output stop cleanly on SIGINT/SIGTERM from their first
         * moment on (README "Clean stops"). */
        if ((commands[i].run == cmd_run || commands[i].run == cmd_export || commands[i].run == cmd_task ||
             commands[i].run == cmd_commit) &&
            cli_stop_install(cmd) != 0) {
            sl_config_free(ctx.cfg);
            return SL_EXIT_FAILURE;
        }
        rc = commands[i].run(&ctx, argc - 1, argv + 1);
        sl_stop_uninstall(); /* its hooks borrow the settings */
        sl_config_free(ctx.cfg);
        return rc;
    }
    fprintf(stderr, "sluice: unknown command '%s'\nTry 'sluice --help'.\n", cmd);
    return SL_EXIT_USAGE;
}
