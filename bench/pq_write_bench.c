/* pq_write_bench.c - benchmark of the Parquet writer: N rows of an orders-like schema
 * (int64 id, int32 customer id, timestamp, decimal(12,2), a short low-cardinality
 * string, a nullable double), generated deterministically into column batches first,
 * then written; only the writing is timed. bench/pq_bench.py compares it with pyarrow
 * and DuckDB on the same values (it loads them from --dump).
 *
 * Usage: pq_write_bench ROWS CODEC OUT.parquet [--level N] [--dump DIR]
 * Prints one JSON line: rows, codec, bytes, mem_seconds (writer into a memory sink: the
 * encoding and compression work, comparable with a library writing into the page cache),
 * file_seconds (the same into the local-file sink, including its fsync and rename).
 * --dump writes the generated columns as raw Arrow buffers into DIR: id.i64,
 * customer_id.i32, ts.i64, amount.d128 (16-byte little-endian unscaled), status.off
 * (int32 offsets) + status.dat, discount.f64 + discount.valid (LSB-first bitmap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/batch/batch.h"
#include "../src/parquet/parquet.h"
#include "../src/sink/sink.h"

#define BATCH_ROWS 65536

static uint64_t splitmix(uint64_t x)
{
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Status shares of the seeded orders table: pending 4%, paid 8%, shipped 12%,
 * delivered 64%, cancelled 8%, returned 4%. */
static const char *status_of(unsigned pct)
{
    if (pct < 4) return "pending";
    if (pct < 12) return "paid";
    if (pct < 24) return "shipped";
    if (pct < 88) return "delivered";
    if (pct < 96) return "cancelled";
    return "returned";
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what, const sl_err *err)
{
    fprintf(stderr, "pq_write_bench: %s: %s\n", what, err ? err->msg : "");
    return 1;
}

static sl_code generate(sl_batch *b, int64_t first, size_t n, sl_err *err)
{
    sl_batch_reset(b);
    for (size_t r = 0; r < n; r++) {
        int64_t i = first + (int64_t)r;
        uint64_t h = splitmix((uint64_t)i);
        SL_COL_VALUES(&b->cols[0], int64_t)[r] = i + 1;
        SL_COL_VALUES(&b->cols[1], int32_t)[r] = (int32_t)(1 + h % 100000);
        SL_COL_VALUES(&b->cols[2], int64_t)[r] = 1704067200000000LL + i * 6000000LL + (int64_t)((h >> 20) % 6000000);
        SL_COL_VALUES(&b->cols[3], int64_t)[r] = 100 + (int64_t)((h >> 8) % 5000000);
        const char *st = status_of((unsigned)((h >> 40) % 100));
        SL_TRY(sl_col_set_bytes(&b->cols[4], r, st, strlen(st), err));
        sl_column *d = &b->cols[5];
        if ((h >> 50) % 10 < 3) {
            SL_COL_VALUES(d, double)[r] = 0;
            sl_col_set_null(d, r);
        } else {
            SL_COL_VALUES(d, double)[r] = (double)((h >> 30) % 5000) / 100.0;
            sl_col_set_valid(d, r);
        }
        sl_batch_commit_row(b);
    }
    return SL_OK;
}

static int dump(const char *dir, sl_batch **batches, int nb, int64_t rows)
{
    static const char *const names[] = {"id.i64", "customer_id.i32", "ts.i64", "amount.d128", "status.off",
                                        "status.dat", "discount.f64", "discount.valid"};
    FILE *f[8];
    char path[4096];
    for (int k = 0; k < 8; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        if (!(f[k] = fopen(path, "wb"))) return die(path, NULL);
    }
    uint32_t off = 0;
    uint8_t bits = 0;
    int64_t row = 0;
    fwrite(&off, 4, 1, f[4]);
    for (int k = 0; k < nb; k++) {
        sl_batch *b = batches[k];
        fwrite(b->cols[0].values, 8, b->nrows, f[0]);
        fwrite(b->cols[1].values, 4, b->nrows, f[1]);
        fwrite(b->cols[2].values, 8, b->nrows, f[2]);
        for (size_t r = 0; r < b->nrows; r++) {
            int64_t v[2] = {SL_COL_VALUES(&b->cols[3], int64_t)[r], 0};
            v[1] = v[0] < 0 ? -1 : 0;
            fwrite(v, 8, 2, f[3]);
            uint32_t len;
            const uint8_t *p = sl_col_bytes(&b->cols[4], r, &len);
            fwrite(p, 1, len, f[5]);
            off += len;
            fwrite(&off, 4, 1, f[4]);
            if (b->cols[5].valid[r]) bits |= (uint8_t)(1u << (row % 8));
            if (++row % 8 == 0) {
                fputc(bits, f[7]);
                bits = 0;
            }
        }
        fwrite(b->cols[5].values, 8, b->nrows, f[6]);
    }
    if (rows % 8) fputc(bits, f[7]);
    for (int k = 0; k < 8; k++)
        if (fclose(f[k])) return die("writing the dump", NULL);
    return 0;
}

static sl_code write_all(sl_sink *sink, const sl_schema *s, const pq_options *o, sl_batch **batches, int nb,
                         pq_file_info *info, sl_err *err)
{
    pq_writer *w = pq_writer_open(sink, s, o, err);
    sl_code rc = w ? SL_OK : err->code;
    for (int k = 0; k < nb && rc == SL_OK; k++) rc = pq_writer_write(w, batches[k], err);
    if (rc == SL_OK) rc = pq_writer_close(w, info, err);
    pq_writer_free(w);
    return rc;
}

int main(int argc, char **argv)
{
    sl_err err = {0};
    pq_options o;
    const char *dump_dir = NULL;
    if (argc < 4) {
        fprintf(stderr, "usage: pq_write_bench ROWS CODEC OUT.parquet [--level N] [--dump DIR]\n");
        return 2;
    }
    int64_t rows = atoll(argv[1]);
    pq_options_default(&o);
    if (pq_codec_parse(argv[2], &o.codec, &err) != SL_OK) return die("codec", &err);
    for (int i = 4; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--level")) o.zstd_level = o.gzip_level = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dump")) dump_dir = argv[i + 1];
        else return die(argv[i], NULL);
    }

    sl_schema *s = sl_schema_create(6, &err);
    if (!s) return die("schema", &err);
    sl_schema_set(s, 0, "id", (sl_type){SL_INT64, 0, 0}, 0, "bigint(20) unsigned", &err);
    sl_schema_set(s, 1, "customer_id", (sl_type){SL_INT32, 0, 0}, 0, "int(10) unsigned", &err);
    sl_schema_set(s, 2, "ts", (sl_type){SL_TIMESTAMP, 0, 0}, 0, "datetime", &err);
    sl_schema_set(s, 3, "amount", (sl_type){SL_DECIMAL, 12, 2}, 0, "decimal(12,2)", &err);
    sl_schema_set(s, 4, "status", (sl_type){SL_STRING, 0, 0}, 0, "enum(...)", &err);
    sl_schema_set(s, 5, "discount", (sl_type){SL_DOUBLE, 0, 0}, 1, "double", &err);

    int nb = (int)((rows + BATCH_ROWS - 1) / BATCH_ROWS);
    sl_batch **batches = calloc((size_t)nb + 1, sizeof *batches);
    for (int k = 0; k < nb; k++) {
        int64_t first = (int64_t)k * BATCH_ROWS;
        size_t n = (size_t)(rows - first < BATCH_ROWS ? rows - first : BATCH_ROWS);
        if (!(batches[k] = sl_batch_create(s, BATCH_ROWS, 0, &err)) || generate(batches[k], first, n, &err) != SL_OK)
            return die("generating", &err);
    }
    if (dump_dir && dump(dump_dir, batches, nb, rows)) return 1;

    /* 1: into memory (the writer's own work), 2: into the file sink (plus the file system). */
    pq_file_info info = {0};
    sl_sink *mem = sl_sink_mem_open(&err);
    double t0 = now();
    if (!mem || write_all(mem, s, &o, batches, nb, &info, &err) != SL_OK) return die("writing to memory", &err);
    double mem_s = now() - t0;
    sl_sink_release(mem);

    sl_sink *file = sl_sink_file_open(argv[3], &err);
    t0 = now();
    if (!file || write_all(file, s, &o, batches, nb, &info, &err) != SL_OK) return die(argv[3], &err);
    double file_s = now() - t0;
    sl_sink_release(file);

    printf("{\"rows\": %lld, \"codec\": \"%s\", \"bytes\": %llu, \"row_groups\": %d, \"mem_seconds\": %.4f, "
           "\"file_seconds\": %.4f}\n",
           (long long)info.rows, pq_codec_name(o.codec), (unsigned long long)info.bytes, info.row_groups, mem_s,
           file_s);
    for (int k = 0; k < nb; k++) sl_batch_free(batches[k]);
    free(batches);
    sl_schema_free(s);
    return 0;
}
