/* sink_hash.c - a sink that hashes what passes through it (SHA-256 through OpenSSL's
 * EVP interface), so a manifest's checksum is of exactly the bytes stored. */
#include <openssl/evp.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "sink.h"

typedef struct {
    sl_sink base;
    sl_sink *inner;
    EVP_MD_CTX *md; /* allocated by OpenSSL, outside sl_alloc's fault injection */
    uint8_t digest[32];
    int have_digest;
} hash_sink;

static sl_code hash_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
    hash_sink *h = (hash_sink *)s;
    SL_TRY(sl_sink_write(h->inner, p, n, err));
    if (EVP_DigestUpdate(h->md, p, n) != 1) return sl_err_set(err, SL_E_INTERNAL, "SHA-256 update failed");
    return SL_OK;
}

static sl_code hash_finish(sl_sink *s, sl_err *err)
{
    hash_sink *h = (hash_sink *)s;
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(h->md, h->digest, &len) != 1 || len != sizeof h->digest)
        return sl_err_set(err, SL_E_INTERNAL, "SHA-256 finalisation failed");
    SL_TRY(sl_sink_finish(h->inner, err));
    h->have_digest = 1;
    return SL_OK;
}

static void hash_abort(sl_sink *s) { sl_sink_abort(((hash_sink *)s)->inner); }

static void hash_release(sl_sink *s)
{
    hash_sink *h = (hash_sink *)s;
    sl_sink_release(h->inner);
    EVP_MD_CTX_free(h->md);
    sl_free(h);
}

static const sl_sink_vtable hash_vt = {"sha256", hash_write, hash_finish, hash_abort, hash_release};

sl_sink *sl_sink_hash_open(sl_sink *inner, sl_err *err)
{
    hash_sink *h;
    if (!inner) {
        sl_err_set(err, SL_E_INTERNAL, "hash sink over no sink");
        return NULL;
    }
    h = sl_calloc(1, sizeof *h);
    if (!h) {
        sl_sink_release(inner);
        sl_err_set(err, SL_E_NOMEM, "out of memory");
        return NULL;
    }
    h->base.vt = &hash_vt;
    h->inner = inner;
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
        hash_release(&h->base);
        sl_err_set(err, SL_E_NOMEM, "cannot start a SHA-256 (OpenSSL)");
        return NULL;
    }
    return &h->base;
}

sl_code sl_sink_hash_result(const sl_sink *s, uint8_t digest[32], char text[SL_SHA256_TEXT_SIZE], sl_err *err)
{
    const hash_sink *h = (const hash_sink *)s;
    static const char hex[] = "0123456789abcdef";
    if (s->vt != &hash_vt) return sl_err_set(err, SL_E_INTERNAL, "not a hash sink: %s", s->vt->name);
    if (!h->have_digest) return sl_err_set(err, SL_E_INTERNAL, "SHA-256 asked for before the sink finished");
    if (digest) memcpy(digest, h->digest, sizeof h->digest);
    if (text) {
        memcpy(text, "sha256:", 7);
        for (int i = 0; i < 32; i++) {
            text[7 + 2 * i] = hex[h->digest[i] >> 4];
            text[8 + 2 * i] = hex[h->digest[i] & 15];
        }
        text[71] = '\0';
    }
    return SL_OK;
}
