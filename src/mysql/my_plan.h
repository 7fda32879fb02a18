/* my_plan.h - splitting a table into key ranges that separate connections read, and
 * the consistent snapshot those connections share. A plan is a list of independent
 * partitions whose results merge, so a run can spread them over threads or machines. */
#ifndef SL_MY_PLAN_H
#define SL_MY_PLAN_H

#include <mysql.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "my_lock.h"

typedef struct my_range {
    int has_lo, has_hi; /* bounds present; a range without lo also takes NULL keys */
    int64_t lo, hi;     /* lo <= key < hi */
} my_range;

/* Cuts `table` on the integer column `column` into at most n ranges holding about the
 * same number of rows: the bounds are the key values at ranks count*i/n, so gaps,
 * negative keys and skew do not make one range dominate. Equal bounds (a key value
 * repeated across a whole share) merge. *out is sl_malloc'ed; free with sl_free. */
sl_code my_plan_partitions(MYSQL *m, const char *table, const char *column, int n, my_range **out, int *count,
                           sl_err *err);

/* The range as a SQL condition on the quoted column ("`id` >= 10 AND `id` < 20"). */
void my_range_where(const my_range *r, const char *quoted_column, char *buf, unsigned long cap);

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
