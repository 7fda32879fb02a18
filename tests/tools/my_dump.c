/* my_dump.c - test tool: runs one query through my_reader (the binary protocol into
 * column batches) and prints the schema and every value as JSON lines, so pytest can
 * compare them with what pymysql reads.  Usage: my_dump SQL [batch_rows] [zero_error] */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/batch/batch.h"
#include "../../src/common/sl_config.h"
#include "../../src/common/sl_time.h"
#include "../../src/mysql/my_conn.h"
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

int main(int argc, char **argv)
{
    sl_err err = {0};
    sl_config *cfg = sl_config_create(&err);
    my_params mp;
    my_read_opts o;
    MYSQL *m;
    my_reader *r;
    sl_batch *b;
    json_t *schema, *z;
    if (argc < 2) {
        fprintf(stderr, "usage: my_dump SQL [batch_rows] [zero_error]\n");
        return 2;
    }
    if (my_params_from_config(cfg, &mp, 0, &err) != SL_OK || !(m = my_connect(&mp, 0, &err))) goto fail;
    my_read_opts_default(&o);
    if (argc > 2) o.batch_rows = (size_t)atol(argv[2]);
    if (argc > 3) o.zero_dates_error = atoi(argv[3]);
    o.table = "dump";
    if (!(r = my_reader_open(m, argv[1], &o, &err))) goto fail;
    schema = json_array();
    for (int i = 0; i < my_reader_schema(r)->ncols; i++) {
        const sl_field *f = &my_reader_schema(r)->fields[i];
        json_array_append_new(schema, json_pack("{s:s,s:s,s:b,s:s,s:i,s:i}", "name", f->name, "type",
                                                sl_type_name(f->type.id), "nullable", f->nullable, "origin",
                                                f->origin ? f->origin : "", "precision", f->type.precision, "scale",
                                                f->type.scale));
    }
    json_dumpf(schema, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(schema);
    for (;;) {
        if (my_reader_next(r, &b, &err) != SL_OK) goto fail;
        if (!b) break;
        for (size_t row = 0; row < b->nrows; row++) {
            json_t *a = json_array();
            for (int i = 0; i < b->schema->ncols; i++) json_array_append_new(a, value(&b->cols[i], row));
            json_dumpf(a, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(a);
        }
    }
    z = json_array();
    for (int i = 0; i < my_reader_schema(r)->ncols; i++) json_array_append_new(z, json_integer(my_reader_zero_dates(r, i)));
    z = json_pack("{s:o,s:I}", "zero_dates", z, "rows", (json_int_t)my_reader_rows(r));
    json_dumpf(z, stdout, JSON_COMPACT);
    json_decref(z);
    putchar('\n');
    my_reader_free(r);
    my_close(m);
    sl_config_free(cfg);
    return 0;
fail:
    fprintf(stderr, "my_dump: %s\n", err.msg);
    return sl_exit_code(err.code);
}
