/* my_dump.c - test tool: runs one query through my_reader (the binary protocol into
 * column batches) and prints the schema and every value as JSON lines, so pytest can
 * compare them with what pymysql reads.  Usage: my_dump SQL [batch_rows] [zero_error]
 * or, to read a table in partitions on N connections sharing one snapshot:
 *   my_dump --plan TABLE COLUMN N snapshot|none [PAUSE_MS between partitions] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/batch/batch.h"
#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_config.h"
#include "../../src/common/sl_time.h"
#include "../../src/mysql/my_conn.h"
#include "../../src/mysql/my_plan.h"
#include "../../src/mysql/my_reader.h"

static json_t *decimal_text(const sl_column *c, size_t row)
{
    const sl_type *t = &c->field->type;
    char digits[100], out[110];
    int nd = 0, neg = 0;
    uint8_t mag[40] = {0};
    int w = (int)c->elem_size;
    if (t->precision <= 18) {
        int64_t v = SL_COL_VALUES(c, int64_t)[row];
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        neg = v < 0;
        for (int k = 0; k < 8; k++) mag[39 - k] = (uint8_t)(u >> (8 * k));
    } else {
        const uint8_t *p = (const uint8_t *)c->values + row * (size_t)w;
        neg = p[0] & 0x80;
        memset(mag, neg ? 0xff : 0, 40);
        memcpy(mag + 40 - w, p, (size_t)w);
        if (neg) {
            int carry = 1;
            for (int k = 39; k >= 0; k--) {
                int v = (uint8_t)~mag[k] + carry;
                mag[k] = (uint8_t)v;
                carry = v >> 8;
            }
        }
    }
    /* repeated division by 10 */
    for (;;) {
        int rem = 0, zero = 1;
        for (int k = 0; k < 40; k++) {
            int v = rem * 256 + mag[k];
            mag[k] = (uint8_t)(v / 10);
            rem = v % 10;
            zero &= mag[k] == 0;
        }
        digits[nd++] = (char)('0' + rem);
        if (zero) break;
    }
    while (nd <= t->scale) digits[nd++] = '0';
    int j = 0;
    if (neg) out[j++] = '-';
    for (int k = nd - 1; k >= 0; k--) {
        out[j++] = digits[k];
        if (k == t->scale && t->scale > 0) out[j++] = '.';
    }
    out[j] = 0;
    return json_string(out);
}

static json_t *value(const sl_column *c, size_t row)
{
    char buf[64];
    uint32_t len;
    const uint8_t *p;
    if (sl_col_is_null(c, row)) return json_null();
    switch (c->field->type.id) {
    case SL_BOOL: return json_boolean(SL_COL_VALUES(c, uint8_t)[row]);
    case SL_INT8: snprintf(buf, sizeof buf, "%d", SL_COL_VALUES(c, int8_t)[row]); break;
    case SL_INT16: snprintf(buf, sizeof buf, "%d", SL_COL_VALUES(c, int16_t)[row]); break;
    case SL_INT32: snprintf(buf, sizeof buf, "%d", SL_COL_VALUES(c, int32_t)[row]); break;
    case SL_INT64: snprintf(buf, sizeof buf, "%lld", (long long)SL_COL_VALUES(c, int64_t)[row]); break;
    case SL_UINT8: snprintf(buf, sizeof buf, "%u", SL_COL_VALUES(c, uint8_t)[row]); break;
    case SL_UINT16: snprintf(buf, sizeof buf, "%u", SL_COL_VALUES(c, uint16_t)[row]); break;
    case SL_UINT32: snprintf(buf, sizeof buf, "%u", SL_COL_VALUES(c, uint32_t)[row]); break;
    case SL_UINT64: snprintf(buf, sizeof buf, "%llu", (unsigned long long)SL_COL_VALUES(c, uint64_t)[row]); break;
    case SL_FLOAT: snprintf(buf, sizeof buf, "%.9g", SL_COL_VALUES(c, float)[row]); break;
    case SL_DOUBLE: snprintf(buf, sizeof buf, "%.17g", SL_COL_VALUES(c, double)[row]); break;
    case SL_DECIMAL: return decimal_text(c, row);
    case SL_DATE: sl_date_format(SL_COL_VALUES(c, int32_t)[row], buf, sizeof buf); break;
    case SL_TIMESTAMP: {
        int64_t ts = SL_COL_VALUES(c, int64_t)[row];
        sl_ts_format(ts, buf, sizeof buf);
        break;
    }
    case SL_BINARY: {
        p = sl_col_bytes(c, row, &len);
        char *hex = malloc((size_t)len * 2 + 1);
        for (uint32_t i = 0; i < len; i++) sprintf(hex + 2 * i, "%02x", p[i]);
        hex[2 * len] = 0;
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    default:
        p = sl_col_bytes(c, row, &len);
        return json_stringn((const char *)p, len);
    }
    return json_string(buf);
}

static int print_schema = 1;

static sl_code dump_reader(my_reader *r, sl_err *err)
{
    sl_batch *b;
    json_t *schema;
    if (print_schema) {
        print_schema = 0;
        schema = json_array();
        for (int i = 0; i < my_reader_schema(r)->ncols; i++) {
            const sl_field *f = &my_reader_schema(r)->fields[i];
            json_array_append_new(schema, json_pack("{s:s,s:s,s:b,s:s,s:i,s:i}", "name", f->name, "type",
                                                    sl_type_name(f->type.id), "nullable", f->nullable, "origin",
                                                    f->origin ? f->origin : "", "precision", f->type.precision,
                                                    "scale", f->type.scale));
        }
        json_dumpf(schema, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(schema);
    }
    /* MY_DUMP_STOP_AFTER=N: stop after N batches, the rest unread (my_reader_free then) */
    long stop_after = getenv("MY_DUMP_STOP_AFTER") ? atol(getenv("MY_DUMP_STOP_AFTER")) : -1;
    for (long nb = 0;; nb++) {
        if (nb == stop_after) return SL_OK;
        SL_TRY(my_reader_next(r, &b, err));
        if (!b) return SL_OK;
        for (size_t row = 0; row < b->nrows; row++) {
            json_t *a = json_array();
            for (int i = 0; i < b->schema->ncols; i++) json_array_append_new(a, value(&b->cols[i], row));
            json_dumpf(a, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(a);
        }
    }
}

/* --plan: my_plan_chunks for N connections, then chunk i read on connection i % N in one
 * snapshot (each connection reads its chunks in turn, PAUSE_MS apart). Prints the chunks'
 * WHERE conditions, the schema, the rows, then {"rows", "partitions": chunks, "connections",
 * "plan": my_plan_json}. */
static int plan_dump(sl_config *cfg, int argc, char **argv)
{
    sl_err err = {0};
    my_params mp;
    MYSQL *conns[64] = {0};
    my_plan plan = {0};
    my_plan_opts po;
    int n = argc > 4 ? atoi(argv[4]) : 1, rc = 0, nconn;
    long pause_ms = argc > 6 ? atol(argv[6]) : 0;
    int64_t total = 0;
    char qc[200], qt[200], where[600], sql[1200];
    json_t *jr;
    if (argc < 6 || n < 1 || n > 64) {
        fprintf(stderr, "usage: my_dump --plan TABLE COLUMN N snapshot|none [PAUSE_MS]\n");
        return 2;
    }
    my_plan_opts_default(&po);
    po.connections = n;
    if (my_params_from_config(cfg, &mp, 0, &err) != SL_OK || !(conns[0] = my_connect(&mp, 0, &err))) goto fail;
    if (my_plan_chunks(conns[0], argv[2], argv[3], &po, &plan, &err) != SL_OK) goto fail;
    nconn = n < plan.count ? n : plan.count;
    for (int i = 1; i < nconn; i++)
        if (!(conns[i] = my_connect(&mp, 0, &err))) goto fail;
    if (my_snapshot_begin(conns, nconn, strcmp(argv[5], "none") == 0 ? MY_NONE : MY_SNAPSHOT, &err) != SL_OK)
        goto fail;
    jr = json_array();
    my_quote_ident(argv[3], qc, sizeof qc, &err);
    my_quote_ident(argv[2], qt, sizeof qt, &err);
    for (int i = 0; i < plan.count; i++) {
        my_range_where(&plan.chunks[i].r, qc, where, sizeof where);
        json_array_append_new(jr, json_string(where));
    }
    json_dumpf(jr, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(jr);
    for (int c = 0; c < nconn; c++) {
        if (pause_ms && c > 0) {
            fflush(stdout);
            struct timespec ts = {pause_ms / 1000, (pause_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        for (int i = c; i < plan.count; i += nconn) {
            my_read_opts o;
            my_reader *r;
            my_range_where(&plan.chunks[i].r, qc, where, sizeof where);
            snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE %s", qt, where);
            my_read_opts_default(&o);
            o.table = argv[2];
            if (!(r = my_reader_open(conns[c], sql, &o, &err))) goto fail;
            if (dump_reader(r, &err) != SL_OK) {
                my_reader_free(r);
                goto fail;
            }
            total += my_reader_rows(r);
            my_reader_free(r);
        }
    }
    {
        json_t *tail = json_pack("{s:I, s:i, s:i, s:o}", "rows", (json_int_t)total, "partitions", plan.count,
                                 "connections", nconn, "plan", my_plan_json(&plan));
        json_dumpf(tail, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(tail);
    }
    goto done;
fail:
    fprintf(stderr, "my_dump: %s\n", err.msg);
    rc = sl_exit_code(err.code);
done:
    for (int i = 0; i < 64; i++) my_close(conns[i]);
    my_plan_free(&plan);
    return rc;
}

int main(int argc, char **argv)
{
    sl_err err = {0};
    sl_config *cfg = sl_config_create(&err);
    my_params mp;
    my_read_opts o;
    MYSQL *m = NULL;
    my_reader *r = NULL;
    json_t *z;
    if (argc < 2) {
        fprintf(stderr, "usage: my_dump SQL [batch_rows] [zero_error]\n");
        sl_config_free(cfg);
        return 2;
    }
    if (strcmp(argv[1], "--plan") == 0) {
        int rc = plan_dump(cfg, argc, argv);
        sl_config_free(cfg);
        return rc;
    }
    if (my_params_from_config(cfg, &mp, 0, &err) != SL_OK || !(m = my_connect(&mp, 0, &err))) goto fail;
    my_read_opts_default(&o);
    if (argc > 2) o.batch_rows = (size_t)atol(argv[2]);
    if (argc > 3) o.zero_dates_error = atoi(argv[3]);
    o.read_ahead = getenv("MY_DUMP_READ_AHEAD") && atoi(getenv("MY_DUMP_READ_AHEAD")); /* my_reader.h */
    o.table = "dump";
    if (!(r = my_reader_open(m, argv[1], &o, &err))) goto fail;
    if (dump_reader(r, &err) != SL_OK) goto fail;
    z = json_array();
    for (int i = 0; i < my_reader_schema(r)->ncols; i++) json_array_append_new(z, json_integer(my_reader_zero_dates(r, i)));
    z = json_pack("{s:o,s:I}", "zero_dates", z, "rows",
                  (json_int_t)(getenv("MY_DUMP_STOP_AFTER") ? -1 : my_reader_rows(r)));
    json_dumpf(z, stdout, JSON_COMPACT);
    json_decref(z);
    putchar('\n');
    my_reader_free(r);
    my_close(m);
    sl_config_free(cfg);
    return 0;
fail:
    fprintf(stderr, "my_dump: %s\n", err.msg);
    my_reader_free(r);
    if (m) my_close(m);
    sl_config_free(cfg);
    return sl_exit_code(err.code);
}
