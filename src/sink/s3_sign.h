/* s3_sign.h - AWS Signature Version 4 on OpenSSL's HMAC and SHA-256, and the
 * encodings around it (URI encoding, canonical query strings, payload hashes,
 * Content-MD5). Pure functions: checked against AWS's published examples in
 * tests/unit/test_s3.c. */
#ifndef SL_S3_SIGN_H
#define SL_S3_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_error.h"

typedef struct s3_header {
    const char *name;  /* any case; signed in lower case */
    const char *value;
} s3_header;

typedef struct s3_sign_in {
    const char *method;        /* "GET", "PUT", ... */
    const char *path;          /* canonical URI, already encoded ("/bucket/my%20key") */
    const char *query;         /* canonical query string (s3_query_canonical), "" for none */
    const s3_header *headers;  /* every header to sign, host and x-amz-date included */
    int nheaders;
    const char *payload_hash;  /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
    const char *access_key, *secret_key;
    const char *region, *service; /* "us-east-1", "s3" */
    const char *amz_date;      /* YYYYMMDDTHHMMSSZ, the x-amz-date header's value */
} s3_sign_in;

/* The Authorization header's value: "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=...". canonical (may be NULL) receives the canonical request, for tests. */
sl_code s3_sign(const s3_sign_in *in, sl_buf *auth, sl_buf *canonical, sl_err *err);

/* RFC 3986 unreserved characters stay, everything else is %XX (upper case); '/' stays
 * when keep_slash (object keys in paths). */
sl_code s3_uri_encode(const char *s, size_t n, int keep_slash, sl_buf *out, sl_err *err);

/* "k1=v1&k2=v2..." from nq raw pairs (values may be NULL for "k="), sorted by encoded
 * key then value, as SigV4 and the URL both use it. */
sl_code s3_query_canonical(const char *const *pairs, int nq, sl_buf *out, sl_err *err);

void s3_sha256_hex(const void *p, size_t n, char out[65]);
void s3_md5_base64(const void *p, size_t n, char out[32]);
/* "YYYYMMDDTHHMMSSZ" for a Unix time. */
void s3_amz_date(int64_t unix_seconds, char out[17]);

#endif
