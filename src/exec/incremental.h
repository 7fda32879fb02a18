/* incremental.h - incremental loads (`sluice export --incremental COLUMN`): copy only
 * the rows whose COLUMN moved past the watermark of the latest committed run, with the
 * watermark kept in the table's _SUCCESS manifests (no state service). Per table:
 *
 *   1. sl_incr_create          checks the column (exists; integer, DATE, DATETIME or
 *                              TIMESTAMP) and the --lookback form against its type
 *   2. sl_incr_find_watermark  lists raw/<table>/<folder>/_SUCCESS under the output; the "to"
 *                              of the latest committed run (the highest "sequence") is
 *                              watermark_from; none: the run reads everything
 *   3. sl_incr_bound           inside the run's snapshot: watermark_to = MAX(COLUMN),
 *                              NULLs counted (--incremental-nulls), rows re-read in the
 *                              --lookback margin counted; builds the read condition
 *   4. sl_incr_condition       "watermark_from - lookback < COLUMN <= watermark_to", one
 *                              more condition on every key range of the table
 *   5. sl_incr_commit_info     the manifest's "incremental" fragment, top level and in
 *                              this run's "runs" entry (the commit appends: commit.h)
 *
 * A run that fails commits nothing, so the watermark stays where it was. */
#ifndef SL_INCREMENTAL_H
#define SL_INCREMENTAL_H

#include <jansson.h>
#include <mysql.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "../mysql/my_catalog.h"
#include "../sink/commit.h"
#include "../sink/store.h"

typedef enum sl_incr_nulls { SL_INCR_NULLS_ERROR = 0, SL_INCR_NULLS_INCLUDE, SL_INCR_NULLS_SKIP } sl_incr_nulls;

/* --lookback: a count of values (integer columns) or a duration (temporal columns). */
typedef struct sl_incr_lookback {
    int given;
    int is_duration;
    unsigned long long count; /* N */
    int64_t us;               /* the duration in microseconds */
    char text[40];            /* as given, for the manifest */
} sl_incr_lookback;

typedef struct sl_incr_opts {
    const char *column; /* --incremental COLUMN; NULL: not an incremental run */
    sl_incr_lookback lookback;
    int full;            /* --full: read everything, restart the watermark */
    sl_incr_nulls nulls; /* --incremental-nulls */
} sl_incr_opts;

/* "N" (digits: a count) or a duration of one or more <number><unit> with unit s, m, h
 * or d ("90m", "1h30m", "2d"); SL_E_USAGE naming the value otherwise. */
sl_code sl_incr_lookback_parse(const char *s, sl_incr_lookback *out, sl_err *err);
/* "error", "include" or "skip". */
sl_code sl_incr_nulls_parse(const char *s, sl_incr_nulls *out, sl_err *err);

typedef struct sl_incr sl_incr;

/* State for one table. The column must be one of cols (else SL_E_SCHEMA naming table
 * and column) of a supported type (else SL_E_SCHEMA naming the type); a --lookback of
 * the wrong form for the type is SL_E_USAGE. o is copied. */
sl_incr *sl_incr_create(const sl_incr_opts *o, const char *table, const my_column_info *cols, int ncols,
                        sl_err *err);
void sl_incr_free(sl_incr *x); /* accepts NULL */

/* Reads every "<table_prefix><folder>/_SUCCESS" (table_prefix "raw/<table>/": date and
 * hive folders alike) and takes watermark_from from the committed run with the highest
 * incremental sequence. A manifest that cannot be read fails the run (naming its key);
 * so does a latest run that tracked another column, unless --full. */
sl_code sl_incr_find_watermark(sl_incr *x, sl_store *st, const char *table_prefix, sl_err *err);

/* On a connection inside the run's snapshot (before any read of the table): MAX(COLUMN),
 * the NULL rows (with --where, those it keeps) and the rows of the lookback margin.
 * NULL rows with --incremental-nulls error (the default) fail with SL_E_DATA. */
sl_code sl_incr_bound(sl_incr *x, MYSQL *m, const char *where, sl_err *err);

/* The SQL condition every read of the table adds (valid after sl_incr_bound). */
const char *sl_incr_condition(const sl_incr *x);

/* One line for the log: "updated_at > '...' and <= '...' (lookback 2h)". */
const char *sl_incr_describe(const sl_incr *x, char *buf, size_t cap);

/* Adds {"incremental": {...}} to the manifest's extra fields and to this run's entry
 * in its "runs" (sl_commit_set_run_info). rows: the rows this run read of the table.
 *   {"column", "type", "mode": "incremental"|"full", "full_reason", "from", "to",
 *    "lookback", "reread_from", "reread_rows", "null_rows", "nulls", "rows",
 *    "sequence", "previous_run"} */
sl_code sl_incr_commit_info(const sl_incr *x, sl_commit *c, json_t *extra, int64_t rows, sl_err *err);
/* The fragment alone (a new reference), and sl_incr_commit_info's second half for a
 * fragment that travelled in a plan (exec/task.h; takes a reference to inc). */
json_t *sl_incr_json(const sl_incr *x, int64_t rows);
sl_code sl_incr_commit_json(json_t *inc, const char *table, sl_commit *c, json_t *extra, sl_err *err);

#endif
