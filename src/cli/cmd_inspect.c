/* cmd_inspect.c - `sluice inspect FILE...`: prints a Parquet file's schema, key-value
 * metadata, row groups, column chunks and statistics, and optionally its first rows.
 * One jansson document is built per file; the text output is rendered from it. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"
#include "../parquet/pq_decode.h"
#include "../parquet/pq_format.h"
#include "../parquet/pq_reader.h"
#include "cli.h"

#define HEAD_MAX 1000000
#define KV_TEXT_MAX 120 /* text mode shortens longer metadata values (ARROW:schema) */

static void usage(FILE *out)
{
    fputs("Usage: sluice inspect [options] FILE...\n\n"
          "Prints what a Parquet file holds: its schema (physical and logical types, and the\n"
          "MySQL origin type recorded by sluice as 'sluice.origin.<column>'), key-value\n"
          "metadata, created_by, row groups, and per column chunk the encodings, codec,\n"
          "compressed and uncompressed sizes and statistics. Needs no settings or database.\n"
          "Exits 8 and says what is wrong for a file that is not Parquet, truncated or corrupt,\n"
          "or that asks more than inspect reads: a page over 16 MiB uncompressed, a dictionary\n"
          "of over 2,097,152 entries, --head values over 32 MiB of text. Exits 1 when the output\n"
          "cannot be written. Text output escapes control characters from the file (\\x1b,\n"
          "\\u202e, \\n; a backslash as \\\\); --json carries strings exactly.\n\n"
          "Options:\n"
          "  -n, --head N   also print the first N rows (flat schemas; PLAIN, dictionary, RLE,\n"
          "                 DELTA_BINARY_PACKED and DELTA_LENGTH_BYTE_ARRAY; uncompressed,\n"
          "                 snappy, gzip, zstd)\n"
          "  -j, --json     print one JSON document: {\"files\": [{...}, ...]}\n"
          "  -h, --help     this help\n",
          out);
    cli_print_global_help(out);
}

static json_t *jhex(const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    char *s = sl_malloc(n * 2 + 1);
    json_t *j;
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = hx[p[i] >> 4];
        s[2 * i + 1] = hx[p[i] & 15];
    }
    s[2 * n] = 0;
    j = json_string(s);
    sl_free(s);
    return j;
}

/* A JSON string of the bytes; not UTF-8 (binary) becomes hex. */
static json_t *jbytes(const uint8_t *p, size_t n)
{
    json_t *j = json_stringn(n ? (const char *)p : "", n);
    return j ? j : jhex(p, n);
}

static json_t *jpq(const pq_bytes *b) { return b->set ? jbytes(b->p, b->len) : json_null(); }


static const char *unit_name(int u) { return u == PQ_TU_MILLIS ? "MILLIS" : u == PQ_TU_NANOS ? "NANOS" : "MICROS"; }

static json_t *logical_json(const pq_logical *lt)
{
    static const char *const names[] = {NULL, "STRING", "MAP", "LIST", "ENUM", "DECIMAL", "DATE", "TIME",
                                        "TIMESTAMP", NULL, "INTEGER", "UNKNOWN", "JSON", "BSON", "UUID", "FLOAT16"};
    const char *n = lt->kind > 0 && lt->kind < 16 ? names[lt->kind] : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(n ? n : "UNRECOGNISED"));
    if (lt->kind == PQ_LT_DECIMAL) {
        json_object_set_new(o, "precision", json_integer(lt->precision));
        json_object_set_new(o, "scale", json_integer(lt->scale));
    } else if (lt->kind == PQ_LT_TIMESTAMP || lt->kind == PQ_LT_TIME) {
        json_object_set_new(o, "unit", json_string(unit_name(lt->unit)));
        json_object_set_new(o, "utc", json_boolean(lt->utc));
    } else if (lt->kind == PQ_LT_INTEGER) {
        json_object_set_new(o, "bits", json_integer(lt->bits));
        json_object_set_new(o, "signed", json_boolean(lt->is_signed));
    }
    return o;
}

/* The origin recorded by sluice's writer for a top-level column, if any. */
static const pq_bytes *origin_of(const pq_file_meta *m, const pq_bytes *name)
{
    static const char pre[] = "sluice.origin.";
    size_t pl = sizeof pre - 1;
    for (uint32_t i = 0; i < m->n_kv; i++) {
        const pq_bytes *k = &m->kv[i].key;
        if (k->len == pl + name->len && memcmp(k->p, pre, pl) == 0 && memcmp(k->p + pl, name->p, name->len) == 0)
            return &m->kv[i].value;
    }
    return NULL;
}

static json_t *stat_value(const pq_schema_el *leaf, const pq_bytes *b)
{
    sl_buf t;
    json_t *j;
    if (!b->set) return NULL;
    if (!leaf) return jhex(b->p, b->len);
    sl_buf_init(&t, (size_t)16 << 20);
    if (pq_value_format(leaf, b->p, b->len, &t, NULL) == SL_OK) j = jbytes(t.len ? t.data : (const uint8_t *)"", t.len);
    else j = jhex(b->p, b->len);
    sl_buf_free(&t);
    return j;
}

static json_t *stats_json(const pq_schema_el *leaf, const pq_stats *s)
{
    json_t *o = json_object(), *mn, *mx;
    int legacy = !s->min_value.set && !s->max_value.set;
    mn = stat_value(leaf, legacy ? &s->min : &s->min_value);
    mx = stat_value(leaf, legacy ? &s->max : &s->max_value);
    if (mn) json_object_set_new(o, "min", mn);
    if (mx) json_object_set_new(o, "max", mx);
    if (legacy && (mn || mx)) json_object_set_new(o, "legacy_min_max", json_true());
    if (s->null_count >= 0) json_object_set_new(o, "null_count", json_integer(s->null_count));
    if (s->distinct_count >= 0) json_object_set_new(o, "distinct_count", json_integer(s->distinct_count));
    return o;
}

static json_t *name_or_num(const char *n, int v) { return n ? json_string(n) : json_integer(v); }

/* The file's leaves in schema order (the columns of each row group), or NULL. */
static const pq_schema_el **leaves_of(const pq_file_meta *m, uint32_t *n)
{
    const pq_schema_el **leaves = sl_calloc(m->n_schema + 1, sizeof *leaves);
    *n = 0;
    for (uint32_t i = 1; leaves && i < m->n_schema; i++)
        if (m->schema[i].num_children == 0) leaves[(*n)++] = &m->schema[i];
    return leaves;
}

/* Everything but the row groups and the head: file, sizes, schema, key-value metadata. */
static json_t *meta_json(pq_reader *rd)
{
    const pq_file_meta *m = pq_reader_meta(rd);
    json_t *o = json_object(), *schema = json_array(), *kv = json_array();
    const char *path = pq_reader_path(rd);
    json_object_set_new(o, "file", jbytes((const uint8_t *)path, strlen(path)));
    json_object_set_new(o, "file_size", json_integer((json_int_t)pq_reader_file_size(rd)));
    json_object_set_new(o, "version", json_integer(m->version));
    json_object_set_new(o, "num_rows", json_integer(m->num_rows));
    json_object_set_new(o, "created_by", jpq(&m->created_by));
    for (uint32_t i = 0; i < m->n_schema; i++) {
        const pq_schema_el *e = &m->schema[i];
        json_t *s = json_object();
        json_object_set_new(s, "name", jpq(&e->name));
        json_object_set_new(s, "physical_type", e->type >= 0 ? name_or_num(pq_type_name(e->type), e->type) : json_null());
        if (e->repetition >= 0)
            json_object_set_new(s, "repetition", name_or_num(pq_repetition_name(e->repetition), e->repetition));
        if (e->num_children) json_object_set_new(s, "num_children", json_integer(e->num_children));
        if (e->type == PQ_FIXED_LEN_BYTE_ARRAY) json_object_set_new(s, "type_length", json_integer(e->type_length));
        if (e->converted_type >= 0)
            json_object_set_new(s, "converted_type", name_or_num(pq_converted_name(e->converted_type), e->converted_type));
        if (e->precision >= 0) json_object_set_new(s, "precision", json_integer(e->precision));
        if (e->scale >= 0) json_object_set_new(s, "scale", json_integer(e->scale));
        if (e->logical.kind) json_object_set_new(s, "logical_type", logical_json(&e->logical));
        if (i > 0) {
            const pq_bytes *org = origin_of(m, &e->name);
            if (org) json_object_set_new(s, "origin", jpq(org));
        }
        json_array_append_new(schema, s);
    }
    json_object_set_new(o, "schema", schema);
    for (uint32_t i = 0; i < m->n_kv; i++) {
        json_t *p = json_object();
        json_object_set_new(p, "key", jpq(&m->kv[i].key));
        json_object_set_new(p, "value", jpq(&m->kv[i].value));
        json_array_append_new(kv, p);
    }
    json_object_set_new(o, "key_value_metadata", kv);
    return o;
}

/* One row group. Built, written and freed one at a time: a footer of many row groups
 * never becomes one document in memory (jansson takes ~1 KiB per column chunk). */
static json_t *rg_json(const pq_row_group *rg, const pq_schema_el **leaves, uint32_t nleaves)
{
    json_t *r = json_object(), *cols = json_array();
    json_object_set_new(r, "num_rows", json_integer(rg->num_rows));
    json_object_set_new(r, "total_byte_size", json_integer(rg->total_byte_size));
    for (uint32_t c = 0; c < rg->n_columns; c++) {
        const pq_column_chunk *cc = &rg->columns[c];
        const pq_schema_el *leaf = c < nleaves && leaves[c]->type == cc->type ? leaves[c] : NULL;
        json_t *j = json_object(), *enc = json_array();
        sl_buf path;
        sl_buf_init(&path, 1 << 20);
        for (uint32_t k = 0; k < cc->path_len; k++) {
            if (k) sl_buf_append_byte(&path, '.', NULL);
            sl_buf_append(&path, cc->path[k].p, cc->path[k].len, NULL);
        }
        json_object_set_new(j, "path", jbytes(path.len ? path.data : (const uint8_t *)"", path.len));
        sl_buf_free(&path);
        if (cc->file_path.set) json_object_set_new(j, "file_path", jpq(&cc->file_path));
        if (cc->has_meta) {
            json_object_set_new(j, "physical_type", name_or_num(pq_type_name(cc->type), cc->type));
            json_object_set_new(j, "codec", name_or_num(pq_codec_label(cc->codec), cc->codec));
            for (uint32_t k = 0; k < cc->n_encodings; k++)
                json_array_append_new(enc, name_or_num(pq_encoding_name(cc->encodings[k]), cc->encodings[k]));
            json_object_set_new(j, "encodings", enc);
            enc = NULL;
            json_object_set_new(j, "num_values", json_integer(cc->num_values));
            json_object_set_new(j, "total_compressed_size", json_integer(cc->total_compressed_size));
            json_object_set_new(j, "total_uncompressed_size", json_integer(cc->total_uncompressed_size));
            json_object_set_new(j, "data_page_offset", json_integer(cc->data_page_offset));
            if (cc->dictionary_page_offset >= 0)
                json_object_set_new(j, "dictionary_page_offset", json_integer(cc->dictionary_page_offset));
            if (cc->stats.set) json_object_set_new(j, "statistics", stats_json(leaf, &cc->stats));
        }
        json_decref(enc);
        json_array_append_new(cols, j);
    }
    json_object_set_new(r, "columns", cols);
    return r;
}

static json_t *head_json(const pq_head *h)
{
    json_t *hj = json_object(), *names = json_array(), *rows = json_array();
    for (uint32_t c = 0; c < h->ncols; c++) json_array_append_new(names, jpq(&h->cols[c]->name));
    for (int64_t r = 0; r < h->nrows; r++) {
        json_t *row = json_array();
        for (uint32_t c = 0; c < h->ncols; c++) {
            const char *cell = h->cells[(size_t)r * h->ncols + c];
            json_array_append_new(row, cell ? jbytes((const uint8_t *)cell, strlen(cell)) : json_null());
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(hj, "columns", names);
    json_object_set_new(hj, "rows", rows);
    return hj;
}

static const char *js(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Writes n bytes of a string from the file for a terminal: control characters (C0, DEL,
 * C1), Unicode line separators and bidirectional overrides become \xHH or \uHHHH, and
 * '\' becomes "\\", so a file can neither drive the terminal (escape sequences, titles,
 * hyperlinks) nor disguise a value or break the one-line layout. Bytes that are not UTF-8
 * (in error messages) become \xHH too. --json carries strings exactly. */
/* Length of the UTF-8 character at s (lead byte and continuation bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n) return 0;
    for (size_t j = 1; j < k; j++)
        if ((s[j] & 0xc0) != 0x80) return 0;
    return k;
}

static void put_text_n(FILE *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        unsigned cp = 0;
        size_t seq = 0;
        if (c == 0xc2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9f) { /* U+0080..U+009F */
            cp = s[i + 1];
            seq = 2;
        } else if (c == 0xe2 && i + 2 < n) { /* U+200E/F, U+2028..U+202E, U+2066..U+2069 */
            unsigned u = 0x2000 | (unsigned)(s[i + 1] & 0x3f) << 6 | (unsigned)(s[i + 2] & 0x3f);
            if ((s[i + 1] & 0xc0) == 0x80 && (s[i + 2] & 0xc0) == 0x80 && s[i + 1] <= 0x81 &&
                (u == 0x200e || u == 0x200f || (u >= 0x2028 && u <= 0x202e) || (u >= 0x2066 && u <= 0x2069))) {
                cp = u;
                seq = 3;
            }
        }
        if (seq) {
            fprintf(out, "\\u%04x", cp);
            i += seq - 1;
        } else if (c == '\\') {
            fputs("\\\\", out);
        } else if (c == '\n') {
            fputs("\\n", out);
        } else if (c == '\t') {
            fputs("\\t", out);
        } else if (c == '\r') {
            fputs("\\r", out);
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8_len(s + i, n - i))) {
            fprintf(out, "\\x%02x", c);
        } else if (c >= 0x80) {
            size_t k = utf8_len(s + i, n - i);
            fwrite(s + i, 1, k, out);
            i += k - 1;
        } else {
            fputc((int)c, out);
        }
    }
}

static void put_text(FILE *out, const char *s) { put_text_n(out, s, strlen(s)); }

/* Prints a JSON scalar as plain text. */
static void put_scalar(FILE *out, json_t *v)
{
    if (json_is_string(v)) put_text_n(out, json_string_value(v), json_string_length(v));
    else if (json_is_integer(v)) fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_true(v)) fputs("true", out);
    else if (json_is_false(v)) fputs("false", out);
    else fputs("NULL", out);
}

/* Text for meta_json's part. */
static void print_meta(FILE *out, json_t *o)
{
    size_t i;
    json_t *v, *w;
    fputs("file: ", out);
    put_text(out, js(o, "file"));
    fprintf(out, " (%" JSON_INTEGER_FORMAT " bytes)\n", json_integer_value(json_object_get(o, "file_size")));
    fprintf(out, "version: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(o, "version")));
    fprintf(out, "num_rows: %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(o, "num_rows")));
    fputs("created_by: ", out);
    put_text(out, json_is_string(json_object_get(o, "created_by")) ? js(o, "created_by") : "(none)");
    fputc('\n', out);
    fprintf(out, "schema:\n");
    json_array_foreach(json_object_get(o, "schema"), i, v)
    {
        json_t *lt = json_object_get(v, "logical_type");
        size_t nl = strlen(js(v, "name"));
        fputs("  ", out);
        put_text(out, js(v, "name"));
        fprintf(out, "%*s %s", nl < 24 ? (int)(24 - nl) : 0, "",
                json_is_string(json_object_get(v, "physical_type")) ? js(v, "physical_type") : "group");
        if (json_object_get(v, "type_length")) fprintf(out, "(%" JSON_INTEGER_FORMAT ")", json_integer_value(json_object_get(v, "type_length")));
        if (json_object_get(v, "repetition")) fprintf(out, " %s", js(v, "repetition"));
        if (json_object_get(v, "num_children"))
            fprintf(out, " children=%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(v, "num_children")));
        if (lt) {
            const char *key;
            int first = 1;
            fprintf(out, " logical=%s", js(lt, "type"));
            json_object_foreach(lt, key, w)
            {
                if (strcmp(key, "type") == 0) continue;
                fprintf(out, "%s%s=", first ? "(" : ",", key);
                put_scalar(out, w);
                first = 0;
            }
            if (!first) fputc(')', out);
        }
        if (json_object_get(v, "converted_type")) fprintf(out, " converted=%s", js(v, "converted_type"));
        if (json_object_get(v, "origin")) fputs(" origin=", out), put_text(out, js(v, "origin"));
        fputc('\n', out);
    }
    json_t *kv = json_object_get(o, "key_value_metadata");
    fprintf(out, "key_value_metadata: %zu entries\n", json_array_size(kv));
    json_array_foreach(kv, i, v)
    {
        json_t *val = json_object_get(v, "value");
        const char *s = json_string_value(val);
        fputs("  ", out);
        put_text(out, js(v, "key"));
        if (!s) {
            fputs(" (no value)\n", out);
        } else if (strlen(s) > KV_TEXT_MAX) {
            size_t cut = KV_TEXT_MAX;
            while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) cut--; /* not inside a UTF-8 character */
            fputs(" = ", out);
            put_text_n(out, s, cut);
            fprintf(out, "... (%zu bytes)\n", strlen(s));
        } else {
            fputs(" = ", out);
            put_text(out, s);
            fputc('\n', out);
        }
    }
}

static void print_rg(FILE *out, size_t i, json_t *v)
{
    size_t k;
    json_t *w;
    fprintf(out, "row group %zu: %" JSON_INTEGER_FORMAT " rows, %" JSON_INTEGER_FORMAT " bytes\n", i,
            json_integer_value(json_object_get(v, "num_rows")), json_integer_value(json_object_get(v, "total_byte_size")));
    json_array_foreach(json_object_get(v, "columns"), k, w)
    {
        json_t *e, *st = json_object_get(w, "statistics");
        size_t q;
        fputs("  column ", out);
        put_text(out, js(w, "path"));
        fprintf(out, ": %s %s encodings=", js(w, "physical_type"), js(w, "codec"));
        json_array_foreach(json_object_get(w, "encodings"), q, e)
        {
            if (q) fputc(',', out);
            put_scalar(out, e);
        }
        fprintf(out, " values=%" JSON_INTEGER_FORMAT " compressed=%" JSON_INTEGER_FORMAT " uncompressed=%" JSON_INTEGER_FORMAT "\n",
                json_integer_value(json_object_get(w, "num_values")),
                json_integer_value(json_object_get(w, "total_compressed_size")),
                json_integer_value(json_object_get(w, "total_uncompressed_size")));
        if (st) {
            fputs("    statistics:", out);
            if (json_object_get(st, "min")) fputs(" min=", out), put_scalar(out, json_object_get(st, "min"));
            if (json_object_get(st, "max")) fputs(" max=", out), put_scalar(out, json_object_get(st, "max"));
            if (json_object_get(st, "null_count")) fputs(" null_count=", out), put_scalar(out, json_object_get(st, "null_count"));
            if (json_object_get(st, "legacy_min_max")) fputs(" (legacy min/max)", out);
            fputc('\n', out);
        }
    }
}

static void print_head(FILE *out, json_t *h)
{
    size_t i, k;
    json_t *v, *w;
    json_t *rows = json_object_get(h, "rows");
    fprintf(out, "head: %zu rows\n  ", json_array_size(rows));
    json_array_foreach(json_object_get(h, "columns"), i, v)
    {
        if (i) fputs(" | ", out);
        put_scalar(out, v);
    }
    fputc('\n', out);
    json_array_foreach(rows, i, v)
    {
        fputs("  ", out);
        json_array_foreach(v, k, w)
        {
            if (k) fputs(" | ", out);
            put_scalar(out, w);
        }
        fputc('\n', out);
    }
}

/* One file, to out: text, or a JSON object written piece by piece (the row groups one at
 * a time). The first rows are decoded before anything is written, so a file whose head
 * fails writes nothing but its error. */
static sl_code inspect_one(pq_reader *rd, int64_t head, int as_json, int sep, FILE *out, sl_err *err)
{
    const pq_file_meta *m = pq_reader_meta(rd);
    const int jflags = JSON_INDENT(1) | JSON_ENSURE_ASCII;
    json_t *hj = NULL, *o;
    uint32_t nleaves;
    const pq_schema_el **leaves;
    if (head >= 0) {
        pq_head h;
        if (pq_head_read(rd, head, &h, err) != SL_OK) return sl_err_prefix(err, "%s: --head: ", pq_reader_path(rd));
        hj = head_json(&h);
        pq_head_free(&h);
    }
    leaves = leaves_of(m, &nleaves);
    o = meta_json(rd);
    if (as_json) {
        char *text = json_dumps(o, jflags);
        size_t n = text ? strlen(text) : 0;
        while (n > 0 && text[n - 1] != '}') n--; /* reopen the object to add the row groups */
        if (n > 0) n--;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) n--;
        if (n > 0) fwrite(text, 1, n, out);
        else fputs("{", out);
        free(text);
        fputs(",\n \"row_groups\": [", out);
    } else {
        if (sep) fputc('\n', out); /* between files */
        print_meta(out, o);
        fprintf(out, "row_groups: %u\n", m->n_row_groups);
    }
    for (uint32_t g = 0; g < m->n_row_groups && !ferror(out); g++) {
        json_t *r = rg_json(&m->row_groups[g], leaves, nleaves);
        if (as_json) {
            fputs(g ? ",\n" : "\n", out);
            json_dumpf(r, out, jflags);
        } else {
            print_rg(out, g, r);
        }
        json_decref(r);
    }
    if (as_json) {
        fputs("]", out);
        if (hj) {
            fputs(",\n \"head\": ", out);
            json_dumpf(hj, out, jflags);
        }
        fputs("\n}", out);
    } else if (hj) {
        print_head(out, hj);
    }
    json_decref(o);
    json_decref(hj);
    sl_free(leaves);
    return SL_OK;
}

int cmd_inspect(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"head", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int64_t head = -1;
    int as_json = 0, c, rc = 0, printed = 0;
    (void)ctx;
    optind = 1;
    while ((c = getopt_long(argc, argv, "n:jh", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        } else if (c == 'j') {
            as_json = 1;
        } else if (c == 'n') {
            char *end;
            long long v;
            errno = 0;
            v = strtoll(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 0 || v > HEAD_MAX)
                return cli_usage_error("inspect", "--head wants a row count from 0 to %d, not '%s'", HEAD_MAX, optarg);
            head = v;
        } else {
            return cli_usage_error("inspect", "unknown option");
        }
    }
    if (optind >= argc) return cli_usage_error("inspect", "no FILE given");
    if (as_json) fputs("{\"files\": [", stdout);
    for (int i = optind; i < argc; i++) {
        sl_err err = {0};
        pq_reader *rd = pq_reader_open(argv[i], &err);
        if (as_json && i > optind) fputs(",", stdout);
        if (as_json) fputs("\n", stdout);
        sl_code code = rd ? inspect_one(rd, head, as_json, printed, stdout, &err) : err.code;
        printed |= code == SL_OK;
        pq_reader_close(rd);
        if (code != SL_OK) {
            /* Messages quote names from the file: escaped like the text output. */
            char msg[4 * sizeof err.msg + 64];
            FILE *m = fmemopen(msg, sizeof msg, "w");
            msg[0] = 0;
            if (m) {
                put_text(m, err.msg[0] ? err.msg : sl_strerror(err.code));
                fclose(m);
            }
            fprintf(stderr, "sluice inspect: error: %s\n", msg);
            if (!rc) rc = sl_exit_code(err.code);
            if (as_json) {
                json_t *o = json_object();
                json_object_set_new(o, "file", jbytes((const uint8_t *)argv[i], strlen(argv[i])));
                json_object_set_new(o, "error", json_string(msg));
                json_dumpf(o, stdout, JSON_INDENT(1) | JSON_ENSURE_ASCII);
                json_decref(o);
            }
        }
        if (ferror(stdout)) break; /* reported below */
    }
    if (as_json) fputs("\n]}\n", stdout);
    /* Output that did not reach its destination (a full disk, a closed pipe) is a failure:
     * a script must not take a cut listing for a whole one. */
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "sluice inspect: error: cannot write the output: %s\n",
                errno ? strerror(errno) : "write error");
        if (!rc) rc = SL_EXIT_FAILURE;
    }
    return rc;
}
