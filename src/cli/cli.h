/* cli.h - what every command shares: the settings, the global flags, error
 * reporting with the documented exit codes. One file per command in this folder. */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "../mysql/my_lock.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif
#ifndef SLUICE_BUILD
#define SLUICE_BUILD "dev"
#endif

typedef struct cli_ctx {
    sl_config *cfg;
    const char *env_file; /* --env-file, or NULL for ./.env */
    const char *s3_endpoint; /* --s3-endpoint: S3_ENDPOINT as a flag, or NULL */
    const char *settings[4]; /* --mysql-ssl-mode/-ca/-cert/-key (main.c's setting_flags), or NULL */
    int quiet;
    int verbose;
    int plan_only; /* `sluice plan run|export`: plan, print, do not run */
    int plan_json; /* ... as JSON (--json) */
} cli_ctx;

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(cli_ctx *ctx, int argc, char **argv); /* argv[0] is the command name */
} cli_command;

/* Prints "sluice <cmd>: error: <msg>" and returns the documented exit code. */
int cli_fail(const char *cmd, const sl_err *err);
/* Prints a usage error with a hint to --help; returns SL_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The run commands' clean stops (common/sl_stop.h): 0, or the exit code of a failure.
 * cli_stop_late warns when a stop came too late to stop anything (after the commit). */
int cli_stop_install(const char *cmd);
void cli_stop_late(const char *cmd);

/* Loads ./.env (or --env-file) into ctx->cfg; called by commands that need settings. */
int cli_load_config(cli_ctx *ctx, const char *cmd, sl_err *err);

/* The common help text for global options and exit codes, appended to each --help. */
void cli_print_global_help(FILE *out);

/* Shared option values of the run commands (export, run): 0, or a usage error's exit code. */
int cli_parse_progress(const char *cmd, const char *arg, int *mode);       /* sl_progress_mode */
int cli_parse_consistency(const char *cmd, const char *arg, int *mode);    /* my_consistency */
int cli_parse_wide_decimal(const char *cmd, const char *arg, int *as_string); /* string: 1, decimal: 0 */
/* "128M", "64MiB", "1G", "1048576" -> bytes (at most 64 GiB): 0, or -1 when malformed. */
int cli_parse_size(const char *s, size_t *out);
/* --lock-wait-timeout, --lock-retries or --snapshot-lock (flag names it) into *lo. */
int cli_parse_lock(const char *cmd, const char *flag, const char *arg, my_lock_opts *lo);
/* Their --help lines, shared by export and run. */
extern const char cli_lock_help[];

/* `sluice plan`'s output: the plan as one JSON line (--json) or a summary. */
int cli_print_plan(cli_ctx *ctx, json_t *plan);

/* Commands. */
int cmd_check(cli_ctx *ctx, int argc, char **argv);
int cmd_seed(cli_ctx *ctx, int argc, char **argv);
int cmd_inspect(cli_ctx *ctx, int argc, char **argv);
int cmd_export(cli_ctx *ctx, int argc, char **argv);
int cmd_run(cli_ctx *ctx, int argc, char **argv);
int cmd_plan(cli_ctx *ctx, int argc, char **argv);
int cmd_task(cli_ctx *ctx, int argc, char **argv);
int cmd_commit(cli_ctx *ctx, int argc, char **argv);
int cmd_report(cli_ctx *ctx, int argc, char **argv);

#endif
