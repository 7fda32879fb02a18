/* my_reader.c - a prepared statement's result streamed into column batches with the
 * binary protocol. No result buffers are bound: Connector/C hands each row's values
 * to on_value (its STMT_ATTR_CB_RESULT hook) where they lie in the received packet,
 * and each is decoded once, straight into the batch's typed vectors. Memory is the
 * batch, whatever the result size; a value of any length is read in one piece. */
#include "my_reader.h"

#include <errmsg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_bytes.h"
#include "../common/sl_time.h"
#include "my_conn.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "my_reader copies the binary protocol's little-endian numbers as they are"
#endif

/* How a column's wire value becomes a batch value. */
typedef enum conv {
    CV_INT,     /* 1, 2, 4 or 8 little-endian bytes, as wide as the batch value */
    CV_FLOAT,
    CV_DOUBLE,
    CV_DECIMAL, /* the exact text, parsed */
    CV_DATE,    /* length byte, then year(2) month day [hour minute second [microseconds(4)]] */
    CV_DATETIME,
    CV_TIME,    /* length byte, then sign days(4) hour minute second [microseconds(4)]: to signed us */
    CV_BYTES,   /* strings and binaries */
    CV_ENUM,    /* an ENUM's text, as a code of the batch's dictionary (sl_batch_code_column) */
    CV_BIT,     /* big-endian bytes to uint64 */
    CV_GEOMETRY /* MySQL's 4-byte SRID + WKB: the WKB is kept */
} conv;

typedef struct colbind {
    conv cv;
    enum enum_field_types type; /* as prepared: execute must send the same, decoded by cv */
    unsigned wire; /* CV_INT: bytes on the wire (the batch value's width) */
    int dec64;     /* CV_DECIMAL of at most 18 digits: an int64 of unscaled value */
    int scale;     /* CV_DECIMAL: digits after the point */
    /* The batch being filled (set by fill): this column's values and validity, so that
     * on_value's integer path reaches them without going through the batch. */
    uint8_t *values;
    uint8_t *valid;
    /* CV_ENUM: the batch's texts by hash (entry + 1, 0 for free), emptied with the batch */
    uint32_t *slots;
    uint32_t nslots;
} colbind;

struct my_reader {
    MYSQL *m;
    int key_col; /* opts.key_column's index when it is an integer column, else -1 */
    MYSQL_STMT *st;
    sl_schema *schema;
    sl_batch *batch;
    colbind *cols;
    int64_t *zero_dates;
    int64_t rows;
    int done;
    my_read_opts opts;
    /* on_value's state for the row being fetched: the batch it fills and the first
     * error of the row (the callback cannot return one) */
    sl_batch *filling;
    size_t at; /* filling->nrows: the row being fetched */
    sl_code row_code;
    sl_err row_err;
    int zero_col;           /* >= 0: this column held a zero date that opts.zero_dates_error refuses */
    unsigned zero_ymd[3];
    int *var_cols, nvar;    /* the variable-width columns, for the arena check after each row */
    /* opts.read_ahead: a thread fills ahead[] in turn while the caller holds the other */
    sl_batch *ahead[2];
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nfree, nready, fill_at, take_at, held; /* slots: free -> filled -> taken -> free */
    int finished;        /* the thread ended: end of result or error (code, perr) */
    sl_code code;
    sl_err perr;
    atomic_int cancel;   /* my_reader_free: the thread stops after its current row */
};

static void *ahead_main(void *arg);
static sl_code code_columns(my_reader *r, sl_batch *b, sl_err *err);
static void on_value(void *data, unsigned int i, unsigned char **row);

void my_read_opts_default(my_read_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch_rows = 65536;
    o->batch_bytes_max = (size_t)64 << 20;
}

static const char *tname(const my_reader *r) { return r->opts.table ? r->opts.table : "query"; }

/* The sl_type, conversion and MySQL type text of a result column. */
static sl_code map_field(const MYSQL_FIELD *f, sl_type *t, conv *cv, char *origin, size_t cap, sl_err *err)
{
    int uns = (f->flags & UNSIGNED_FLAG) != 0, bin = f->charsetnr == 63;
    const char *u = uns ? " unsigned" : "";
    memset(t, 0, sizeof *t);
    *cv = CV_INT;
    switch (f->type) {
    case MYSQL_TYPE_TINY:
        /* TINYINT(1) is MySQL's BOOL: kept as an integer (values other than 0/1 exist). */
        t->id = uns ? SL_UINT8 : SL_INT8;
        snprintf(origin, cap, "tinyint(%lu)%s", f->length, u);
        break;
    case MYSQL_TYPE_SHORT:
        t->id = uns ? SL_UINT16 : SL_INT16;
        snprintf(origin, cap, "smallint%s", u);
        break;
    case MYSQL_TYPE_INT24:
        t->id = uns ? SL_UINT32 : SL_INT32;
        snprintf(origin, cap, "mediumint%s", u);
        break;
    case MYSQL_TYPE_LONG:
        t->id = uns ? SL_UINT32 : SL_INT32;
        snprintf(origin, cap, "int%s", u);
        break;
    case MYSQL_TYPE_LONGLONG:
        t->id = uns ? SL_UINT64 : SL_INT64;
        snprintf(origin, cap, "bigint%s", u);
        break;
    case MYSQL_TYPE_YEAR:
        t->id = SL_INT16;
        snprintf(origin, cap, "year");
        break;
    case MYSQL_TYPE_FLOAT:
        t->id = SL_FLOAT;
        *cv = CV_FLOAT;
        snprintf(origin, cap, "float");
        break;
    case MYSQL_TYPE_DOUBLE:
        t->id = SL_DOUBLE;
        *cv = CV_DOUBLE;
        snprintf(origin, cap, "double");
        break;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: {
        /* length counts digits, the sign and the point. */
        unsigned s = f->decimals, p = (unsigned)f->length - (s > 0 ? 1 : 0) - (uns ? 0 : 1);
        if (p < 1) p = 1;
        if (p > 65 || s > p)
            return sl_err_set(err, SL_E_UNSUPPORTED, "column %s: DECIMAL(%u,%u) is out of range", f->name, p, s);
        t->id = SL_DECIMAL;
        t->precision = (uint8_t)p;
        t->scale = (uint8_t)s;
        *cv = CV_DECIMAL;
        snprintf(origin, cap, "decimal(%u,%u)%s", p, s, u);
        break;
    }
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        t->id = SL_DATE;
        *cv = CV_DATE;
        snprintf(origin, cap, "date");
        break;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
        t->id = SL_TIMESTAMP;
        *cv = CV_DATETIME;
        snprintf(origin, cap, "%s(%u)", f->type == MYSQL_TYPE_DATETIME ? "datetime" : "timestamp",
                 f->decimals > 6 ? 0 : f->decimals);
        break;
    case MYSQL_TYPE_TIME:
        /* TIME spans -838:59:59..838:59:59, beyond Parquet's TIME: signed microseconds. */
        t->id = SL_INT64;
        *cv = CV_TIME;
        snprintf(origin, cap, "time(%u)", f->decimals > 6 ? 0 : f->decimals);
        break;
    case MYSQL_TYPE_BIT:
        t->id = SL_UINT64;
        *cv = CV_BIT;
        snprintf(origin, cap, "bit(%lu)", f->length);
        break;
    case MYSQL_TYPE_JSON:
        t->id = SL_JSON;
        *cv = CV_BYTES;
        snprintf(origin, cap, "json");
        break;
    case MYSQL_TYPE_GEOMETRY:
        t->id = SL_BINARY;
        *cv = CV_GEOMETRY;
        snprintf(origin, cap, "geometry");
        break;
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_VARCHAR:
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
        *cv = CV_BYTES;
        if ((f->flags & ENUM_FLAG) || f->type == MYSQL_TYPE_ENUM) {
            t->id = SL_ENUM;
            *cv = CV_ENUM;
            snprintf(origin, cap, "enum");
        } else if ((f->flags & SET_FLAG) || f->type == MYSQL_TYPE_SET) {
            t->id = SL_STRING;
            snprintf(origin, cap, "set");
        } else if (bin) {
            t->id = SL_BINARY;
            snprintf(origin, cap, "%s", f->type == MYSQL_TYPE_STRING ? "binary"
                                        : f->type == MYSQL_TYPE_VAR_STRING || f->type == MYSQL_TYPE_VARCHAR ? "varbinary"
                                                                                                           : "blob");
        } else {
            t->id = SL_STRING;
            snprintf(origin, cap, "%s", f->type == MYSQL_TYPE_STRING ? "char"
                                        : f->type == MYSQL_TYPE_VAR_STRING || f->type == MYSQL_TYPE_VARCHAR ? "varchar"
                                                                                                           : "text");
        }
        break;
    default:
        return sl_err_set(err, SL_E_UNSUPPORTED, "column %s: MySQL type %d is not supported", f->name, (int)f->type);
    }
    return SL_OK;
}

my_reader *my_reader_open(MYSQL *m, const char *sql, const my_read_opts *opts, sl_err *err)
{
    my_reader *r = sl_calloc(1, sizeof *r);
    MYSQL_RES *meta = NULL;
    MYSQL_FIELD *fields;
    int n;
    if (!r) {
        sl_err_set(err, SL_E_NOMEM, "out of memory opening a reader");
        return NULL;
    }
    if (opts) r->opts = *opts;
    else my_read_opts_default(&r->opts);
    if (!r->opts.batch_rows) r->opts.batch_rows = 65536;
    if (!r->opts.batch_bytes_max) r->opts.batch_bytes_max = (size_t)64 << 20;
    r->m = m;
    r->st = mysql_stmt_init(m);
    if (!r->st) {
        my_error(m, err, "preparing the read");
        goto fail;
    }
    if (mysql_stmt_prepare(r->st, sql, (unsigned long)strlen(sql)) != 0) {
        sl_err_set(err, my_classify(mysql_stmt_errno(r->st)), "%s: preparing the read: %s (MySQL error %u)",
                   tname(r), mysql_stmt_error(r->st), mysql_stmt_errno(r->st));
        goto fail;
    }
    meta = mysql_stmt_result_metadata(r->st);
    if (!meta) {
        sl_err_set(err, SL_E_USAGE, "%s: the statement returns no rows", tname(r));
        goto fail;
    }
    n = (int)mysql_num_fields(meta);
    fields = mysql_fetch_fields(meta);
    r->schema = sl_schema_create(n, err);
    r->cols = sl_calloc((size_t)n, sizeof *r->cols);
    r->zero_dates = sl_calloc((size_t)n, sizeof *r->zero_dates);
    r->var_cols = sl_calloc((size_t)n, sizeof *r->var_cols);
    if (!r->schema || !r->cols || !r->zero_dates || !r->var_cols) {
        sl_err_set(err, SL_E_NOMEM, "out of memory opening a reader");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        sl_type t;
        char origin[96];
        colbind *c = &r->cols[i];
        if (map_field(&fields[i], &t, &c->cv, origin, sizeof origin, err) != SL_OK) {
            sl_err_prefix(err, "%s: ", tname(r));
            goto fail;
        }
        if (t.id == SL_DECIMAL && t.precision > 38 && r->opts.wide_decimal_string) {
            /* The server sends a DECIMAL as its exact text: kept as a string, which every
             * Parquet reader opens (Spark and Polars refuse a decimal above 38 digits). */
            t = (sl_type){SL_STRING, 0, 0};
            c->cv = CV_BYTES;
        }
        if (c->cv == CV_INT) {
            c->wire = fields[i].type == MYSQL_TYPE_TINY ? 1
                      : fields[i].type == MYSQL_TYPE_SHORT || fields[i].type == MYSQL_TYPE_YEAR ? 2
                      : fields[i].type == MYSQL_TYPE_LONGLONG ? 8 : 4;
            if (c->wire != sl_type_width(t)) {
                sl_err_set(err, SL_E_UNSUPPORTED, "%s: column %s: %u wire bytes for a %zu-byte value", tname(r),
                           fields[i].name, c->wire, sl_type_width(t));
                goto fail;
            }
        }
        if (c->cv == CV_DECIMAL) {
            c->dec64 = t.precision <= 18 && sl_type_width(t) == 8;
            c->scale = t.scale;
        }
        c->type = fields[i].type;
        if (sl_type_is_var(t.id)) r->var_cols[r->nvar++] = i;
        /* Zero dates become NULL, so date columns are nullable whatever the flag says. */
        int nullable = !(fields[i].flags & NOT_NULL_FLAG) || c->cv == CV_DATE || c->cv == CV_DATETIME;
        if (sl_schema_set(r->schema, i, fields[i].name, t, nullable, origin, err) != SL_OK) goto fail;
    }
    mysql_free_result(meta);
    meta = NULL;
    /* No result binding: each value reaches on_value where it lies in the packet. */
    ps_result_callback cb = on_value;
    if (mysql_stmt_attr_set(r->st, STMT_ATTR_CB_USER_DATA, r) != 0 ||
        mysql_stmt_attr_set(r->st, STMT_ATTR_CB_RESULT, *(void **)&cb) != 0) {
        sl_err_set(err, SL_E_UNSUPPORTED, "%s: this Connector/C has no result callback: %s", tname(r),
                   mysql_stmt_error(r->st));
        goto fail;
    }
    if (mysql_stmt_execute(r->st) != 0) {
        sl_err_set(err, my_classify(mysql_stmt_errno(r->st)), "%s: running the read: %s (MySQL error %u)", tname(r),
                   mysql_stmt_error(r->st), mysql_stmt_errno(r->st));
        goto fail;
    }
    /* The values are decoded by the prepared types: the executed result must match them. */
    if (!(meta = mysql_stmt_result_metadata(r->st)) || mysql_num_fields(meta) != (unsigned)n) {
        sl_err_set(err, SL_E_DB, "%s: the read returned other columns than its preparation announced", tname(r));
        goto fail;
    }
    fields = mysql_fetch_fields(meta);
    for (int i = 0; i < n; i++)
        if (fields[i].type != r->cols[i].type) {
            sl_err_set(err, SL_E_DB, "%s: column %s: the read returned MySQL type %d where its preparation announced %d",
                       tname(r), fields[i].name, (int)fields[i].type, (int)r->cols[i].type);
            goto fail;
        }
    mysql_free_result(meta);
    meta = NULL;
    /* Reading ahead, each of the two batches takes half the byte budget. */
    size_t bytes = r->opts.read_ahead ? r->opts.batch_bytes_max / 2 : r->opts.batch_bytes_max;
    r->batch = sl_batch_create(r->schema, r->opts.batch_rows, bytes, err);
    if (!r->batch || code_columns(r, r->batch, err) != SL_OK) goto fail;
    r->key_col = -1;
    if (r->opts.key_column) {
        int k = sl_schema_find(r->schema, r->opts.key_column);
        if (k >= 0 && r->cols[k].cv == CV_INT) r->key_col = k;
    }
    if (r->opts.read_ahead) {
        r->opts.batch_bytes_max = bytes;
        r->ahead[0] = r->batch;
        r->ahead[1] = sl_batch_create(r->schema, r->opts.batch_rows, bytes, err);
        if (!r->ahead[1] || code_columns(r, r->ahead[1], err) != SL_OK) goto fail;
        r->nfree = 2;
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        if (pthread_create(&r->thread, NULL, ahead_main, r) == 0) {
            r->started = 1;
        } else { /* no thread: the caller's thread reads, as without the option */
            pthread_cond_destroy(&r->cv);
            pthread_mutex_destroy(&r->mu);
            sl_batch_free(r->ahead[1]);
            r->ahead[1] = NULL;
        }
    }
    return r;
fail:
    if (meta) mysql_free_result(meta);
    my_reader_free(r);
    return NULL;
}

const sl_schema *my_reader_schema(const my_reader *r) { return r->schema; }
int64_t my_reader_zero_dates(const my_reader *r, int col) { return r->zero_dates[col]; }
int64_t my_reader_rows(const my_reader *r) { return r->rows; }

/* A DECIMAL of at most 18 digits: the unscaled value fits int64 exactly, no wide
 * arithmetic. The integral digits, then at most `scale` fraction digits (MariaDB sends
 * no more), then zeros up to the scale. 0 if s[0..n) is not such a number. */
static inline int parse_dec64(const char *s, size_t n, int scale, int64_t *out)
{
    const char *p = s, *e = s + n;
    int neg = 0, digits = 0, frac = 0;
    int64_t v = 0;
    if (p < e && (*p == '-' || *p == '+')) neg = *p++ == '-';
    if (p == e) return 0;
    for (; p < e && (unsigned)(*p - '0') < 10; p++) {
        if (++digits > 18) return 0;
        v = v * 10 + (*p - '0');
    }
    if (p < e && *p == '.') {
        for (p++; p < e && (unsigned)(*p - '0') < 10; p++) {
            if (frac == scale) continue; /* past the scale: cut, as before */
            if (++digits > 18) return 0;
            v = v * 10 + (*p - '0');
            frac++;
        }
    }
    if (p != e) return 0;
    for (; frac < scale; frac++) {
        if (++digits > 18) return 0;
        v *= 10;
    }
    *out = neg ? -v : v;
    return 1;
}

static inline uint32_t enum_hash(const unsigned char *p, uint64_t n)
{
    /* the length and three bytes: an ENUM's members differ there (others only probe longer) */
    uint64_t x = n ? (n & 0xffff) | (uint64_t)p[0] << 16 | (uint64_t)p[n / 2] << 24 | (uint64_t)p[n - 1] << 32 : 0;
    return (uint32_t)((x * 0x9E3779B97F4A7C15ULL) >> 40);
}

/* The entry of col's texts equal to p[0..n) (1 and its index in *out), or 0 and in *slot
 * the free slot where it goes. */
static inline int enum_find(const colbind *c, const sl_column *col, const unsigned char *p, uint64_t n, uint32_t *out,
                            uint32_t *slot)
{
    uint32_t mask = c->nslots - 1, s = enum_hash(p, n) & mask, e, len;
    for (; (e = c->slots[s]) != 0; s = (s + 1) & mask) {
        const uint8_t *t = sl_col_entry(col, e - 1, &len);
        if (len == n && sl_bytes_equal(t, p, n)) {
            *out = e - 1;
            return 1;
        }
    }
    *slot = s;
    return 0;
}

/* An ENUM's text as an entry of col's dictionary, added if new: the server sends the
 * member's text, and a column's values are its few members (or '' for an invalid one),
 * so each batch holds each text once and its rows hold codes. */
static sl_code enum_code(colbind *c, sl_column *col, const unsigned char *p, uint64_t n, uint32_t *out, sl_err *err)
{
    if (n > UINT32_MAX) return sl_err_set(err, SL_E_DATA, "column %s: an ENUM text of %llu bytes", col->field->name,
                                          (unsigned long long)n);
    for (;;) {
        uint32_t s;
        if (enum_find(c, col, p, n, out, &s)) return SL_OK;
        if ((uint64_t)(col->ndict + 1) * 2 <= c->nslots) {
            SL_TRY(sl_col_add_entry(col, p, (size_t)n, out, err));
            c->slots[s] = *out + 1;
            return SL_OK;
        }
        /* half full: twice the slots, the entries hashed again, then the probe again */
        uint32_t ns = c->nslots * 2, *slots = sl_calloc(ns, sizeof *slots);
        if (!slots) return sl_err_set(err, SL_E_NOMEM, "out of memory for column %s's ENUM texts", col->field->name);
        for (uint32_t e = 0; e < col->ndict; e++) {
            uint32_t len;
            const uint8_t *t = sl_col_entry(col, e, &len);
            uint32_t q = enum_hash(t, len) & (ns - 1);
            while (slots[q]) q = (q + 1) & (ns - 1);
            slots[q] = e + 1;
        }
        sl_free(c->slots);
        c->slots = slots;
        c->nslots = ns;
    }
}

/* The ENUM columns of a new batch: coded, with their hash slots. */
static sl_code code_columns(my_reader *r, sl_batch *b, sl_err *err)
{
    for (int i = 0; i < b->schema->ncols; i++) {
        colbind *c = &r->cols[i];
        if (c->cv != CV_ENUM) continue;
        SL_TRY(sl_batch_code_column(b, i, err));
        if (!c->slots) {
            c->nslots = 64;
            if (!(c->slots = sl_calloc(c->nslots, sizeof *c->slots)))
                return sl_err_set(err, SL_E_NOMEM, "out of memory for column %s's ENUM texts", b->schema->fields[i].name);
        }
    }
    return SL_OK;
}

/* "-123.4500" -> unscaled integer at `scale`, as int64 or big-endian two's complement. */
static sl_code parse_decimal(const char *s, size_t n, const sl_type *t, uint8_t *out, int64_t *out64)
{
    if (t->precision <= 18) return parse_dec64(s, n, t->scale, out64) ? SL_OK : SL_E_DATA;
    int neg = 0, frac = -1, width = sl_decimal_width(t->precision);
    uint8_t mag[40] = {0};
    size_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    for (; i < n; i++) {
        int d;
        if (s[i] == '.') {
            if (frac >= 0) return SL_E_DATA;
            frac = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') return SL_E_DATA;
        if (frac >= 0 && frac++ >= t->scale) continue; /* more digits than the scale: cannot happen for DECIMAL */
        d = s[i] - '0';
        /* mag = mag * 10 + d, big-endian over 40 bytes */
        for (int k = 39; k >= 0; k--) {
            int v = mag[k] * 10 + d;
            mag[k] = (uint8_t)(v & 0xff);
            d = v >> 8;
        }
    }
    for (int f = frac < 0 ? 0 : frac; f < t->scale; f++) {
        int d = 0;
        for (int k = 39; k >= 0; k--) {
            int v = mag[k] * 10 + d;
            mag[k] = (uint8_t)(v & 0xff);
            d = v >> 8;
        }
    }
    if (neg) { /* two's complement */
        int carry = 1;
        for (int k = 39; k >= 0; k--) {
            int v = (uint8_t)~mag[k] + carry;
            mag[k] = (uint8_t)(v & 0xff);
            carry = v >> 8;
        }
    }
    if (t->precision <= 18) {
        uint64_t u = 0;
        for (int k = 32; k < 40; k++) u = (u << 8) | mag[k];
        *out64 = (int64_t)u;
    } else {
        memcpy(out, mag + 40 - width, (size_t)width);
    }
    return SL_OK;
}

/* A length-encoded integer of the protocol: the length of the value that follows. */
static uint64_t lenenc(unsigned char **row)
{
    const unsigned char *p = *row;
    uint64_t v;
    switch (p[0]) {
    case 252: v = (uint64_t)p[1] | (uint64_t)p[2] << 8; *row += 3; break;
    case 253: v = (uint64_t)p[1] | (uint64_t)p[2] << 8 | (uint64_t)p[3] << 16; *row += 4; break;
    case 254: memcpy(&v, p + 1, 8); *row += 9; break;
    default: v = p[0]; *row += 1; break;
    }
    return v;
}

static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* The first error of a row wins; the rest of the row is still walked. */
#define ROW_FAIL(r, ...)                                                                                               \
    do {                                                                                                               \
        if ((r)->row_code == SL_OK) (r)->row_code = sl_err_set(&(r)->row_err, __VA_ARGS__);                            \
    } while (0)

/* on_value's every case: NULLs, conversions, byte arrays and the errors of a row. */
static __attribute__((noinline)) void on_value_slow(my_reader *r, unsigned int i, unsigned char **row)
{
    sl_batch *bt = r->filling;
    size_t at = bt->nrows;
    colbind *c = &r->cols[i];
    sl_column *col = &bt->cols[i];
    size_t w = col->elem_size;
    uint8_t *dst = col->values ? (uint8_t *)col->values + at * w : NULL;
    if (!row) {
        if (!col->valid) {
            ROW_FAIL(r, SL_E_DATA, "%s: column %s is NOT NULL but the server sent a NULL at row %lld", tname(r),
                     r->schema->fields[i].name, (long long)(r->rows + 1));
            return;
        }
        if (dst) memset(dst, 0, w);
        sl_col_set_null(col, at);
        return;
    }
    unsigned char *p = *row;
    switch (c->cv) {
    case CV_INT: /* constant sizes: each copy is one load and store */
        switch (c->wire) {
        case 1: *dst = *p; break;
        case 2: memcpy(dst, p, 2); break;
        case 4: memcpy(dst, p, 4); break;
        default: memcpy(dst, p, 8); break;
        }
        *row = p + c->wire;
        break;
    case CV_FLOAT:
        memcpy(dst, p, 4);
        *row = p + 4;
        break;
    case CV_DOUBLE:
        memcpy(dst, p, 8);
        *row = p + 8;
        break;
    case CV_DATE:
    case CV_DATETIME: {
        unsigned len = p[0], y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
        uint32_t us = 0;
        *row = p + 1 + len;
        p++;
        if (len >= 4) {
            y = (unsigned)p[0] | (unsigned)p[1] << 8;
            mo = p[2];
            d = p[3];
        }
        if (len >= 7) {
            h = p[4];
            mi = p[5];
            sec = p[6];
        }
        if (len >= 11) us = le32(p + 7);
        if (y == 0 || mo == 0 || d == 0 || !sl_date_valid((int)y, mo, d)) {
            if (r->opts.zero_dates_error && r->zero_col < 0) {
                r->zero_col = (int)i; /* reported by fill once the row (and its key) is whole */
                r->zero_ymd[0] = y;
                r->zero_ymd[1] = mo;
                r->zero_ymd[2] = d;
            }
            r->zero_dates[i]++;
            memset(dst, 0, w);
            sl_col_set_null(col, at);
            return;
        }
        if (c->cv == CV_DATE) *(int32_t *)dst = sl_days_from_civil((int)y, mo, d);
        else *(int64_t *)dst = sl_ts_make((int)y, mo, d, h, mi, sec, us);
        break;
    }
    case CV_TIME: {
        unsigned len = p[0];
        int64_t v = 0;
        *row = p + 1 + len;
        p++;
        if (len >= 8) v = (((int64_t)le32(p + 1) * 24 + p[5]) * 3600 + p[6] * 60 + p[7]) * 1000000LL;
        if (len >= 12) v += le32(p + 8);
        *(int64_t *)dst = len >= 8 && p[0] ? -v : v;
        break;
    }
    case CV_DECIMAL: {
        uint64_t len = lenenc(&p);
        int64_t v64 = 0;
        *row = p + len;
        if (len > 80 || parse_decimal((const char *)p, (size_t)len, &r->schema->fields[i].type, dst, &v64) != SL_OK) {
            ROW_FAIL(r, SL_E_DATA, "%s: column %s: cannot read decimal '%.*s'", tname(r), r->schema->fields[i].name,
                     (int)(len > 80 ? 80 : len), (const char *)p);
            memset(dst, 0, w);
            break;
        }
        if (r->schema->fields[i].type.precision <= 18) *(int64_t *)dst = v64;
        break;
    }
    case CV_BIT: {
        uint64_t len = lenenc(&p), v = 0;
        *row = p + len;
        for (uint64_t k = 0; k < len && k < 8; k++) v = (v << 8) | p[k];
        *(uint64_t *)dst = v;
        break;
    }
    case CV_ENUM: {
        uint64_t len = lenenc(&p);
        *row = p + len;
        if (enum_code(c, col, p, len, &col->codes[at], &r->row_err) != SL_OK && r->row_code == SL_OK) {
            r->row_code = r->row_err.code;
            sl_err_prefix(&r->row_err, "%s: ", tname(r));
        }
        break;
    }
    case CV_BYTES:
    case CV_GEOMETRY: {
        uint64_t len = lenenc(&p);
        *row = p + len;
        if (c->cv == CV_GEOMETRY && len >= 4) { /* drop the SRID: WKB remains */
            p += 4;
            len -= 4;
        }
        if (sl_col_set_bytes(col, at, p, (size_t)len, &r->row_err) != SL_OK && r->row_code == SL_OK) {
            r->row_code = r->row_err.code;
            sl_err_prefix(&r->row_err, "%s: ", tname(r));
        }
        if (r->row_code != SL_OK) col->offsets[at + 1] = col->offsets[at]; /* keep the offsets whole */
        return;
    }
    }
    sl_col_set_valid(col, at);
}

/* on_value's typed fast paths, one small function each (so that none saves more
 * registers than its own path needs, and the integer path none): a DATETIME, an ENUM
 * text, a short DECIMAL and a short string in their common forms; the rest go to
 * on_value_slow. */

/* The value at p, of one length byte, taken into row `at`: *row is moved past it and
 * the row is marked present. */
static inline void took(uint8_t *valid, size_t at, unsigned char **row, unsigned char *p)
{
    *row = p + 1 + p[0];
    if (valid) valid[at] = 1;
}

/* A fixed-width value v of the row (a DATETIME's microseconds, a DECIMAL's unscaled
 * int64) for the value at p. */
static inline void put_int64(const colbind *c, size_t at, int64_t v, unsigned char **row, unsigned char *p)
{
    memcpy(c->values + at * 8, &v, 8);
    took(c->valid, at, row, p);
}

/* A DATETIME without microseconds on a day 1..28 (valid in every month; the rest, zero
 * dates included, are on_value_slow's): its microseconds. */
static __attribute__((noinline)) void on_datetime(my_reader *r, unsigned int i, unsigned char **row)
{
    const colbind *c = &r->cols[i];
    unsigned char *p = *row;
    if (p[0] == 7 || p[0] == 4) {
        unsigned y = (unsigned)p[1] | (unsigned)p[2] << 8, mo = p[3], d = p[4];
        if (y != 0 && mo - 1 < 12 && d - 1 < 28) {
            unsigned h = 0, mi = 0, sec = 0;
            if (p[0] == 7) {
                h = p[5];
                mi = p[6];
                sec = p[7];
            }
            put_int64(c, r->at, sl_ts_make((int)y, mo, d, h, mi, sec, 0), row, p);
            return;
        }
    }
    on_value_slow(r, i, row);
}

static void on_enum_probe(my_reader *r, unsigned int i, unsigned char **row);

/* An ENUM text (one length byte) the batch holds already in the slot its hash names
 * first: its code. The rest (a text further along its probe, a new one, a long one) go
 * to on_enum_probe, so that this path needs no loop and few registers. */
static __attribute__((noinline)) void on_enum(my_reader *r, unsigned int i, unsigned char **row)
{
    const colbind *c = &r->cols[i];
    unsigned char *p = *row;
    uint32_t n = p[0], e;
    /* 4 to 16 bytes (compared with no call: a call here would cost every value the
     * registers it must keep) */
    if (n - 4u <= 12u && (e = c->slots[enum_hash(p + 1, n) & (c->nslots - 1)]) != 0) {
        sl_column *col = &r->filling->cols[i];
        uint32_t len;
        const uint8_t *t = sl_col_entry(col, e - 1, &len);
        if (len == n && sl_bytes_equal(t, p + 1, n)) {
            col->codes[r->at] = e - 1;
            took(c->valid, r->at, row, p);
            return;
        }
    }
    on_enum_probe(r, i, row);
}

/* An ENUM text (one length byte) the batch holds already: its code. */
static __attribute__((noinline)) void on_enum_probe(my_reader *r, unsigned int i, unsigned char **row)
{
    const colbind *c = &r->cols[i];
    unsigned char *p = *row;
    if (p[0] < 251) {
        sl_column *col = &r->filling->cols[i];
        size_t at = r->at;
        uint32_t s;
        if (enum_find(c, col, p + 1, p[0], &col->codes[at], &s)) {
            took(c->valid, at, row, p);
            return;
        }
    }
    on_value_slow(r, i, row);
}

/* Any DECIMAL text parse_dec64 reads (length below 251: one length byte): its int64. */
static __attribute__((noinline)) void on_decimal_text(my_reader *r, unsigned int i, unsigned char **row)
{
    const colbind *c = &r->cols[i];
    unsigned char *p = *row;
    int64_t v;
    if (c->dec64 && p[0] < 251 && parse_dec64((const char *)p + 1, p[0], c->scale, &v)) {
        put_int64(c, r->at, v, row, p);
        return;
    }
    on_value_slow(r, i, row);
}

/* A DECIMAL in the server's own form for a non-negative value of at most 18 characters
 * (digits, and '.' and exactly scale digits when scale > 0): its int64, with few
 * registers live (no frame). Any other text goes to on_decimal_text. */
static __attribute__((noinline)) void on_decimal(my_reader *r, unsigned int i, unsigned char **row)
{
    const colbind *c = &r->cols[i];
    unsigned char *p = *row;
    if (c->dec64 && p[0] - 1u < 18u) {
        const unsigned char *q = p + 1, *e = q + p[0];
        uint64_t u = 0;
        for (; q < e && (unsigned)(*q - '0') < 10; q++) u = u * 10 + (unsigned)(*q - '0');
        int form = c->scale == 0 || (q < e && *q == '.' && e - q == c->scale + 1); /* the point and scale digits */
        if (form && c->scale > 0)
            for (q++; q < e && (unsigned)(*q - '0') < 10; q++) u = u * 10 + (unsigned)(*q - '0');
        if (form && q == e) {
            put_int64(c, r->at, (int64_t)u, row, p);
            return;
        }
    }
    on_decimal_text(r, i, row);
}

/* A string or binary value (one length byte) that fits the column's room: appended. */
static __attribute__((noinline)) void on_bytes(my_reader *r, unsigned int i, unsigned char **row)
{
    unsigned char *p = *row;
    sl_column *col = &r->filling->cols[i];
    size_t n = p[0], len = col->data.len;
    if (n < 251 && col->data.cap - len >= n && len + n <= UINT32_MAX) {
        size_t at = r->at;
        if (n) memcpy(col->data.data + len, p + 1, n); /* data is NULL before the first bytes */
        col->data.len = len + n;
        col->offsets[at + 1] = (uint32_t)(len + n);
        took(col->valid, at, row, p); /* the batch's validity, the one c->valid points at */
        return;
    }
    on_value_slow(r, i, row);
}

/* STMT_ATTR_CB_RESULT: column i of the row being fetched; *row points at its value in
 * the packet and is moved past it (row is NULL for SQL NULL). Called by mysql_stmt_fetch for
 * every value, so the integers (most columns of most tables) take a path of a few
 * loads and one store; the other types go on to their own (a tail call). */
static void on_value(void *data, unsigned int i, unsigned char **row)
{
    my_reader *r = data;
    const colbind *c = &r->cols[i];
    if (__builtin_expect(!row, 0)) { /* SQL NULL */
        on_value_slow(r, i, row);
        return;
    }
    if (c->cv != CV_INT) { /* tested first: in one switch, every integer took its jump table */
        switch (c->cv) {
        case CV_DATETIME: on_datetime(r, i, row); return;
        case CV_ENUM: on_enum(r, i, row); return;
        case CV_DECIMAL: on_decimal(r, i, row); return;
        case CV_BYTES: on_bytes(r, i, row); return;
        default: on_value_slow(r, i, row); return;
        }
    }
    unsigned char *p = *row;
    size_t at = r->at;
    switch (c->wire) {
    case 8: memcpy(c->values + at * 8, p, 8); break;
    case 4: memcpy(c->values + at * 4, p, 4); break;
    case 2: memcpy(c->values + at * 2, p, 2); break;
    default: c->values[at] = *p; break;
    }
    *row = p + c->wire;
    if (c->valid) c->valid[at] = 1;
}

/* The zero-date refusal, named by the row's key when there is one. */
static sl_code zero_date_error(my_reader *r, sl_batch *b, sl_err *err)
{
    char key[200] = "";
    int k = r->key_col, i = r->zero_col;
    const sl_column *kc = k >= 0 ? &b->cols[k] : NULL;
    if (kc && !sl_col_is_null(kc, b->nrows)) {
        int64_t v = 0;
        const uint8_t *src = (const uint8_t *)kc->values + b->nrows * kc->elem_size;
        switch (kc->field->type.id) {
        case SL_INT8: v = *(const int8_t *)src; break;
        case SL_UINT8: v = *src; break;
        case SL_INT16: v = *(const int16_t *)src; break;
        case SL_UINT16: v = *(const uint16_t *)src; break;
        case SL_INT32: v = *(const int32_t *)src; break;
        case SL_UINT32: v = *(const uint32_t *)src; break;
        default: memcpy(&v, src, 8); break;
        }
        if (kc->field->type.id == SL_UINT64)
            snprintf(key, sizeof key, ", key %s = %llu", kc->field->name, (unsigned long long)v);
        else
            snprintf(key, sizeof key, ", key %s = %lld", kc->field->name, (long long)v);
    }
    return sl_err_set(err, SL_E_DATA,
                      "%s: column %s holds the zero or partial date '%04u-%02u-%02u' at row %lld%s "
                      "(--zero-dates=null turns such dates into NULL)",
                      tname(r), r->schema->fields[i].name, r->zero_ymd[0], r->zero_ymd[1], r->zero_ymd[2],
                      (long long)(r->rows + 1), key);
}

/* Fills b with the next rows; *done is set at the end of the result. */
static sl_code fill(my_reader *r, sl_batch *b, int *done, sl_err *err)
{
    sl_batch_reset(b);
    r->filling = b;
    for (int k = 0; k < b->schema->ncols; k++) {
        r->cols[k].values = b->cols[k].values;
        r->cols[k].valid = b->cols[k].valid;
        if (r->cols[k].slots) memset(r->cols[k].slots, 0, r->cols[k].nslots * sizeof *r->cols[k].slots);
    }
    while (!sl_batch_full(b)) {
        r->at = b->nrows;
        if (atomic_load_explicit(&r->cancel, memory_order_relaxed))
            return sl_err_set(err, SL_E_STOPPED, "%s: the read was cancelled", tname(r));
        r->row_code = SL_OK;
        r->zero_col = -1;
        int rc = mysql_stmt_fetch(r->st);
        if (rc == MYSQL_NO_DATA) {
            *done = 1;
            break;
        }
        if (rc == 1) {
            /* A dropped stream ends the fetch loop like the last row: never take it for the end.
             * After a KILL, Connector/C may leave the statement's error empty and only the
             * connection's set, or neither: an error without a code is a lost stream too. */
            unsigned e = mysql_stmt_errno(r->st);
            const char *msg = mysql_stmt_error(r->st);
            if (e == 0 && r->m) {
                e = mysql_errno(r->m);
                msg = mysql_error(r->m);
            }
            sl_code code = e == 0 ? SL_E_DB_LOST : my_classify(e);
            return sl_err_set(err, code, "%s: reading rows after row %lld: %s (MySQL error %u)", tname(r),
                              (long long)r->rows,
                              msg && msg[0] ? msg : "the stream ended with an error and no message: connection lost",
                              e);
        }
        if (r->row_code != SL_OK) {
            if (err) *err = r->row_err;
            return r->row_code;
        }
        if (r->zero_col >= 0) return zero_date_error(r, b, err);
        sl_batch_commit_row(b);
        r->rows++;
        /* Leave room in the byte arenas: end the batch early rather than overflow. */
        for (int k = 0; k < r->nvar; k++)
            if (b->cols[r->var_cols[k]].data.len > r->opts.batch_bytes_max / 2) return SL_OK;
    }
    return SL_OK;
}

/* The read-ahead thread: fills the free slot, hands it over, until the end or an error. */
static void *ahead_main(void *arg)
{
    my_reader *r = arg;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (r->nfree == 0 && !atomic_load(&r->cancel)) pthread_cond_wait(&r->cv, &r->mu);
        int slot = r->fill_at;
        pthread_mutex_unlock(&r->mu);
        if (atomic_load(&r->cancel)) break;
        int done = 0;
        sl_code rc = fill(r, r->ahead[slot], &done, &r->perr);
        pthread_mutex_lock(&r->mu);
        if (rc == SL_OK && r->ahead[slot]->nrows) {
            r->nfree--;
            r->nready++;
            r->fill_at ^= 1;
        }
        if (rc != SL_OK || done) {
            r->code = rc;
            r->finished = 1;
        }
        pthread_cond_broadcast(&r->cv);
        int end = r->finished;
        pthread_mutex_unlock(&r->mu);
        if (end) {
            if (rc == SL_OK && r->opts.on_end) { /* the whole result is read: the connection is free */
                mysql_stmt_close(r->st);
                r->st = NULL;
                r->opts.on_end(r->opts.on_end_ud);
            }
            break;
        }
    }
    return NULL;
}

static sl_code next_ahead(my_reader *r, sl_batch **out, sl_err *err)
{
    sl_code rc = SL_OK;
    pthread_mutex_lock(&r->mu);
    if (r->held) { /* the batch returned last time goes back to the thread */
        r->held = 0;
        r->nfree++;
        pthread_cond_broadcast(&r->cv);
    }
    while (r->nready == 0 && !r->finished) pthread_cond_wait(&r->cv, &r->mu);
    if (r->nready) {
        *out = r->ahead[r->take_at];
        r->take_at ^= 1;
        r->nready--;
        r->held = 1;
    } else if (r->code != SL_OK) {
        rc = r->code;
        if (err) *err = r->perr;
    } else {
        r->done = 1;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

sl_code my_reader_next(my_reader *r, sl_batch **out, sl_err *err)
{
    *out = NULL;
    if (r->done) return SL_OK;
    if (r->started) return next_ahead(r, out, err);
    int done = 0;
    sl_code rc = fill(r, r->batch, &done, err);
    r->done = done;
    if (rc == SL_OK && r->batch->nrows) *out = r->batch;
    return rc;
}

void my_reader_free(my_reader *r)
{
    if (!r) return;
    if (r->started) {
        pthread_mutex_lock(&r->mu);
        atomic_store(&r->cancel, 1);
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        sl_batch_free(r->ahead[1]);
        r->batch = r->ahead[0];
    } else {
        sl_batch_free(r->ahead[1]); /* an open that failed after making it */
    }
    if (r->st) mysql_stmt_close(r->st);
    sl_batch_free(r->batch);
    if (r->cols && r->schema)
        for (int i = 0; i < r->schema->ncols; i++) sl_free(r->cols[i].slots);
    sl_schema_free(r->schema);
    sl_free(r->var_cols);
    sl_free(r->cols);
    sl_free(r->zero_dates);
    sl_free(r);
}
