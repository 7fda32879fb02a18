/* rp_svg.c - inline SVG charts for the run report (rp_svg.h). Geometry is in the SVG's
 * own units (a viewBox), so a chart scales with the page's width and never overflows it;
 * text sizes are set by the page's CSS. Every string that comes from data is escaped. */
#include "rp_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

sl_code rp_html_escape(sl_buf *out, const char *s, size_t n, sl_err *err)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (!rep) continue;
        SL_TRY(sl_buf_append(out, s + run, i - run, err));
        SL_TRY(sl_buf_append(out, rep, strlen(rep), err));
        run = i + 1;
    }
    return sl_buf_append(out, s + run, n - run, err);
}

sl_code rp_html_text(sl_buf *out, const char *s, sl_err *err)
{
    return s ? rp_html_escape(out, s, strlen(s), err) : SL_OK;
}

const char *rp_fmt_int(int64_t v, char *buf, size_t cap)
{
    char digits[32], *o = buf;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    if (cap < 32) {
        if (cap) buf[0] = '\0';
        return buf;
    }
    if (v < 0) *o++ = '-';
    for (int i = 0; i < n; i++) {
        *o++ = digits[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1) *o++ = ',';
    }
    *o = '\0';
    return buf;
}

const char *rp_fmt_compact(double v, char *buf, size_t cap)
{
    double a = fabs(v);
    if (a >= 1e9) snprintf(buf, cap, "%.3g B", v / 1e9);
    else if (a >= 1e6) snprintf(buf, cap, "%.3g M", v / 1e6);
    else if (a >= 1e4) snprintf(buf, cap, "%.3g k", v / 1e3);
    else if (a == floor(a)) rp_fmt_int((int64_t)v, buf, cap);
    else snprintf(buf, cap, "%.3g", v);
    return buf;
}

/* A round axis maximum above m with its tick step (1, 2, 2.5 or 5 times a power of ten). */
static void nice_axis(double m, double *top, double *step)
{
    if (!(m > 0) || !isfinite(m)) m = 1;
    double raw = m / 4, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double s = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    *step = s * mag;
    *top = ceil(m / *step - 1e-9) * *step;
    if (*top <= 0) *top = *step;
}

static const char *tick_text(const rp_chart *c, double v, char *buf, size_t cap)
{
    if (c->percent) {
        snprintf(buf, cap, "%.0f%%", v * 100);
        return buf;
    }
    return rp_fmt_compact(v, buf, cap);
}

/* At most max_chars characters of a UTF-8 string, with an ellipsis when cut. */
static sl_code put_clipped(sl_buf *out, const char *s, int max_chars, sl_err *err)
{
    size_t n = strlen(s), i = 0;
    int chars = 0;
    while (i < n && chars < max_chars) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++; /* continuation bytes */
        chars++;
    }
    SL_TRY(rp_html_escape(out, s, i, err));
    return i < n ? sl_buf_printf(out, err, "\xE2\x80\xA6") : SL_OK;
}

static sl_code put_title(sl_buf *out, const rp_bar *b, sl_err *err)
{
    SL_TRY(sl_buf_printf(out, err, "<title>"));
    if (b->title) SL_TRY(rp_html_text(out, b->title, err));
    else {
        SL_TRY(rp_html_text(out, b->label, err));
        SL_TRY(sl_buf_printf(out, err, ": "));
        SL_TRY(rp_html_text(out, b->shown ? b->shown : b->value_text, err));
    }
    return sl_buf_printf(out, err, "</title>");
}

/* data-label, data-value, data-part and the extra attributes of one bar or point. */
static sl_code put_data(sl_buf *out, const rp_bar *b, sl_err *err)
{
    SL_TRY(sl_buf_printf(out, err, " data-label=\""));
    SL_TRY(rp_html_text(out, b->label, err));
    SL_TRY(sl_buf_printf(out, err, "\" data-value=\""));
    SL_TRY(rp_html_text(out, b->value_text, err));
    SL_TRY(sl_buf_printf(out, err, "\""));
    if (b->part_text) {
        SL_TRY(sl_buf_printf(out, err, " data-part=\""));
        SL_TRY(rp_html_text(out, b->part_text, err));
        SL_TRY(sl_buf_printf(out, err, "\""));
    }
    if (b->mark) SL_TRY(sl_buf_printf(out, err, " data-mark=\"true\""));
    if (b->attrs) SL_TRY(sl_buf_printf(out, err, " %s", b->attrs));
    return SL_OK;
}

static double clampv(double v, double top) { return !(v > 0) ? 0 : v > top ? top : v; }

#define VW 560.0 /* viewBox width of every chart */

static sl_code vertical(sl_buf *out, const rp_chart *c, const rp_bar *bars, int n, double top, double step,
                        sl_err *err)
{
    const double ml = 64, mr = 14, mt = 30, mb = 56, H = 290;
    const double pw = VW - ml - mr, ph = H - mt - mb;
    char t[48];
    SL_TRY(sl_buf_printf(out, err, "<svg class=\"chart\" id=\"%s\" data-chart=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                         c->id, c->id, VW, H));
    SL_TRY(rp_html_text(out, c->caption, err));
    SL_TRY(sl_buf_printf(out, err, "\">"));
    /* value axis: gridlines and ticks */
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = mt + ph - v / top * ph;
        SL_TRY(sl_buf_printf(out, err, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ml,
                             ml + pw, y, y));
        SL_TRY(sl_buf_printf(out, err, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>",
                             ml - 6, y + 4, tick_text(c, v, t, sizeof t)));
    }
    SL_TRY(sl_buf_printf(out, err, "<text class=\"axis-title\" transform=\"translate(14 %.1f) rotate(-90)\" text-anchor=\"middle\">",
                         mt + ph / 2));
    SL_TRY(rp_html_text(out, c->val_label, err));
    SL_TRY(sl_buf_printf(out, err, "</text><text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                         ml + pw / 2, H - 8));
    SL_TRY(rp_html_text(out, c->cat_label, err));
    SL_TRY(sl_buf_printf(out, err, "</text>"));
    double slot = n ? pw / n : pw;
    int every = c->label_every > 1 ? c->label_every : 1;
    if (c->kind == RP_LINE && n) {
        SL_TRY(sl_buf_printf(out, err, "<polyline class=\"line\" points=\""));
        for (int i = 0; i < n; i++)
            SL_TRY(sl_buf_printf(out, err, "%s%.1f,%.1f", i ? " " : "", ml + slot * (i + 0.5),
                                 mt + ph - clampv(bars[i].value, top) / top * ph));
        SL_TRY(sl_buf_printf(out, err, "\"/>"));
    }
    for (int i = 0; i < n; i++) {
        const rp_bar *b = &bars[i];
        double cx = ml + slot * (i + 0.5), h = clampv(b->value, top) / top * ph, y = mt + ph - h;
        if (c->kind == RP_LINE) {
            SL_TRY(sl_buf_printf(out, err, "<circle class=\"point%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\"",
                                 b->mark ? " mark" : "", cx, y, b->mark ? 5.5 : 3.5));
        } else {
            double bw = slot * 0.72;
            SL_TRY(sl_buf_printf(out, err, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
                                 b->mark ? " mark" : "", cx - bw / 2, y, bw, h));
        }
        SL_TRY(put_data(out, b, err));
        SL_TRY(sl_buf_printf(out, err, ">"));
        SL_TRY(put_title(out, b, err));
        SL_TRY(sl_buf_printf(out, err, "</%s>", c->kind == RP_LINE ? "circle" : "rect"));
        if (b->shown && !(b->mark && c->mark_note)) {
            SL_TRY(sl_buf_printf(out, err, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", cx, y - 5));
            SL_TRY(rp_html_text(out, b->shown, err));
            SL_TRY(sl_buf_printf(out, err, "</text>"));
        }
        if (b->mark && c->mark_note) {
            /* the note sits above the mark, kept inside the plot horizontally */
            const char *anchor = cx < ml + pw * 0.2 ? "start" : cx > ml + pw * 0.8 ? "end" : "middle";
            SL_TRY(sl_buf_printf(out, err, "<text class=\"mark-note\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", cx,
                                 y - 10 < 14 ? 14 : y - 10, anchor));
            SL_TRY(rp_html_text(out, c->mark_note, err));
            if (b->shown) {
                SL_TRY(sl_buf_printf(out, err, " "));
                SL_TRY(rp_html_text(out, b->shown, err));
            }
            SL_TRY(sl_buf_printf(out, err, "</text>"));
        }
        if (i % every == 0) {
            SL_TRY(sl_buf_printf(out, err, "<text class=\"cat\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", cx,
                                 mt + ph + 17));
            SL_TRY(put_clipped(out, b->label ? b->label : "", 12, err));
            SL_TRY(sl_buf_printf(out, err, "</text>"));
        }
    }
    SL_TRY(sl_buf_printf(out, err, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ml,
                         ml + pw, mt + ph, mt + ph));
    if (!n)
        SL_TRY(sl_buf_printf(out, err, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>",
                             ml + pw / 2, mt + ph / 2));
    return sl_buf_printf(out, err, "</svg>");
}

/* One row per bar: its label above it (room for long names, and legible when the chart
 * is scaled down on a narrow screen), the bar, its figure after it, and up to two
 * columns of text at the right. */
static sl_code horizontal(sl_buf *out, const rp_chart *c, const rp_bar *bars, int n, double top, double step,
                          sl_err *err)
{
    const double HW = 520;
    int ncols = c->col_titles[1] ? 2 : c->col_titles[0] ? 1 : 0;
    const double colw = 78, ml = 12, mr = (ncols ? 62 : 100) + colw * ncols, mt = 26, mb = 48, row = 40;
    const double pw = HW - ml - mr, ph = row * (n ? n : 1), H = mt + ph + mb;
    char t[48];
    SL_TRY(sl_buf_printf(out, err, "<svg class=\"chart h\" id=\"%s\" data-chart=\"%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                         c->id, c->id, HW, H));
    SL_TRY(rp_html_text(out, c->caption, err));
    SL_TRY(sl_buf_printf(out, err, "\">"));
    for (double v = 0; v <= top + step / 2; v += step) {
        double x = ml + v / top * pw;
        SL_TRY(sl_buf_printf(out, err, "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", x, x, mt,
                             mt + ph));
        SL_TRY(sl_buf_printf(out, err, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>", x,
                             mt + ph + 16, v == 0 ? "start" : "middle", tick_text(c, v, t, sizeof t)));
    }
    SL_TRY(sl_buf_printf(out, err, "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                         ml + pw / 2, H - 8));
    SL_TRY(rp_html_text(out, c->val_label, err));
    SL_TRY(sl_buf_printf(out, err, "</text><text class=\"axis-title\" x=\"%.1f\" y=\"16\">", ml));
    SL_TRY(rp_html_text(out, c->cat_label, err));
    SL_TRY(sl_buf_printf(out, err, "</text>"));
    for (int k = 0; k < ncols; k++) {
        SL_TRY(sl_buf_printf(out, err, "<text class=\"axis-title\" x=\"%.1f\" y=\"16\" text-anchor=\"end\">",
                             HW - 6 - colw * (ncols - 1 - k)));
        SL_TRY(rp_html_text(out, c->col_titles[k], err));
        SL_TRY(sl_buf_printf(out, err, "</text>"));
    }
    for (int i = 0; i < n; i++) {
        const rp_bar *b = &bars[i];
        double y = mt + row * i, w = clampv(b->value, top) / top * pw, bh = 15, by = y + 19;
        SL_TRY(sl_buf_printf(out, err, "<text class=\"cat\" x=\"%.1f\" y=\"%.1f\">", ml, y + 14));
        SL_TRY(put_clipped(out, b->label ? b->label : "", 44, err));
        SL_TRY(sl_buf_printf(out, err, "</text>"));
        for (int k = 0; k < ncols; k++) {
            SL_TRY(sl_buf_printf(out, err, "<text class=\"val col\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">",
                                 HW - 6 - colw * (ncols - 1 - k), by + 12));
            SL_TRY(rp_html_text(out, b->cols[k], err));
            SL_TRY(sl_buf_printf(out, err, "</text>"));
        }
        SL_TRY(sl_buf_printf(out, err, "<rect class=\"bar%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"",
                             b->mark ? " mark" : "", ml, by, w, bh));
        SL_TRY(put_data(out, b, err));
        SL_TRY(sl_buf_printf(out, err, ">"));
        SL_TRY(put_title(out, b, err));
        SL_TRY(sl_buf_printf(out, err, "</rect>"));
        if (b->part > 0) {
            double pwid = clampv(b->part, top) / top * pw;
            SL_TRY(sl_buf_printf(out, err, "<rect class=\"part\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                                 ml, by, pwid, bh));
        }
        if (b->shown) {
            SL_TRY(sl_buf_printf(out, err, "<text class=\"val\" x=\"%.1f\" y=\"%.1f\">", ml + w + 5, by + 12));
            SL_TRY(put_clipped(out, b->shown, ncols ? 8 : 16, err));
            SL_TRY(sl_buf_printf(out, err, "</text>"));
        }
    }
    SL_TRY(sl_buf_printf(out, err, "<line class=\"axis\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>", ml, ml,
                         mt, mt + ph));
    if (!n)
        SL_TRY(sl_buf_printf(out, err, "<text class=\"empty\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>",
                             ml + pw / 2, mt + ph / 2 + 4));
    return sl_buf_printf(out, err, "</svg>");
}

sl_code rp_svg_chart(sl_buf *out, const rp_chart *c, const rp_bar *bars, int n, sl_err *err)
{
    double top, step, m = c->max > 0 ? c->max : 0;
    for (int i = 0; i < n; i++)
        if (bars[i].value > m) m = bars[i].value;
    nice_axis(m, &top, &step);
    if (c->integer && step < 1) { /* counts of 0 to 4: ticks 0, 1, ... */
        step = 1;
        top = m > 1 ? ceil(m) : 1;
    }
    return c->kind == RP_BARS_HORIZONTAL ? horizontal(out, c, bars, n, top, step, err)
                                         : vertical(out, c, bars, n, top, step, err);
}
