/* batch.c - schemas and column batches: one arena for the fixed parts, a capped
 * buffer per variable-width column, everything released by sl_batch_free(). */
#include "batch.h"

#include <string.h>

#include "../common/sl_alloc.h"

static const char *const type_names[SL_TYPE__COUNT] = {
    [SL_BOOL] = "bool",     [SL_INT8] = "int8",       [SL_INT16] = "int16",   [SL_INT32] = "int32",
    [SL_INT64] = "int64",   [SL_UINT8] = "uint8",     [SL_UINT16] = "uint16", [SL_UINT32] = "uint32",
    [SL_UINT64] = "uint64", [SL_FLOAT] = "float",     [SL_DOUBLE] = "double", [SL_DECIMAL] = "decimal",
    [SL_DATE] = "date",     [SL_TIMESTAMP] = "timestamp", [SL_TIME] = "time", [SL_STRING] = "string",
    [SL_BINARY] = "binary", [SL_JSON] = "json",       [SL_ENUM] = "enum",
};

const char *sl_type_name(sl_type_id id)
{
    if (id <= 0 || id >= SL_TYPE__COUNT) return "?";
    return type_names[id];
}

int sl_type_is_var(sl_type_id id)
{
    return id == SL_STRING || id == SL_BINARY || id == SL_JSON || id == SL_ENUM;
}

int sl_decimal_width(int precision)
{
    /* Smallest n with 10^p - 1 <= 2^(8n-1) - 1, i.e. n = ceil((p*log2(10) + 1) / 8). */
    static const double log2_10 = 3.32192809488736234787;
    int n = (int)((precision * log2_10 + 1.0 + 7.999999) / 8.0);
    return n < 1 ? 1 : n;
}

size_t sl_type_width(sl_type t)
{
    switch (t.id) {
    case SL_BOOL: case SL_INT8: case SL_UINT8: return 1;
    case SL_INT16: case SL_UINT16: return 2;
    case SL_INT32: case SL_UINT32: case SL_FLOAT: case SL_DATE: return 4;
    case SL_INT64: case SL_UINT64: case SL_DOUBLE: case SL_TIMESTAMP: case SL_TIME: return 8;
    case SL_DECIMAL: return t.precision <= 18 ? 8 : (size_t)sl_decimal_width(t.precision);
    default: return 0;
    }
}

sl_schema *sl_schema_create(int ncols, sl_err *err)
{
    sl_schema *s = sl_calloc(1, sizeof *s);
    if (!s || !(s->fields = sl_calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *s->fields))) {
        sl_free(s);
        sl_err_set(err, SL_E_NOMEM, "out of memory creating a schema of %d columns", ncols);
        return NULL;
    }
    s->ncols = ncols;
    return s;
}

sl_code sl_schema_set(sl_schema *s, int i, const char *name, sl_type type, int nullable,
                      const char *origin, sl_err *err)
{
    sl_field *f = &s->fields[i];
    if (type.id == SL_DECIMAL && (type.precision < 1 || type.precision > 76 || type.scale > type.precision))
        return sl_err_set(err, SL_E_UNSUPPORTED, "column %s: DECIMAL(%d,%d) is out of range", name,
                          type.precision, type.scale);
    sl_free(f->name);
    sl_free(f->origin);
    f->name = sl_strdup(name);
    f->origin = origin ? sl_strdup(origin) : NULL;
    f->type = type;
    f->nullable = nullable;
    if (!f->name || (origin && !f->origin)) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    return SL_OK;
}

int sl_schema_find(const sl_schema *s, const char *name)
{
    for (int i = 0; i < s->ncols; i++)
        if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0) return i;
    return -1;
}

void sl_schema_free(sl_schema *s)
{
    if (!s) return;
    for (int i = 0; i < s->ncols; i++) {
        sl_free(s->fields[i].name);
        sl_free(s->fields[i].origin);
    }
    sl_free(s->fields);
    sl_free(s);
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

sl_batch *sl_batch_create(const sl_schema *schema, size_t capacity, size_t var_bytes_max, sl_err *err)
{
    sl_batch *b;
    size_t total = 0;
    uint8_t *p;
    if (capacity == 0) capacity = 1;
    b = sl_calloc(1, sizeof *b);
    if (!b) goto nomem;
    b->schema = schema;
    b->capacity = capacity;
    b->cols = sl_calloc((size_t)(schema->ncols ? schema->ncols : 1), sizeof *b->cols);
    if (!b->cols) goto nomem;
    for (int i = 0; i < schema->ncols; i++) {
        const sl_field *f = &schema->fields[i];
        size_t w = sl_type_width(f->type);
        if (f->nullable) total += align8(capacity);
        total += w ? align8(capacity * w) : align8((capacity + 1) * sizeof(uint32_t));
    }
    b->arena = sl_calloc(1, total ? total : 1);
    if (!b->arena) goto nomem;
    p = b->arena;
    for (int i = 0; i < schema->ncols; i++) {
        sl_column *c = &b->cols[i];
        const sl_field *f = &schema->fields[i];
        c->field = f;
        c->elem_size = sl_type_width(f->type);
        if (f->nullable) {
            c->valid = p;
            p += align8(capacity);
        }
        if (c->elem_size) {
            c->values = p;
            p += align8(capacity * c->elem_size);
        } else {
            c->offsets = (uint32_t *)p;
            p += align8((capacity + 1) * sizeof(uint32_t));
            sl_buf_init(&c->data, var_bytes_max);
        }
    }
    return b;
nomem:
    sl_batch_free(b);
    sl_err_set(err, SL_E_NOMEM, "out of memory creating a batch of %zu rows", capacity);
    return NULL;
}

void sl_batch_reset(sl_batch *b)
{
    b->nrows = 0;
    for (int i = 0; i < b->schema->ncols; i++) {
        sl_column *c = &b->cols[i];
        c->null_count = 0;
        if (c->offsets) {
            c->offsets[0] = 0;
            c->ndict = 0;
            sl_buf_reset(&c->data);
        }
    }
}

void sl_batch_swap(sl_batch *a, sl_batch *b)
{
    sl_batch t = *a;
    *a = *b;
    *b = t;
}

void sl_batch_free(sl_batch *b)
{
    if (!b) return;
    if (b->cols)
        for (int i = 0; i < b->schema->ncols; i++) {
            sl_buf_free(&b->cols[i].data);
            sl_free(b->cols[i].codes);
        }
    sl_free(b->cols);
    sl_free(b->arena);
    sl_free(b);
}

/* n more bytes in c's arena (its offsets stay 32-bit). */
static sl_code col_append(sl_column *c, const void *p, size_t n, sl_err *err)
{
    if (c->data.len + n > UINT32_MAX)
        return sl_err_set(err, SL_E_LIMIT, "column %s: batch holds more than 4 GiB of data", c->field->name);
    if (sl_buf_append(&c->data, p, n, err) != SL_OK) return sl_err_prefix(err, "column %s: ", c->field->name);
    return SL_OK;
}

sl_code sl_col_set_bytes(sl_column *c, size_t row, const void *p, size_t n, sl_err *err)
{
    SL_TRY(col_append(c, p, n, err));
    c->offsets[row + 1] = (uint32_t)c->data.len;
    if (c->valid) c->valid[row] = 1;
    return SL_OK;
}

sl_code sl_batch_code_column(sl_batch *b, int i, sl_err *err)
{
    sl_column *c = &b->cols[i];
    if (!c->offsets) return sl_err_set(err, SL_E_INTERNAL, "column %s: only a variable-width column is coded", c->field->name);
    if (!c->codes && !(c->codes = sl_calloc(b->capacity, sizeof *c->codes)))
        return sl_err_set(err, SL_E_NOMEM, "out of memory creating a batch of %zu rows", b->capacity);
    c->ndict = 0;
    c->offsets[0] = 0;
    sl_buf_reset(&c->data);
    return SL_OK;
}

sl_code sl_col_add_entry(sl_column *c, const void *p, size_t n, uint32_t *e, sl_err *err)
{
    SL_TRY(col_append(c, p, n, err));
    *e = c->ndict++;
    c->offsets[c->ndict] = (uint32_t)c->data.len;
    return SL_OK;
}
