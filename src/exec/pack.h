/* pack.h - records a task hands to the commit inside its JSON result (`sluice run`'s
 * products and units sold): the bytes zstd-compressed as one stream, cut into base64
 * JSON strings of at most SL_PACK_CHUNK characters, in a JSON array. Neither side holds
 * the whole uncompressed record stream: the writer compresses as records come, the
 * reader hands the decompressed bytes over a window at a time (at 200,000 products the
 * uncompressed stream, its base64 and the JSON copy of that took 53 MiB at once). */
#ifndef SL_PACK_H
#define SL_PACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

#define SL_PACK_CHUNK (1u << 20)

typedef struct sl_pack sl_pack;

sl_pack *sl_pack_begin(sl_err *err);
/* Appends n bytes to the stream. */
sl_code sl_pack_put(sl_pack *p, const void *data, size_t n, sl_err *err);
/* Ends the stream: *out is the JSON array of strings (the caller owns it). Frees p,
 * whatever the outcome. */
sl_code sl_pack_end(sl_pack *p, json_t **out, sl_err *err);
void sl_pack_free(sl_pack *p);

/* Reads the stream `a` (sl_pack_end's array) back: fn gets the bytes not yet taken, and
 * sets *used to how many of them it took (whole records; it takes none of a record it
 * has not got entirely). Errors name `whose` stream ("the result of task 3") and `what`
 * it holds ("products"): a stream that is not valid, or ends inside a record, is
 * SL_E_FORMAT. */
typedef sl_code (*sl_unpack_fn)(void *ud, const uint8_t *p, size_t n, size_t *used, sl_err *err);
sl_code sl_unpack(const json_t *a, const char *whose, const char *what, sl_unpack_fn fn, void *ud, sl_err *err);

/* The same stream read at the caller's pace, several at once (the commit merges the
 * shards' units sold with the products): sl_unpacker_take gives the next `need` bytes in
 * *p (valid until the next call), or *p = NULL at the stream's end; a stream that is not
 * valid, cut short or ends inside a record is SL_E_FORMAT, as above. */
typedef struct sl_unpacker sl_unpacker;
sl_unpacker *sl_unpacker_open(const json_t *a, const char *whose, const char *what, sl_err *err);
sl_code sl_unpacker_take(sl_unpacker *u, size_t need, const uint8_t **p, sl_err *err);
void sl_unpacker_free(sl_unpacker *u);

#endif
