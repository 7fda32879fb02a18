/* cmd_plan.c - the task model's three steps as commands (src/exec/task.h), for running
 * a run's tasks in other processes or on other machines: `sluice plan`, `sluice task`,
 * `sluice commit`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../common/sl_log.h"
#include "../exec/exec.h"
#include "../exec/task.h"
#include "../mysql/my_conn.h"
#include "cli.h"

/* ---------------------------------------------------------------------------------- */
/* sluice plan */

static void plan_usage(FILE *out)
{
    fputs("Usage: sluice plan run|export [the command's options] [--json]\n\n"
          "Plans a run without running it: connects, checks the sources, cuts the key ranges\n"
          "and prints the plan - run id, date, as-of, consistency, output, options and the\n"
          "tasks - as one line of JSON with --json (else a summary). Run each task with\n"
          "`sluice task PLAN K` and finish with `sluice commit PLAN RESULTS`; the plan holds no\n"
          "password or key: each of those processes takes its settings from its own flags,\n"
          "environment and .env.\n\n"
          "  --json        print the plan as JSON (what `sluice task` and `sluice commit` read)\n"
          "  -h, --help    this help (and `sluice plan run --help`, `sluice plan export --help`\n"
          "                for the options)\n",
          out);
    cli_print_global_help(out);
}

int cli_print_plan(cli_ctx *ctx, json_t *plan)
{
    if (ctx->plan_json) {
        if (json_dumpf(plan, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
            sl_err e = {SL_E_IO, "cannot write the plan to standard output"};
            return cli_fail("plan", &e);
        }
        return 0;
    }
    int n = sl_plan_ntasks(plan);
    printf("plan of `sluice %s`: run %s, date %s, consistency %s, %d task%s, output %s\n",
           json_string_value(json_object_get(plan, "command")), json_string_value(json_object_get(plan, "run_id")),
           json_string_value(json_object_get(plan, "date")), json_string_value(json_object_get(plan, "consistency")),
           n, n == 1 ? "" : "s", json_string_value(json_object_get(plan, "output")));
    for (int k = 0; k < n; k++) {
        const json_t *t = json_array_get(json_object_get(plan, "tasks"), (size_t)k);
        printf("  task %d: %s\n", k, json_string_value(json_object_get(t, "label")));
    }
    printf("(--json prints the plan that `sluice task` and `sluice commit` read)\n");
    return 0;
}

int cmd_plan(cli_ctx *ctx, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        plan_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? SL_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "run") != 0 && strcmp(argv[1], "export") != 0)
        return cli_usage_error("plan", "plans `run` or `export`, not '%s'", argv[1]);
    /* The command's own parser reads the rest, without --json. */
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) ctx->plan_json = 1;
        else argv[n++] = argv[i];
    }
    argv[n] = NULL;
    ctx->plan_only = 1;
    return strcmp(argv[0], "run") == 0 ? cmd_run(ctx, n, argv) : cmd_export(ctx, n, argv);
}

/* ---------------------------------------------------------------------------------- */
/* files */

static char *read_file(const char *path, size_t *len, sl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sl_err_set(err, SL_E_USAGE, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    sl_buf b;
    sl_buf_init(&b, (size_t)1 << 30);
    char chunk[65536];
    size_t got;
    sl_code rc = SL_OK;
    while (rc == SL_OK && (got = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sl_buf_append(&b, chunk, got, err);
    if (rc == SL_OK && ferror(f)) rc = sl_err_set(err, SL_E_IO, "cannot read %s: %s", path, strerror(errno));
    fclose(f);
    if (rc == SL_OK) rc = sl_buf_cstr(&b, err);
    if (rc != SL_OK) {
        sl_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return (char *)b.data;
}

static json_t *load_plan(const char *path, sl_err *err)
{
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return NULL;
    json_t *p = sl_plan_parse(text, len, path, err);
    sl_free(text);
    return p;
}

/* ---------------------------------------------------------------------------------- */
/* sluice task */

static void task_usage(FILE *out)
{
    fputs("Usage: sluice task PLAN K [--attempt ID] [--sync] [--lock-wait-timeout S] [--lock-retries N]\n"
          "                         [--snapshot-lock auto|backup-stage|ftwrl]\n\n"
          "Runs task K (from 0) of the plan in the file PLAN (`sluice plan ... --json`) on its\n"
          "connection, writes its files into the plan's output under names unique to this\n"
          "attempt, and prints its result as one line of JSON on standard output: the files\n"
          "(rows, bytes, SHA-256) and what `sluice commit` merges. Nothing is marked complete:\n"
          "that is the commit's. A failed task deletes the files it wrote and exits non-zero.\n"
          "A run's orders task reads its sales window's items on a second connection, beside\n"
          "its orders, under --sync (begun with the first, inside the runner's lock) or with\n"
          "--consistency none; otherwise after its orders, on its one connection.\n\n"
          "The order shards of a run with --shards N > 1 exchange their customers' totals (for\n"
          "the VIP percentile): such a task prints a line {\"gather\": {...}} and reads one line\n"
          "from standard input, the JSON array of every shard's gather message in shard order.\n\n"
          "  --attempt ID   this attempt's id in the file names ([A-Za-z0-9._-], up to 32;\n"
          "                 default: 8 random hex digits)\n"
          "  --sync         let a runner align the snapshots of several tasks (sluice_spark.py):\n"
          "                 print {\"sync\": \"connected\"}, then obey lines on standard input:\n"
          "                 lock (take the snapshot lock on a second connection, bounded as in\n"
          "                 `sluice run`: see below; needs RELOAD), begin (start this task's\n"
          "                 transaction: WITH CONSISTENT SNAPSHOT under --consistency snapshot),\n"
          "                 unlock (answered with what the lock cost, also put in the result as\n"
          "                 \"lock_used\" for the manifest), go (read); each answered by a\n"
          "                 {\"sync\": ...} line. With no --sync the task begins on its own.\n"
          "                 A lock not obtained in time exits 1 naming the blocking statement.\n"
          "  -h, --help     this help\n\n"
          "The lock flags below default to the plan's (the planned command's flags).\n",
          out);
    fputs(cli_lock_help, out);
    cli_print_global_help(out);
}

static sl_code stdio_gather(void *ud, int participant, int n, json_t *mine, json_t **all, sl_err *err)
{
    (void)ud;
    json_t *line = json_pack("{s:O, s:i, s:i}", "gather", mine, "participant", participant, "participants", n);
    if (!line || json_dumpf(line, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        json_decref(line);
        return sl_err_set(err, SL_E_IO, "cannot write the gather line to standard output");
    }
    json_decref(line);
    sl_buf b;
    sl_buf_init(&b, (size_t)1 << 30);
    int ch;
    sl_code rc = SL_OK;
    while (rc == SL_OK && (ch = getchar()) != EOF && ch != '\n') {
        char c = (char)ch;
        rc = sl_buf_append(&b, &c, 1, err);
    }
    if (rc == SL_OK && b.len == 0)
        rc = sl_err_set(err, SL_E_USAGE, "standard input ended before the gathered totals of the shards arrived");
    if (rc == SL_OK) {
        json_error_t je;
        *all = json_loadb((const char *)b.data, b.len, 0, &je);
        if (!json_is_array(*all) || json_array_size(*all) != (size_t)n) {
            json_decref(*all);
            *all = NULL;
            rc = sl_err_set(err, SL_E_FORMAT, "the gathered line on standard input is not a JSON array of %d messages",
                            n);
        }
    }
    sl_buf_free(&b);
    return rc;
}

static sl_code sync_say(const char *what, sl_err *err)
{
    if (printf("{\"sync\": \"%s\"}\n", what) < 0 || fflush(stdout) != 0)
        return sl_err_set(err, SL_E_IO, "cannot write to standard output");
    return SL_OK;
}

/* --sync: the runner's lines on standard input, until "go". "lock" takes the same bounded
 * snapshot lock as `sluice run`/`export` (mysql/my_lock.h: BACKUP STAGE on MariaDB, each
 * statement bounded by the lock wait timeout and killed by a watchdog past it, retries
 * with backoff, the error naming the blocker), on a connection of its own: BACKUP STAGE
 * END would commit the transaction of the connection that ran it. The task's own
 * connection, idle until "begin", watches it. What the lock cost goes into *lock_used
 * (the "unlocked" line and this task's result carry it to the commit's manifest). */
static sl_code sync_steps(const json_t *plan, const my_params *mp, const my_lock_opts *lo, MYSQL *conn,
                          MYSQL *helper, json_t **lock_used, sl_err *err)
{
    MYSQL *lockc = NULL;
    my_lock_info li;
    char line[64];
    sl_code rc = sync_say("connected", err);
    *lock_used = NULL;
    while (rc == SL_OK) {
        if (!fgets(line, sizeof line, stdin)) {
            rc = sl_err_set(err, SL_E_USAGE, "--sync: standard input ended before \"go\"");
            break;
        }
        line[strcspn(line, "\r\n")] = 0;
        if (strcmp(line, "lock") == 0 && !lockc) {
            if (!(lockc = my_connect(mp, 0, err))) {
                rc = err->code ? err->code : SL_E_DB_CONNECT;
                break;
            }
            unsigned long own[3] = {mysql_thread_id(lockc), mysql_thread_id(conn),
                                    helper ? mysql_thread_id(helper) : mysql_thread_id(conn)};
            rc = my_lock_acquire(lockc, conn, own, 3, lo, &li, err);
            if (rc != SL_OK && li.denied) {
                char cause[sizeof err->msg];
                snprintf(cause, sizeof cause, "%s", err->msg);
                rc = sl_err_set(err, SL_E_DB,
                                "cannot take the lock that aligns the tasks' snapshots (%s); grant RELOAD to the "
                                "user, or plan with --consistency=none",
                                cause);
            }
            if (rc == SL_OK) rc = sync_say("locked", err);
        } else if (strcmp(line, "begin") == 0) {
            rc = sl_task_begin(plan, conn, err);
            if (rc == SL_OK && helper) rc = sl_task_begin(plan, helper, err); /* inside the same lock */
            if (rc == SL_OK) rc = sync_say("begun", err);
        } else if (strcmp(line, "unlock") == 0 && lockc) {
            rc = my_lock_release(lockc, &li, err);
            my_close(lockc);
            lockc = NULL;
            if (rc == SL_OK) {
                sl_info("snapshot lock %s: %d attempt%s, waited %.3f s, held %.3f s", my_lock_kind_name(li.kind),
                        li.attempts, li.attempts == 1 ? "" : "s", li.wait_seconds, li.held_seconds);
                *lock_used = sl_exec_lock_json(lo, &li);
                json_t *say = json_pack("{s:s, s:O}", "sync", "unlocked", "lock", *lock_used);
                if (!say || json_dumpf(say, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF ||
                    fflush(stdout) != 0)
                    rc = sl_err_set(err, SL_E_IO, "cannot write to standard output");
                json_decref(say);
            }
        } else if (strcmp(line, "go") == 0) {
            break;
        } else {
            rc = sl_err_set(err, SL_E_USAGE, "--sync: unexpected line '%s' on standard input", line);
        }
    }
    my_close(lockc); /* closing the connection releases a lock still held */
    return rc;
}

/* Whether task k reads the window's items on a second connection beside its orders, as
 * in one process: a run's orders task with the plan's helper connections, when the two
 * connections' snapshots stay one (--sync, whose runner holds the snapshot lock while
 * every connection begins) or none is asked for (--consistency none). */
static int wants_helper(const json_t *plan, long k, int sync)
{
    const json_t *t = json_array_get(json_object_get(plan, "tasks"), (size_t)k);
    const char *kind = json_string_value(json_object_get(t, "kind"));
    const char *command = json_string_value(json_object_get(plan, "command"));
    return json_integer_value(json_object_get(plan, "helper_connections")) > 0 && kind &&
           strcmp(kind, "orders") == 0 && command && strcmp(command, "run") == 0 &&
           (sync || sl_plan_consistency(plan) == MY_NONE);
}

static int valid_attempt(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 32) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int cmd_task(cli_ctx *ctx, int argc, char **argv)
{
    enum { O_ATTEMPT = 256, O_SYNC, O_LOCK };
    static const struct option opts[] = {{"attempt", required_argument, NULL, O_ATTEMPT},
                                         {"sync", no_argument, NULL, O_SYNC},
                                         {"lock-wait-timeout", required_argument, NULL, O_LOCK},
                                         {"lock-retries", required_argument, NULL, O_LOCK},
                                         {"snapshot-lock", required_argument, NULL, O_LOCK},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *attempt = NULL;
    char attempt_buf[SL_RUN_ID_SIZE];
    int c, sync = 0, opt_index = 0, lock_set = 0; /* lock_set: bits of the lock flags given here */
    my_lock_opts given;                             /* their values, applied over the plan's */
    my_lock_opts_default(&given);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &opt_index)) != -1) {
        switch (c) {
        case O_LOCK:
            if (cli_parse_lock("task", opts[opt_index].name, optarg, &given) != 0) return SL_EXIT_USAGE;
            lock_set |= 1 << (opt_index - 2); /* 1 wait timeout, 2 retries, 4 kind: their order in opts */
            break;
        case O_ATTEMPT:
            if (!valid_attempt(optarg))
                return cli_usage_error("task", "--attempt takes 1 to 32 of [A-Za-z0-9._-], not '%s'", optarg);
            attempt = optarg;
            break;
        case O_SYNC: sync = 1; break;
        case 'h': task_usage(stdout); return 0;
        default: return cli_usage_error("task", "unknown option");
        }
    }
    if (argc - optind != 2) return cli_usage_error("task", "needs PLAN and K");
    char *end;
    errno = 0;
    long k = strtol(argv[optind + 1], &end, 10);
    if (errno || *end || end == argv[optind + 1] || k < 0 || k > 1000000)
        return cli_usage_error("task", "K is a task number from 0, not '%s'", argv[optind + 1]);

    sl_err err = {0};
    json_t *plan = NULL, *result = NULL, *lock_used = NULL;
    MYSQL *conn = NULL, *helper = NULL;
    sl_conn_pool helpers; /* of one: helper */
    sl_store *st = NULL;
    my_params mp;
    int rc = 0;
    if (!attempt) {
        if (sl_run_id(attempt_buf, &err) != SL_OK) return cli_fail("task", &err);
        attempt = strchr(attempt_buf, '-') + 1; /* the 32 random bits of a run id */
    }
    if (cli_load_config(ctx, "task", &err) != 0) return cli_fail("task", &err);
    if (!(plan = load_plan(argv[optind], &err))) return cli_fail("task", &err);
    sl_conn_pool_init(&helpers); /* from here every way out frees it */
    if (k >= sl_plan_ntasks(plan)) {
        rc = cli_usage_error("task", "the plan has %d tasks (0 to %d), not %ld", sl_plan_ntasks(plan),
                             sl_plan_ntasks(plan) - 1, k);
        goto out;
    }
    my_lock_opts lo;
    sl_exec_plan_lock_opts(plan, &lo);
    if (lock_set & 1) lo.wait_timeout = given.wait_timeout;
    if (lock_set & 2) lo.retries = given.retries;
    if (lock_set & 4) lo.kind = given.kind;
    if (my_params_from_config(ctx->cfg, &mp, 0, &err) != SL_OK || !(conn = my_connect(&mp, 0, &err)) ||
        (wants_helper(plan, k, sync) && !(helper = my_connect(&mp, 0, &err))) ||
        (sync ? sync_steps(plan, &mp, &lo, conn, helper, &lock_used, &err) : sl_task_begin(plan, conn, &err)) !=
            SL_OK ||
        (!sync && helper && sl_task_begin(plan, helper, &err) != SL_OK)) {
        rc = cli_fail("task", &err);
        goto out;
    }
    st = sl_store_open(json_string_value(json_object_get(plan, "output")), ctx->cfg, &err);
    if (!st) {
        rc = cli_fail("task", &err);
        goto out;
    }
    sl_conn_pool_fill(&helpers, &helper, helper ? 1 : 0);
    sl_task_ctx tctx = {ctx->cfg, st,   attempt,           NULL,              NULL,     stdio_gather,
                        NULL,     NULL, sl_conn_pool_take, sl_conn_pool_give, &helpers, NULL,
                        NULL /* a task alone checks its partitions' _SUCCESS */};
    sl_code sc = sl_task_execute(plan, (int)k, conn, &tctx, &result, &err);
    if (sc != SL_OK) {
        sl_exec_output_failure(sc, &err);
        rc = cli_fail("task", &err);
        goto out;
    }
    /* A late attempt (a retry, a speculative copy) whose run was committed meanwhile:
     * its files are nobody's, so it deletes them rather than leave them to the next run. */
    if (sl_task_check_superseded(st, plan, result, &err) != SL_OK) {
        rc = cli_fail("task", &err);
        goto out;
    }
    if (lock_used) json_object_set(result, "lock_used", lock_used); /* the commit puts it in the manifest */
    if (json_dumpf(result, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        /* the runner is gone (a killed attempt's pipe): no commit will list these files */
        sl_result_delete_files(st, result);
        err = (sl_err){SL_E_IO, "cannot write the result to standard output (this attempt's files were deleted)"};
        rc = cli_fail("task", &err);
    }
out:
    json_decref(result);
    json_decref(lock_used);
    sl_conn_pool_free(&helpers);
    my_close(helper); /* not in the pool when the task failed before it */
    my_close(conn);
    sl_store_free(st);
    json_decref(plan);
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* sluice commit */

static void commit_usage(FILE *out)
{
    fputs("Usage: sluice commit PLAN RESULTS [--engine NAME] [--application-id ID]\n\n"
          "Finishes the run of PLAN: RESULTS holds the tasks' result lines (`sluice task`),\n"
          "one JSON object per line, in any order. Takes exactly one result per task - the\n"
          "first given; the files of any other attempt of that task are deleted - and fails\n"
          "with nothing marked complete (exit 1) when a task has none. Then merges what the\n"
          "tasks passed on, writes what needs them all, and commits each partition with its\n"
          "_SUCCESS manifest, written last.\n\n"
          "  --engine NAME          recorded in the manifests as \"engine\" (e.g. spark)\n"
          "  --application-id ID    recorded as \"application_id\"\n"
          "  -h, --help             this help\n",
          out);
    cli_print_global_help(out);
}

int cmd_commit(cli_ctx *ctx, int argc, char **argv)
{
    enum { O_ENGINE = 256, O_APP };
    static const struct option opts[] = {{"engine", required_argument, NULL, O_ENGINE},
                                         {"application-id", required_argument, NULL, O_APP},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *engine = NULL, *app = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_ENGINE: engine = optarg; break;
        case O_APP: app = optarg; break;
        case 'h': commit_usage(stdout); return 0;
        default: return cli_usage_error("commit", "unknown option");
        }
    }
    if (argc - optind != 2) return cli_usage_error("commit", "needs PLAN and RESULTS");
    sl_err err = {0};
    json_t *plan = NULL, *eng = NULL, *summary = NULL;
    json_t **results = NULL;
    int n = 0, cap = 0, rc = 0;
    char *text = NULL;
    size_t len;
    if (cli_load_config(ctx, "commit", &err) != 0) return cli_fail("commit", &err);
    if (!(plan = load_plan(argv[optind], &err)) || !(text = read_file(argv[optind + 1], &len, &err))) {
        rc = cli_fail("commit", &err);
        goto out;
    }
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        while (ll && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) ll--;
        if (ll == 0) continue;
        json_error_t je;
        json_t *r = json_loadb(line, ll, 0, &je);
        if (!json_is_object(r)) {
            json_decref(r);
            sl_err_set(&err, SL_E_FORMAT, "%s: line %d is not a task result (a JSON object)", argv[optind + 1], n + 1);
            rc = cli_fail("commit", &err);
            goto out;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            json_t **nr = sl_realloc(results, (size_t)cap * sizeof *nr);
            if (!nr) {
                json_decref(r);
                err = (sl_err){SL_E_NOMEM, "out of memory"};
                rc = cli_fail("commit", &err);
                goto out;
            }
            results = nr;
        }
        results[n++] = r;
    }
    if (engine || app) eng = json_pack("{s:s?, s:s?}", "engine", engine, "application_id", app);
    sl_commit_info info = {eng};
    if (sl_plan_commit(ctx->cfg, plan, results, n, &info, &summary, &err) != SL_OK) {
        rc = cli_fail("commit", &err);
        goto out;
    }
    if (!ctx->quiet)
        printf("committed run %s of `sluice %s` (%d task results, %d tasks): %lld files, output %s\n",
               json_string_value(json_object_get(plan, "run_id")), json_string_value(json_object_get(plan, "command")),
               n, sl_plan_ntasks(plan), (long long)json_integer_value(json_object_get(summary, "files")),
               json_string_value(json_object_get(plan, "output")));
out:
    for (int i = 0; i < n; i++) json_decref(results[i]);
    sl_free(results);
    sl_free(text);
    json_decref(eng);
    json_decref(summary);
    json_decref(plan);
    return rc;
}
