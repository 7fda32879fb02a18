/* job.h - the frame of a run command (`run`, `export`): run id, start event, metrics
 * file. Kept apart from the commands so the orchestrators stay free of it. */
#ifndef SL_CLI_JOB_H
#define SL_CLI_JOB_H

#include "../exec/metrics.h"
#include "cli.h"

typedef struct cli_job {
    const char *cmd;
    char run_id[64];
    const char *metrics_file; /* NULL: none */
    int dry_run;              /* the metrics file is only named, not written */
    sl_metrics *metrics;      /* pass to the run's options; NULL without --metrics-file */
} cli_job;

/* Draws the run id (put on every log line from now on), checks that the metrics file
 * can be written, logs run_start. 0, or the exit code of a failure already reported. */
int cli_job_begin(cli_job *j, const char *cmd, const char *metrics_file, int dry_run);
/* Writes the metrics file for exit code rc (a failure to write it is reported and
 * turns a success into its exit code); frees what begin made. Returns the exit code. */
int cli_job_end(cli_job *j, int rc);

#endif
