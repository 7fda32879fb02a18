/* pq_write.c - test tool: reads a JSON spec (schema, writer options, rows) and writes
 * it as a Parquet file through the public writer API only (parquet.h), so pytest can
 * read the file back with pyarrow and DuckDB and compare every value with the spec.
 *
 * Usage: pq_write SPEC.json OUT.parquet     (SPEC "-" reads standard input)
 * On success prints one JSON line: {"rows": N, "bytes": N, "row_groups": N} (the
 * writer's pq_file_info). Exit codes: 0 ok, 2 usage, 3 invalid spec (the message names
 * the row and column), otherwise sl_exit_code() of the writer's error, whose sl_err
 * message goes to stderr.
 *
 * Spec (every member optional except "columns"):
 *   {"options": {"codec": "none|snappy|gzip|zstd",   (parsed by pq_codec_parse)
 *                "zstd_level": 3, "gzip_level": 6,
 *                "page_size": BYTES, "row_group_size": BYTES, "row_group_rows": ROWS,
 *                "dictionary": 0|1, "dictionary_max": BYTES, "delta": 0|1,
 *                "page_index": 0|1, "kv": {"key": "value", ...}},
 *    "batch_rows": 1000,        batch capacity: rows go to pq_writer_write in batches of
 *                               this many, the last one partial
 *    "empty_batches": false,    true: also write a 0-row batch before every batch and
 *                               before close
 *    "columns": [{"name": "a", "type": T, "precision": P, "scale": S,
 *                 "nullable": true, "origin": "bigint(20) unsigned"}, ...],
 *    "rows": [[v, ...], ...]}   one array per row, one value per column
 *   Unknown members are errors, so a misspelt option cannot silently use a default.
 *
 * T is a batch type name (sl_type_name): bool, int8, int16, int32, int64, uint8, uint16,
 * uint32, uint64, float, double, decimal, date, timestamp, time, string, binary, json,
 * enum. Values, exactly as batch.h represents them; null is JSON null (nullable only):
 *   bool                 true/false (or 0/1)
 *   int*, uint*          a JSON integer, or a string of decimal digits (with '-' for the
 *                        signed types) for values JSON integers do not hold (beyond
 *                        2^63-1, e.g. uint64 up to 18446744073709551615); range-checked
 *   float, double        a JSON number, or "NaN", "Infinity", "-Infinity"; a float
 *                        column takes the double rounded to float (pass float32 values)
 *   decimal              a string "-123.45" (or an integer): at most P digits, at most S
 *                        after the point (fewer are padded), converted exactly to the
 *                        unscaled integer: int64 for P <= 18, else sl_decimal_width(P)
 *                        bytes big-endian two's complement
 *   date                 an integer: days since 1970-01-01
 *   timestamp, time      an integer: microseconds (since the epoch, since midnight)
 *   string, json, enum   a JSON string (UTF-8; "\u0000" allowed)
 *   binary               a string of hex digits, two per byte
 *   any string type      also {"hex": "..."} for arbitrary bytes
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/batch/batch.h"
#include "../../src/common/sl_alloc.h"
#include "../../src/parquet/parquet.h"
#include "../../src/sink/sink.h"

#define SPEC_ERR 3

static char spec_msg[1024];

static int spec_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int spec_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(spec_msg, sizeof spec_msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_keys(json_t *obj, const char *what, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= strcmp(*a, key) == 0;
        if (!ok) return spec_fail("%s: unknown member \"%s\"", what, key);
    }
    return 0;
}

/* A JSON integer, or a string of decimal digits, as a sign and a magnitude. */
static int get_integer(json_t *v, int *neg, uint64_t *mag)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        *neg = x < 0;
        *mag = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        *neg = 0;
        if (*s == '-') {
            *neg = 1;
            s++;
        }
        if (!*s) return spec_fail("\"%s\" is not an integer", json_string_value(v));
        *mag = 0;
        for (; *s; s++) {
            if (*s < '0' || *s > '9') return spec_fail("\"%s\" is not an integer", json_string_value(v));
            unsigned d = (unsigned)(*s - '0');
            if (*mag > (UINT64_MAX - d) / 10) return spec_fail("\"%s\" overflows 64 bits", json_string_value(v));
            *mag = *mag * 10 + d;
        }
        return 0;
    }
    return spec_fail("expected an integer");
}

static int get_signed(json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    int neg = 0;
    uint64_t mag = 0;
    if (get_integer(v, &neg, &mag)) return -1;
    if (neg ? mag > (uint64_t)INT64_MAX + 1 : mag > (uint64_t)INT64_MAX) return spec_fail("out of range");
    int64_t x = neg ? (int64_t)((uint64_t)0 - mag) : (int64_t)mag;
    if (x < lo || x > hi) return spec_fail("%lld is out of range", (long long)x);
    *out = x;
    return 0;
}

static int get_unsigned(json_t *v, uint64_t hi, uint64_t *out)
{
    int neg = 0;
    uint64_t mag = 0;
    if (get_integer(v, &neg, &mag)) return -1;
    if ((neg && mag) || mag > hi) return spec_fail("out of range");
    *out = mag;
    return 0;
}

static int get_double(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "NaN")) *out = NAN;
        else if (!strcmp(s, "Infinity")) *out = INFINITY;
        else if (!strcmp(s, "-Infinity")) *out = -INFINITY;
        else return spec_fail("\"%s\" is not a number", s);
        return 0;
    }
    return spec_fail("expected a number");
}

/* Decimal text to the unscaled integer as `width` bytes big-endian two's complement,
 * exactly: the digits (the fraction padded with zeros to the scale) are accumulated
 * base 256 by multiply-by-10-and-add, then negated for a '-' sign. */
static int get_decimal(json_t *v, const sl_type *t, uint8_t *be, int width)
{
    char buf[32], digits[160];
    const char *s, *text;
    int neg = 0, nd = 0, nfrac = 0, point = 0, any = 0;
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        s = buf;
    } else if (json_is_string(v)) {
        s = json_string_value(v);
    } else {
        return spec_fail("expected a decimal string");
    }
    text = s;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    for (; *s; s++) {
        if (*s == '.' && !point) {
            point = 1;
            continue;
        }
        if (*s < '0' || *s > '9') return spec_fail("\"%s\" is not a decimal", text);
        any = 1;
        if (point && ++nfrac > t->scale)
            return spec_fail("\"%s\" has more than %d digits after the point", text, t->scale);
        if (nd == 0 && *s == '0') continue; /* leading zeros */
        if (nd >= t->precision) return spec_fail("\"%s\" has more than %d digits", text, t->precision);
        digits[nd++] = *s;
    }
    if (!any) return spec_fail("\"%s\" is not a decimal", text);
    for (; nfrac < t->scale; nfrac++) {
        if (nd == 0) continue; /* 0.000 stays 0 */
        if (nd >= t->precision) return spec_fail("\"%s\" has more than %d digits", text, t->precision);
        digits[nd++] = '0';
    }
    memset(be, 0, (size_t)width);
    for (int i = 0; i < nd; i++) {
        int carry = digits[i] - '0';
        for (int k = width - 1; k >= 0; k--) {
            int x = be[k] * 10 + carry;
            be[k] = (uint8_t)x;
            carry = x >> 8;
        }
        if (carry || (be[0] & 0x80)) return spec_fail("\"%s\" does not fit %d bytes", text, width);
    }
    if (neg) {
        int carry = 1;
        for (int k = width - 1; k >= 0; k--) {
            int x = (uint8_t)~be[k] + carry;
            be[k] = (uint8_t)x;
            carry = x >> 8;
        }
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Hex text to bytes in a malloc'd buffer. */
static int get_hex(const char *s, uint8_t **out, size_t *n)
{
    size_t len = strlen(s);
    if (len % 2) return spec_fail("odd number of hex digits");
    *out = malloc(len / 2 + 1);
    if (!*out) return spec_fail("out of memory");
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(*out);
            return spec_fail("\"%.40s\" is not hex", s);
        }
        (*out)[i] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return 0;
}

static int set_value(sl_column *c, size_t row, json_t *v, sl_err *err)
{
    const sl_type *t = &c->field->type;
    void *dst = (uint8_t *)c->values + row * c->elem_size;
    int64_t i64;
    uint64_t u64;
    double d;
    if (json_is_null(v)) {
        if (!c->valid) return spec_fail("null in a column that is not nullable");
        if (c->elem_size) memset(dst, 0, c->elem_size); /* batch.h: NULL rows hold zeros */
        sl_col_set_null(c, row);
        return 0;
    }
    switch (t->id) {
    case SL_BOOL:
        if (json_is_boolean(v)) *(uint8_t *)dst = json_is_true(v);
        else if (get_signed(v, 0, 1, &i64)) return -1;
        else *(uint8_t *)dst = (uint8_t)i64;
        break;
#define SIGNED(ID, T, LO, HI)                                \
    case ID:                                                 \
        if (get_signed(v, LO, HI, &i64)) return -1;          \
        *(T *)dst = (T)i64;                                  \
        break;
#define UNSIGNED(ID, T, HI)                                  \
    case ID:                                                 \
        if (get_unsigned(v, HI, &u64)) return -1;            \
        *(T *)dst = (T)u64;                                  \
        break;
    SIGNED(SL_INT8, int8_t, INT8_MIN, INT8_MAX)
    SIGNED(SL_INT16, int16_t, INT16_MIN, INT16_MAX)
    SIGNED(SL_INT32, int32_t, INT32_MIN, INT32_MAX)
    SIGNED(SL_INT64, int64_t, INT64_MIN, INT64_MAX)
    SIGNED(SL_DATE, int32_t, INT32_MIN, INT32_MAX)
    SIGNED(SL_TIMESTAMP, int64_t, INT64_MIN, INT64_MAX)
    SIGNED(SL_TIME, int64_t, INT64_MIN, INT64_MAX)
    UNSIGNED(SL_UINT8, uint8_t, UINT8_MAX)
    UNSIGNED(SL_UINT16, uint16_t, UINT16_MAX)
    UNSIGNED(SL_UINT32, uint32_t, UINT32_MAX)
    UNSIGNED(SL_UINT64, uint64_t, UINT64_MAX)
#undef SIGNED
#undef UNSIGNED
    case SL_FLOAT:
        if (get_double(v, &d)) return -1;
        *(float *)dst = (float)d;
        break;
    case SL_DOUBLE:
        if (get_double(v, &d)) return -1;
        *(double *)dst = d;
        break;
    case SL_DECIMAL:
        if (t->precision <= 18) {
            uint8_t be[8];
            if (get_decimal(v, t, be, 8)) return -1;
            u64 = 0;
            for (int k = 0; k < 8; k++) u64 = u64 << 8 | be[k];
            *(int64_t *)dst = (int64_t)u64;
        } else if (get_decimal(v, t, dst, (int)c->elem_size)) {
            return -1;
        }
        break;
    default: {
        uint8_t *bytes = NULL;
        size_t n = 0;
        json_t *hex = json_is_object(v) ? json_object_get(v, "hex") : NULL;
        sl_code rc;
        if (hex || t->id == SL_BINARY) {
            const char *s = json_string_value(hex ? hex : v);
            if (!s || (hex && json_object_size(v) != 1)) return spec_fail("expected a hex string");
            if (get_hex(s, &bytes, &n)) return -1;
            rc = sl_col_set_bytes(c, row, bytes, n, err);
            free(bytes);
        } else if (json_is_string(v)) {
            rc = sl_col_set_bytes(c, row, json_string_value(v), json_string_length(v), err);
        } else {
            return spec_fail("expected a string");
        }
        if (rc != SL_OK) return spec_fail("%s", err->msg);
        return 0;
    }
    }
    sl_col_set_valid(c, row);
    return 0;
}

static int type_by_name(const char *name, sl_type_id *out)
{
    for (int id = 1; id < SL_TYPE__COUNT; id++)
        if (!strcmp(sl_type_name((sl_type_id)id), name)) {
            *out = (sl_type_id)id;
            return 0;
        }
    return spec_fail("unknown type \"%s\"", name);
}

static sl_schema *build_schema(json_t *cols, sl_err *err)
{
    static const char *const keys[] = {"name", "type", "precision", "scale", "nullable", "origin", NULL};
    if (!json_is_array(cols)) {
        spec_fail("\"columns\" must be an array");
        return NULL;
    }
    sl_schema *s = sl_schema_create((int)json_array_size(cols), err);
    if (!s) {
        spec_fail("%s", err->msg);
        return NULL;
    }
    for (int i = 0; i < s->ncols; i++) {
        json_t *c = json_array_get(cols, (size_t)i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        json_t *origin = json_object_get(c, "origin");
        sl_type t = {0};
        if (!json_is_object(c) || check_keys(c, "column", keys)) goto bad;
        if (!name || !type) {
            spec_fail("column %d: needs a \"name\" and a \"type\"", i);
            goto bad;
        }
        if (type_by_name(type, &t.id)) goto bad;
        if (t.id == SL_DECIMAL) {
            json_int_t p = json_integer_value(json_object_get(c, "precision"));
            json_int_t sc = json_integer_value(json_object_get(c, "scale"));
            if (p < 1 || p > 76 || sc < 0 || sc > p) {
                spec_fail("column %s: decimal needs 1 <= precision <= 76, 0 <= scale <= precision", name);
                goto bad;
            }
            t.precision = (uint8_t)p;
            t.scale = (uint8_t)sc;
        }
        if (origin && !json_is_string(origin)) {
            spec_fail("column %s: \"origin\" must be a string", name);
            goto bad;
        }
        if (sl_schema_set(s, i, name, t, json_is_true(json_object_get(c, "nullable")), json_string_value(origin),
                          err) != SL_OK) {
            spec_fail("%s", err->msg);
            goto bad;
        }
    }
    return s;
bad:
    sl_schema_free(s);
    return NULL;
}

/* Options over pq_options_default(); kv entries point into the spec, which lives
 * until the writer is closed. */
static int build_options(json_t *o, pq_options *opt, pq_kv **kv, sl_err *err)
{
    static const char *const keys[] = {"codec",          "zstd_level", "gzip_level", "page_size",  "row_group_size",
                                       "row_group_rows", "dictionary", "dictionary_max", "delta", "page_index",
                                       "kv",             NULL};
    json_t *v;
    pq_options_default(opt);
    *kv = NULL;
    if (!o) return 0;
    if (!json_is_object(o)) return spec_fail("\"options\" must be an object");
    if (check_keys(o, "options", keys)) return -1;
    if ((v = json_object_get(o, "codec"))) {
        if (!json_is_string(v)) return spec_fail("codec must be a string");
        if (pq_codec_parse(json_string_value(v), &opt->codec, err) != SL_OK) return spec_fail("%s", err->msg);
    }
#define INTOPT(NAME, FIELD, T)                                                      \
    if ((v = json_object_get(o, NAME))) {                                           \
        if (!json_is_integer(v) || json_integer_value(v) < 0)                       \
            return spec_fail("option %s must be a non-negative integer", NAME);      \
        opt->FIELD = (T)json_integer_value(v);                                      \
    }
    INTOPT("zstd_level", zstd_level, int)
    INTOPT("gzip_level", gzip_level, int)
    INTOPT("page_size", page_size, size_t)
    INTOPT("row_group_size", row_group_size, size_t)
    INTOPT("row_group_rows", row_group_rows, int64_t)
    INTOPT("dictionary", dictionary, int)
    INTOPT("dictionary_max", dictionary_max, size_t)
    INTOPT("delta", delta, int)
    INTOPT("page_index", page_index, int)
#undef INTOPT
    if ((v = json_object_get(o, "kv"))) {
        const char *key;
        json_t *val;
        int n = 0;
        if (!json_is_object(v)) return spec_fail("option kv must be an object of strings");
        *kv = calloc(json_object_size(v) + 1, sizeof **kv);
        if (!*kv) return spec_fail("out of memory");
        json_object_foreach(v, key, val) {
            if (!json_is_string(val)) return spec_fail("kv value of \"%s\" must be a string", key);
            (*kv)[n].key = key;
            (*kv)[n].value = json_string_value(val);
            n++;
        }
        opt->kv = *kv;
        opt->kv_count = n;
    }
    return 0;
}

static int write_batch(pq_writer *w, sl_batch *b, int empty_batches, sl_err *err)
{
    if (empty_batches) {
        size_t n = b->nrows;
        b->nrows = 0; /* the columns' contents are ignored for a 0-row batch */
        sl_code rc = pq_writer_write(w, b, err);
        b->nrows = n;
        if (rc != SL_OK) return -1;
    }
    if (b->nrows && pq_writer_write(w, b, err) != SL_OK) return -1;
    sl_batch_reset(b);
    return 0;
}

int main(int argc, char **argv)
{
    static const char *const top_keys[] = {"options", "batch_rows", "empty_batches", "columns", "rows", NULL};
    sl_err err = {0};
    json_error_t jerr;
    json_t *spec, *rows;
    sl_schema *schema = NULL;
    sl_batch *batch = NULL;
    sl_sink *sink = NULL;
    pq_writer *w = NULL;
    pq_options opt;
    pq_kv *kv = NULL;
    pq_file_info info = {0};
    int rc = SPEC_ERR, writer_failed = 0, empty_batches;
    json_int_t batch_rows;

    if (argc != 3) {
        fprintf(stderr, "usage: pq_write SPEC.json|- OUT.parquet\n");
        return 2;
    }
    spec = strcmp(argv[1], "-") ? json_load_file(argv[1], JSON_ALLOW_NUL, &jerr)
                                : json_loadf(stdin, JSON_ALLOW_NUL, &jerr);
    if (!spec) {
        fprintf(stderr, "pq_write: %s: line %d: %s\n", argv[1], jerr.line, jerr.text);
        return SPEC_ERR;
    }
    if (!json_is_object(spec) || check_keys(spec, "spec", top_keys)) {
        if (!spec_msg[0]) spec_fail("the spec must be an object");
        goto done;
    }
    rows = json_object_get(spec, "rows");
    if (rows && !json_is_array(rows)) {
        spec_fail("\"rows\" must be an array");
        goto done;
    }
    batch_rows = json_object_get(spec, "batch_rows") ? json_integer_value(json_object_get(spec, "batch_rows")) : 1000;
    if (batch_rows < 1) {
        spec_fail("\"batch_rows\" must be a positive integer");
        goto done;
    }
    empty_batches = json_is_true(json_object_get(spec, "empty_batches"));
    if (build_options(json_object_get(spec, "options"), &opt, &kv, &err)) goto done;
    if (!(schema = build_schema(json_object_get(spec, "columns"), &err))) goto done;
    if (!(batch = sl_batch_create(schema, (size_t)batch_rows, 0, &err))) {
        spec_fail("%s", err.msg);
        goto done;
    }

    if (!(sink = sl_sink_file_open(argv[2], &err))) goto writer_error;
    if (!(w = pq_writer_open(sink, schema, &opt, &err))) goto writer_error;
    for (size_t r = 0; r < json_array_size(rows); r++) {
        json_t *row = json_array_get(rows, r);
        if (!json_is_array(row) || json_array_size(row) != (size_t)schema->ncols) {
            spec_fail("row %zu: expected an array of %d values", r, schema->ncols);
            goto done;
        }
        for (int i = 0; i < schema->ncols; i++) {
            if (set_value(&batch->cols[i], batch->nrows, json_array_get(row, (size_t)i), &err)) {
                fprintf(stderr, "pq_write: %s: row %zu, column %s: %s\n", argv[1], r, schema->fields[i].name,
                        spec_msg);
                spec_msg[0] = 0;
                goto done;
            }
        }
        sl_batch_commit_row(batch);
        if (sl_batch_full(batch) && write_batch(w, batch, empty_batches, &err)) goto writer_error;
    }
    if ((batch->nrows || empty_batches) && write_batch(w, batch, empty_batches, &err)) goto writer_error;
    if (pq_writer_close(w, &info, &err) != SL_OK) goto writer_error;
    printf("{\"rows\": %lld, \"bytes\": %llu, \"row_groups\": %d}\n", (long long)info.rows,
           (unsigned long long)info.bytes, info.row_groups);
    rc = 0;
    goto done;

writer_error:
    writer_failed = 1;
    fprintf(stderr, "pq_write: %s: %s: %s\n", argv[2], sl_strerror(err.code), err.msg);
    rc = sl_exit_code(err.code);
    if (rc == 0) rc = 1;
done:
    if (rc == SPEC_ERR && !writer_failed && spec_msg[0]) fprintf(stderr, "pq_write: %s: %s\n", argv[1], spec_msg);
    pq_writer_free(w);
    sl_sink_release(sink);
    sl_batch_free(batch);
    sl_schema_free(schema);
    free(kv);
    json_decref(spec);
    return rc;
}
