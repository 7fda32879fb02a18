/* pack.h - records a task hands to the commit inside its JSON result (`sluice run`'s
 * products and units sold): the bytes zstd-compressed as one stream, cut into base64
 * JSON strings of at most SL_PACK_CHUNK characters, in a JSON array. Neither side holds
 * the whole uncompressed record stream: the writer compresses as records come, the
 * reader hands the decompressed bytes over a window at a time (at 200,000 products the
 * uncompressed stream, its base64 and the JSON copy of that took 53 MiB at once).
 * Past a bound the compressed stream leaves the JSON for an object of the output store
 * (sl_pack_begin_spill), which the reader then reads a part at a time: the results a
 * run holds until its commit stay bounded however many products it has. */
#ifndef SL_PACK_H
#define SL_PACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"
#include "../sink/sink.h"
#include "../sink/store.h"

#define SL_PACK_CHUNK (1u << 20)

typedef struct sl_pack sl_pack;

sl_pack *sl_pack_begin(sl_err *err);
/* As sl_pack_begin, but once the compressed stream passes inline_max bytes, spill(ud)
 * is called once for a sink, and the whole stream goes there instead of the JSON. The
 * sink stays the caller's: sl_pack_end finishes it (the caller releases it either way). */
typedef sl_sink *(*sl_pack_spill_fn)(void *ud, sl_err *err);
sl_pack *sl_pack_begin_spill(size_t inline_max, sl_pack_spill_fn spill, void *ud, sl_err *err);
/* Appends n bytes to the stream. */
sl_code sl_pack_put(sl_pack *p, const void *data, size_t n, sl_err *err);
/* Ends the stream: *out is the JSON array of strings (the caller owns it), or NULL when
 * the stream was spilled (its sink is then finished: the caller records where it is, as
 * {"partition", "name", "bytes"}, for the reader). Frees p, whatever the outcome. */
sl_code sl_pack_end(sl_pack *p, json_t **out, sl_err *err);
void sl_pack_free(sl_pack *p);

/* Reads the stream `a` back (sl_pack_end's array, or the object its caller recorded for
 * a spilled stream, read from st, where its size must still be the one recorded): fn gets the bytes not yet taken, and
 * sets *used to how many of them it took (whole records; it takes none of a record it
 * has not got entirely). Errors name `whose` stream ("the result of task 3") and `what`
 * it holds ("products"): a stream that is not valid, or ends inside a record, is
 * SL_E_FORMAT. */
typedef sl_code (*sl_unpack_fn)(void *ud, const uint8_t *p, size_t n, size_t *used, sl_err *err);
sl_code sl_unpack(sl_store *st, const json_t *a, const char *whose, const char *what, sl_unpack_fn fn, void *ud,
                  sl_err *err);

/* The same stream read at the caller's pace, several at once (the commit merges the
 * shards' units sold with the products): sl_unpacker_take gives the next `need` bytes in
 * *p (valid until the next call), or *p = NULL at the stream's end; a stream that is not
 * valid, cut short or ends inside a record is SL_E_FORMAT, as above. */
typedef struct sl_unpacker sl_unpacker;
sl_unpacker *sl_unpacker_open(sl_store *st, const json_t *a, const char *whose, const char *what, sl_err *err);
sl_code sl_unpacker_take(sl_unpacker *u, size_t need, const uint8_t **p, sl_err *err);
void sl_unpacker_free(sl_unpacker *u);

#endif
