/* pq_thrift_read.h - a bounds-checked reader of the thrift compact protocol, used to
 * parse Parquet footers and page headers from untrusted files. Every call checks the
 * remaining bytes and the nesting depth, and fails with SL_E_FORMAT, never reads past. */
#ifndef SL_PQ_THRIFT_READ_H
#define SL_PQ_THRIFT_READ_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_error.h"

#define PQ_TR_MAX_DEPTH 64

typedef struct pq_tr {
    const uint8_t *start, *p, *end;
    int depth;
    sl_err *err; /* may be NULL */
} pq_tr;

/* A field header: type is a TC_* id (TC_STOP at the end of a struct); for a boolean
 * field (TC_TRUE/TC_FALSE) the value is the type itself, read it with pq_tr_field_bool. */
typedef struct pq_tr_field {
    int type;
    int16_t id;
} pq_tr_field;

void pq_tr_init(pq_tr *r, const void *data, size_t len, sl_err *err);
size_t pq_tr_offset(const pq_tr *r);

sl_code pq_tr_varint(pq_tr *r, uint64_t *out);
sl_code pq_tr_byte(pq_tr *r, int8_t *out);
sl_code pq_tr_i16(pq_tr *r, int16_t *out);
sl_code pq_tr_i32(pq_tr *r, int32_t *out);
sl_code pq_tr_i64(pq_tr *r, int64_t *out);
sl_code pq_tr_double(pq_tr *r, double *out);
/* Points into the input; no copy. */
sl_code pq_tr_binary(pq_tr *r, const uint8_t **out, uint32_t *len);

/* Structs: begin pushes a depth level and resets the field-id delta base kept in *last. */
sl_code pq_tr_struct_begin(pq_tr *r, int16_t *last);
sl_code pq_tr_field_next(pq_tr *r, int16_t *last, pq_tr_field *f);
void pq_tr_struct_end(pq_tr *r);
/* The value of a boolean field (its type byte carries it); fails for other types. */
sl_code pq_tr_field_bool(pq_tr *r, const pq_tr_field *f, int *out);

/* Lists and sets: element type and count; count is checked against the bytes left. */
sl_code pq_tr_list_begin(pq_tr *r, int *elem_type, uint32_t *count);
/* A boolean list element is one byte (1 true, 2 false... or 0). */
sl_code pq_tr_bool_elem(pq_tr *r, int *out);

/* Skips one value of the given type, nested structs, lists and maps included. */
sl_code pq_tr_skip(pq_tr *r, int type);

#endif
