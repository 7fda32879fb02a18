/* my_plan.h - cutting a table into key-range chunks that separate connections read, and
 * the consistent snapshot those connections share. The plan reads no table: it asks the
 * server for MIN/MAX of the key and for its range estimates (EXPLAIN), so planning costs
 * a bounded number of index look-ups whatever the table's size. */
#ifndef SL_MY_PLAN_H
#define SL_MY_PLAN_H

#include <jansson.h>
#include <mysql.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "my_lock.h"

typedef struct my_range {
    int has_lo, has_hi; /* bounds present; a range without lo also takes NULL keys */
    int64_t lo, hi;     /* lo <= key < hi */
} my_range;

/* One chunk of a plan: a key range and the server's estimate of the rows in it. */
typedef struct my_chunk {
    my_range r;
    int64_t est_rows;
} my_chunk;

typedef struct my_plan_opts {
    int connections;        /* readers the chunks are cut for (>= 1) */
    int chunks_per_conn;    /* chunks aimed at per reader, default 8 */
    int64_t min_chunk_rows; /* no chunk is cut smaller than this (estimated), default 64 */
    int max_probes;         /* cap on the range estimates of one plan, default 512 */
    int tail_halves;        /* the last this many chunks are halved (5. below), default 0 */
} my_plan_opts;

/* A chunk estimated below this is not halved at the tail: reading it takes a few
 * milliseconds, less than a file of its own costs. */
#define MY_PLAN_TAIL_MIN_ROWS 16384

void my_plan_opts_default(my_plan_opts *o);

/* A plan: chunks in key order that cover the whole key space (the first is open below
 * and holds the NULL keys, the last is open above, so rows that arrive between the plan
 * and the snapshot are still read), with what the plan learnt. */
typedef struct my_plan {
    my_chunk *chunks;
    int count;
    int has_keys;      /* MIN/MAX found (the key has a non-NULL value) */
    int64_t min, max;  /* of the key, when has_keys */
    int indexed;       /* the key leads an index: chunks were sized from estimates */
    int64_t est_rows;  /* the sum of the chunks' estimates */
    int probes;        /* queries the plan ran */
    double seconds;    /* time the plan took */
} my_plan;

/* Plans `table` on the integer column `column`:
 *  1. MIN and MAX of the column (an index dive each when the column is indexed);
 *  2. [MIN, MAX] cut into connections * chunks_per_conn chunks of equal key width, each
 *     sized by EXPLAIN's row estimate;
 *  3. a chunk estimated above 1.5 x the target (the estimated rows over that many chunks, at
 *     least min_chunk_rows) is halved by key width and re-estimated, until no chunk is
 *     above it or max_probes is spent, so one dense key range among gaps is cut finely;
 *  4. neighbours that together stay under the target are merged (gaps, empty ranges);
 *  5. each of the last tail_halves chunks estimated at MY_PLAN_TAIL_MIN_ROWS or more is
 *     halved by key width (both halves estimated in one query): the chunks the readers
 *     take last are short, so that they end close together.
 * A column that leads no index gets `connections` chunks of equal width and no estimates
 * (each chunk then costs the server a scan of the table; index the column to avoid it).
 * Free with my_plan_free (also on failure). */
sl_code my_plan_chunks(MYSQL *m, const char *table, const char *column, const my_plan_opts *o, my_plan *out,
                       sl_err *err);
void my_plan_free(my_plan *p);

/* The plan's chunks merged into at most n consecutive ranges of about equal estimated
 * rows (for work that needs exactly one range per reader: run's customer shards).
 * *out is sl_malloc'ed; free with sl_free. */
sl_code my_plan_group(const my_plan *p, int n, my_range **out, int *count, sl_err *err);

/* A plan of one chunk that takes the whole table (no key, or a query). */
sl_code my_plan_whole(my_plan *out, sl_err *err);

/* The range as a SQL condition on the quoted column ("`id` >= 10 AND `id` < 20"). */
void my_range_where(const my_range *r, const char *quoted_column, char *buf, unsigned long cap);

/* {"from": lo, "to_before": hi} with the present bounds only; and back (a missing bound
 * is open). my_range_from_json fails with SL_E_FORMAT on anything else. */
json_t *my_range_json(const my_range *r);
sl_code my_range_from_json(const json_t *j, my_range *r, sl_err *err);
/* {"chunks": [{"from", "to_before", "est_rows"}...], "min", "max", "indexed", "est_rows",
 * "probes", "seconds"}: the plan as a later task (or another machine) can read it back
 * with my_plan_from_json. */
json_t *my_plan_json(const my_plan *p);
sl_code my_plan_from_json(const json_t *j, my_plan *out, sl_err *err);

typedef enum my_consistency { MY_SNAPSHOT = 0, MY_NONE = 1 } my_consistency;

/* Starts one REPEATABLE READ, WITH CONSISTENT SNAPSHOT, READ ONLY transaction on each
 * connection while `lock` holds the snapshot lock (my_lock.h), so all of them see one
 * point in time; a single connection needs no lock. `lock` is a connection of its own
 * (BACKUP STAGE END commits the transaction of the connection that ran it), or NULL to
 * take FTWRL on conns[0] (no BACKUP STAGE then). The last connection watches the lock.
 * Without the RELOAD privilege it fails with SL_E_DB naming the fix (li->denied set);
 * a lock not obtained in time fails with SL_E_DB naming the blocker. With MY_NONE each
 * connection just starts its own transaction. lo NULL: defaults; li may be NULL. */
sl_code my_snapshot_begin_locked(MYSQL *lock, MYSQL **conns, int n, my_consistency mode, const my_lock_opts *lo,
                                 my_lock_info *li, sl_err *err);
/* The same with the default lock options, FTWRL on conns[0]. */
sl_code my_snapshot_begin(MYSQL **conns, int n, my_consistency mode, sl_err *err);


#endif
