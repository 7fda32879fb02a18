/* layout.c - the date partition folders of --layout date|hive (layout.h). */
#include "layout.h"

#include <stdio.h>
#include <string.h>

sl_code sl_layout_parse(const char *s, sl_layout *out, sl_err *err)
{
    if (s && strcmp(s, "date") == 0) *out = SL_LAYOUT_DATE;
    else if (s && strcmp(s, "hive") == 0) *out = SL_LAYOUT_HIVE;
    else return sl_err_set(err, SL_E_USAGE, "--layout takes date or hive, not '%.80s'", s ? s : "");
    return SL_OK;
}

const char *sl_layout_name(sl_layout l) { return l == SL_LAYOUT_HIVE ? "hive" : "date"; }

void sl_layout_partition(sl_layout l, const char *base, const char *date, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s%s", base, l == SL_LAYOUT_HIVE ? "date=" : "", date);
}
