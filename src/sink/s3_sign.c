/* s3_sign.c - SigV4 (see the header; the algorithm is AWS's "Signature Version 4
 * signing process": canonical request, string to sign, derived key, HMAC). */
#include "s3_sign.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/sl_alloc.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

void s3_sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    hex(d, 32, out);
}

void s3_md5_base64(const void *p, size_t n, char out[32])
{
    uint8_t d[16];
    unsigned int dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_md5(), NULL);
    EVP_EncodeBlock((unsigned char *)out, d, 16);
}

void s3_amz_date(int64_t t, char out[17])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

sl_code s3_uri_encode(const char *s, size_t n, int keep_slash, sl_buf *out, sl_err *err)
{
    static const char hx[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
        if (unreserved) {
            SL_TRY(sl_buf_append_byte(out, c, err));
        } else {
            char e[3] = {'%', hx[c >> 4], hx[c & 15]};
            SL_TRY(sl_buf_append(out, e, 3, err));
        }
    }
    return SL_OK;
}

typedef struct qpair {
    char *k, *v;
} qpair;

static int cmp_q(const void *a, const void *b)
{
    const qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(const char *s, sl_err *err)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    if (s3_uri_encode(s ? s : "", s ? strlen(s) : 0, 0, &b, err) != SL_OK || sl_buf_cstr(&b, err) != SL_OK) {
        sl_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

sl_code s3_query_canonical(const char *const *pairs, int nq, sl_buf *out, sl_err *err)
{
    qpair *q = sl_calloc((size_t)(nq > 0 ? nq : 1), sizeof *q);
    sl_code rc = q ? SL_OK : sl_err_set(err, SL_E_NOMEM, "out of memory signing a request");
    for (int i = 0; rc == SL_OK && i < nq; i++) {
        q[i].k = encode_dup(pairs[2 * i], err);
        q[i].v = encode_dup(pairs[2 * i + 1], err);
        if (!q[i].k || !q[i].v) rc = err && err->code ? err->code : SL_E_NOMEM;
    }
    if (rc == SL_OK) qsort(q, (size_t)nq, sizeof *q, cmp_q);
    for (int i = 0; rc == SL_OK && i < nq; i++) rc = sl_buf_printf(out, err, "%s%s=%s", i ? "&" : "", q[i].k, q[i].v);
    for (int i = 0; q && i < nq; i++) {
        sl_free(q[i].k);
        sl_free(q[i].v);
    }
    sl_free(q);
    if (rc == SL_OK) rc = sl_buf_cstr(out, err);
    return rc;
}

typedef struct hdr {
    char name[128];
    const char *value;
} hdr;

static int cmp_h(const void *a, const void *b) { return strcmp(((const hdr *)a)->name, ((const hdr *)b)->name); }

/* Header values are signed trimmed, with runs of spaces folded to one. */
static sl_code put_trimmed(sl_buf *b, const char *v, sl_err *err)
{
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    for (size_t i = 0; i < n; i++) {
        if ((v[i] == ' ' || v[i] == '\t') && i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t')) continue;
        SL_TRY(sl_buf_append_byte(b, v[i] == '\t' ? ' ' : (uint8_t)v[i], err));
    }
    return SL_OK;
}

static void hmac(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
    unsigned int ol = 32;
    HMAC(EVP_sha256(), key, (int)klen, msg, mlen, out, &ol);
}

sl_code s3_sign(const s3_sign_in *in, sl_buf *auth, sl_buf *canonical, sl_err *err)
{
    if (in->nheaders <= 0 || in->nheaders > 64) return sl_err_set(err, SL_E_INTERNAL, "signing %d headers", in->nheaders);
    hdr h[64];
    for (int i = 0; i < in->nheaders; i++) {
        size_t n = strlen(in->headers[i].name);
        if (n >= sizeof h[i].name) return sl_err_set(err, SL_E_INTERNAL, "header name too long");
        for (size_t j = 0; j <= n; j++) {
            char c = in->headers[i].name[j];
            h[i].name[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        h[i].value = in->headers[i].value;
    }
    qsort(h, (size_t)in->nheaders, sizeof h[0], cmp_h);

    sl_buf cr, signed_h;
    sl_buf_init(&cr, 0);
    sl_buf_init(&signed_h, 0);
    sl_code rc = sl_buf_printf(&cr, err, "%s\n%s\n%s\n", in->method, in->path, in->query ? in->query : "");
    for (int i = 0; rc == SL_OK && i < in->nheaders; i++) {
        rc = sl_buf_printf(&cr, err, "%s:", h[i].name);
        if (rc == SL_OK) rc = put_trimmed(&cr, h[i].value, err);
        if (rc == SL_OK) rc = sl_buf_append_byte(&cr, '\n', err);
        if (rc == SL_OK) rc = sl_buf_printf(&signed_h, err, "%s%s", i ? ";" : "", h[i].name);
    }
    if (rc == SL_OK) rc = sl_buf_cstr(&signed_h, err);
    if (rc == SL_OK) rc = sl_buf_printf(&cr, err, "\n%s\n%s", (char *)signed_h.data, in->payload_hash);
    if (rc == SL_OK) rc = sl_buf_cstr(&cr, err);
    if (rc != SL_OK) goto done;

    char date[9], crhash[65], scope[160];
    /* The string to sign is built in fixed buffers: a date that is not YYYYMMDDTHHMMSSZ or
     * a scope that does not fit would sign (and read) past what was written. */
    if (strlen(in->amz_date) != 16 || strspn(in->amz_date, "0123456789") != 8 || in->amz_date[8] != 'T' ||
        strspn(in->amz_date + 9, "0123456789") != 6 || in->amz_date[15] != 'Z') {
        rc = sl_err_set(err, SL_E_INTERNAL, "x-amz-date '%.40s' is not YYYYMMDDTHHMMSSZ", in->amz_date);
        goto done;
    }
    snprintf(date, sizeof date, "%.8s", in->amz_date);
    if (snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, in->region, in->service) >= (int)sizeof scope) {
        rc = sl_err_set(err, SL_E_CONFIG, "AWS region '%.60s...' is too long (%zu characters)", in->region,
                        strlen(in->region));
        goto done;
    }
    s3_sha256_hex(cr.data, cr.len, crhash);
    char sts[400];
    int sl = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", in->amz_date, scope, crhash);

    uint8_t k[32];
    size_t slen = strlen(in->secret_key);
    char *kinit = sl_malloc(slen + 5);
    if (!kinit) {
        rc = sl_err_set(err, SL_E_NOMEM, "out of memory signing a request");
        goto done;
    }
    memcpy(kinit, "AWS4", 4);
    memcpy(kinit + 4, in->secret_key, slen);
    hmac(kinit, slen + 4, date, strlen(date), k);
    OPENSSL_cleanse(kinit, slen + 4);
    sl_free(kinit);
    hmac(k, 32, in->region, strlen(in->region), k);
    hmac(k, 32, in->service, strlen(in->service), k);
    hmac(k, 32, "aws4_request", 12, k);
    uint8_t sig[32];
    hmac(k, 32, sts, (size_t)sl, sig);
    OPENSSL_cleanse(k, sizeof k);
    char sighex[65];
    hex(sig, 32, sighex);
    auth->len = 0;
    rc = sl_buf_printf(auth, err, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", in->access_key,
                       scope, (char *)signed_h.data, sighex);
    if (rc == SL_OK) rc = sl_buf_cstr(auth, err);
    if (rc == SL_OK && canonical) {
        canonical->len = 0;
        rc = sl_buf_append(canonical, cr.data, cr.len, err);
        if (rc == SL_OK) rc = sl_buf_cstr(canonical, err);
    }
done:
    sl_buf_free(&cr);
    sl_buf_free(&signed_h);
    return rc;
}
