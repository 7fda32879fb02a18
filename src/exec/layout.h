/* layout.h - where a run's date partitions go under the output (--layout): the default
 * date folders (raw/<table>/<YYYY-MM-DD>/, business_insights/<YYYY-MM-DD>/) or
 * Hive-style ones (raw/<table>/date=<YYYY-MM-DD>/, business_insights/date=<YYYY-MM-DD>/)
 * that Spark, DuckDB and Athena read as a `date` partition column. */
#ifndef SL_LAYOUT_H
#define SL_LAYOUT_H

#include <stddef.h>

#include "../common/sl_error.h"

typedef enum sl_layout { SL_LAYOUT_DATE = 0, SL_LAYOUT_HIVE = 1 } sl_layout;

/* "date" or "hive"; anything else is SL_E_USAGE naming the value. */
sl_code sl_layout_parse(const char *s, sl_layout *out, sl_err *err);
const char *sl_layout_name(sl_layout l);

/* The partition of `date` (YYYY-MM-DD) under `base` ("raw/orders", "business_insights"):
 * "<base>/<date>" or "<base>/date=<date>", no trailing '/'. Truncates to cap. */
void sl_layout_partition(sl_layout l, const char *base, const char *date, char *buf, size_t cap);

#endif
