/* dryrun.h - `--dry-run` of `run` and `export`: the plan of task.h, made on one
 * control connection, is printed as what the run would read (tables, estimated rows,
 * every task's SQL, the snapshot lock) and write (every path), and nothing is executed:
 * no task runs, no lock is taken, the output is not written. */
#ifndef SL_DRYRUN_H
#define SL_DRYRUN_H

#include <jansson.h>
#include <stdio.h>

#include "../common/sl_config.h"
#include "../common/sl_error.h"

/* Prints plan on out. Connects once more with cfg's settings to name the lock the
 * server would get (auto: by its version) and whether the user holds RELOAD. */
sl_code sl_dryrun_plan(const sl_config *cfg, const json_t *plan, FILE *out, sl_err *err);

#endif
