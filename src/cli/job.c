/* job.c - what `run` and `export` do around their work: draw the run id first, so every
 * log line of the run carries it (even a configuration error's), announce the start,
 * and write the --metrics-file at the end whatever the outcome. */
#include "job.h"

#include <stdio.h>

#include "../common/sl_log.h"
#include "../sink/commit.h"

int cli_job_begin(cli_job *j, const char *cmd, const char *metrics_file, int dry_run)
{
    sl_err err = {0};
    j->cmd = cmd;
    j->metrics_file = metrics_file;
    j->dry_run = dry_run;
    j->metrics = NULL;
    if (sl_run_id(j->run_id, &err) != SL_OK) return cli_fail(cmd, &err);
    sl_log_set_run_id(j->run_id);
    if (j->metrics_file && !dry_run) { /* a dry run writes nothing */
        if (sl_metrics_check_path(j->metrics_file, &err) != SL_OK) return cli_fail(cmd, &err);
        j->metrics = sl_metrics_create(cmd, &err);
        if (!j->metrics) return cli_fail(cmd, &err);
    }
    sl_log_event(SL_LOG_INFO, "run_start", json_pack("{s:s, s:b}", "command", cmd, "dry_run", dry_run),
                 "sluice %s started%s", cmd, dry_run ? " (dry run)" : "");
    return 0;
}

int cli_job_end(cli_job *j, int rc)
{
    if (j->dry_run && j->metrics_file && rc == 0) {
        printf("  %s (the metrics file; not written by a dry run)\n", j->metrics_file);
        fflush(stdout);
    }
    if (j->metrics) {
        sl_err err = {0};
        if (sl_metrics_write(j->metrics, j->metrics_file, rc, &err) != SL_OK) {
            int code = cli_fail(j->cmd, &err);
            if (rc == 0) rc = code;
        } else {
            sl_log_event(SL_LOG_DEBUG, "metrics_written", json_pack("{s:s}", "path", j->metrics_file),
                         "metrics written to %s", j->metrics_file);
        }
    }
    sl_metrics_free(j->metrics);
    j->metrics = NULL;
    return rc;
}
