/* dryrun.h - `--dry-run` of `run` and `export`: the orchestrators describe what they
 * would do as a JSON plan (built after connecting and planning, before any write), and
 * this prints it. The plan:
 *   {"command", "run_id", "date", "output", "source",
 *    "snapshot": {"consistency", "connections", "lock", "reload_privilege"},
 *    "reads": [{"table", "estimated_rows", "partition_column", "queries": [SQL...]}],
 *    "writes": [{"partition", "files": [name...]}], "metrics_file"} */
#ifndef SL_DRYRUN_H
#define SL_DRYRUN_H

#include <jansson.h>
#include <stdio.h>

#include "../common/sl_error.h"
#include "../mysql/my_plan.h"

/* The "snapshot" object of a plan, with the lock my_snapshot_begin would take and,
 * when it needs one, whether the user holds RELOAD (asked on m). */
json_t *sl_dryrun_snapshot(MYSQL *m, my_consistency mode, int connections, sl_err *err);

/* Prints the plan as text on out. */
void sl_dryrun_print(FILE *out, const json_t *plan);

#endif
