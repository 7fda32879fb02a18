/* pq_writer.c - the streaming Parquet writer (see parquet.h).
 *
 * Layout of the work: batches are cut into slices that never cross a row-group
 * boundary; each column appends a slice to its current page (definition levels, the
 * values in physical form, dictionary indices) and flushes the page when it reaches the
 * page size or PQ_PAGE_ROWS rows. A flushed page is encoded, compressed and appended
 * with its header to the column's chunk buffer. When the row group is full, every
 * chunk goes to the sink - dictionary page first - and the chunk's metadata, column
 * index and offset index are kept for the end. Close writes the page indexes and the
 * footer. Memory: one row group of compressed pages, the dictionaries, one page per
 * column, and the footer's metadata.
 *
 * Encoding per column chunk: booleans PLAIN. Other types start with a dictionary (when
 * enabled) and fall back to PLAIN for the rest of the chunk when the first page holding
 * values is no smaller under it (keep_dict_or_plain), or later once the dictionary page
 * would pass dictionary_max. INT32/INT64 columns decide at their first page of each
 * chunk between dictionary, DELTA_BINARY_PACKED and PLAIN by encoded size; their
 * dictionary is built at that decision, and only as far as it could still win. */
#include "parquet.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_bytes.h"
#include "pq_compress.h"
#include "pq_encode.h"
#include "pq_format.h"
#include "pq_stats.h"
#include "pq_thrift_write.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pq_writer.c writes PLAIN values straight from memory: little-endian hosts only"
#endif

/* Rows per page at most (pyarrow's max_rows_per_page default): keeps page-index
 * pruning useful and bounds the per-page arrays. */
#define PQ_PAGE_ROWS 20000
/* Rows per slice of a batch between row-group size checks. */
#define PQ_SLICE_ROWS 4096

enum { MODE_UNDECIDED, MODE_DICT, MODE_PLAIN, MODE_DELTA };
enum { ENC_PLAIN = 1 << PQ_ENC_PLAIN, ENC_RLE = 1 << PQ_ENC_RLE, ENC_DELTA = 1 << PQ_ENC_DELTA_BINARY_PACKED,
       ENC_DICT = 1 << PQ_ENC_RLE_DICTIONARY };

/* A dictionary: open addressing over entry numbers; the entries themselves are kept
 * as the PLAIN dictionary page body, so the page is ready when the chunk ends. */
typedef struct pq_dict {
    uint32_t *slots; /* entry + 1, 0 = empty */
    uint32_t nslots; /* power of two */
    uint32_t n;
    sl_buf body;     /* PLAIN values: fixed width, or 4-byte length + bytes */
    uint32_t *offs;  /* byte arrays: where each entry's length prefix starts in body */
    uint32_t offs_cap;
    /* byte arrays: the page (pq_col.page_seq) whose statistics last took each entry,
     * so that a page's min/max compare each distinct value once, not every value */
    uint32_t *mark;
    uint32_t mark_cap;
} pq_dict;

typedef struct page_meta {
    int64_t offset;    /* within the chunk buffer; made absolute at flush */
    int32_t size;      /* header + compressed body */
    int64_t first_row; /* within the row group */
    int64_t nulls;
    int null_page;
    int has_minmax;
    uint32_t min_off, min_len, max_off, max_len; /* into the column's bounds buffer */
} page_meta;

/* What the footer needs of one column chunk. */
typedef struct chunk_meta {
    int64_t start, data_off, dict_off; /* dict_off -1 when none */
    int64_t num_values, unc, comp;
    uint32_t enc;          /* ENC_* bits */
    int32_t pages[4];      /* data pages by mode: [MODE_DICT], [MODE_PLAIN], [MODE_DELTA] */
    int has_dict_page;
    int has_minmax, min_exact, max_exact;
    int64_t nulls;
    uint8_t *minmax;       /* min bytes then max bytes */
    uint32_t min_len, max_len;
    int64_t ci_off, oi_off; /* relative to the page-index area; ci_len 0 = none */
    int32_t ci_len, oi_len;
} chunk_meta;

typedef struct pq_col {
    const sl_field *f;
    int ptype, width; /* physical type; bytes per value in `raw` (FLBA: its length) */
    pq_order order;
    int max_def;
    int mode, dict_on;
    /* dict_skip, the dictionary is not tried (the previous writer of the spare gave it
     * up: larger than DELTA or PLAIN, or past dictionary_max); dict_lost, this writer
     * gave it up in one of its row groups */
    int dict_skip, dict_lost;
    /* current page */
    size_t pv, pnn; /* values (NULLs included), non-NULL values */
    uint8_t *defs;
    uint8_t *raw;   /* fixed width: non-NULL values in physical form */
    uint32_t *idx;  /* dictionary indices */
    sl_buf pbytes;  /* byte arrays in PLAIN mode: the encoded values */
    pq_vstats pst, cst;
    int64_t page_first_row;
    uint32_t page_seq; /* pages flushed + 1: never 0, the dictionary marks' "none" */
    pq_dict dict;
    /* current chunk */
    sl_buf chunk;
    page_meta *pages;
    size_t npages, pages_cap;
    sl_buf bounds;
    int64_t unc, comp; /* data pages, headers included */
    int32_t mode_pages[4];
    uint32_t enc;
} pq_col;

typedef struct rg_meta {
    int64_t rows, unc, comp, offset;
    chunk_meta *cols;
} rg_meta;

struct pq_writer {
    sl_sink *sink;
    const sl_schema *schema;
    pq_options opt;
    pq_kv *kv;
    int kv_count;
    int ncols;
    pq_col *cols;
    pq_compressor *comp;
    sl_buf body, cbuf, hdr, tmp, bound; /* page scratch */
    sl_buf remap; /* append_coded: a batch's entries' indices in the chunk's dictionary */
    int64_t rg_rows, total_rows;
    rg_meta *rgs;
    int nrg, rg_cap;
    sl_buf pindex; /* serialized ColumnIndex/OffsetIndex structs of every chunk */
    int closed, failed;
};

struct pq_spare {
    sl_buf body, cbuf, tmp; /* page scratch */
    sl_buf *chunks;         /* column chunks, by column position */
    int *types;             /* each chunk's physical type and width: ptype << 16 | width */
    uint8_t *lost;          /* each column's dictionary lost (pq_col.dict_skip, dict_lost) */
    uint64_t names;         /* names_hash of the writer that left them */
    int nchunks;
};

pq_spare *pq_spare_create(void) { return sl_calloc(1, sizeof(pq_spare)); }

/* Frees the spare's chunks and their arrays. */
static void spare_drop_chunks(pq_spare *s)
{
    for (int i = 0; i < s->nchunks; i++) sl_buf_free(&s->chunks[i]);
    sl_free(s->chunks);
    sl_free(s->types);
    sl_free(s->lost);
    s->chunks = NULL;
    s->types = NULL;
    s->lost = NULL;
    s->nchunks = 0;
}

void pq_spare_free(pq_spare *s)
{
    if (!s) return;
    sl_buf_free(&s->body);
    sl_buf_free(&s->cbuf);
    sl_buf_free(&s->tmp);
    spare_drop_chunks(s);
    sl_free(s);
}

static int chunk_type(const pq_col *c) { return c->ptype << 16 | c->width; }

/* FNV-1a over the writer's column names, each with its terminating NUL: the lost
 * dictionaries of a spare carry only to a writer of the same columns. */
static uint64_t names_hash(const pq_writer *w)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < w->ncols; i++)
        for (const char *p = w->cols[i].f->name;; p++) {
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            if (!*p) break;
        }
    return h;
}

/* Moves *from into *to, emptied (what *to held is freed); *from is left empty. */
static void buf_move(sl_buf *to, sl_buf *from)
{
    sl_buf_free(to);
    *to = *from;
    to->len = 0;
    sl_buf_init(from, from->max);
}

/* At open: the spare's buffers become the writer's. Its chunks only if they come from
 * a writer of the same column types (the next file of the same table): chunks of other
 * columns would be the wrong sizes, and the spare would hold those it cannot hand out
 * while this writer grows its own. From a writer of the same column names and types,
 * also which columns gave the dictionary up (an integer column's lost to DELTA or PLAIN
 * at its first page, another's first page was no smaller under it, or it passed
 * dictionary_max): with opt.dictionary_carry they start without it (start_chunk). */
static void start_chunk(pq_writer *w, pq_col *c);

static void spare_take(pq_writer *w, pq_spare *s)
{
    int same = s->nchunks == w->ncols;
    for (int i = 0; same && i < w->ncols; i++) same = s->types[i] == chunk_type(&w->cols[i]);
    int carry = same && w->opt.dictionary_carry && s->names == names_hash(w);
    buf_move(&w->body, &s->body);
    buf_move(&w->cbuf, &s->cbuf);
    buf_move(&w->tmp, &s->tmp);
    for (int i = 0; i < s->nchunks; i++) {
        if (same) buf_move(&w->cols[i].chunk, &s->chunks[i]);
        else sl_buf_free(&s->chunks[i]);
        if (carry && s->lost[i]) {
            w->cols[i].dict_skip = 1;
            start_chunk(w, &w->cols[i]);
        }
    }
}

/* At free: the writer's buffers go back to the spare (if it can grow to hold them). */
static void spare_give(pq_writer *w, pq_spare *s)
{
    if (w->ncols != s->nchunks) {
        spare_drop_chunks(s);
        s->chunks = sl_calloc((size_t)w->ncols, sizeof *s->chunks);
        s->types = sl_calloc((size_t)w->ncols, sizeof *s->types);
        s->lost = sl_calloc((size_t)w->ncols, 1);
        if (!s->chunks || !s->types || !s->lost) {
            spare_drop_chunks(s);
            return;
        }
        s->nchunks = w->ncols;
    }
    buf_move(&s->body, &w->body);
    buf_move(&s->cbuf, &w->cbuf);
    buf_move(&s->tmp, &w->tmp);
    for (int i = 0; i < w->ncols; i++) {
        buf_move(&s->chunks[i], &w->cols[i].chunk);
        s->types[i] = chunk_type(&w->cols[i]);
        s->lost[i] = (uint8_t)(w->cols[i].dict_skip || w->cols[i].dict_lost);
    }
    s->names = names_hash(w);
}

/* ---------------------------------------------------------------------------------- */
/* options */

void pq_options_default(pq_options *o)
{
    memset(o, 0, sizeof *o);
    o->codec = PQ_CODEC_SNAPPY;
    o->zstd_level = 3;
    o->gzip_level = 6;
    o->page_size = (size_t)1 << 20;
    o->row_group_size = (size_t)128 << 20;
    o->dictionary = 1;
    o->dictionary_max = (size_t)1 << 20;
    o->delta = 1;
    o->page_index = 1;
}

const char *pq_codec_name(pq_codec c)
{
    switch (c) {
    case PQ_CODEC_NONE: return "none";
    case PQ_CODEC_SNAPPY: return "snappy";
    case PQ_CODEC_GZIP: return "gzip";
    case PQ_CODEC_ZSTD: return "zstd";
    }
    return "unknown";
}

sl_code pq_codec_parse(const char *s, pq_codec *out, sl_err *err)
{
    static const pq_codec all[] = {PQ_CODEC_SNAPPY, PQ_CODEC_ZSTD, PQ_CODEC_GZIP, PQ_CODEC_NONE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (s && strcmp(s, pq_codec_name(all[i])) == 0) {
            *out = all[i];
            return SL_OK;
        }
    if (s && strcmp(s, "uncompressed") == 0) {
        *out = PQ_CODEC_NONE;
        return SL_OK;
    }
    return sl_err_set(err, SL_E_USAGE, "unknown compression '%s' (snappy, zstd, gzip or none)", s ? s : "");
}

/* ---------------------------------------------------------------------------------- */
/* physical types */

static void physical(const sl_field *f, int *ptype, int *width, pq_order *order)
{
    switch (f->type.id) {
    case SL_BOOL: *ptype = PQ_BOOLEAN; *width = 1; *order = PQ_ORD_BOOL; return;
    case SL_INT8: case SL_INT16: case SL_INT32: case SL_DATE:
        *ptype = PQ_INT32; *width = 4; *order = PQ_ORD_I32; return;
    case SL_UINT8: case SL_UINT16: case SL_UINT32:
        *ptype = PQ_INT32; *width = 4; *order = PQ_ORD_U32; return;
    case SL_INT64: case SL_TIMESTAMP: case SL_TIME:
        *ptype = PQ_INT64; *width = 8; *order = PQ_ORD_I64; return;
    case SL_UINT64: *ptype = PQ_INT64; *width = 8; *order = PQ_ORD_U64; return;
    case SL_FLOAT: *ptype = PQ_FLOAT; *width = 4; *order = PQ_ORD_FLOAT; return;
    case SL_DOUBLE: *ptype = PQ_DOUBLE; *width = 8; *order = PQ_ORD_DOUBLE; return;
    case SL_DECIMAL:
        if (f->type.precision <= 9) { *ptype = PQ_INT32; *width = 4; *order = PQ_ORD_I32; }
        else if (f->type.precision <= 18) { *ptype = PQ_INT64; *width = 8; *order = PQ_ORD_I64; }
        else { *ptype = PQ_FIXED_LEN_BYTE_ARRAY; *width = sl_decimal_width(f->type.precision); *order = PQ_ORD_SIGNED_BE; }
        return;
    case SL_STRING: case SL_JSON: case SL_ENUM:
        *ptype = PQ_BYTE_ARRAY; *width = 0; *order = PQ_ORD_TEXT; return;
    case SL_BINARY: default:
        *ptype = PQ_BYTE_ARRAY; *width = 0; *order = PQ_ORD_BYTES; return;
    }
}

/* Copies the non-NULL values of rows [r, r+n) of column c into out in physical form;
 * returns how many. */
static size_t gather(const sl_column *c, int width, size_t r, size_t n, uint8_t *out)
{
    const uint8_t *valid = c->valid;
    size_t k = 0;
#define GATHER(SRC_T, DST_T)                                                        \
    do {                                                                            \
        const SRC_T *src = (const SRC_T *)c->values + r;                            \
        DST_T *dst = (DST_T *)(void *)out;                                          \
        if (!valid) {                                                               \
            for (size_t i = 0; i < n; i++) dst[i] = (DST_T)src[i];                  \
            return n;                                                               \
        }                                                                           \
        for (size_t i = 0; i < n; i++)                                              \
            if (valid[r + i]) dst[k++] = (DST_T)src[i];                             \
        return k;                                                                   \
    } while (0)
    switch (c->field->type.id) {
    case SL_BOOL: case SL_UINT8: if (width == 1) GATHER(uint8_t, uint8_t); GATHER(uint8_t, uint32_t);
    case SL_INT8: GATHER(int8_t, int32_t);
    case SL_INT16: GATHER(int16_t, int32_t);
    case SL_UINT16: GATHER(uint16_t, uint32_t);
    case SL_INT32: case SL_DATE: GATHER(int32_t, int32_t);
    case SL_UINT32: GATHER(uint32_t, uint32_t);
    case SL_INT64: case SL_TIMESTAMP: case SL_TIME: GATHER(int64_t, int64_t);
    case SL_UINT64: GATHER(uint64_t, uint64_t);
    case SL_FLOAT: GATHER(float, float);
    case SL_DOUBLE: GATHER(double, double);
    case SL_DECIMAL:
        if (width == 4) GATHER(int64_t, int32_t);
        if (width == 8 && c->field->type.precision <= 18) GATHER(int64_t, int64_t);
        break;
    default: break;
    }
#undef GATHER
    /* FLBA decimals: width bytes per value, already big-endian. */
    const uint8_t *src = (const uint8_t *)c->values + r * (size_t)width;
    for (size_t i = 0; i < n; i++)
        if (!valid || valid[r + i]) memcpy(out + (k++) * (size_t)width, src + i * (size_t)width, (size_t)width);
    return k;
}

/* ---------------------------------------------------------------------------------- */
/* dictionary */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    while (n >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        h = mix64(h ^ x);
        p += 8;
        n -= 8;
    }
    uint64_t x = 0;
    memcpy(&x, p, n);
    return mix64(h ^ x ^ ((uint64_t)n << 56));
}

/* The first slot of a 4- or 8-byte value x among nslots (a power of two): Fibonacci
 * hashing, the top bits of one multiply, which every bit of x reaches. */
static inline uint32_t slot_fixed(uint64_t x, uint32_t nslots)
{
    return (uint32_t)((x * 0x9E3779B97F4A7C15ULL) >> (64 - __builtin_ctz(nslots)));
}

/* The hash of a byte array of at most 16 bytes: its two zero-padded words multiplied
 * into 128 bits and folded (one multiply; every input bit reaches the low bits). */
static uint64_t hash_short(const uint8_t *v, size_t n)
{
    uint64_t a = 0, b = 0;
    if (n > 8) {
        memcpy(&a, v, 8);
        memcpy(&b, v + 8, n - 8);
    } else {
        memcpy(&a, v, n);
    }
    unsigned __int128 m = (unsigned __int128)(a ^ 0x9E3779B97F4A7C15ULL) * (b ^ 0xC2B2AE3D27D4EB4FULL ^ n);
    return (uint64_t)m ^ (uint64_t)(m >> 64);
}

/* The first slot of a value among nslots: fixed widths by slot_fixed, byte arrays by
 * hash_short or hash_bytes. Inlined, so that a constant n leaves one of the three. */
static inline __attribute__((always_inline)) uint32_t dict_slot(const uint8_t *v, size_t n, uint32_t nslots)
{
    if (n == 8 || n == 4) {
        uint64_t x = 0;
        memcpy(&x, v, n);
        return slot_fixed(x, nslots);
    }
    return (uint32_t)(n <= 16 ? hash_short(v, n) : hash_bytes(v, n)) & (nslots - 1);
}

/* Whether two values of n bytes are equal: fixed widths compared as integers. */
static int dict_same(const uint8_t *a, const uint8_t *b, size_t n)
{
    if (n == 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        return x == y;
    }
    if (n == 4) {
        uint32_t x, y;
        memcpy(&x, a, 4);
        memcpy(&y, b, 4);
        return x == y;
    }
    return sl_bytes_equal(a, b, n);
}

static void dict_free(pq_dict *d)
{
    sl_free(d->slots);
    sl_free(d->offs);
    sl_free(d->mark);
    sl_buf_free(&d->body);
    memset(d, 0, sizeof *d);
}

static void dict_clear(pq_dict *d)
{
    if (d->slots) memset(d->slots, 0, d->nslots * sizeof *d->slots);
    if (d->mark) memset(d->mark, 0, d->mark_cap * sizeof *d->mark);
    d->n = 0;
    d->body.len = 0;
}

static const uint8_t *dict_entry(const pq_dict *d, int width, uint32_t e, uint32_t *len)
{
    if (width) {
        *len = (uint32_t)width;
        return d->body.data + (size_t)e * (size_t)width;
    }
    const uint8_t *p = d->body.data + d->offs[e];
    memcpy(len, p, 4);
    return p + 4;
}

static sl_code dict_grow(pq_dict *d, int width, sl_err *err)
{
    uint32_t ns = d->nslots ? d->nslots * 2 : 1024;
    uint32_t *slots = sl_calloc(ns, sizeof *slots);
    if (!slots) return sl_err_set(err, SL_E_NOMEM, "out of memory growing a dictionary to %u slots", ns);
    for (uint32_t e = 0; e < d->n; e++) {
        uint32_t len;
        const uint8_t *v = dict_entry(d, width, e, &len);
        uint32_t s = dict_slot(v, len, ns);
        while (slots[s]) s = (s + 1) & (ns - 1);
        slots[s] = e + 1;
    }
    sl_free(d->slots);
    d->slots = slots;
    d->nslots = ns;
    return SL_OK;
}

/* Index of v in the dictionary, adding it if new. */
static inline __attribute__((always_inline)) sl_code dict_insert(pq_dict *d, int width, const uint8_t *v, uint32_t len, uint32_t *out, sl_err *err)
{
    if ((uint64_t)(d->n + 1) * 2 > d->nslots) SL_TRY(dict_grow(d, width, err));
    uint32_t mask = d->nslots - 1;
    uint32_t s = dict_slot(v, len, d->nslots);
    for (;;) {
        uint32_t e = d->slots[s];
        if (!e) break;
        uint32_t elen;
        const uint8_t *ev = dict_entry(d, width, e - 1, &elen);
        if (elen == len && dict_same(ev, v, len)) {
            *out = e - 1;
            return SL_OK;
        }
        s = (s + 1) & mask;
    }
    if (!width) {
        if (d->n == d->offs_cap) {
            uint32_t nc = d->offs_cap ? d->offs_cap * 2 : 1024;
            uint32_t *no = sl_realloc(d->offs, nc * sizeof *no);
            if (!no) return sl_err_set(err, SL_E_NOMEM, "out of memory growing a dictionary");
            d->offs = no;
            d->offs_cap = nc;
        }
        d->offs[d->n] = (uint32_t)d->body.len;
        SL_TRY(sl_buf_append(&d->body, &len, 4, err));
    }
    SL_TRY(sl_buf_append(&d->body, v, len, err));
    d->slots[s] = d->n + 1;
    *out = d->n++;
    return SL_OK;
}

/* Whether entry e is new to page seq (marking it): 1 when the page's statistics must
 * take it; on failing to grow the marks, 1 as well (the statistics then take every value). */
static int dict_mark(pq_dict *d, uint32_t e, uint32_t seq)
{
    if (e >= d->mark_cap) {
        uint32_t nc = d->mark_cap ? d->mark_cap : 1024;
        while (nc <= e) nc *= 2;
        uint32_t *nm = sl_realloc(d->mark, (size_t)nc * sizeof *nm);
        if (!nm) return 1;
        memset(nm + d->mark_cap, 0, (size_t)(nc - d->mark_cap) * sizeof *nm);
        d->mark = nm;
        d->mark_cap = nc;
    }
    if (d->mark[e] == seq) return 0;
    d->mark[e] = seq;
    return 1;
}

/* dict_insert for k values of a fixed-width column at v, indices to out: for 4 and 8
 * bytes with the width a constant, so that dict_insert inlines into a loop of its own
 * where hashing and comparing are one integer operation each. */
static sl_code dict_insert_fixed(pq_dict *d, int width, const uint8_t *v, size_t k, uint32_t *out, sl_err *err)
{
    if (width == 4)
        for (size_t i = 0; i < k; i++) SL_TRY(dict_insert(d, 4, v + i * 4, 4, &out[i], err));
    else if (width == 8)
        for (size_t i = 0; i < k; i++) SL_TRY(dict_insert(d, 8, v + i * 8, 8, &out[i], err));
    else
        for (size_t i = 0; i < k; i++)
            SL_TRY(dict_insert(d, width, v + i * (size_t)width, (uint32_t)width, &out[i], err));
    return SL_OK;
}

static int dict_bits(const pq_dict *d)
{
    int b = pq_bit_width(d->n ? d->n - 1 : 0);
    return b ? b : 1;
}

/* ---------------------------------------------------------------------------------- */
/* thrift helpers */

static void tw_stats(pq_tw *t, int16_t id, const pq_vstats *s, const uint8_t *mn, size_t mnl, const uint8_t *mx,
                     size_t mxl, int mn_exact, int mx_exact)
{
    pq_tw_struct(t, id);
    pq_tw_i64(t, 3, s->nulls);
    if (s->has) {
        pq_tw_binary(t, 5, mx, mxl);
        pq_tw_binary(t, 6, mn, mnl);
        pq_tw_bool(t, 7, mx_exact);
        pq_tw_bool(t, 8, mn_exact);
    }
    pq_tw_end(t);
}

/* Writes both bounds of s into w->bound (min then max). */
static sl_code encode_bounds(pq_writer *w, const pq_vstats *s, pq_order o, uint32_t *mnl, uint32_t *mxl, int *mne,
                             int *mxe, sl_err *err)
{
    w->bound.len = 0;
    if (!s->has) {
        *mnl = *mxl = 0;
        *mne = *mxe = 1;
        return SL_OK;
    }
    SL_TRY(pq_stats_bound(s, o, 0, &w->tmp, mne, err));
    SL_TRY(sl_buf_append(&w->bound, w->tmp.data, w->tmp.len, err));
    *mnl = (uint32_t)w->tmp.len;
    SL_TRY(pq_stats_bound(s, o, 1, &w->tmp, mxe, err));
    SL_TRY(sl_buf_append(&w->bound, w->tmp.data, w->tmp.len, err));
    *mxl = (uint32_t)w->tmp.len;
    return SL_OK;
}

/* Page header for a data page v1 (st != NULL; its bounds already in w->bound, min
 * then max) or a dictionary page (st == NULL). */
static sl_code page_header(pq_writer *w, int type, size_t unc, size_t comp, int32_t nvalues, int enc,
                           const pq_vstats *st, uint32_t mnl, uint32_t mxl, int mne, int mxe, sl_err *err)
{
    w->hdr.len = 0;
    if (unc > INT32_MAX || comp > INT32_MAX)
        return sl_err_set(err, SL_E_LIMIT, "a Parquet page of %zu bytes is over the format's 2 GiB limit", unc);
    pq_tw t;
    pq_tw_init(&t, &w->hdr, err);
    pq_tw_begin(&t);
    pq_tw_i32(&t, 1, type);
    pq_tw_i32(&t, 2, (int32_t)unc);
    pq_tw_i32(&t, 3, (int32_t)comp);
    if (st) {
        pq_tw_struct(&t, 5);
        pq_tw_i32(&t, 1, nvalues);
        pq_tw_i32(&t, 2, enc);
        pq_tw_i32(&t, 3, PQ_ENC_RLE);
        pq_tw_i32(&t, 4, PQ_ENC_RLE);
        tw_stats(&t, 5, st, w->bound.data, mnl, w->bound.data + mnl, mxl, mne, mxe);
        pq_tw_end(&t);
    } else {
        pq_tw_struct(&t, 7);
        pq_tw_i32(&t, 1, nvalues);
        pq_tw_i32(&t, 2, PQ_ENC_PLAIN);
        pq_tw_end(&t);
    }
    pq_tw_end(&t);
    return t.rc;
}

/* ---------------------------------------------------------------------------------- */
/* pages */

static const char *col_name(const pq_col *c) { return c->f->name; }

static size_t page_est(const pq_col *c)
{
    size_t defs = c->max_def ? c->pv / 8 : 0;
    if (c->mode == MODE_DICT) return defs + c->pnn * (size_t)dict_bits(&c->dict) / 8;
    if (c->width) return defs + c->pnn * (size_t)c->width;
    return defs + c->pbytes.len;
}

/* Size of the page's values under each candidate encoding, to choose the chunk's. */
static sl_code choose_mode(pq_writer *w, pq_col *c, sl_err *err)
{
    size_t plain = c->pnn * (size_t)c->width;
    size_t best = plain;
    int mode = MODE_PLAIN;
    if (w->opt.delta) {
        w->tmp.len = 0;
        if (c->ptype == PQ_INT32) SL_TRY(pq_delta_encode_i32((const int32_t *)(void *)c->raw, c->pnn, &w->tmp, err));
        else SL_TRY(pq_delta_encode_i64((const int64_t *)(void *)c->raw, c->pnn, &w->tmp, err));
        if (w->tmp.len < best) {
            best = w->tmp.len;
            mode = MODE_DELTA;
        }
    }
    if (c->dict_on) {
        /* The dictionary is built only now, over the page's values, and given up as soon
         * as its values alone outgrow the best size so far or dictionary_max: a key or
         * timestamp column (DELTA packs it in a few bytes a block) stops after a handful
         * of entries instead of hashing, and growing a table for, a page of distinct values. */
        size_t lim = best < w->opt.dictionary_max ? best : w->opt.dictionary_max;
        const size_t step = 512;
        size_t done = 0;
        /* Also given up once it cannot win: the entries and the indices can only grow,
         * so the entries so far and every value's index at their present width are
         * less than the page's dictionary encoding will be (the same choice, sooner). */
        while (done < c->pnn && c->dict.body.len <= lim &&
               c->dict.body.len + (c->pnn * (size_t)dict_bits(&c->dict) + 7) / 8 + 1 <= best) {
            size_t k = c->pnn - done < step ? c->pnn - done : step;
            SL_TRY(dict_insert_fixed(&c->dict, c->width, c->raw + done * (size_t)c->width, k, &c->idx[done], err));
            done += k;
        }
        if (done == c->pnn && c->dict.body.len <= lim) {
            size_t dict = c->dict.body.len + (c->pnn * (size_t)dict_bits(&c->dict) + 7) / 8 + 1;
            if (dict <= best) mode = MODE_DICT;
        }
        if (mode != MODE_DICT) c->dict_lost = 1;
    }
    c->mode = mode;
    if (mode != MODE_DICT) {
        c->dict_on = 0;
        dict_clear(&c->dict);
    }
    return SL_OK;
}

static sl_code add_page_meta(pq_col *c, int64_t offset, int32_t size, const pq_writer *w, uint32_t mnl, uint32_t mxl,
                             sl_err *err)
{
    if (c->npages == c->pages_cap) {
        size_t nc = c->pages_cap ? c->pages_cap * 2 : 16;
        page_meta *np = sl_realloc(c->pages, nc * sizeof *np);
        if (!np) return sl_err_set(err, SL_E_NOMEM, "out of memory for page metadata of column %s", col_name(c));
        c->pages = np;
        c->pages_cap = nc;
    }
    page_meta *pm = &c->pages[c->npages++];
    memset(pm, 0, sizeof *pm);
    pm->offset = offset;
    pm->size = size;
    pm->first_row = c->page_first_row;
    pm->nulls = c->pst.nulls;
    pm->null_page = c->pnn == 0;
    pm->has_minmax = c->pst.has;
    pm->min_off = (uint32_t)c->bounds.len;
    pm->min_len = mnl;
    pm->max_off = (uint32_t)c->bounds.len + mnl;
    pm->max_len = mxl;
    return sl_buf_append(&c->bounds, w->bound.data, (size_t)mnl + mxl, err);
}

/* A byte array's PLAIN form appended to b: its 4-byte length, then its bytes, with one
 * room test for both (two sl_buf_append calls, inline too since 7faf6a2, cost 0.7% more
 * instructions on an export of customers and products). */
static inline sl_code put_plain_bytes(sl_buf *b, const uint8_t *p, uint32_t len, sl_err *err)
{
    size_t n = 4 + (size_t)len;
    if (b->cap - b->len < n) SL_TRY(sl_buf_reserve(b, n, err)); /* cap <= max: room here is under max */
    uint8_t *o = b->data + b->len;
    memcpy(o, &len, 4);
    if (len) memcpy(o + 4, p, len); /* p may be NULL for an empty value */
    b->len += n;
    return SL_OK;
}

/* Whether a chunk's first page of values is smaller under its dictionary (the entries
 * and the page's indices) than PLAIN, parquet-mr's test: a column of distinct doubles
 * or e-mail addresses stops hashing after one page, not when dictionary_max is passed.
 * If not, the page becomes PLAIN (fixed widths: its values are in `raw` already; byte
 * arrays: written out from their entries) and so does the rest of the chunk. */
static sl_code keep_dict_or_plain(pq_col *c, sl_err *err)
{
    size_t plain = c->pnn * (size_t)c->width;
    if (!c->width) {
        for (size_t i = 0; i < c->pnn; i++) {
            uint32_t len;
            dict_entry(&c->dict, 0, c->idx[i], &len);
            plain += 4 + (size_t)len;
        }
    }
    size_t dict = c->dict.body.len + (c->pnn * (size_t)dict_bits(&c->dict) + 7) / 8 + 1;
    if (dict < plain) return SL_OK;
    if (!c->width) {
        c->pbytes.len = 0;
        for (size_t i = 0; i < c->pnn; i++) {
            uint32_t len;
            const uint8_t *p = dict_entry(&c->dict, 0, c->idx[i], &len);
            SL_TRY(put_plain_bytes(&c->pbytes, p, len, err));
        }
    }
    c->mode = MODE_PLAIN;
    c->dict_on = 0;
    c->dict_lost = 1;
    dict_clear(&c->dict);
    return SL_OK;
}

static sl_code flush_page(pq_writer *w, pq_col *c, sl_err *err)
{
    if (c->pv == 0) return SL_OK;
    /* An undecided chunk decides on its first page holding values; until then its
     * (all-NULL) pages are PLAIN, which holds no values at all. */
    int chosen = c->mode == MODE_UNDECIDED && c->pnn;
    if (chosen) SL_TRY(choose_mode(w, c, err)); /* leaves its DELTA encoding of the page in w->tmp */
    if (c->mode == MODE_DICT && c->pnn && c->mode_pages[MODE_DICT] == 0) SL_TRY(keep_dict_or_plain(c, err));
    int mode = c->mode == MODE_UNDECIDED ? MODE_PLAIN : c->mode;
    if (c->width) SL_TRY(pq_stats_add_fixed(&c->pst, c->order, c->raw, c->pnn, (size_t)c->width, err));

    sl_buf *b = &w->body;
    b->len = 0;
    if (c->max_def) {
        SL_TRY(sl_buf_append(b, "\0\0\0\0", 4, err));
        size_t at = b->len;
        SL_TRY(pq_hybrid_encode_u8(c->defs, c->pv, 1, b, err));
        uint32_t n = (uint32_t)(b->len - at);
        memcpy(b->data + at - 4, &n, 4);
    }
    int enc;
    switch (mode) {
    case MODE_DICT: {
        enc = PQ_ENC_RLE_DICTIONARY;
        uint8_t bw = (uint8_t)dict_bits(&c->dict);
        SL_TRY(sl_buf_append(b, &bw, 1, err));
        SL_TRY(pq_hybrid_encode(c->idx, c->pnn, bw, b, err));
        break;
    }
    case MODE_DELTA:
        enc = PQ_ENC_DELTA_BINARY_PACKED;
        if (chosen) SL_TRY(sl_buf_append(b, w->tmp.data, w->tmp.len, err)); /* encoded by choose_mode */
        else if (c->ptype == PQ_INT32) SL_TRY(pq_delta_encode_i32((const int32_t *)(void *)c->raw, c->pnn, b, err));
        else SL_TRY(pq_delta_encode_i64((const int64_t *)(void *)c->raw, c->pnn, b, err));
        break;
    default:
        enc = PQ_ENC_PLAIN;
        if (c->ptype == PQ_BOOLEAN) SL_TRY(pq_plain_bool_encode(c->raw, c->pnn, b, err));
        else if (c->width) SL_TRY(sl_buf_append(b, c->raw, c->pnn * (size_t)c->width, err));
        else SL_TRY(sl_buf_append(b, c->pbytes.data, c->pbytes.len, err));
        break;
    }
    SL_TRY(pq_compress(w->comp, b->data, b->len, &w->cbuf, err));
    if (c->pv > INT32_MAX) return sl_err_set(err, SL_E_INTERNAL, "page of %zu values", c->pv);
    uint32_t mnl = 0, mxl = 0;
    int mne, mxe;
    SL_TRY(encode_bounds(w, &c->pst, c->order, &mnl, &mxl, &mne, &mxe, err));
    SL_TRY(page_header(w, PQ_DATA_PAGE, b->len, w->cbuf.len, (int32_t)c->pv, enc, &c->pst, mnl, mxl, mne, mxe, err));

    int64_t offset = (int64_t)c->chunk.len;
    SL_TRY(sl_buf_append(&c->chunk, w->hdr.data, w->hdr.len, err));
    SL_TRY(sl_buf_append(&c->chunk, w->cbuf.data, w->cbuf.len, err));
    SL_TRY(add_page_meta(c, offset, (int32_t)(w->hdr.len + w->cbuf.len), w, mnl, mxl, err));
    c->unc += (int64_t)(w->hdr.len + b->len);
    c->comp += (int64_t)(w->hdr.len + w->cbuf.len);
    c->mode_pages[mode]++;
    c->enc |= 1u << enc;
    if (c->max_def) c->enc |= ENC_RLE;
    SL_TRY(pq_stats_merge(&c->cst, &c->pst, c->order, err));

    c->page_first_row += (int64_t)c->pv;
    if (++c->page_seq == 0) { /* after 4 billion pages: the marks start over */
        c->page_seq = 1;
        if (c->dict.mark) memset(c->dict.mark, 0, c->dict.mark_cap * sizeof *c->dict.mark);
    }
    c->pv = c->pnn = 0;
    c->pbytes.len = 0;
    pq_stats_reset(&c->pst);
    return SL_OK;
}

/* After a page flush: a dictionary past its limit ends dictionary encoding. */
static void maybe_fallback(pq_writer *w, pq_col *c)
{
    if (c->mode == MODE_DICT && c->dict.body.len > w->opt.dictionary_max) {
        c->mode = MODE_PLAIN;
        c->dict_lost = 1;
    }
}

/* Appends rows [r, r+n) of a fixed-width column. */
static sl_code append_fixed(pq_writer *w, pq_col *c, const sl_column *bc, size_t r, size_t n, sl_err *err)
{
    size_t width = (size_t)c->width;
    while (n > 0) {
        size_t take = PQ_PAGE_ROWS - c->pv;
        if (take > n) take = n;
        if (c->mode != MODE_DICT) {
            size_t room = w->opt.page_size > c->pnn * width ? (w->opt.page_size - c->pnn * width) / width : 0;
            if (room < 1) room = 1;
            if (take > room) take = room;
        }
        if (c->max_def) memcpy(c->defs + c->pv, bc->valid + r, take);
        size_t k = gather(bc, c->width, r, take, c->raw + c->pnn * width);
        c->pst.nulls += (int64_t)(take - k);
        if (c->dict_on && c->mode == MODE_DICT) { /* undecided: built when choosing (choose_mode) */
            SL_TRY(dict_insert_fixed(&c->dict, c->width, c->raw + c->pnn * width, k, &c->idx[c->pnn], err));
        }
        c->pv += take;
        c->pnn += k;
        r += take;
        n -= take;
        int dict_full = c->dict_on && c->mode == MODE_DICT && c->dict.body.len > w->opt.dictionary_max;
        if (c->pv >= PQ_PAGE_ROWS || page_est(c) >= w->opt.page_size || dict_full) {
            SL_TRY(flush_page(w, c, err));
            maybe_fallback(w, c);
        }
    }
    return SL_OK;
}

/* Row i of a byte-array column into the page's levels: whether it holds a value (a
 * NULL is counted). */
static inline int take_level(pq_col *c, const sl_column *bc, size_t i)
{
    int present = !bc->valid || bc->valid[i];
    if (c->max_def) c->defs[c->pv] = (uint8_t)present;
    c->pv++;
    if (!present) c->pst.nulls++;
    return present;
}

/* Appends rows [r, r+n) of a byte-array column. */
static sl_code append_var(pq_writer *w, pq_col *c, const sl_column *bc, size_t r, size_t n, sl_err *err)
{
    for (size_t i = r; i < r + n; i++) {
        if (take_level(c, bc, i)) {
            uint32_t len;
            const uint8_t *p = sl_col_bytes(bc, i, &len);
            if (c->mode == MODE_DICT) {
                uint32_t elen;
                const uint8_t *last = c->pnn ? dict_entry(&c->dict, 0, c->idx[c->pnn - 1], &elen) : NULL;
                if (last && elen == len && sl_bytes_equal(last, p, len)) { /* a repeat: no hashing */
                    c->idx[c->pnn] = c->idx[c->pnn - 1];
                } else {
                    SL_TRY(dict_insert(&c->dict, 0, p, len, &c->idx[c->pnn], err));
                    if (dict_mark(&c->dict, c->idx[c->pnn], c->page_seq))
                        SL_TRY(pq_stats_add(&c->pst, c->order, p, len, err));
                }
            } else {
                SL_TRY(pq_stats_add(&c->pst, c->order, p, len, err));
                SL_TRY(put_plain_bytes(&c->pbytes, p, len, err));
            }
            c->pnn++;
        }
        if (c->pv >= PQ_PAGE_ROWS || page_est(c) >= w->opt.page_size ||
            (c->mode == MODE_DICT && c->dict.body.len > w->opt.dictionary_max)) {
            SL_TRY(flush_page(w, c, err));
            maybe_fallback(w, c);
        }
    }
    return SL_OK;
}

/* Rows a dictionary page under its limits (the test above just false) can take with no
 * new entry and still be under them for certain, so that the test can wait: each row
 * adds at most one level bit and one index of the present width, and the estimate's two
 * roundings at most a byte each. */
static size_t page_quiet(const pq_writer *w, const pq_col *c)
{
    size_t est = page_est(c), rows = PQ_PAGE_ROWS - 1 - c->pv;
    if (est + 2 >= w->opt.page_size) return 0;
    size_t bytes = (w->opt.page_size - est - 2) * 8 - 1, grow = (size_t)dict_bits(&c->dict) + 1;
    return bytes / grow < rows ? bytes / grow : rows;
}

/* append_var for a coded column (sl_column.codes) while the chunk is dictionary
 * encoded: each of the batch's texts is looked up in the chunk's dictionary once, and a
 * row's index is its code's. The pages and their statistics are append_var's. */
static sl_code append_coded(pq_writer *w, pq_col *c, const sl_column *bc, size_t r, size_t n, sl_err *err)
{
    w->remap.len = 0;
    SL_TRY(sl_buf_reserve(&w->remap, (size_t)bc->ndict * 4 + 4, err));
    uint32_t *remap = (uint32_t *)(void *)w->remap.data;
    memset(remap, 0xff, (size_t)bc->ndict * 4);
    size_t i = r, end = r + n, quiet = 0;
    while (i < end && c->mode == MODE_DICT) {
        if (take_level(c, bc, i)) {
            uint32_t e = bc->codes[i], x = remap[e], len;
            if (x == UINT32_MAX) {
                const uint8_t *p = sl_col_entry(bc, e, &len);
                SL_TRY(dict_insert(&c->dict, 0, p, len, &x, err));
                remap[e] = x;
                quiet = 0; /* the dictionary grew: its size and index width may have */
            }
            c->idx[c->pnn++] = x;
            if (dict_mark(&c->dict, x, c->page_seq)) {
                const uint8_t *p = sl_col_entry(bc, e, &len);
                SL_TRY(pq_stats_add(&c->pst, c->order, p, len, err));
            }
        }
        i++;
        if (quiet) {
            quiet--;
            continue;
        }
        if (c->pv >= PQ_PAGE_ROWS || page_est(c) >= w->opt.page_size || c->dict.body.len > w->opt.dictionary_max) {
            SL_TRY(flush_page(w, c, err));
            maybe_fallback(w, c);
        } else {
            quiet = page_quiet(w, c);
        }
    }
    return i < end ? append_var(w, c, bc, i, end - i, err) : SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* row groups */

static sl_code sink_write(pq_writer *w, const void *p, size_t n, sl_err *err)
{
    return sl_sink_write(w->sink, p, n, err);
}

static int boundary_order(const pq_col *c)
{
    int asc = 1, desc = 1;
    const page_meta *prev = NULL;
    for (size_t i = 0; i < c->npages; i++) {
        const page_meta *p = &c->pages[i];
        if (p->null_page) continue;
        if (prev) {
            const uint8_t *b = c->bounds.data;
            int cmin = pq_stats_cmp(c->order, b + prev->min_off, prev->min_len, b + p->min_off, p->min_len);
            int cmax = pq_stats_cmp(c->order, b + prev->max_off, prev->max_len, b + p->max_off, p->max_len);
            if (cmin > 0 || cmax > 0) asc = 0;
            if (cmin < 0 || cmax < 0) desc = 0;
        }
        prev = p;
    }
    return asc ? PQ_BO_ASCENDING : desc ? PQ_BO_DESCENDING : PQ_BO_UNORDERED;
}

/* ColumnIndex and OffsetIndex of the chunk just written, into w->pindex. */
static sl_code write_page_index(pq_writer *w, pq_col *c, chunk_meta *m, sl_err *err)
{
    pq_tw t;
    pq_tw_init(&t, &w->pindex, err);
    int ci_ok = 1;
    for (size_t i = 0; i < c->npages; i++)
        if (!c->pages[i].null_page && !c->pages[i].has_minmax) ci_ok = 0; /* e.g. a page of only NaN */
    m->ci_len = 0;
    if (ci_ok) {
        size_t at = w->pindex.len;
        pq_tw_begin(&t);
        pq_tw_list(&t, 1, TC_TRUE, (uint32_t)c->npages);
        for (size_t i = 0; i < c->npages; i++) pq_tw_elem_bool(&t, c->pages[i].null_page);
        pq_tw_list(&t, 2, TC_BINARY, (uint32_t)c->npages);
        for (size_t i = 0; i < c->npages; i++)
            pq_tw_elem_binary(&t, c->bounds.data + c->pages[i].min_off, c->pages[i].min_len);
        pq_tw_list(&t, 3, TC_BINARY, (uint32_t)c->npages);
        for (size_t i = 0; i < c->npages; i++)
            pq_tw_elem_binary(&t, c->bounds.data + c->pages[i].max_off, c->pages[i].max_len);
        pq_tw_i32(&t, 4, boundary_order(c));
        pq_tw_list(&t, 5, TC_I64, (uint32_t)c->npages);
        for (size_t i = 0; i < c->npages; i++) pq_tw_elem_i64(&t, c->pages[i].nulls);
        pq_tw_end(&t);
        SL_TRY(t.rc);
        m->ci_off = (int64_t)at;
        m->ci_len = (int32_t)(w->pindex.len - at);
    }
    size_t at = w->pindex.len;
    pq_tw_begin(&t);
    pq_tw_list(&t, 1, TC_STRUCT, (uint32_t)c->npages);
    for (size_t i = 0; i < c->npages; i++) {
        pq_tw_elem_struct(&t);
        pq_tw_i64(&t, 1, m->data_off + c->pages[i].offset);
        pq_tw_i32(&t, 2, c->pages[i].size);
        pq_tw_i64(&t, 3, c->pages[i].first_row);
        pq_tw_end(&t);
    }
    pq_tw_end(&t);
    SL_TRY(t.rc);
    m->oi_off = (int64_t)at;
    m->oi_len = (int32_t)(w->pindex.len - at);
    return SL_OK;
}

/* The encoding a column chunk starts with. */
static void start_chunk(pq_writer *w, pq_col *c)
{
    int ints = c->ptype == PQ_INT32 || c->ptype == PQ_INT64;
    c->dict_on = w->opt.dictionary && c->ptype != PQ_BOOLEAN && !c->dict_skip;
    if (c->ptype == PQ_BOOLEAN) c->mode = MODE_PLAIN;
    else if (ints) c->mode = w->opt.delta || c->dict_on ? MODE_UNDECIDED : MODE_PLAIN;
    else c->mode = c->dict_on ? MODE_DICT : MODE_PLAIN;
}

static sl_code flush_chunk(pq_writer *w, pq_col *c, chunk_meta *m, sl_err *err)
{
    SL_TRY(flush_page(w, c, err));
    memset(m, 0, sizeof *m);
    m->start = (int64_t)w->sink->bytes;
    m->dict_off = -1;
    int64_t unc = c->unc, comp = c->comp;
    if (c->mode_pages[MODE_DICT] > 0) {
        SL_TRY(pq_compress(w->comp, c->dict.body.data, c->dict.body.len, &w->cbuf, err));
        if (c->dict.n > INT32_MAX) return sl_err_set(err, SL_E_INTERNAL, "dictionary of %u entries", c->dict.n);
        SL_TRY(page_header(w, PQ_DICTIONARY_PAGE, c->dict.body.len, w->cbuf.len, (int32_t)c->dict.n, 0, NULL, 0, 0,
                           1, 1, err));
        SL_TRY(sink_write(w, w->hdr.data, w->hdr.len, err));
        SL_TRY(sink_write(w, w->cbuf.data, w->cbuf.len, err));
        m->dict_off = m->start;
        m->has_dict_page = 1;
        unc += (int64_t)(w->hdr.len + c->dict.body.len);
        comp += (int64_t)(w->hdr.len + w->cbuf.len);
        c->enc |= ENC_PLAIN;
    }
    m->data_off = (int64_t)w->sink->bytes;
    SL_TRY(sink_write(w, c->chunk.data, c->chunk.len, err));
    m->num_values = c->page_first_row;
    m->unc = unc;
    m->comp = comp;
    m->enc = c->enc;
    memcpy(m->pages, c->mode_pages, sizeof m->pages);
    m->nulls = c->cst.nulls;
    m->has_minmax = c->cst.has;
    uint32_t mnl, mxl;
    SL_TRY(encode_bounds(w, &c->cst, c->order, &mnl, &mxl, &m->min_exact, &m->max_exact, err));
    if (c->cst.has) {
        m->minmax = sl_malloc((size_t)mnl + mxl + 1);
        if (!m->minmax) return sl_err_set(err, SL_E_NOMEM, "out of memory for statistics of column %s", col_name(c));
        if (mnl + mxl) memcpy(m->minmax, w->bound.data, (size_t)mnl + mxl); /* both bounds may be "" */
        m->min_len = mnl;
        m->max_len = mxl;
    }
    if (w->opt.page_index) SL_TRY(write_page_index(w, c, m, err));

    /* Reset for the next chunk. */
    c->chunk.len = 0;
    c->bounds.len = 0;
    c->npages = 0;
    c->unc = c->comp = 0;
    memset(c->mode_pages, 0, sizeof c->mode_pages);
    c->enc = 0;
    c->page_first_row = 0;
    pq_stats_reset(&c->cst);
    dict_clear(&c->dict);
    start_chunk(w, c);
    return SL_OK;
}

static sl_code flush_row_group(pq_writer *w, sl_err *err)
{
    if (w->rg_rows == 0) return SL_OK;
    if (w->nrg == w->rg_cap) {
        int nc = w->rg_cap ? w->rg_cap * 2 : 8;
        rg_meta *nr = sl_realloc(w->rgs, (size_t)nc * sizeof *nr);
        if (!nr) return sl_err_set(err, SL_E_NOMEM, "out of memory for row-group metadata");
        w->rgs = nr;
        w->rg_cap = nc;
    }
    rg_meta *rg = &w->rgs[w->nrg];
    memset(rg, 0, sizeof *rg);
    rg->cols = sl_calloc((size_t)w->ncols, sizeof *rg->cols);
    if (!rg->cols) return sl_err_set(err, SL_E_NOMEM, "out of memory for row-group metadata");
    w->nrg++;
    rg->rows = w->rg_rows;
    rg->offset = (int64_t)w->sink->bytes;
    for (int i = 0; i < w->ncols; i++) {
        SL_TRY(flush_chunk(w, &w->cols[i], &rg->cols[i], err));
        rg->unc += rg->cols[i].unc;
        rg->comp += rg->cols[i].comp;
    }
    w->rg_rows = 0;
    return SL_OK;
}

static size_t row_group_est(const pq_writer *w)
{
    size_t s = 0;
    for (int i = 0; i < w->ncols; i++) {
        const pq_col *c = &w->cols[i];
        s += (size_t)c->unc + page_est(c) + c->dict.body.len;
    }
    return s;
}

/* ---------------------------------------------------------------------------------- */
/* open, write, close */

static sl_code validate_schema(const sl_schema *s, sl_err *err)
{
    if (!s || s->ncols <= 0) return sl_err_set(err, SL_E_SCHEMA, "a Parquet file needs at least one column");
    for (int i = 0; i < s->ncols; i++) {
        const sl_field *f = &s->fields[i];
        if (!f->name || !f->name[0]) return sl_err_set(err, SL_E_SCHEMA, "column %d has no name", i + 1);
        if (f->type.id < SL_BOOL || f->type.id >= SL_TYPE__COUNT)
            return sl_err_set(err, SL_E_SCHEMA, "column %s: unknown type %d", f->name, (int)f->type.id);
        if (f->type.id == SL_DECIMAL &&
            (f->type.precision < 1 || f->type.precision > 76 || f->type.scale > f->type.precision))
            return sl_err_set(err, SL_E_SCHEMA, "column %s: DECIMAL(%d,%d) is not valid", f->name,
                              f->type.precision, f->type.scale);
        for (int j = 0; j < i; j++)
            if (strcmp(s->fields[j].name, f->name) == 0)
                return sl_err_set(err, SL_E_SCHEMA, "column %s appears twice", f->name);
    }
    return SL_OK;
}

static sl_code validate_options(const pq_options *o, sl_err *err)
{
    if (o->page_size < 1024 || o->page_size > ((size_t)1 << 30))
        return sl_err_set(err, SL_E_CONFIG, "page size %zu is out of range (1 KiB to 1 GiB)", o->page_size);
    if (o->row_group_size < o->page_size)
        return sl_err_set(err, SL_E_CONFIG, "row-group size %zu is below the page size %zu", o->row_group_size,
                          o->page_size);
    if (o->row_group_rows < 0) return sl_err_set(err, SL_E_CONFIG, "row-group rows must not be negative");
    if (o->codec == PQ_CODEC_ZSTD && (o->zstd_level < -7 || o->zstd_level > 22))
        return sl_err_set(err, SL_E_CONFIG, "zstd level %d is out of range (-7 to 22)", o->zstd_level);
    if (o->codec == PQ_CODEC_GZIP && (o->gzip_level < 0 || o->gzip_level > 9))
        return sl_err_set(err, SL_E_CONFIG, "gzip level %d is out of range (0 to 9)", o->gzip_level);
    return SL_OK;
}

pq_writer *pq_writer_open(sl_sink *sink, const sl_schema *schema, const pq_options *opt, sl_err *err)
{
    pq_options dflt;
    if (!opt) {
        pq_options_default(&dflt);
        opt = &dflt;
    }
    if (validate_schema(schema, err) != SL_OK || validate_options(opt, err) != SL_OK) return NULL;
    pq_writer *w = sl_calloc(1, sizeof *w);
    if (!w) {
        sl_err_set(err, SL_E_NOMEM, "out of memory opening a Parquet writer");
        return NULL;
    }
    w->sink = sink;
    w->schema = schema;
    w->opt = *opt;
    w->opt.kv = NULL;
    w->ncols = schema->ncols;
    sl_buf_init(&w->body, 0);
    sl_buf_init(&w->cbuf, 0);
    sl_buf_init(&w->hdr, 0);
    sl_buf_init(&w->tmp, 0);
    sl_buf_init(&w->bound, 0);
    sl_buf_init(&w->remap, 0);
    sl_buf_init(&w->pindex, 0);
    w->comp = pq_compressor_create(opt->codec, opt->codec == PQ_CODEC_ZSTD ? opt->zstd_level : opt->gzip_level, err);
    w->cols = sl_calloc((size_t)w->ncols, sizeof *w->cols);
    w->kv = opt->kv_count > 0 ? sl_calloc((size_t)opt->kv_count, sizeof *w->kv) : NULL;
    if (!w->comp) goto fail; /* pq_compressor_create said why */
    if (!w->cols || (opt->kv_count > 0 && !w->kv)) goto nomem;
    for (int i = 0; i < opt->kv_count; i++) {
        w->kv[i].key = sl_strdup(opt->kv[i].key ? opt->kv[i].key : "");
        w->kv[i].value = opt->kv[i].value ? sl_strdup(opt->kv[i].value) : NULL;
        w->kv_count = i + 1;
        if (!w->kv[i].key || (opt->kv[i].value && !w->kv[i].value)) goto nomem;
    }
    for (int i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        c->f = &schema->fields[i];
        physical(c->f, &c->ptype, &c->width, &c->order);
        c->max_def = c->f->nullable ? 1 : 0;
        c->page_seq = 1;
        sl_buf_init(&c->pbytes, 0);
        sl_buf_init(&c->chunk, 0);
        sl_buf_init(&c->bounds, 0);
        sl_buf_init(&c->dict.body, 0);
        pq_stats_init(&c->pst);
        pq_stats_init(&c->cst);
        c->defs = sl_malloc(PQ_PAGE_ROWS);
        c->idx = sl_malloc(PQ_PAGE_ROWS * sizeof *c->idx);
        c->raw = c->width ? sl_malloc((size_t)PQ_PAGE_ROWS * (size_t)c->width) : NULL;
        if (!c->defs || !c->idx || (c->width && !c->raw)) goto nomem;
        start_chunk(w, c);
    }
    if (opt->spare) spare_take(w, opt->spare);
    if (sink_write(w, "PAR1", 4, err) != SL_OK) goto fail;
    return w;
nomem:
    sl_err_set(err, SL_E_NOMEM, "out of memory opening a Parquet writer");
fail:
    pq_writer_free(w);
    return NULL;
}

sl_code pq_writer_write(pq_writer *w, const sl_batch *batch, sl_err *err)
{
    if (w->closed || w->failed)
        return sl_err_set(err, SL_E_INTERNAL, "Parquet writer used after %s", w->closed ? "close" : "a failure");
    if (batch->schema != w->schema && batch->schema->ncols != w->ncols)
        return sl_err_set(err, SL_E_INTERNAL, "batch of %d columns written to a file of %d", batch->schema->ncols,
                          w->ncols);
    sl_code rc = SL_OK;
    size_t r = 0;
    while (r < batch->nrows) {
        size_t n = batch->nrows - r;
        if (n > PQ_SLICE_ROWS) n = PQ_SLICE_ROWS;
        if (w->opt.row_group_rows > 0 && (int64_t)n > w->opt.row_group_rows - w->rg_rows)
            n = (size_t)(w->opt.row_group_rows - w->rg_rows);
        for (int i = 0; i < w->ncols && rc == SL_OK; i++) {
            pq_col *c = &w->cols[i];
            const sl_column *bc = &batch->cols[i];
            if (c->max_def && !bc->valid) {
                rc = sl_err_set(err, SL_E_INTERNAL, "column %s: nullable but the batch has no validity", col_name(c));
                break;
            }
            rc = c->width                          ? append_fixed(w, c, bc, r, n, err)
                 : bc->codes && c->mode == MODE_DICT ? append_coded(w, c, bc, r, n, err)
                                                     : append_var(w, c, bc, r, n, err);
            if (rc != SL_OK) sl_err_prefix(err, "column %s: ", col_name(c));
        }
        if (rc != SL_OK) break;
        w->rg_rows += (int64_t)n;
        w->total_rows += (int64_t)n;
        r += n;
        if ((w->opt.row_group_rows > 0 && w->rg_rows >= w->opt.row_group_rows) ||
            row_group_est(w) >= w->opt.row_group_size) {
            if ((rc = flush_row_group(w, err)) != SL_OK) break;
        }
    }
    if (rc != SL_OK) w->failed = 1;
    return rc;
}

/* ---------------------------------------------------------------------------------- */
/* footer */

static void tw_logical(pq_tw *t, const sl_field *f)
{
    pq_tw_struct(t, 10);
    switch (f->type.id) {
    case SL_INT8: case SL_INT16: case SL_INT32: case SL_INT64:
    case SL_UINT8: case SL_UINT16: case SL_UINT32: case SL_UINT64: {
        static const int8_t bits[] = {[SL_INT8] = 8, [SL_INT16] = 16, [SL_INT32] = 32, [SL_INT64] = 64,
                                      [SL_UINT8] = 8, [SL_UINT16] = 16, [SL_UINT32] = 32, [SL_UINT64] = 64};
        pq_tw_struct(t, PQ_LT_INTEGER);
        pq_tw_i8(t, 1, bits[f->type.id]);
        pq_tw_bool(t, 2, f->type.id <= SL_INT64);
        pq_tw_end(t);
        break;
    }
    case SL_DECIMAL:
        pq_tw_struct(t, PQ_LT_DECIMAL);
        pq_tw_i32(t, 1, f->type.scale);
        pq_tw_i32(t, 2, f->type.precision);
        pq_tw_end(t);
        break;
    case SL_DATE: pq_tw_struct(t, PQ_LT_DATE); pq_tw_end(t); break;
    case SL_TIMESTAMP:
    case SL_TIME:
        pq_tw_struct(t, f->type.id == SL_TIMESTAMP ? PQ_LT_TIMESTAMP : PQ_LT_TIME);
        pq_tw_bool(t, 1, f->type.id == SL_TIMESTAMP); /* instants are UTC; a TIME is a wall-clock time */
        pq_tw_struct(t, 2);
        pq_tw_struct(t, PQ_TU_MICROS);
        pq_tw_end(t);
        pq_tw_end(t);
        pq_tw_end(t);
        break;
    /* An ENUM's labels are text: Parquet's ENUM annotation makes pyarrow (so pandas and
     * Polars) read bytes, so it is written as STRING; sluice.origin.<column> keeps the
     * MySQL type. */
    case SL_STRING: case SL_ENUM: pq_tw_struct(t, PQ_LT_STRING); pq_tw_end(t); break;
    case SL_JSON: pq_tw_struct(t, PQ_LT_JSON); pq_tw_end(t); break;
    default: break;
    }
    pq_tw_end(t);
}

static int has_logical(sl_type_id id) { return id != SL_BOOL && id != SL_FLOAT && id != SL_DOUBLE && id != SL_BINARY; }

static int converted(sl_type_id id)
{
    switch (id) {
    case SL_INT8: return PQ_CT_INT_8;
    case SL_INT16: return PQ_CT_INT_16;
    case SL_INT32: return PQ_CT_INT_32;
    case SL_INT64: return PQ_CT_INT_64;
    case SL_UINT8: return PQ_CT_UINT_8;
    case SL_UINT16: return PQ_CT_UINT_16;
    case SL_UINT32: return PQ_CT_UINT_32;
    case SL_UINT64: return PQ_CT_UINT_64;
    case SL_DECIMAL: return PQ_CT_DECIMAL;
    case SL_DATE: return PQ_CT_DATE;
    case SL_TIMESTAMP: return PQ_CT_TIMESTAMP_MICROS;
    case SL_STRING: case SL_ENUM: return PQ_CT_UTF8;
    case SL_JSON: return PQ_CT_JSON;
    default: return -1; /* TIME without UTC adjustment has no legacy equivalent */
    }
}

static void tw_schema(pq_writer *w, pq_tw *t)
{
    pq_tw_list(t, 2, TC_STRUCT, (uint32_t)w->ncols + 1);
    pq_tw_elem_struct(t);
    pq_tw_i32(t, 3, PQ_REQUIRED);
    pq_tw_string(t, 4, "schema");
    pq_tw_i32(t, 5, w->ncols);
    pq_tw_end(t);
    for (int i = 0; i < w->ncols; i++) {
        const pq_col *c = &w->cols[i];
        const sl_field *f = c->f;
        pq_tw_elem_struct(t);
        pq_tw_i32(t, 1, c->ptype);
        if (c->ptype == PQ_FIXED_LEN_BYTE_ARRAY) pq_tw_i32(t, 2, c->width);
        pq_tw_i32(t, 3, c->max_def ? PQ_OPTIONAL : PQ_REQUIRED);
        pq_tw_string(t, 4, f->name);
        int ct = converted(f->type.id);
        if (ct >= 0) pq_tw_i32(t, 6, ct);
        if (f->type.id == SL_DECIMAL) {
            pq_tw_i32(t, 7, f->type.scale);
            pq_tw_i32(t, 8, f->type.precision);
        }
        if (has_logical(f->type.id)) tw_logical(t, f);
        pq_tw_end(t);
    }
}

static void tw_column_chunk(pq_writer *w, pq_tw *t, const pq_col *c, const chunk_meta *m, int64_t pindex_at)
{
    pq_tw_elem_struct(t);
    pq_tw_i64(t, 2, m->start);
    pq_tw_struct(t, 3); /* ColumnMetaData */
    pq_tw_i32(t, 1, c->ptype);
    uint32_t nenc = (uint32_t)__builtin_popcount(m->enc);
    pq_tw_list(t, 2, TC_I32, nenc);
    for (int e = 0; e < 32; e++)
        if (m->enc & (1u << e)) pq_tw_elem_i32(t, e);
    pq_tw_list(t, 3, TC_BINARY, 1);
    pq_tw_elem_binary(t, c->f->name, strlen(c->f->name));
    pq_tw_i32(t, 4, (int32_t)w->opt.codec);
    pq_tw_i64(t, 5, m->num_values);
    pq_tw_i64(t, 6, m->unc);
    pq_tw_i64(t, 7, m->comp);
    pq_tw_i64(t, 9, m->data_off);
    if (m->dict_off >= 0) pq_tw_i64(t, 11, m->dict_off);
    pq_vstats st = {.has = m->has_minmax, .nulls = m->nulls};
    tw_stats(t, 12, &st, m->minmax, m->min_len, m->minmax ? m->minmax + m->min_len : NULL, m->max_len, m->min_exact,
             m->max_exact);
    /* encoding_stats: lets readers know whether every data page is dictionary-encoded. */
    static const int mode_enc[4] = {0, PQ_ENC_RLE_DICTIONARY, PQ_ENC_PLAIN, PQ_ENC_DELTA_BINARY_PACKED};
    uint32_t nes = (uint32_t)m->has_dict_page;
    for (int k = 1; k < 4; k++) nes += m->pages[k] > 0;
    pq_tw_list(t, 13, TC_STRUCT, nes);
    if (m->has_dict_page) {
        pq_tw_elem_struct(t);
        pq_tw_i32(t, 1, PQ_DICTIONARY_PAGE);
        pq_tw_i32(t, 2, PQ_ENC_PLAIN);
        pq_tw_i32(t, 3, 1);
        pq_tw_end(t);
    }
    for (int k = 1; k < 4; k++) {
        if (!m->pages[k]) continue;
        pq_tw_elem_struct(t);
        pq_tw_i32(t, 1, PQ_DATA_PAGE);
        pq_tw_i32(t, 2, mode_enc[k]);
        pq_tw_i32(t, 3, m->pages[k]);
        pq_tw_end(t);
    }
    pq_tw_end(t); /* ColumnMetaData */
    if (w->opt.page_index) {
        pq_tw_i64(t, 4, pindex_at + m->oi_off);
        pq_tw_i32(t, 5, m->oi_len);
        if (m->ci_len) {
            pq_tw_i64(t, 6, pindex_at + m->ci_off);
            pq_tw_i32(t, 7, m->ci_len);
        }
    }
    pq_tw_end(t);
}

static sl_code write_footer(pq_writer *w, sl_err *err)
{
    int64_t pindex_at = (int64_t)w->sink->bytes;
    if (w->pindex.len) SL_TRY(sink_write(w, w->pindex.data, w->pindex.len, err));

    sl_buf meta;
    sl_buf_init(&meta, 0);
    pq_tw t;
    pq_tw_init(&t, &meta, err);
    pq_tw_begin(&t);
    pq_tw_i32(&t, 1, 2);
    tw_schema(w, &t);
    pq_tw_i64(&t, 3, w->total_rows);
    pq_tw_list(&t, 4, TC_STRUCT, (uint32_t)w->nrg);
    for (int g = 0; g < w->nrg; g++) {
        const rg_meta *rg = &w->rgs[g];
        pq_tw_elem_struct(&t);
        pq_tw_list(&t, 1, TC_STRUCT, (uint32_t)w->ncols);
        for (int i = 0; i < w->ncols; i++) tw_column_chunk(w, &t, &w->cols[i], &rg->cols[i], pindex_at);
        pq_tw_i64(&t, 2, rg->unc);
        pq_tw_i64(&t, 3, rg->rows);
        pq_tw_i64(&t, 5, rg->offset);
        pq_tw_i64(&t, 6, rg->comp);
        pq_tw_i16(&t, 7, (int16_t)g);
        pq_tw_end(&t);
    }
    uint32_t nkv = (uint32_t)w->kv_count;
    for (int i = 0; i < w->ncols; i++) nkv += w->cols[i].f->origin != NULL;
    if (nkv) {
        pq_tw_list(&t, 5, TC_STRUCT, nkv);
        for (int i = 0; i < w->ncols; i++) {
            const sl_field *f = w->cols[i].f;
            if (!f->origin) continue;
            char key[600];
            snprintf(key, sizeof key, "sluice.origin.%s", f->name);
            pq_tw_elem_struct(&t);
            pq_tw_string(&t, 1, key);
            pq_tw_string(&t, 2, f->origin);
            pq_tw_end(&t);
        }
        for (int i = 0; i < w->kv_count; i++) {
            pq_tw_elem_struct(&t);
            pq_tw_string(&t, 1, w->kv[i].key);
            if (w->kv[i].value) pq_tw_string(&t, 2, w->kv[i].value);
            pq_tw_end(&t);
        }
    }
    pq_tw_string(&t, 6, "sluice version " SLUICE_VERSION " (build " SLUICE_BUILD ")");
    pq_tw_list(&t, 7, TC_STRUCT, (uint32_t)w->ncols);
    for (int i = 0; i < w->ncols; i++) {
        pq_tw_elem_struct(&t); /* ColumnOrder union */
        pq_tw_struct(&t, 1);   /* TYPE_ORDER: TypeDefinedOrder {} */
        pq_tw_end(&t);
        pq_tw_end(&t);
    }
    pq_tw_end(&t);
    sl_code rc = t.rc;
    if (rc == SL_OK && meta.len > UINT32_MAX) rc = sl_err_set(err, SL_E_LIMIT, "Parquet footer over 4 GiB");
    if (rc == SL_OK) rc = sink_write(w, meta.data, meta.len, err);
    if (rc == SL_OK) {
        uint8_t tail[8];
        uint32_t n = (uint32_t)meta.len;
        memcpy(tail, &n, 4);
        memcpy(tail + 4, "PAR1", 4);
        rc = sink_write(w, tail, 8, err);
    }
    sl_buf_free(&meta);
    return rc;
}

sl_code pq_writer_close(pq_writer *w, pq_file_info *info, sl_err *err)
{
    if (w->closed || w->failed)
        return sl_err_set(err, SL_E_INTERNAL, "Parquet writer closed after %s", w->closed ? "close" : "a failure");
    sl_code rc = flush_row_group(w, err);
    if (rc == SL_OK) rc = write_footer(w, err);
    if (rc == SL_OK) rc = sl_sink_finish(w->sink, err);
    if (rc != SL_OK) {
        w->failed = 1;
        return rc;
    }
    w->closed = 1;
    if (info) {
        info->rows = w->total_rows;
        info->bytes = w->sink->bytes;
        info->row_groups = w->nrg;
    }
    return SL_OK;
}

void pq_writer_free(pq_writer *w)
{
    if (!w) return;
    if (!w->closed && w->sink && w->sink->state == SL_SINK_OPEN) sl_sink_abort(w->sink);
    if (w->opt.spare && w->cols) spare_give(w, w->opt.spare);
    for (int i = 0; w->cols && i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        sl_free(c->defs);
        sl_free(c->idx);
        sl_free(c->raw);
        sl_free(c->pages);
        sl_buf_free(&c->pbytes);
        sl_buf_free(&c->chunk);
        sl_buf_free(&c->bounds);
        pq_stats_free(&c->pst);
        pq_stats_free(&c->cst);
        dict_free(&c->dict);
    }
    sl_free(w->cols);
    sl_buf_free(&w->remap);
    for (int g = 0; g < w->nrg; g++) {
        for (int i = 0; i < w->ncols; i++) sl_free(w->rgs[g].cols[i].minmax);
        sl_free(w->rgs[g].cols);
    }
    sl_free(w->rgs);
    for (int i = 0; i < w->kv_count; i++) {
        sl_free((char *)w->kv[i].key);
        sl_free((char *)w->kv[i].value);
    }
    sl_free(w->kv);
    pq_compressor_free(w->comp);
    sl_buf_free(&w->body);
    sl_buf_free(&w->cbuf);
    sl_buf_free(&w->hdr);
    sl_buf_free(&w->tmp);
    sl_buf_free(&w->bound);
    sl_buf_free(&w->pindex);
    sl_free(w);
}
