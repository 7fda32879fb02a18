/* pq_reader.c - the footer of a Parquet file: magic and length checks, then
 * FileMetaData parsed field by field with pq_thrift_read (field ids from parquet-format's
 * parquet.thrift). Unknown fields are skipped; a known field of the wrong wire type fails. */
#include "pq_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "pq_format.h"
#include "pq_thrift_read.h"

/* A footer above this is not something a sane writer produces; refuse before allocating. */
#define FOOTER_MAX ((uint32_t)256 << 20)

struct pq_reader {
    char *path;
    FILE *f;
    uint64_t size;
    uint8_t *footer;
    pq_file_meta meta;
};

static sl_code wrong_type(pq_tr *r, const char *st, int id)
{
    return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: %s field %d has the wrong type at byte %zu", st, id,
                      pq_tr_offset(r));
}

#define EXPECT(t) \
    do { \
        if (f.type != (t)) return wrong_type(r, ST, f.id); \
    } while (0)
#define EXPECT_BOOL() \
    do { \
        if (f.type != TC_TRUE && f.type != TC_FALSE) return wrong_type(r, ST, f.id); \
    } while (0)

static sl_code rd_i32(pq_tr *r, int *out)
{
    int32_t v;
    SL_TRY(pq_tr_i32(r, &v));
    *out = v;
    return SL_OK;
}

static sl_code rd_bytes(pq_tr *r, pq_bytes *b)
{
    SL_TRY(pq_tr_binary(r, &b->p, &b->len));
    b->set = 1;
    return SL_OK;
}

/* Reads a list header of the expected element type and allocates count elements
 * (at most max_count: what the schema allows, where it says).
 * min_bytes is the least an element can take on the wire (its required fields and stop
 * byte): a count the bytes left cannot hold is refused before allocating, so a footer
 * of n bytes never makes us allocate more than a small multiple of n. */
static sl_code rd_list(pq_tr *r, int want, size_t elsize, size_t min_bytes, uint32_t max_count, void **out,
                       uint32_t *count)
{
    int et;
    size_t left;
    SL_TRY(pq_tr_list_begin(r, &et, count));
    if (et != want) return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: list of wrong element type at byte %zu",
                                      pq_tr_offset(r));
    left = (size_t)(r->end - r->p);
    if (*count > max_count)
        return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: a list of %u elements where at most %u can be, at byte %zu",
                          *count, max_count, pq_tr_offset(r));
    if ((uint64_t)*count * min_bytes > left)
        return sl_err_set(r->err, SL_E_FORMAT,
                          "thrift metadata: a list of %u elements cannot fit the %zu bytes left at byte %zu", *count,
                          left, pq_tr_offset(r));
    *out = sl_calloc(*count ? *count : 1, elsize);
    if (!*out) return sl_err_set(r->err, SL_E_NOMEM, "out of memory reading metadata");
    return SL_OK;
}

static sl_code parse_time_unit(pq_tr *r, int *unit)
{
    int16_t last;
    pq_tr_field f;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        if (f.type == TC_STRUCT && f.id >= 1 && f.id <= 3) *unit = f.id;
        SL_TRY(pq_tr_skip(r, f.type));
    }
    pq_tr_struct_end(r);
    return SL_OK;
}

static sl_code parse_logical(pq_tr *r, pq_logical *lt)
{
#define ST "LogicalType"
    int16_t last, l2;
    pq_tr_field f, g;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        EXPECT(TC_STRUCT);
        lt->kind = f.id;
        SL_TRY(pq_tr_struct_begin(r, &l2));
        for (;;) {
            SL_TRY(pq_tr_field_next(r, &l2, &g));
            if (g.type == TC_STOP) break;
            if (f.id == PQ_LT_DECIMAL && (g.id == 1 || g.id == 2) && g.type == TC_I32) {
                int32_t v;
                SL_TRY(pq_tr_i32(r, &v));
                if (g.id == 1) lt->scale = v;
                else lt->precision = v;
            } else if ((f.id == PQ_LT_TIMESTAMP || f.id == PQ_LT_TIME) && g.id == 1 &&
                       (g.type == TC_TRUE || g.type == TC_FALSE)) {
                lt->utc = g.type == TC_TRUE;
            } else if ((f.id == PQ_LT_TIMESTAMP || f.id == PQ_LT_TIME) && g.id == 2 && g.type == TC_STRUCT) {
                SL_TRY(parse_time_unit(r, &lt->unit));
            } else if (f.id == PQ_LT_INTEGER && g.id == 1 && g.type == TC_BYTE) {
                int8_t b;
                SL_TRY(pq_tr_byte(r, &b));
                lt->bits = b;
            } else if (f.id == PQ_LT_INTEGER && g.id == 2 && (g.type == TC_TRUE || g.type == TC_FALSE)) {
                lt->is_signed = g.type == TC_TRUE;
            } else {
                SL_TRY(pq_tr_skip(r, g.type));
            }
        }
        pq_tr_struct_end(r);
    }
    pq_tr_struct_end(r);
    return SL_OK;
#undef ST
}

static sl_code parse_schema_el(pq_tr *r, pq_schema_el *e)
{
#define ST "SchemaElement"
    int16_t last;
    pq_tr_field f;
    e->type = e->repetition = e->converted_type = -1;
    e->scale = e->precision = -1;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_I32); SL_TRY(rd_i32(r, &e->type)); break;
        case 2: EXPECT(TC_I32); SL_TRY(pq_tr_i32(r, &e->type_length)); break;
        case 3: EXPECT(TC_I32); SL_TRY(rd_i32(r, &e->repetition)); break;
        case 4: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &e->name)); break;
        case 5: EXPECT(TC_I32); SL_TRY(pq_tr_i32(r, &e->num_children)); break;
        case 6: EXPECT(TC_I32); SL_TRY(rd_i32(r, &e->converted_type)); break;
        case 7: EXPECT(TC_I32); SL_TRY(pq_tr_i32(r, &e->scale)); break;
        case 8: EXPECT(TC_I32); SL_TRY(pq_tr_i32(r, &e->precision)); break;
        case 10: EXPECT(TC_STRUCT); SL_TRY(parse_logical(r, &e->logical)); break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    if (!e->name.set) return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: SchemaElement without a name");
    if (e->num_children < 0) return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: negative num_children");
    return SL_OK;
#undef ST
}

static sl_code parse_stats(pq_tr *r, pq_stats *s)
{
#define ST "Statistics"
    int16_t last;
    pq_tr_field f;
    s->set = 1;
    s->null_count = s->distinct_count = -1;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &s->max)); break;
        case 2: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &s->min)); break;
        case 3: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &s->null_count)); break;
        case 4: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &s->distinct_count)); break;
        case 5: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &s->max_value)); break;
        case 6: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &s->min_value)); break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    return SL_OK;
#undef ST
}

static sl_code parse_col_meta(pq_tr *r, pq_column_chunk *c, uint32_t max_path)
{
#define ST "ColumnMetaData"
    int16_t last;
    pq_tr_field f;
    c->has_meta = 1;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_I32); SL_TRY(rd_i32(r, &c->type)); break;
        case 2:
            EXPECT(TC_LIST);
            if (c->encodings) return wrong_type(r, ST, f.id);
            SL_TRY(rd_list(r, TC_I32, sizeof *c->encodings, 1, UINT32_MAX, (void **)&c->encodings, &c->n_encodings));
            for (uint32_t i = 0; i < c->n_encodings; i++) SL_TRY(rd_i32(r, &c->encodings[i]));
            break;
        case 3:
            EXPECT(TC_LIST);
            if (c->path) return wrong_type(r, ST, f.id);
            SL_TRY(rd_list(r, TC_BINARY, sizeof *c->path, 1, max_path, (void **)&c->path, &c->path_len));
            for (uint32_t i = 0; i < c->path_len; i++) SL_TRY(rd_bytes(r, &c->path[i]));
            break;
        case 4: EXPECT(TC_I32); SL_TRY(rd_i32(r, &c->codec)); break;
        case 5: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->num_values)); break;
        case 6: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->total_uncompressed_size)); break;
        case 7: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->total_compressed_size)); break;
        case 9: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->data_page_offset)); break;
        case 10: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->index_page_offset)); break;
        case 11: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->dictionary_page_offset)); break;
        case 12:
            EXPECT(TC_STRUCT);
            if (c->stats.set) return wrong_type(r, ST, f.id);
            SL_TRY(parse_stats(r, &c->stats));
            break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    return SL_OK;
#undef ST
}

static sl_code parse_col_chunk(pq_tr *r, pq_column_chunk *c, uint32_t max_path)
{
#define ST "ColumnChunk"
    int16_t last;
    pq_tr_field f;
    c->type = c->codec = -1;
    c->data_page_offset = c->index_page_offset = c->dictionary_page_offset = -1;
    c->stats.null_count = c->stats.distinct_count = -1;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &c->file_path)); break;
        case 2: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &c->file_offset)); break;
        case 3:
            EXPECT(TC_STRUCT);
            if (c->has_meta) return wrong_type(r, ST, f.id);
            SL_TRY(parse_col_meta(r, c, max_path));
            break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    return SL_OK;
#undef ST
}

/* ncols: the schema's leaf count, which every row group must have as column chunks. */
static sl_code parse_row_group(pq_tr *r, pq_row_group *g, uint32_t ncols, uint32_t max_path)
{
#define ST "RowGroup"
    int16_t last;
    pq_tr_field f;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1:
            EXPECT(TC_LIST);
            if (g->columns) return wrong_type(r, ST, f.id);
            SL_TRY(rd_list(r, TC_STRUCT, sizeof *g->columns, 3, ncols, (void **)&g->columns, &g->n_columns));
            if (g->n_columns != ncols)
                return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: a row group of %u column chunks for %u columns",
                                  g->n_columns, ncols);
            for (uint32_t i = 0; i < g->n_columns; i++) SL_TRY(parse_col_chunk(r, &g->columns[i], max_path));
            break;
        case 2: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &g->total_byte_size)); break;
        case 3: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &g->num_rows)); break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    return SL_OK;
#undef ST
}

static sl_code parse_kv(pq_tr *r, pq_key_value *kv)
{
#define ST "KeyValue"
    int16_t last;
    pq_tr_field f;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &kv->key)); break;
        case 2: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &kv->value)); break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    if (!kv->key.set) return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: KeyValue without a key");
    return SL_OK;
#undef ST
}

static sl_code parse_meta(pq_tr *r, pq_file_meta *m)
{
#define ST "FileMetaData"
    int16_t last;
    pq_tr_field f;
    int seen_schema = 0, seen_rows = 0;
    uint32_t leaves;
    SL_TRY(pq_tr_struct_begin(r, &last));
    for (;;) {
        SL_TRY(pq_tr_field_next(r, &last, &f));
        if (f.type == TC_STOP) break;
        switch (f.id) {
        case 1: EXPECT(TC_I32); SL_TRY(pq_tr_i32(r, &m->version)); break;
        case 2:
            EXPECT(TC_LIST);
            if (m->schema) return wrong_type(r, ST, f.id);
            SL_TRY(rd_list(r, TC_STRUCT, sizeof *m->schema, 3, UINT32_MAX, (void **)&m->schema, &m->n_schema));
            for (uint32_t i = 0; i < m->n_schema; i++) SL_TRY(parse_schema_el(r, &m->schema[i]));
            seen_schema = 1;
            break;
        case 3: EXPECT(TC_I64); SL_TRY(pq_tr_i64(r, &m->num_rows)); seen_rows = 1; break;
        case 4:
            EXPECT(TC_LIST);
            if (m->row_groups) return wrong_type(r, ST, f.id);
            /* Row groups are checked against the schema, which writers put first (field 2). */
            if (!m->schema) return sl_err_set(r->err, SL_E_FORMAT, "thrift metadata: row groups before the schema");
            leaves = 0;
            for (uint32_t i = 1; i < m->n_schema; i++) leaves += m->schema[i].num_children == 0;
            SL_TRY(rd_list(r, TC_STRUCT, sizeof *m->row_groups, 7, UINT32_MAX, (void **)&m->row_groups, &m->n_row_groups));
            for (uint32_t i = 0; i < m->n_row_groups; i++)
                SL_TRY(parse_row_group(r, &m->row_groups[i], leaves, m->n_schema - 1));
            break;
        case 5:
            EXPECT(TC_LIST);
            if (m->kv) return wrong_type(r, ST, f.id);
            SL_TRY(rd_list(r, TC_STRUCT, sizeof *m->kv, 3, UINT32_MAX, (void **)&m->kv, &m->n_kv));
            for (uint32_t i = 0; i < m->n_kv; i++) SL_TRY(parse_kv(r, &m->kv[i]));
            break;
        case 6: EXPECT(TC_BINARY); SL_TRY(rd_bytes(r, &m->created_by)); break;
        default: SL_TRY(pq_tr_skip(r, f.type));
        }
    }
    pq_tr_struct_end(r);
    if (!seen_schema || m->n_schema == 0) return sl_err_set(r->err, SL_E_FORMAT, "footer has no schema");
    if (!seen_rows || m->num_rows < 0) return sl_err_set(r->err, SL_E_FORMAT, "footer has no valid num_rows");
    return SL_OK;
#undef ST
}

/* Checks that the flattened schema tree is consistent: children counts add up. */
static sl_code check_schema(const pq_file_meta *m, sl_err *err)
{
    uint64_t need = 1; /* elements still expected */
    for (uint32_t i = 0; i < m->n_schema; i++) {
        if (need == 0) return sl_err_set(err, SL_E_FORMAT, "schema has elements beyond its root's children");
        need = need - 1 + (uint64_t)m->schema[i].num_children;
        if (m->schema[i].num_children == 0 && i > 0 && (m->schema[i].type < 0 || m->schema[i].type > 7))
            return sl_err_set(err, SL_E_FORMAT, "schema leaf '%.*s' has no valid physical type",
                              (int)m->schema[i].name.len, (const char *)m->schema[i].name.p);
    }
    if (need != 0) return sl_err_set(err, SL_E_FORMAT, "schema is truncated (num_children do not add up)");
    return SL_OK;
}

sl_code pq_meta_parse(const uint8_t *buf, size_t len, pq_file_meta *meta, sl_err *err)
{
    pq_tr r;
    sl_code rc;
    memset(meta, 0, sizeof *meta);
    pq_tr_init(&r, buf, len, err);
    rc = parse_meta(&r, meta);
    if (rc == SL_OK) rc = check_schema(meta, err);
    if (rc != SL_OK) pq_meta_free(meta);
    return rc;
}

void pq_meta_free(pq_file_meta *m)
{
    if (!m) return;
    for (uint32_t g = 0; m->row_groups && g < m->n_row_groups; g++) {
        pq_row_group *rg = &m->row_groups[g];
        for (uint32_t c = 0; rg->columns && c < rg->n_columns; c++) {
            sl_free(rg->columns[c].encodings);
            sl_free(rg->columns[c].path);
        }
        sl_free(rg->columns);
    }
    sl_free(m->row_groups);
    sl_free(m->schema);
    sl_free(m->kv);
    memset(m, 0, sizeof *m);
}

/* Opens path, or (data != NULL) the len bytes at data under the name `path`, or
 * (stream != NULL) reads stream, which it then owns. */
static pq_reader *reader_open(const char *path, const void *data, size_t len, FILE *stream, sl_err *err)
{
    pq_reader *rd = sl_calloc(1, sizeof *rd);
    uint8_t tail[8], head[4];
    uint32_t flen;
    if (!rd || !(rd->path = sl_strdup(path))) {
        sl_free(rd);
        if (stream) fclose(stream);
        sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", path);
        return NULL;
    }
    if (data && len == 0) {
        sl_err_set(err, SL_E_FORMAT, "%s: not a Parquet file (0 bytes)", path);
        goto fail;
    }
    rd->f = stream ? stream : data ? fmemopen((void *)data, len, "rb") : fopen(path, "rb");
    if (!rd->f) {
        sl_err_set(err, SL_E_IO, "%s: cannot open: %m", path);
        goto fail;
    }
    if (fseeko(rd->f, 0, SEEK_END) != 0 || ftello(rd->f) < 0) {
        sl_err_set(err, SL_E_IO, "%s: cannot seek: %m", path);
        goto fail;
    }
    rd->size = (uint64_t)ftello(rd->f);
    if (rd->size < 12) {
        sl_err_set(err, SL_E_FORMAT, "%s: not a Parquet file (%llu bytes, too short for PAR1 magic and footer)", path,
                   (unsigned long long)rd->size);
        goto fail;
    }
    if (pq_reader_read_at(rd, 0, 4, head, err) != SL_OK || pq_reader_read_at(rd, rd->size - 8, 8, tail, err) != SL_OK)
        goto fail;
    if (memcmp(head, "PAR1", 4) != 0) {
        sl_err_set(err, SL_E_FORMAT, "%s: not a Parquet file (no PAR1 magic at the start)", path);
        goto fail;
    }
    if (memcmp(tail + 4, "PAR1", 4) != 0) {
        sl_err_set(err, SL_E_FORMAT, "%s: not a Parquet file or truncated (no PAR1 magic at the end)", path);
        goto fail;
    }
    flen = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 | (uint32_t)tail[3] << 24;
    if (flen == 0 || (uint64_t)flen > rd->size - 12 || flen > FOOTER_MAX) {
        sl_err_set(err, SL_E_FORMAT, "%s: corrupt footer length %u for a file of %llu bytes", path, flen,
                   (unsigned long long)rd->size);
        goto fail;
    }
    rd->footer = sl_malloc(flen);
    if (!rd->footer) {
        sl_err_set(err, SL_E_NOMEM, "%s: out of memory for a footer of %u bytes", path, flen);
        goto fail;
    }
    if (pq_reader_read_at(rd, rd->size - 8 - flen, flen, rd->footer, err) != SL_OK) goto fail;
    if (pq_meta_parse(rd->footer, flen, &rd->meta, err) != SL_OK) {
        sl_err_prefix(err, "%s: corrupt footer: ", path);
        goto fail;
    }
    return rd;
fail:
    pq_reader_close(rd);
    return NULL;
}

pq_reader *pq_reader_open(const char *path, sl_err *err) { return reader_open(path, NULL, 0, NULL, err); }

pq_reader *pq_reader_open_mem(const char *name, const void *data, size_t len, sl_err *err)
{
    return reader_open(name, data ? data : "", len, NULL, err);
}

pq_reader *pq_reader_open_stream(const char *name, FILE *f, sl_err *err) { return reader_open(name, NULL, 0, f, err); }

void pq_reader_close(pq_reader *rd)
{
    if (!rd) return;
    if (rd->f) fclose(rd->f);
    pq_meta_free(&rd->meta);
    sl_free(rd->footer);
    sl_free(rd->path);
    sl_free(rd);
}

const pq_file_meta *pq_reader_meta(const pq_reader *rd) { return &rd->meta; }
const char *pq_reader_path(const pq_reader *rd) { return rd->path; }
uint64_t pq_reader_file_size(const pq_reader *rd) { return rd->size; }

sl_code pq_reader_read_at(pq_reader *rd, uint64_t off, size_t n, void *dst, sl_err *err)
{
    if (off > rd->size || n > rd->size - off)
        return sl_err_set(err, SL_E_FORMAT, "%s: offset %llu + %zu is past the end of the file (%llu bytes)",
                          rd->path, (unsigned long long)off, n, (unsigned long long)rd->size);
    if (fseeko(rd->f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, rd->f) != n)
        return sl_err_set(err, SL_E_IO, "%s: read of %zu bytes at %llu failed", rd->path, n,
                          (unsigned long long)off);
    return SL_OK;
}

const char *pq_type_name(int t)
{
    static const char *const n[] = {"BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY",
                                    "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? n[t] : NULL;
}

const char *pq_codec_label(int c)
{
    static const char *const n[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
    return c >= 0 && c < 8 ? n[c] : NULL;
}

const char *pq_encoding_name(int e)
{
    static const char *const n[] = {"PLAIN", NULL, "PLAIN_DICTIONARY", "RLE", "BIT_PACKED", "DELTA_BINARY_PACKED",
                                    "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY", "RLE_DICTIONARY",
                                    "BYTE_STREAM_SPLIT"};
    return e >= 0 && e < 10 ? n[e] : NULL;
}

const char *pq_converted_name(int c)
{
    static const char *const n[] = {"UTF8", "MAP", "MAP_KEY_VALUE", "LIST", "ENUM", "DECIMAL", "DATE",
                                    "TIME_MILLIS", "TIME_MICROS", "TIMESTAMP_MILLIS", "TIMESTAMP_MICROS",
                                    "UINT_8", "UINT_16", "UINT_32", "UINT_64", "INT_8", "INT_16", "INT_32",
                                    "INT_64", "JSON", "BSON", "INTERVAL"};
    return c >= 0 && c < 22 ? n[c] : NULL;
}

const char *pq_repetition_name(int r)
{
    static const char *const n[] = {"REQUIRED", "OPTIONAL", "REPEATED"};
    return r >= 0 && r < 3 ? n[r] : NULL;
}
