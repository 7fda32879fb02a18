/* test_pack.c - records through a task's result (src/exec/pack.c): what sl_unpack hands
 * over is byte for byte what went into sl_pack_put, in record-sized takes whatever the
 * chunk and window boundaries; a stream cut short, altered or of the wrong shape fails. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/exec/pack.h"
#include "../../src/sink/store.h"
#include "test.h"

enum { REC = 13 }; /* an odd record size, so records straddle every boundary */

typedef struct sink {
    uint8_t *got;
    size_t len, cap;
    int calls;
} sink;

/* Takes whole REC-byte records only, as the run's readers do. */
static sl_code take_records(void *ud, const uint8_t *p, size_t n, size_t *used, sl_err *err)
{
    sink *s = ud;
    size_t k = n / REC * REC;
    if (s->len + k > s->cap) return sl_err_set(err, SL_E_LIMIT, "more bytes than were packed");
    memcpy(s->got + s->len, p, k);
    s->len += k;
    s->calls++;
    *used = k;
    return SL_OK;
}

static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n bytes: random ones (incompressible) or a repeating pattern. */
static uint8_t *make_bytes(size_t n, int random)
{
    uint8_t *b = malloc(n ? n : 1);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; b && i < n; i++) b[i] = random ? (uint8_t)rnd_next(&s) : (uint8_t)("sku-0001 Widget"[i % 15]);
    return b;
}

/* Where a spilled stream goes: a file under `root`, named `name`. */
typedef struct spill_to {
    const char *root, *name;
    sl_sink *sink;
    int calls, refuse;
} spill_to;

static sl_sink *open_spill(void *ud, sl_err *err)
{
    spill_to *sp = ud;
    char path[600];
    sp->calls++;
    if (sp->refuse) {
        sl_err_set(err, SL_E_STORAGE, "no room for the spill");
        return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", sp->root, sp->name);
    return sp->sink = sl_sink_file_open(path, err);
}

/* Packs `data` in uneven pieces, spilling past inline_max into sp (NULL: never); *out
 * gets the array, or NULL when spilled. */
static sl_code pack_some(const uint8_t *data, size_t n, size_t inline_max, spill_to *sp, json_t **out)
{
    sl_err err = {0};
    sl_pack *p = sp ? sl_pack_begin_spill(inline_max, open_spill, sp, &err) : sl_pack_begin(&err);
    if (!p) return err.code;
    size_t at = 0, step = 1;
    while (at < n) {
        size_t k = n - at < step ? n - at : step;
        sl_code rc = sl_pack_put(p, data + at, k, &err);
        if (rc != SL_OK) {
            sl_pack_free(p);
            return rc;
        }
        at += k;
        step = step * 7 % 100003 + 1; /* 1, 8, 57, ... */
    }
    sl_code rc = sl_pack_end(p, out, &err);
    if (sp) sl_sink_release(sp->sink);
    return rc;
}

static sl_code pack_all(const uint8_t *data, size_t n, json_t **out) { return pack_some(data, n, 0, NULL, out); }

/* The compressed bytes an inline stream's strings hold. */
static size_t packed_bytes(const json_t *a)
{
    size_t i, n = 0;
    json_t *s;
    json_array_foreach(a, i, s)
    {
        const char *t = json_string_value(s);
        size_t len = json_string_length(s);
        n += len / 4 * 3 - (len && t[len - 1] == '=') - (len > 1 && t[len - 2] == '=');
    }
    return n;
}

static void round_trip(size_t records, int random)
{
    size_t n = records * REC;
    uint8_t *data = make_bytes(n, random);
    CHECK(data != NULL);
    json_t *a = NULL;
    CHECK(pack_all(data, n, &a) == SL_OK);
    CHECK(json_is_array(a) && json_array_size(a) >= 1);
    size_t i;
    json_t *s;
    json_array_foreach(a, i, s) CHECK(json_string_length(s) <= SL_PACK_CHUNK && json_string_length(s) % 4 == 0);
    if (random && n > 3 * (size_t)SL_PACK_CHUNK) CHECK(json_array_size(a) >= 3); /* several strings */
    sink k = {malloc(n + 1), 0, n, 0};
    sl_err err = {0};
    CHECK(sl_unpack(NULL, a, "the result of task 0", "records", take_records, &k, &err) == SL_OK);
    CHECK_EQ_INT(k.len, n);
    CHECK(n == 0 || memcmp(k.got, data, n) == 0);
    json_decref(a);
    free(k.got);
    free(data);
}

static void empty_stream(void) { round_trip(0, 0); }
static void one_record(void) { round_trip(1, 1); }
static void compressible_megabytes(void) { round_trip(400000, 0); } /* 5.2 MB into a few KB */
static void incompressible_over_several_strings(void) { round_trip(300000, 1); } /* 3.9 MB */

static void damaged_streams_fail(void)
{
    size_t n = 200000 * REC;
    uint8_t *data = make_bytes(n, 1);
    CHECK(data != NULL);
    json_t *a = NULL;
    CHECK(pack_all(data, n, &a) == SL_OK);
    CHECK(json_array_size(a) >= 2);
    sink k = {malloc(n + 1), 0, n, 0};
    sl_err err = {0};

    /* the last string left off: the stream is cut short */
    json_t *cut = json_deep_copy(a);
    json_array_remove(cut, json_array_size(cut) - 1);
    CHECK(sl_unpack(NULL, cut, "the result of task 4", "products", take_records, &k, &err) == SL_E_FORMAT);
    CHECK(strstr(err.msg, "task 4") && strstr(err.msg, "products"));
    json_decref(cut);

    /* three characters of a string changed: base64 still, but not the bytes packed */
    json_t *bad = json_deep_copy(a);
    char *t = strdup(json_string_value(json_array_get(bad, 0)));
    t[100] = t[100] == 'A' ? 'B' : 'A';
    t[101] = t[101] == 'A' ? 'B' : 'A';
    t[102] = t[102] == 'A' ? 'B' : 'A';
    json_array_set_new(bad, 0, json_string(t));
    free(t);
    k.len = 0;
    CHECK(sl_unpack(NULL, bad, "the result of task 0", "products", take_records, &k, &err) == SL_E_FORMAT); /* the frame's checksum */
    json_decref(bad);

    /* not base64, not an array */
    json_t *junk = json_pack("[s]", "!!!!");
    CHECK(sl_unpack(NULL, junk, "the result of task 0", "products", take_records, &k, &err) == SL_E_FORMAT);
    json_decref(junk);
    json_t *str = json_string("AAAA");
    CHECK(sl_unpack(NULL, str, "the result of task 0", "products", take_records, &k, &err) == SL_E_FORMAT);
    json_decref(str);
    json_t *none = json_array();
    CHECK(sl_unpack(NULL, none, "the result of task 0", "products", take_records, &k, &err) == SL_E_FORMAT);
    json_decref(none);

    json_decref(a);
    free(k.got);
    free(data);
}

static void a_record_left_half_taken_fails(void)
{
    uint8_t data[REC * 3 + 5];
    memset(data, 7, sizeof data);
    json_t *a = NULL;
    CHECK(pack_all(data, sizeof data, &a) == SL_OK);
    sink k = {malloc(sizeof data), 0, sizeof data, 0};
    sl_err err = {0};
    CHECK(sl_unpack(NULL, a, "the result of task 2", "units sold", take_records, &k, &err) == SL_E_FORMAT);
    CHECK(strstr(err.msg, "inside a record") != NULL);
    CHECK_EQ_INT(k.len, REC * 3);
    json_decref(a);
    free(k.got);
}

/* One record of u, checked against data at *at; *end once u has ended. */
static void take_next(sl_unpacker *u, const uint8_t *data, size_t n, size_t *at, int *end)
{
    const uint8_t *p;
    sl_err err = {0};
    if (*end) return;
    CHECK(sl_unpacker_take(u, REC, &p, &err) == SL_OK);
    if (!p) {
        *end = 1;
        return;
    }
    CHECK(*at + REC <= n && memcmp(p, data + *at, REC) == 0);
    *at += REC;
}

/* Two streams read at once, record by record (the commit's merge): each gives back its
 * bytes in order, then the end; a stream that stops inside a record fails on that take. */
static void unpackers_read_side_by_side(void)
{
    size_t n1 = 300000 * REC, n2 = 1000 * REC; /* several strings, and one */
    uint8_t *d1 = make_bytes(n1, 1), *d2 = make_bytes(n2, 0);
    json_t *a1 = NULL, *a2 = NULL;
    CHECK(d1 && d2 && pack_all(d1, n1, &a1) == SL_OK && pack_all(d2, n2, &a2) == SL_OK);
    CHECK(json_array_size(a1) >= 3);
    sl_err err = {0};
    sl_unpacker *u1 = sl_unpacker_open(NULL, a1, "the result of task 1", "units sold", &err);
    sl_unpacker *u2 = sl_unpacker_open(NULL, a2, "the result of task 2", "units sold", &err);
    CHECK(u1 && u2);
    size_t at1 = 0, at2 = 0;
    int end1 = 0, end2 = 0;
    while (!end1 || !end2) {
        take_next(u1, d1, n1, &at1, &end1);
        for (int k = 0; k < 3; k++) take_next(u2, d2, n2, &at2, &end2); /* another pace */
    }
    CHECK_EQ_INT(at1, n1);
    CHECK_EQ_INT(at2, n2);
    const uint8_t *p = d1;
    CHECK(sl_unpacker_take(u1, REC, &p, &err) == SL_OK && p == NULL); /* the end stays the end */
    sl_unpacker_free(u1);
    sl_unpacker_free(u2);
    /* 3 records and 5 bytes: the fourth take fails, naming the stream */
    json_t *a3 = NULL;
    CHECK(pack_all(d2, REC * 3 + 5, &a3) == SL_OK);
    sl_unpacker *u3 = sl_unpacker_open(NULL, a3, "the result of task 3", "units sold", &err);
    CHECK(u3 != NULL);
    for (int k = 0; k < 3; k++) CHECK(sl_unpacker_take(u3, REC, &p, &err) == SL_OK && p != NULL);
    CHECK(sl_unpacker_take(u3, REC, &p, &err) == SL_E_FORMAT);
    CHECK(strstr(err.msg, "task 3") && strstr(err.msg, "inside a record"));
    sl_unpacker_free(u3);
    /* not a stream at all */
    json_t *junk = json_pack("[s]", "!!!!");
    sl_unpacker *u4 = sl_unpacker_open(NULL, junk, "the result of task 4", "units sold", &err);
    CHECK(u4 != NULL);
    CHECK(sl_unpacker_take(u4, REC, &p, &err) == SL_E_FORMAT);
    sl_unpacker_free(u4);
    json_decref(junk);
    json_decref(a1);
    json_decref(a2);
    json_decref(a3);
    free(d1);
    free(d2);
}

/* Past inline_max compressed bytes the stream goes whole to the spill's sink, once, and
 * reads back from the store through the object the caller records; at inline_max it
 * stays in the JSON. A stored stream of another size, cut, altered or gone fails, naming
 * the stream. */
static void spilled_streams(void)
{
    char root[] = "/tmp/sluice-test-pack-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    sl_err err = {0};
    sl_store *st = sl_store_local_open(root, &err);
    CHECK(st != NULL);
    size_t n = 300000 * REC; /* 3.9 MB, incompressible: several strings */
    uint8_t *data = make_bytes(n, 1);
    json_t *a = NULL;
    CHECK(data && pack_all(data, n, &a) == SL_OK);
    size_t c = packed_bytes(a);
    json_decref(a);

    spill_to at = {root, "_spill/at.zst", NULL, 0, 0};
    CHECK(pack_some(data, n, c, &at, &a) == SL_OK);
    CHECK(json_is_array(a) && at.calls == 0 && packed_bytes(a) == c); /* at the bound: inline */
    json_decref(a);

    spill_to past = {root, "_spill/past.zst", NULL, 0, 0};
    CHECK(pack_some(data, n, c - 1, &past, &a) == SL_OK);
    CHECK(a == NULL && past.calls == 1);
    json_t *obj = json_pack("{s:s, s:s, s:I}", "partition", "", "name", "_spill/past.zst", "bytes", (json_int_t)c);
    sink k = {malloc(n + 1), 0, n, 0};
    CHECK(sl_unpack(st, obj, "the result of task 1", "products", take_records, &k, &err) == SL_OK);
    CHECK_EQ_INT(k.len, n);
    CHECK(memcmp(k.got, data, n) == 0);

    /* spilled early: the first strings go to the sink too */
    spill_to early = {root, "_spill/early.zst", NULL, 0, 0};
    CHECK(pack_some(data, n, 1000, &early, &a) == SL_OK);
    CHECK(a == NULL && early.calls == 1);
    json_t *eobj = json_pack("{s:s, s:s, s:I}", "partition", "_spill/", "name", "early.zst", "bytes", (json_int_t)c);
    k.len = 0;
    CHECK(sl_unpack(st, eobj, "the result of task 1", "products", take_records, &k, &err) == SL_OK);
    CHECK(k.len == n && memcmp(k.got, data, n) == 0);
    json_decref(eobj);

    /* the spill refused: the stream fails with its reason */
    spill_to refuse = {root, "_spill/refused.zst", NULL, 0, 1};
    CHECK(pack_some(data, n, 1000, &refuse, &a) == SL_E_STORAGE && refuse.calls == 1);

    /* another size than recorded */
    json_object_set_new(obj, "bytes", json_integer((json_int_t)c + 1));
    CHECK(sl_unpack(st, obj, "the result of task 1", "products", take_records, &k, &err) == SL_E_FORMAT);
    CHECK(strstr(err.msg, "task 1") && strstr(err.msg, "_spill/past.zst"));
    /* no store to read it from */
    json_object_set_new(obj, "bytes", json_integer((json_int_t)c));
    CHECK(sl_unpack(NULL, obj, "the result of task 1", "products", take_records, &k, &err) == SL_E_INTERNAL);
    /* a byte altered in the middle: the frame's checksum */
    char path[600];
    snprintf(path, sizeof path, "%s/_spill/past.zst", root);
    FILE *f = fopen(path, "r+b");
    CHECK(f && fseek(f, (long)(c / 2), SEEK_SET) == 0);
    int ch = fgetc(f);
    CHECK(fseek(f, (long)(c / 2), SEEK_SET) == 0 && fputc(ch ^ 0x5a, f) != EOF && fclose(f) == 0);
    k.len = 0;
    CHECK(sl_unpack(st, obj, "the result of task 1", "products", take_records, &k, &err) == SL_E_FORMAT);
    /* cut short, with the size recorded to match */
    CHECK(truncate(path, (off_t)(c - 100)) == 0);
    json_object_set_new(obj, "bytes", json_integer((json_int_t)c - 100));
    k.len = 0;
    CHECK(sl_unpack(st, obj, "the result of task 1", "products", take_records, &k, &err) == SL_E_FORMAT);
    /* gone */
    CHECK(unlink(path) == 0);
    CHECK(sl_unpack(st, obj, "the result of task 1", "products", take_records, &k, &err) != SL_OK);
    CHECK(strstr(err.msg, "task 1") && sl_store_is_not_found(&err));
    /* not an object of the right shape */
    json_t *shape = json_pack("{s:s, s:s}", "partition", "", "name", "_spill/early.zst");
    CHECK(sl_unpack(st, shape, "the result of task 1", "products", take_records, &k, &err) == SL_E_FORMAT);
    json_decref(shape);

    json_decref(obj);
    free(k.got);
    free(data);
    sl_store_free(st);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

T_SUITE(suite_pack) = {
    {"empty_stream", empty_stream},
    {"one_record", one_record},
    {"compressible_megabytes", compressible_megabytes},
    {"incompressible_over_several_strings", incompressible_over_several_strings},
    {"damaged_streams_fail", damaged_streams_fail},
    {"a_record_left_half_taken_fails", a_record_left_half_taken_fails},
    {"unpackers_read_side_by_side", unpackers_read_side_by_side},
    {"spilled_streams", spilled_streams},
    T_END,
};
