/* rp_svg.h - the run report's drawing kit: HTML escaping, number formatting and charts
 * (bars, stacked bars, a line of points) written as inline SVG text, with labelled axes
 * and units. Every bar or point carries data-label/data-value attributes and a <title>,
 * so a browser test can read the figures back from the DOM. */
#ifndef SL_RP_SVG_H
#define SL_RP_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"

/* Appends s[0..n) with & < > " ' escaped (text and attribute values alike). */
sl_code rp_html_escape(sl_buf *out, const char *s, size_t n, sl_err *err);
/* The same for a NUL-terminated string; NULL appends nothing. */
sl_code rp_html_text(sl_buf *out, const char *s, sl_err *err);

/* 1234567 -> "1,234,567" (buf >= 32 bytes). */
const char *rp_fmt_int(int64_t v, char *buf, size_t cap);
/* Axis ticks and labels: 950, 1.2k, 35k, 4.5M (buf >= 32 bytes). */
const char *rp_fmt_compact(double v, char *buf, size_t cap);

typedef struct rp_bar {
    const char *label;      /* category (from data: escaped), drawn on the category axis */
    double value;           /* drawn length (>= 0; a negative value draws as 0) */
    const char *value_text; /* exact figure for data-value; NULL writes data-value="" (no value) */
    const char *shown;      /* printed at the end of the bar (horizontal) or above it; NULL: none */
    const char *title;      /* tooltip; NULL: "<label>: <shown>" */
    double part;            /* stacked: the share drawn in the accent colour (0..value) */
    const char *part_text;  /* exact figure of the part for data-part; NULL: no attribute */
    const char *attrs;      /* extra attributes, already safe (e.g. data-restock="3"); NULL: none */
    const char *cols[2];    /* horizontal: texts of the chart's extra columns (col_titles) */
    int mark;               /* 1: highlighted (the peak) */
} rp_bar;

enum { RP_BARS_VERTICAL, RP_BARS_HORIZONTAL, RP_LINE };

typedef struct rp_chart {
    const char *id;         /* element id and data-chart value ([a-z0-9-]) */
    const char *caption;    /* what the chart shows (aria-label) */
    const char *cat_label;  /* axis title of the categories, with units */
    const char *val_label;  /* axis title of the values, with units */
    int kind;               /* RP_BARS_VERTICAL, RP_BARS_HORIZONTAL or RP_LINE */
    int label_every;        /* vertical: label every n-th category (0 or 1: all) */
    double max;             /* value axis maximum; 0: a round number above the largest value */
    int percent;            /* value ticks as percentages of 1.0 */
    int integer;            /* counts: ticks on whole numbers only */
    const char *mark_note;  /* text next to the marked bar/point ("peak"); NULL: none */
    const char *col_titles[2]; /* horizontal: up to two columns of text right of the bars */
} rp_chart;

/* Appends one <svg> chart of n bars (n may be 0: the axes and a "no data" note). */
sl_code rp_svg_chart(sl_buf *out, const rp_chart *c, const rp_bar *bars, int n, sl_err *err);

#endif
