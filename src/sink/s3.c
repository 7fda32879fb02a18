/* s3.c - the S3 store (see s3.h): addressing, credentials, one signed request with
 * retries, the XML answers (expat), the streaming multipart sink, and the store
 * vtable (create, list, remove, read). */
#include "s3.h"

/* The calls go through cu (below), declared from the header's own prototypes: no macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/sl_alloc.h"
#include "../common/sl_log.h"
#include "../common/sl_stop.h"
#include "s3_sign.h"
#include "s3_xml.h"
#include "sink.h"

/* libcurl is loaded on the first S3 store, not linked: with its dependencies (GnuTLS,
 * Kerberos, LDAP, SSH, ...: about thirty libraries) it cost every start of sluice about
 * 4 ms of loading and relocation, a local export or `--version` included. The table is
 * typed from curl.h's prototypes (the fixed parameters of a call are checked as in a
 * direct one; curl's type-checking macros for setopt's last argument are off). */
static struct {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_perform) *easy_perform;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_reset) *easy_reset;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_slist_append) *slist_append;
    __typeof__(curl_slist_free_all) *slist_free_all;
    __typeof__(curl_share_init) *share_init;
    __typeof__(curl_share_setopt) *share_setopt;
    __typeof__(curl_share_cleanup) *share_cleanup;
} cu;

static pthread_mutex_t cu_mu = PTHREAD_MUTEX_INITIALIZER;
static int cu_state; /* 0 not tried, 1 ready, -1 failed (cu_why says why) */
static char cu_why[600];

/* dlsym's object pointer into a function pointer of the table (POSIX allows the copy). */
static int cu_sym(void *lib, const char *name, void *slot)
{
    void *f = dlsym(lib, name);
    if (f) memcpy(slot, &f, sizeof f);
    return f != NULL;
}

/* Loads libcurl once a process (SLUICE_LIBCURL names it; libcurl.so.4 by default) and
 * runs curl_global_init; later calls give the first one's outcome. */
static sl_code cu_load(const sl_config *cfg, sl_err *err)
{
    pthread_mutex_lock(&cu_mu);
    if (cu_state == 0) {
        const char *name = sl_config_get_or(cfg, "SLUICE_LIBCURL", "libcurl.so.4");
        void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
        cu_state = -1;
        if (!lib) {
            const char *why = dlerror();
            snprintf(cu_why, sizeof cu_why, "%s could not be loaded (%s)", name, why ? why : "no reason given");
        } else {
            const char *missing = NULL;
#define CU_SYM(f) if (!missing && !cu_sym(lib, "curl_" #f, &cu.f)) missing = "curl_" #f
            CU_SYM(global_init);
            CU_SYM(easy_init);
            CU_SYM(easy_setopt);
            CU_SYM(easy_perform);
            CU_SYM(easy_getinfo);
            CU_SYM(easy_reset);
            CU_SYM(easy_cleanup);
            CU_SYM(easy_strerror);
            CU_SYM(slist_append);
            CU_SYM(slist_free_all);
            CU_SYM(share_init);
            CU_SYM(share_setopt);
            CU_SYM(share_cleanup);
#undef CU_SYM
            if (missing) snprintf(cu_why, sizeof cu_why, "%s has no function %s (it is not libcurl)", name, missing);
            else if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                snprintf(cu_why, sizeof cu_why, "%s could not be initialised (curl_global_init failed)", name);
            else cu_state = 1;
            if (cu_state != 1) dlclose(lib);
        }
    }
    int ok = cu_state == 1;
    pthread_mutex_unlock(&cu_mu);
    if (ok) return SL_OK;
    return sl_err_set(err, SL_E_CONFIG,
                      "S3 output needs libcurl, which could not be used: %s; install Debian's libcurl4 package, or "
                      "name the libcurl to load in SLUICE_LIBCURL", cu_why);
}

/* Retried requests of the process, for the metrics file (s3_retry_count). */
static atomic_llong retries;

#define MIN_PART ((size_t)5 << 20)
#define MAX_PART ((size_t)5 << 30)
#define MAX_PARTS 10000

typedef struct s3_store {
    sl_store base;
    char bucket[64];
    char prefix[SL_STORE_KEY_MAX + 1];
    s3_addr a; /* URL, Host header, canonical path base */
    char region[64];
    char ak[256], sk[256], token[4096];
    size_t part_size;
    int inflight, max_attempts;
    int list_max_keys; /* keys per ListObjectsV2 page (S3's own maximum: 1000) */
    long base_ms, timeout;
    char sse[32], kms[256], ca[1024];
    size_t min_part; /* S3_MIN_PART_SIZE: the store's smallest part but the last */
    CURLSH *share;   /* DNS cache and TLS sessions only: libcurl does not support a
                      * connection cache shared by concurrent threads (CURLSHOPT_SHARE) */
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_mu; /* easy handles not in use, each with its own connections */
    CURL **pool;
    int npool, pool_cap;
    pthread_mutex_t rnd_mu;
    unsigned rnd;
} s3_store;

/* ---------------------------------------------------------------------------------- */
/* small pieces, tested directly */

sl_code s3_url_parse(const char *url, char *bucket, size_t bcap, char *prefix, size_t pcap, sl_err *err)
{
    if (strncmp(url, "s3://", 5) != 0) return sl_err_set(err, SL_E_CONFIG, "not an s3:// URL: %s", url);
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl < 3 || bl > 63 || bl >= bcap)
        return sl_err_set(err, SL_E_CONFIG, "%s: a bucket name has 3 to 63 characters", url);
    for (size_t i = 0; i < bl; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return sl_err_set(err, SL_E_CONFIG, "%s: bucket names hold lower-case letters, digits, '-' and '.'", url);
    }
    memcpy(bucket, b, bl);
    bucket[bl] = 0;
    const char *p = slash ? slash + 1 : "";
    size_t pl = strlen(p);
    while (pl && p[pl - 1] == '/') pl--;
    if (pl >= pcap) return sl_err_set(err, SL_E_CONFIG, "%s: prefix too long", url);
    memcpy(prefix, p, pl);
    prefix[pl] = 0;
    if (pl && sl_store_key_check(prefix, err) != SL_OK) return sl_err_prefix(err, "%s: ", url);
    return SL_OK;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = 0;
    size_t k = 0;
    while (s[k] == ' ' || s[k] == '\t') k++;
    if (k) memmove(s, s + k, n - k + 1);
}

sl_code s3_credentials_parse(const char *text, const char *profile, char *ak, size_t akcap, char *sk, size_t skcap,
                             char *token, size_t tcap)
{
    ak[0] = sk[0] = token[0] = 0;
    int in = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char line[4400];
        if (n >= sizeof line) n = sizeof line - 1;
        memcpy(line, p, n);
        line[n] = 0;
        p = e ? e + 1 : p + n;
        trim(line);
        if (!line[0] || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            char *close = strchr(line, ']');
            if (close) *close = 0;
            char *name = line + 1;
            trim(name);
            if (strncmp(name, "profile ", 8) == 0) name += 8;
            in = strcmp(name, profile) == 0;
            continue;
        }
        if (!in) continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = 0;
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (strcmp(k, "aws_access_key_id") == 0) snprintf(ak, akcap, "%s", v);
        else if (strcmp(k, "aws_secret_access_key") == 0) snprintf(sk, skcap, "%s", v);
        else if (strcmp(k, "aws_session_token") == 0) snprintf(token, tcap, "%s", v);
    }
    return SL_OK;
}

int s3_retryable(int curl_code, long status, const char *code)
{
    if (curl_code) {
        switch (curl_code) {
        case CURLE_COULDNT_CONNECT: case CURLE_OPERATION_TIMEDOUT: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
            return 1;
        default: return 0;
        }
    }
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429) return 1;
    /* The SDKs' standard mode: transient and throttling codes (RequestTimeTooSkewed too:
     * the SDKs retry it after correcting their clock; here a retry only helps a request
     * that was delayed on its way). */
    static const char *const codes[] = {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete",
                                        "SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
                                        "RequestThrottled", "RequestThrottledException", "BandwidthLimitExceeded",
                                        "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed",
                                        "RequestLimitExceeded", "TooManyRequestsException"};
    for (size_t i = 0; code && i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0) return 1;
    return 0;
}

static size_t part_size_at(size_t base, size_t min, int n)
{
    size_t s = base < min ? min : base;
    for (int k = (n - 1) / 1000; k > 0 && s < MAX_PART; k--) s *= 2;
    return s > MAX_PART ? MAX_PART : s;
}

size_t s3_part_size_for(size_t base, int n) { return part_size_at(base, MIN_PART, n); }


/* Endpoint "scheme://host[:port]" -> scheme (with "://") and host without a default port. */
static sl_code split_endpoint(const char *ep, char *scheme, size_t scap, char *host, size_t hcap, sl_err *err)
{
    const char *hs;
    int https;
    if (strncmp(ep, "https://", 8) == 0) hs = ep + 8, https = 1;
    else if (strncmp(ep, "http://", 7) == 0) hs = ep + 7, https = 0;
    else return sl_err_set(err, SL_E_CONFIG, "S3_ENDPOINT must start with https:// or http://, not '%s'", ep);
    size_t hl = strlen(hs);
    while (hl && hs[hl - 1] == '/') hl--;
    /* A user part could hold a password, which would then appear in messages; a path
     * would have to be signed as part of every canonical URI: neither is supported. */
    for (size_t i = 0; i < hl; i++)
        if (hs[i] == '@' || hs[i] == '/' || hs[i] == '?' || hs[i] == '#' || hs[i] == ' ')
            return sl_err_set(err, SL_E_CONFIG, "S3_ENDPOINT takes scheme://host[:port] only (no user, path or query)");
    if (hl == 0) return sl_err_set(err, SL_E_CONFIG, "S3_ENDPOINT has no host");
    /* curl sends Host without an explicit default port; the signed Host must be the same
     * (an IPv6 literal "[::443]" has no port: its port would follow the ']'). */
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (hl > dl && memcmp(hs + hl - dl, dflt, dl) == 0 && (hs[0] != '[' || hs[hl - dl - 1] == ']')) hl -= dl;
    if (hl >= hcap) return sl_err_set(err, SL_E_CONFIG, "S3_ENDPOINT: host name too long");
    snprintf(scheme, scap, "%s", https ? "https://" : "http://");
    memcpy(host, hs, hl);
    host[hl] = 0;
    return SL_OK;
}

sl_code s3_address(const char *endpoint, const char *region, const char *bucket, int path_style, s3_addr *out,
                   sl_err *err)
{
    char scheme[16], host[512];
    int custom = endpoint && endpoint[0];
    memset(out, 0, sizeof *out);
    if (custom) {
        SL_TRY(split_endpoint(endpoint, scheme, sizeof scheme, host, sizeof host, err));
    } else {
        snprintf(scheme, sizeof scheme, "https://");
        if ((size_t)snprintf(host, sizeof host, "s3.%s.amazonaws.com", region) >= sizeof host)
            return sl_err_set(err, SL_E_CONFIG, "AWS_REGION too long");
    }
    if (path_style < 0) path_style = custom || (strchr(bucket, '.') && strcmp(scheme, "https://") == 0);
    out->path_style = path_style;
    if (path_style) {
        snprintf(out->base_url, sizeof out->base_url, "%s%s/%s", scheme, host, bucket);
        snprintf(out->host, sizeof out->host, "%s", host);
        snprintf(out->path_base, sizeof out->path_base, "/%s", bucket);
    } else {
        snprintf(out->base_url, sizeof out->base_url, "%s%s.%s", scheme, bucket, host);
        snprintf(out->host, sizeof out->host, "%s.%s", bucket, host);
    }
    return SL_OK;
}

int s3_endpoint_is_loopback(const char *endpoint)
{
    const char *h = strstr(endpoint, "://");
    h = h ? h + 3 : endpoint;
    size_t n = strcspn(h, "/");
    char host[256];
    if (n >= sizeof host) return 0;
    memcpy(host, h, n);
    host[n] = 0;
    if (host[0] == '[') return strncmp(host, "[::1]", 5) == 0 && (host[5] == 0 || host[5] == ':');
    char *colon = strchr(host, ':');
    if (colon) *colon = 0;
    if (strcmp(host, "localhost") == 0) return 1;
    /* 127.0.0.0/8, written as a dotted quad */
    unsigned a, b, c, d;
    char tail;
    return sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 && b < 256 && c < 256 && d < 256;
}

long s3_backoff_cap_ms(long base_ms, int n)
{
    const long cap = 20000;
    if (base_ms <= 0) return 0;
    long v = base_ms;
    for (int i = 0; i < n && v < cap; i++) v *= 2; /* stops at the cap: no overflow */
    return v < cap ? v : cap;
}

/* ---------------------------------------------------------------------------------- */
/* one request, with retries */

typedef struct s3_req {
    const char *method;
    const char *key;          /* full object key; NULL for the bucket */
    const char *const *query; /* pairs */
    int nq;
    const uint8_t *body;
    size_t len;
    int md5;                  /* send Content-MD5 */
    int sse;                  /* send the server-side encryption headers */
    const char *content_type;
    sl_buf *out;              /* response body; NULL: kept for errors only */
    int work;                 /* 1: the run's own work (parts, PUTs, create, complete), cut
                               * short by a stop; 0: cleanup (aborts, deletes, reads), which
                               * a stop must let finish */
    const char *range;        /* a GET of part of the object: "bytes=first-last" */
} s3_req;

typedef struct s3_resp {
    long status;
    int attempts;   /* how many were made */
    int ambiguous;  /* failed attempts the server may have carried out (5xx, cut answers) */
    int too_big;    /* the answer did not fit the caller's buffer */
    uint64_t length; /* Content-Length of the answer */
    char etag[256];
    char code[128];
    char msg[512];
    char request_id[128];
} s3_resp;

typedef struct xfer {
    sl_buf *out;
    s3_resp *resp;
} xfer;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    xfer *x = ud;
    if (sl_buf_append(x->out, p, sz * n, NULL) == SL_OK) return sz * n;
    x->resp->too_big = 1;
    return 0; /* curl stops with CURLE_WRITE_ERROR */
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    if (vl >= cap) vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    xfer *x = ud;
    header_value(p, sz * n, "ETag", x->resp->etag, sizeof x->resp->etag);
    header_value(p, sz * n, "x-amz-request-id", x->resp->request_id, sizeof x->resp->request_id);
    char len[32] = "";
    header_value(p, sz * n, "Content-Length", len, sizeof len);
    if (len[0]) x->resp->length = strtoull(len, NULL, 10);
    return sz * n;
}

static double rnd01(s3_store *s)
{
    pthread_mutex_lock(&s->rnd_mu);
    s->rnd = s->rnd * 1103515245u + 12345u;
    unsigned v = s->rnd >> 8;
    pthread_mutex_unlock(&s->rnd_mu);
    return (double)(v & 0xFFFFFF) / (double)0x1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static sl_code build_path(s3_store *s, const char *key, sl_buf *path, sl_err *err)
{
    path->len = 0;
    SL_TRY(sl_buf_append(path, s->a.path_base, strlen(s->a.path_base), err));
    SL_TRY(sl_buf_append_byte(path, '/', err));
    if (key) SL_TRY(s3_uri_encode(key, strlen(key), 1, path, err));
    return sl_buf_cstr(path, err);
}

static sl_code add_header(struct curl_slist **l, const char *name, const char *value, sl_err *err)
{
    char line[4600];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *n = cu.slist_append(*l, line);
    if (!n) return sl_err_set(err, SL_E_NOMEM, "out of memory building a request");
    *l = n;
    return SL_OK;
}

/* Easy handles are reused (their connections stay open between requests) but never
 * used by two threads at once: a request takes one from the pool and gives it back. */
static CURL *handle_take(s3_store *s)
{
    CURL *c = NULL;
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool) c = s->pool[--s->npool];
    pthread_mutex_unlock(&s->pool_mu);
    if (c) cu.easy_reset(c); /* options back to defaults; live connections are kept */
    else c = cu.easy_init();
    return c;
}

static void handle_give(s3_store *s, CURL *c)
{
    pthread_mutex_lock(&s->pool_mu);
    if (s->npool == s->pool_cap) {
        int nc = s->pool_cap ? s->pool_cap * 2 : 8;
        CURL **np = sl_realloc(s->pool, (size_t)nc * sizeof *np);
        if (np) {
            s->pool = np;
            s->pool_cap = nc;
        }
    }
    if (s->npool < s->pool_cap) {
        s->pool[s->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&s->pool_mu);
    if (c) cu.easy_cleanup(c); /* no room to keep it */
}

/* curl calls this about once a second and on every chunk: a stop cuts the run's own
 * transfers short (CURLE_ABORTED_BY_CALLBACK), so an upload in flight never delays it. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return sl_stop_interrupts() ? 1 : 0;
}

/* One attempt. Returns the curl code; fills resp. */
static int attempt(s3_store *s, const s3_req *r, const char *url, const char *path, const char *query, sl_buf *out,
                   s3_resp *resp, char *curl_msg, size_t cmcap, sl_err *err, sl_code *rc)
{
    char date[17], phash[65], md5[32] = "";
    s3_amz_date((int64_t)time(NULL), date);
    s3_sha256_hex(r->body ? (const void *)r->body : "", r->len, phash);
    if (r->md5) s3_md5_base64(r->body ? (const void *)r->body : "", r->len, md5);
    s3_header h[8];
    int nh = 0;
    h[nh++] = (s3_header){"host", s->a.host};
    h[nh++] = (s3_header){"x-amz-content-sha256", phash};
    h[nh++] = (s3_header){"x-amz-date", date};
    if (s->token[0]) h[nh++] = (s3_header){"x-amz-security-token", s->token};
    if (r->md5) h[nh++] = (s3_header){"content-md5", md5};
    if (r->sse && s->sse[0]) {
        h[nh++] = (s3_header){"x-amz-server-side-encryption", s->sse};
        if (s->kms[0]) h[nh++] = (s3_header){"x-amz-server-side-encryption-aws-kms-key-id", s->kms};
    }
    s3_sign_in in = {r->method, path, query, h, nh, phash, s->ak, s->sk, s->region, "s3", date};
    sl_buf auth;
    sl_buf_init(&auth, 0);
    struct curl_slist *hl = NULL;
    *rc = s3_sign(&in, &auth, NULL, err);
    /* Host too: the value sent is then the value signed, whatever curl would make of the URL. */
    for (int i = 0; *rc == SL_OK && i < nh; i++) *rc = add_header(&hl, h[i].name, h[i].value, err);
    if (*rc == SL_OK) *rc = add_header(&hl, "Authorization", (const char *)auth.data, err);
    if (*rc == SL_OK) *rc = add_header(&hl, "Content-Type", r->content_type ? r->content_type : "application/octet-stream", err);
    if (*rc == SL_OK) *rc = add_header(&hl, "Expect", "", err);
    if (*rc == SL_OK && r->range) *rc = add_header(&hl, "Range", r->range, err);
    OPENSSL_cleanse(auth.data, auth.cap);
    sl_buf_free(&auth);
    if (*rc != SL_OK) {
        cu.slist_free_all(hl);
        return 0;
    }
    CURL *c = handle_take(s);
    if (!c) {
        cu.slist_free_all(hl);
        *rc = sl_err_set(err, SL_E_NOMEM, "cannot create a curl handle");
        return 0;
    }
    xfer x = {out, resp};
    char ebuf[CURL_ERROR_SIZE] = "";
    cu.easy_setopt(c, CURLOPT_URL, url);
    cu.easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    cu.easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    cu.easy_setopt(c, CURLOPT_TIMEOUT, s->timeout);
    cu.easy_setopt(c, CURLOPT_SHARE, s->share);
    cu.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
    cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    cu.easy_setopt(c, CURLOPT_WRITEDATA, &x);
    cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    cu.easy_setopt(c, CURLOPT_HEADERDATA, &x);
    cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (r->work) {
        cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    if (s->ca[0]) cu.easy_setopt(c, CURLOPT_CAINFO, s->ca);
    if (strcmp(r->method, "GET") == 0) {
        cu.easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        cu.easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        cu.easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
        cu.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    }
    int cc = (int)cu.easy_perform(c);
    cu.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (cc) snprintf(curl_msg, cmcap, "%s", ebuf[0] ? ebuf : cu.easy_strerror((CURLcode)cc));
    cu.easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* ebuf goes out of scope */
    handle_give(s, c);
    cu.slist_free_all(hl);
    *rc = SL_OK;
    return cc;
}

static sl_code s3_do(s3_store *s, const s3_req *r, s3_resp *resp, sl_err *err)
{
    sl_buf path, query, url, errbody;
    sl_buf_init(&path, 0);
    sl_buf_init(&query, 0);
    sl_buf_init(&url, 0);
    sl_buf_init(&errbody, (size_t)1 << 20);
    sl_code rc = build_path(s, r->key, &path, err);
    if (rc == SL_OK) rc = s3_query_canonical(r->query, r->nq, &query, err);
    if (rc == SL_OK)
        rc = sl_buf_printf(&url, err, "%s%s%s%s", s->a.base_url, (char *)path.data + strlen(s->a.path_base),
                           query.len ? "?" : "", query.len ? (char *)query.data : "");
    if (rc != SL_OK) goto done;
    char what[1300];
    snprintf(what, sizeof what, "S3 %s s3://%s/%s", r->method, s->bucket, r->key ? r->key : "");
    int ambiguous = 0;
    for (int n = 1;; n++) {
        memset(resp, 0, sizeof *resp);
        resp->attempts = n;
        resp->ambiguous = ambiguous;
        char cmsg[CURL_ERROR_SIZE + 64] = "";
        errbody.len = 0;
        sl_buf *out = r->out ? r->out : &errbody;
        size_t keep = out->len;
        int cc = attempt(s, r, (const char *)url.data, (const char *)path.data, (const char *)query.data, out, resp,
                         cmsg, sizeof cmsg, err, &rc);
        if (rc != SL_OK) goto done;
        if (r->work && (cc == CURLE_ABORTED_BY_CALLBACK || sl_stop_interrupts())) {
            if (cc) resp->ambiguous = ++ambiguous; /* cut in flight: it may have been done */
            rc = sl_stop_error(err);
            sl_err_prefix(err, "%s: ", what);
            goto done;
        }
        if (cc == CURLE_WRITE_ERROR && resp->too_big) {
            size_t max = out->max ? out->max : SL_BUF_DEFAULT_MAX;
            out->len = keep;
            rc = sl_err_set(err, SL_E_LIMIT, "%s: the object is larger than the %zu bytes this read allows", what, max);
            goto done;
        }
        if (!cc && resp->status >= 200 && resp->status < 300) {
            rc = SL_OK;
            goto done;
        }
        if (!cc && resp->status >= 300)
            s3_parse_error((const char *)out->data + keep, out->len - keep, resp->code, sizeof resp->code, resp->msg,
                           sizeof resp->msg);
        if (r->out) out->len = keep; /* an error body is not the object */
        int retry = s3_retryable(cc, cc ? 0 : resp->status, resp->code);
        /* Could the server have done what was asked? Not when nothing reached it. */
        if ((cc && cc != CURLE_COULDNT_CONNECT && cc != CURLE_COULDNT_RESOLVE_HOST) || (!cc && resp->status >= 500))
            resp->ambiguous = ++ambiguous;
        if (!retry || n >= s->max_attempts) {
            if (cc) {
                rc = sl_err_set(err, SL_E_STORAGE, "%s: cannot reach the endpoint %s: %s%s", what, s->a.base_url, cmsg,
                                n > 1 ? " (after retries)" : "");
            } else {
                int auth = resp->status == 403 &&
                           (!strcmp(resp->code, "InvalidAccessKeyId") || !strcmp(resp->code, "SignatureDoesNotMatch") ||
                            !strcmp(resp->code, "AccessDenied") || !strcmp(resp->code, "ExpiredToken") ||
                            !strcmp(resp->code, "InvalidToken") || !resp->code[0]);
                const char *c = resp->code;
                const char *hint =
                    !strcmp(c, "NoSuchBucket") ? " (the bucket does not exist)"
                    : auth ? " (check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
                    : !strcmp(c, "RequestTimeTooSkewed") ? " (this machine's clock is off by more than 15 minutes)"
                    : !strcmp(c, "PermanentRedirect") || !strcmp(c, "AuthorizationHeaderMalformed") ||
                              resp->status == 301 || resp->status == 307
                        ? " (check AWS_REGION: the bucket is in another region)"
                        : "";
                rc = sl_err_set(err, auth ? SL_E_STORAGE_AUTH : SL_E_STORAGE, "%s: HTTP %ld %s: %s%s%s%s%s", what,
                                resp->status, resp->code[0] ? resp->code : "", resp->msg, hint,
                                resp->request_id[0] ? " (request id " : "", resp->request_id,
                                resp->request_id[0] ? ")" : "");
                if (n > 1) sl_err_prefix(err, "after %d attempts: ", n);
            }
            goto done;
        }
        long delay = (long)(rnd01(s) * (double)s3_backoff_cap_ms(s->base_ms, n));
        atomic_fetch_add(&retries, 1);
        sl_debug("%s: %s; retrying in %ld ms (attempt %d of %d)", what,
                 cc ? cmsg : resp->code[0] ? resp->code : "server error", delay, n + 1, s->max_attempts);
        for (long left = delay; left > 0 && !(r->work && sl_stop_interrupts()); left -= 50)
            sleep_ms(left < 50 ? left : 50);
    }
done:
    sl_buf_free(&path);
    sl_buf_free(&query);
    sl_buf_free(&url);
    sl_buf_free(&errbody);
    return rc;
}

long long s3_retry_count(void) { return atomic_load(&retries); }

static sl_code full_key(const s3_store *s, const char *key, char *out, size_t cap, sl_err *err)
{
    int n = s->prefix[0] ? snprintf(out, cap, "%s/%s", s->prefix, key) : snprintf(out, cap, "%s", key);
    if (n < 0 || (size_t)n >= cap || n > SL_STORE_KEY_MAX)
        return sl_err_set(err, SL_E_USAGE, "s3://%s: key too long: %s", s->bucket, key);
    return SL_OK;
}

/* ---------------------------------------------------------------------------------- */
/* the upload sink */

typedef struct s3_part {
    struct s3_upload *up;
    int number;
    uint8_t *buf;
    size_t len;
    pthread_t thread;
    int running;
    sl_code rc;
    sl_err err;
} s3_part;

typedef struct s3_upload {
    sl_sink base;
    s3_store *s;
    char key[SL_STORE_KEY_MAX + 8];
    char upload_id[1024];
    int lost_creates; /* CreateMultipartUpload attempts that may have started an upload */
    uint8_t *cur;
    size_t cur_len, cur_cap;
    int next_part;
    char (*etags)[256];
    int etags_cap;
    s3_part *slots;
    int nslots;
    pthread_mutex_t mu;
} s3_upload;

static void abort_lost_uploads(s3_upload *u);

static void *part_main(void *arg)
{
    s3_part *p = arg;
    s3_upload *u = p->up;
    char num[16];
    snprintf(num, sizeof num, "%d", p->number);
    const char *q[] = {"partNumber", num, "uploadId", u->upload_id};
    s3_req r = {"PUT", u->key, q, 2, p->buf, p->len, 1, 0, NULL, NULL, 1, NULL};
    s3_resp resp;
    sl_err_clear(&p->err);
    p->rc = s3_do(u->s, &r, &resp, &p->err);
    if (p->rc == SL_OK && !resp.etag[0])
        p->rc = sl_err_set(&p->err, SL_E_STORAGE, "S3 UploadPart %d of %s: no ETag in the answer", p->number, u->key);
    if (p->rc == SL_OK) {
        pthread_mutex_lock(&u->mu);
        snprintf(u->etags[p->number - 1], sizeof u->etags[0], "%s", resp.etag);
        pthread_mutex_unlock(&u->mu);
    }
    return NULL;
}

static sl_code join_part(s3_part *p, sl_err *err)
{
    if (!p->running) return SL_OK;
    pthread_join(p->thread, NULL);
    p->running = 0;
    sl_free(p->buf);
    p->buf = NULL;
    if (p->rc != SL_OK && err) *err = p->err;
    return p->rc;
}

static sl_code join_all(s3_upload *u, sl_err *err)
{
    sl_code rc = SL_OK;
    for (int i = 0; i < u->nslots; i++) {
        sl_err e = {0};
        sl_code r = join_part(&u->slots[i], &e);
        if (r != SL_OK && rc == SL_OK) {
            rc = r;
            if (err) *err = e;
        }
    }
    return rc;
}

typedef struct upload_id_doc {
    char *id;
    size_t cap;
} upload_id_doc;
static void on_upload_id(void *ud, const char *name, const char *text)
{
    upload_id_doc *d = ud;
    if (strcmp(name, "UploadId") == 0) snprintf(d->id, d->cap, "%s", text);
}

static sl_code start_upload(s3_upload *u, sl_err *err)
{
    const char *q[] = {"uploads", ""};
    sl_buf out;
    sl_buf_init(&out, (size_t)1 << 20);
    /* Not cut by a stop: an upload the server started but whose id we never read
     * could only be found again by listing. */
    s3_req r = {"POST", u->key, q, 1, NULL, 0, 0, 1, NULL, &out, 0, NULL};
    s3_resp resp;
    sl_code rc = s3_do(u->s, &r, &resp, err);
    u->lost_creates += resp.ambiguous;
    if (rc == SL_OK) {
        upload_id_doc d = {u->upload_id, sizeof u->upload_id};
        u->upload_id[0] = 0;
        rc = s3_xml_walk((const char *)out.data, out.len, on_upload_id, &d, err);
        if (rc != SL_OK) u->upload_id[0] = 0;
        if (rc != SL_OK && rc != SL_E_FORMAT) sl_err_prefix(err, "S3 CreateMultipartUpload of %s: ", u->key);
        else if (!u->upload_id[0])
            rc = sl_err_set(err, SL_E_STORAGE, "S3 CreateMultipartUpload of %s: no UploadId in the answer", u->key);
    }
    sl_buf_free(&out);
    return rc;
}

/* Hands the current buffer to a part thread (waiting for a free slot). */
static sl_code dispatch(s3_upload *u, sl_err *err)
{
    if (!u->upload_id[0]) SL_TRY(start_upload(u, err));
    if (u->next_part > MAX_PARTS)
        return sl_err_set(err, SL_E_LIMIT, "%s: more than 10,000 parts; raise S3_PART_SIZE", u->key);
    s3_part *slot = NULL;
    for (int i = 0; i < u->nslots && !slot; i++)
        if (!u->slots[i].running) slot = &u->slots[i];
    if (!slot) { /* wait for the oldest part */
        int oldest = 0;
        for (int i = 1; i < u->nslots; i++)
            if (u->slots[i].number < u->slots[oldest].number) oldest = i;
        slot = &u->slots[oldest];
        SL_TRY(join_part(slot, err));
    }
    for (int i = 0; i < u->nslots; i++) /* a finished part that failed fails the upload now */
        if (!u->slots[i].running && u->slots[i].rc != SL_OK) {
            if (err) *err = u->slots[i].err;
            return u->slots[i].rc;
        }
    if (u->next_part > u->etags_cap) {
        /* Parts still uploading write their ETag into this array (under mu): it may
         * move only under the same lock. */
        int nc = u->etags_cap ? u->etags_cap * 2 : 64;
        if (nc > MAX_PARTS) nc = MAX_PARTS;
        pthread_mutex_lock(&u->mu);
        void *ne = sl_realloc(u->etags, (size_t)nc * sizeof u->etags[0]);
        if (ne) {
            u->etags = ne;
            u->etags_cap = nc;
        }
        pthread_mutex_unlock(&u->mu);
        if (!ne) return sl_err_set(err, SL_E_NOMEM, "out of memory for part ETags");
    }
    slot->up = u;
    slot->number = u->next_part++;
    slot->buf = u->cur;
    slot->len = u->cur_len;
    slot->rc = SL_OK;
    u->cur = NULL;
    u->cur_len = u->cur_cap = 0;
    if (pthread_create(&slot->thread, NULL, part_main, slot) != 0) {
        sl_free(slot->buf);
        slot->buf = NULL;
        return sl_err_set(err, SL_E_INTERNAL, "cannot start a thread for part %d of %s", slot->number, u->key);
    }
    slot->running = 1;
    return SL_OK;
}

static sl_code up_write(sl_sink *sk, const void *p, size_t n, sl_err *err)
{
    s3_upload *u = (s3_upload *)sk;
    const uint8_t *b = p;
    while (n > 0) {
        if (!u->cur) {
            size_t ps = part_size_at(u->s->part_size, u->s->min_part, u->next_part);
            u->cur = sl_malloc(ps);
            if (!u->cur) return sl_err_set(err, SL_E_NOMEM, "out of memory for a %zu-byte S3 part", ps);
            u->cur_cap = ps;
            u->cur_len = 0;
        }
        size_t take = u->cur_cap - u->cur_len < n ? u->cur_cap - u->cur_len : n;
        memcpy(u->cur + u->cur_len, b, take);
        u->cur_len += take;
        b += take;
        n -= take;
        if (u->cur_len == u->cur_cap) SL_TRY(dispatch(u, err));
    }
    return SL_OK;
}

/* After a CompleteMultipartUpload whose answer was lost, a server that does not complete
 * idempotently (S3 and moto do) answers the retry with NoSuchUpload. The upload then
 * either completed or was aborted by someone else: the object tells which, if it has our
 * size and a multipart ETag ("...-<parts>") - the ETag's digest is not checked, as
 * multipart ETags are not specified to be MD5s. */
static int completed_already(s3_upload *u)
{
    s3_req r = {"HEAD", u->key, NULL, 0, NULL, 0, 0, 0, NULL, NULL, 0, NULL};
    s3_resp resp;
    sl_err e = {0};
    if (s3_do(u->s, &r, &resp, &e) != SL_OK) return 0;
    char tail[24];
    snprintf(tail, sizeof tail, "-%d", u->next_part - 1);
    size_t el = strlen(resp.etag), tl = strlen(tail);
    if (el && resp.etag[el - 1] == '"') el--;
    int ok = resp.length == u->base.bytes && el > tl && memcmp(resp.etag + el - tl, tail, tl) == 0;
    if (ok) sl_info("s3://%s/%s: the upload was completed by an attempt whose answer was lost", u->s->bucket, u->key);
    return ok;
}

static sl_code complete(s3_upload *u, sl_err *err)
{
    sl_buf body, out;
    sl_buf_init(&body, 0);
    sl_buf_init(&out, (size_t)1 << 20);
    sl_code rc = sl_buf_printf(&body, err, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (int i = 1; rc == SL_OK && i < u->next_part; i++)
        rc = sl_buf_printf(&body, err, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i, u->etags[i - 1]);
    if (rc == SL_OK) rc = sl_buf_printf(&body, err, "</CompleteMultipartUpload>");
    const char *q[] = {"uploadId", u->upload_id};
    for (int n = 1; rc == SL_OK; n++) {
        out.len = 0;
        s3_req r = {"POST", u->key, q, 1, body.data, body.len, 1, 0, "application/xml", &out, 1, NULL};
        s3_resp resp;
        rc = s3_do(u->s, &r, &resp, err);
        if (rc != SL_OK && resp.status == 404 && !strcmp(resp.code, "NoSuchUpload") && (resp.ambiguous || n > 1) &&
            completed_already(u)) {
            sl_err_clear(err);
            rc = SL_OK;
            break;
        }
        if (rc != SL_OK) break;
        /* A 200 can still carry an error document (the S3 API says so). */
        char code[128], msg[512];
        int is_error = 0;
        rc = s3_xml_error_doc((const char *)out.data, out.len, &is_error, code, sizeof code, msg, sizeof msg, err);
        if (rc != SL_OK || !is_error) break; /* out of memory: not taken for a success */
        if (!s3_retryable(0, 200, code) || n >= u->s->max_attempts) {
            rc = sl_err_set(err, SL_E_STORAGE, "S3 CompleteMultipartUpload of s3://%s/%s: %s: %s", u->s->bucket, u->key,
                            code, msg);
            break;
        }
        sleep_ms((long)(rnd01(u->s) * (double)s3_backoff_cap_ms(u->s->base_ms, n)));
    }
    sl_buf_free(&body);
    sl_buf_free(&out);
    return rc;
}

static sl_code up_finish(sl_sink *sk, sl_err *err)
{
    s3_upload *u = (s3_upload *)sk;
    if (!u->upload_id[0]) { /* small: one PUT */
        s3_req r = {"PUT", u->key, NULL, 0, u->cur, u->cur_len, 1, 1, NULL, NULL, 1, NULL};
        s3_resp resp;
        sl_code rc = s3_do(u->s, &r, &resp, err);
        sl_free(u->cur);
        u->cur = NULL;
        return rc;
    }
    sl_code rc = SL_OK;
    if (u->cur_len || u->next_part == 1) rc = dispatch(u, err);
    sl_err e2 = {0};
    sl_code jrc = join_all(u, &e2);
    if (rc == SL_OK && jrc != SL_OK) {
        rc = jrc;
        if (err) *err = e2;
    }
    if (rc == SL_OK) rc = complete(u, err);
    if (rc == SL_OK && u->lost_creates) {
        u->upload_id[0] = 0; /* completed: no longer listed */
        abort_lost_uploads(u);
    }
    return rc;
}

static void up_abort(sl_sink *sk)
{
    s3_upload *u = (s3_upload *)sk;
    join_all(u, NULL);
    if (u->upload_id[0]) {
        const char *q[] = {"uploadId", u->upload_id};
        s3_req r = {"DELETE", u->key, q, 1, NULL, 0, 0, 0, NULL, NULL, 0, NULL};
        s3_resp resp;
        sl_err e = {0};
        /* NoSuchUpload: already gone (an earlier attempt's answer was lost) */
        if (s3_do(u->s, &r, &resp, &e) != SL_OK && !(resp.status == 404 && !strcmp(resp.code, "NoSuchUpload")))
            sl_warn("could not abort the multipart upload of s3://%s/%s (%s); its parts stay until a bucket "
                    "lifecycle rule or AbortMultipartUpload removes them", u->s->bucket, u->key, e.msg);
        u->upload_id[0] = 0;
    }
    if (u->lost_creates) abort_lost_uploads(u);
}

static void up_release(sl_sink *sk)
{
    s3_upload *u = (s3_upload *)sk;
    join_all(u, NULL);
    sl_free(u->cur);
    sl_free(u->etags);
    sl_free(u->slots);
    pthread_mutex_destroy(&u->mu);
    sl_free(u);
}

static const sl_sink_vtable up_vt = {"s3", up_write, up_finish, up_abort, up_release};

/* ---------------------------------------------------------------------------------- */
/* the store */

static sl_sink *st_create(sl_store *st, const char *key, sl_err *err)
{
    s3_store *s = (s3_store *)st;
    s3_upload *u = sl_calloc(1, sizeof *u);
    if (!u) {
        sl_err_set(err, SL_E_NOMEM, "out of memory for an S3 upload");
        return NULL;
    }
    u->base.vt = &up_vt;
    u->s = s;
    u->next_part = 1;
    u->nslots = s->inflight;
    u->slots = sl_calloc((size_t)u->nslots, sizeof *u->slots);
    pthread_mutex_init(&u->mu, NULL);
    if (!u->slots || full_key(s, key, u->key, sizeof u->key, err) != SL_OK) {
        if (!u->slots) sl_err_set(err, SL_E_NOMEM, "out of memory for an S3 upload");
        up_release(&u->base);
        return NULL;
    }
    return &u->base;
}

typedef struct list_doc {
    s3_store *s;
    sl_store_list_cb cb;
    void *ud;
    char key[SL_STORE_KEY_MAX + 8];
    uint64_t size;
    int truncated, stop;
    char token[2048];
    int bad;
} list_doc;

static void on_list(void *ud, const char *name, const char *text)
{
    list_doc *d = ud;
    if (strcmp(name, "Key") == 0) snprintf(d->key, sizeof d->key, "%s", text);
    else if (strcmp(name, "Size") == 0) d->size = strtoull(text, NULL, 10);
    else if (strcmp(name, "IsTruncated") == 0) d->truncated = strcmp(text, "true") == 0;
    else if (strcmp(name, "NextContinuationToken") == 0) snprintf(d->token, sizeof d->token, "%s", text);
    else if (strcmp(name, "Contents") == 0 && !d->stop) {
        size_t pl = d->s->prefix[0] ? strlen(d->s->prefix) + 1 : 0;
        if (strlen(d->key) < pl || (pl && strncmp(d->key, d->s->prefix, pl - 1) != 0)) {
            d->bad = 1;
            return;
        }
        if (d->cb(d->ud, d->key + pl, d->size)) d->stop = 1;
    }
}

static sl_code st_list(sl_store *st, const char *prefix, sl_store_list_cb cb, void *ud, sl_err *err)
{
    s3_store *s = (s3_store *)st;
    char full[SL_STORE_KEY_MAX + 8];
    if (prefix[0]) SL_TRY(full_key(s, prefix, full, sizeof full, err));
    else snprintf(full, sizeof full, "%s%s", s->prefix, s->prefix[0] ? "/" : "");
    list_doc d;
    memset(&d, 0, sizeof d);
    d.s = s;
    d.cb = cb;
    d.ud = ud;
    char maxkeys[16];
    snprintf(maxkeys, sizeof maxkeys, "%d", s->list_max_keys);
    sl_buf out;
    sl_buf_init(&out, (size_t)64 << 20);
    sl_code rc = SL_OK;
    do {
        char tok[2048];
        snprintf(tok, sizeof tok, "%s", d.token); /* parsing the answer overwrites d.token */
        const char *q[8] = {"list-type", "2", "prefix", full};
        int nq = 2;
        if (tok[0]) q[2 * nq] = "continuation-token", q[2 * nq + 1] = tok, nq++;
        if (s->list_max_keys != 1000) q[2 * nq] = "max-keys", q[2 * nq + 1] = maxkeys, nq++;
        out.len = 0;
        s3_req r = {"GET", NULL, q, nq, NULL, 0, 0, 0, NULL, &out, 0, NULL};
        s3_resp resp;
        rc = s3_do(s, &r, &resp, err);
        if (rc != SL_OK) break;
        d.truncated = 0;
        d.token[0] = 0;
        rc = s3_xml_walk((const char *)out.data, out.len, on_list, &d, err);
        if (rc != SL_OK && rc != SL_E_FORMAT) break;
        if (rc != SL_OK || d.bad) {
            rc = sl_err_set(err, SL_E_STORAGE, "s3://%s: a ListObjectsV2 answer could not be read", s->bucket);
            break;
        }
    } while (!d.stop && d.truncated && d.token[0]);
    sl_buf_free(&out);
    return rc;
}

static sl_code st_remove(sl_store *st, const char *key, sl_err *err)
{
    s3_store *s = (s3_store *)st;
    char full[SL_STORE_KEY_MAX + 8];
    SL_TRY(full_key(s, key, full, sizeof full, err));
    s3_req r = {"DELETE", full, NULL, 0, NULL, 0, 0, 0, NULL, NULL, 0, NULL};
    s3_resp resp;
    sl_code rc = s3_do(s, &r, &resp, err);
    if (rc != SL_OK && resp.status == 404) return SL_OK; /* already gone */
    return rc;
}

/* Request r on the object `key` (r->key is set to its full key); a 404 but for a
 * missing bucket is the store's not-found. */
static sl_code object_do(sl_store *st, const char *key, s3_req *r, s3_resp *resp, sl_err *err)
{
    s3_store *s = (s3_store *)st;
    char full[SL_STORE_KEY_MAX + 8];
    SL_TRY(full_key(s, key, full, sizeof full, err));
    r->key = full;
    sl_code rc = s3_do(s, r, resp, err);
    r->key = NULL;
    if (rc != SL_OK && resp->status == 404 && strcmp(resp->code, "NoSuchBucket") != 0)
        return sl_store_err_not_found(err, st, key);
    return rc;
}

static sl_code st_read(sl_store *st, const char *key, sl_buf *out, sl_err *err)
{
    s3_req r = {"GET", NULL, NULL, 0, NULL, 0, 0, 0, NULL, out, 0, NULL};
    s3_resp resp;
    return object_do(st, key, &r, &resp, err);
}

typedef struct size_of {
    const char *key;
    uint64_t size;
    int found;
} size_of;

static int on_size(void *ud, const char *key, uint64_t size)
{
    size_of *x = ud;
    if (strcmp(key, x->key) != 0) return 0;
    x->size = size;
    x->found = 1;
    return 1;
}

/* The size from a listing of the key as a prefix, not a HEAD: the run's documented
 * permissions (s3:ListBucket, s3:GetObject) cover it on every S3 (moto authorizes a HEAD
 * as an action of its own). */
static sl_code st_size(sl_store *st, const char *key, uint64_t *size, sl_err *err)
{
    size_of x = {key, 0, 0};
    SL_TRY(st_list(st, key, on_size, &x, err));
    if (!x.found) return sl_store_err_not_found(err, st, key);
    *size = x.size;
    return SL_OK;
}

static sl_code st_read_at(sl_store *st, const char *key, uint64_t off, size_t n, void *dst, sl_err *err)
{
    char range[64];
    if (n == 0) return SL_OK;
    snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)off, (unsigned long long)(off + n - 1));
    sl_buf out;
    sl_buf_init(&out, n);
    s3_req r = {"GET", NULL, NULL, 0, NULL, 0, 0, 0, NULL, &out, 0, range};
    s3_resp resp;
    sl_code rc = object_do(st, key, &r, &resp, err);
    if (rc == SL_OK && (resp.status != 206 || out.len != n))
        rc = sl_err_set(err, SL_E_STORAGE, "%s: %s: asked for bytes %llu-%llu, got %zu bytes (HTTP %ld)", st->url, key,
                        (unsigned long long)off, (unsigned long long)(off + n - 1), out.len, resp.status);
    if (rc == SL_OK) memcpy(dst, out.data, n);
    sl_buf_free(&out);
    return rc;
}

typedef struct uploads_doc {
    char key[SL_STORE_KEY_MAX + 8], id[1024];
    char next_key[SL_STORE_KEY_MAX + 8], next_id[1024];
    int truncated;
    char (*keys)[SL_STORE_KEY_MAX + 8];
    char (*ids)[1024];
    int n, cap;
} uploads_doc;

static void on_uploads(void *ud, const char *name, const char *text)
{
    uploads_doc *d = ud;
    if (strcmp(name, "Key") == 0) snprintf(d->key, sizeof d->key, "%s", text);
    else if (strcmp(name, "UploadId") == 0) snprintf(d->id, sizeof d->id, "%s", text);
    else if (strcmp(name, "IsTruncated") == 0) d->truncated = strcmp(text, "true") == 0;
    else if (strcmp(name, "NextKeyMarker") == 0) snprintf(d->next_key, sizeof d->next_key, "%s", text);
    else if (strcmp(name, "NextUploadIdMarker") == 0) snprintf(d->next_id, sizeof d->next_id, "%s", text);
    else if (strcmp(name, "Upload") == 0 && d->n < d->cap) {
        snprintf(d->keys[d->n], sizeof d->keys[0], "%s", d->key);
        snprintf(d->ids[d->n], sizeof d->ids[0], "%s", d->id);
        d->n++;
    }
}

/* ListMultipartUploads under the full (bucket-level) prefix, then AbortMultipartUpload
 * for each; only those of the key only_key when it is not NULL. */
static sl_code abort_uploads_under(s3_store *s, const char *full, const char *only_key, sl_err *err)
{
    uploads_doc *d = sl_calloc(1, sizeof *d);
    if (d) {
        d->cap = 1000;
        d->keys = sl_calloc((size_t)d->cap, sizeof d->keys[0]);
        d->ids = sl_calloc((size_t)d->cap, sizeof d->ids[0]);
    }
    sl_buf out;
    sl_buf_init(&out, (size_t)64 << 20);
    sl_code rc = d && d->keys && d->ids ? SL_OK : sl_err_set(err, SL_E_NOMEM, "out of memory listing uploads");
    for (int page = 0; rc == SL_OK && page < 100; page++) {
        char km[SL_STORE_KEY_MAX + 8], um[1024];
        snprintf(km, sizeof km, "%s", d->next_key);
        snprintf(um, sizeof um, "%s", d->next_id);
        const char *q[8] = {"uploads", "", "prefix", full};
        int nq = 2;
        if (km[0]) q[2 * nq] = "key-marker", q[2 * nq + 1] = km, nq++;
        if (um[0]) q[2 * nq] = "upload-id-marker", q[2 * nq + 1] = um, nq++;
        out.len = 0;
        d->n = 0;
        d->truncated = 0;
        d->next_key[0] = d->next_id[0] = 0;
        s3_req r = {"GET", NULL, q, nq, NULL, 0, 0, 0, NULL, &out, 0, NULL};
        s3_resp resp;
        rc = s3_do(s, &r, &resp, err);
        if (rc != SL_OK) break;
        rc = s3_xml_walk((const char *)out.data, out.len, on_uploads, d, err);
        if (rc != SL_OK && rc != SL_E_FORMAT) break;
        if (rc != SL_OK) {
            rc = sl_err_set(err, SL_E_STORAGE, "s3://%s: a ListMultipartUploads answer could not be read", s->bucket);
            break;
        }
        for (int i = 0; i < d->n && rc == SL_OK; i++) {
            if (only_key && strcmp(d->keys[i], only_key) != 0) continue;
            const char *aq[] = {"uploadId", d->ids[i]};
            s3_req a = {"DELETE", d->keys[i], aq, 1, NULL, 0, 0, 0, NULL, NULL, 0, NULL};
            rc = s3_do(s, &a, &resp, err);
            if (rc != SL_OK && resp.status == 404 && !strcmp(resp.code, "NoSuchUpload")) { /* aborted meanwhile */
                sl_err_clear(err);
                rc = SL_OK;
                continue;
            }
            if (rc == SL_OK) sl_info("aborted an unfinished upload of s3://%s/%s", s->bucket, d->keys[i]);
        }
        if (!d->truncated || !d->next_key[0]) break;
    }
    if (d) {
        sl_free(d->keys);
        sl_free(d->ids);
        sl_free(d);
    }
    sl_buf_free(&out);
    return rc;
}

static sl_code st_abort_uploads(sl_store *st, const char *prefix, sl_err *err)
{
    s3_store *s = (s3_store *)st;
    char full[SL_STORE_KEY_MAX + 8];
    if (prefix[0]) SL_TRY(full_key(s, prefix, full, sizeof full, err));
    else snprintf(full, sizeof full, "%s%s", s->prefix, s->prefix[0] ? "/" : "");
    return abort_uploads_under(s, full, NULL, err);
}

/* A CreateMultipartUpload whose answer was lost may still have started an upload, which
 * nobody knows the id of: find the key's uploads and abort them. Every sluice key is
 * written by one run only (file names carry the run id), so an upload of this exact key
 * other than the current one is such a leftover. */
static void abort_lost_uploads(s3_upload *u)
{
    sl_err e = {0};
    if (abort_uploads_under(u->s, u->key, u->key, &e) != SL_OK)
        sl_warn("s3://%s/%s: could not look for uploads a lost answer may have started (%s); a bucket lifecycle "
                "rule or the next commit of this partition removes them", u->s->bucket, u->key, e.msg);
}

static void st_release(sl_store *st)
{
    s3_store *s = (s3_store *)st;
    for (int i = 0; i < s->npool; i++) cu.easy_cleanup(s->pool[i]); /* before the share they use */
    sl_free(s->pool);
    pthread_mutex_destroy(&s->pool_mu);
    if (s->share) cu.share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&s->locks[i]);
    pthread_mutex_destroy(&s->rnd_mu);
    OPENSSL_cleanse(s->sk, sizeof s->sk);
    OPENSSL_cleanse(s->token, sizeof s->token);
    sl_free(s->base.url);
    sl_free(s);
}

static const sl_store_vtable s3_vt = {"s3",       st_create,        st_list, st_remove, st_read,
                                      st_release, st_abort_uploads, st_size, st_read_at};

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    (void)h;
    (void)a;
    pthread_mutex_lock(&((s3_store *)ud)->locks[d]);
}
static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    (void)h;
    pthread_mutex_unlock(&((s3_store *)ud)->locks[d]);
}

static sl_code cfg_size(const sl_config *cfg, const char *key, int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
                        sl_err *err)
{
    return sl_config_get_int(cfg, key, dflt, lo, hi, out, err);
}

static sl_code load_credentials(s3_store *s, const sl_config *cfg, sl_err *err)
{
    const char *ak = sl_config_get(cfg, "AWS_ACCESS_KEY_ID"), *sk = sl_config_get(cfg, "AWS_SECRET_ACCESS_KEY");
    const char *tok = sl_config_get(cfg, "AWS_SESSION_TOKEN");
    if (ak && ak[0] && sk && sk[0]) {
        snprintf(s->ak, sizeof s->ak, "%s", ak);
        snprintf(s->sk, sizeof s->sk, "%s", sk);
        snprintf(s->token, sizeof s->token, "%s", tok ? tok : "");
        return SL_OK;
    }
    const char *file = sl_config_get(cfg, "AWS_SHARED_CREDENTIALS_FILE");
    char path[1024];
    if (!file || !file[0]) {
        const char *home = getenv("HOME");
        snprintf(path, sizeof path, "%s/.aws/credentials", home ? home : "");
        file = path;
    }
    const char *profile = sl_config_get_or(cfg, "AWS_PROFILE", "default");
    FILE *f = fopen(file, "r");
    if (f) {
        sl_buf text;
        sl_buf_init(&text, (size_t)1 << 20);
        char chunk[4096];
        size_t n;
        sl_code rc = SL_OK;
        while (rc == SL_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sl_buf_append(&text, chunk, n, err);
        fclose(f);
        if (rc == SL_OK) rc = sl_buf_cstr(&text, err);
        if (rc == SL_OK)
            s3_credentials_parse((const char *)text.data, profile, s->ak, sizeof s->ak, s->sk, sizeof s->sk, s->token,
                                 sizeof s->token);
        if (text.data) OPENSSL_cleanse(text.data, text.cap);
        sl_buf_free(&text);
        SL_TRY(rc);
    }
    if (!s->ak[0] || !s->sk[0])
        return sl_err_set(err, SL_E_CONFIG,
                          "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (environment or .env), "
                          "or profile '%s' in %s", profile, file);
    return SL_OK;
}

sl_store *sl_store_s3_open(const char *url, const sl_config *cfg, sl_err *err)
{
    if (!cfg) {
        sl_err_set(err, SL_E_CONFIG, "%s: S3 output needs settings (credentials, region)", url);
        return NULL;
    }
    if (cu_load(cfg, err) != SL_OK) return NULL;
    s3_store *s = sl_calloc(1, sizeof *s);
    if (!s) {
        sl_err_set(err, SL_E_NOMEM, "out of memory opening %s", url);
        return NULL;
    }
    s->base.vt = &s3_vt;
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&s->locks[i], NULL);
    pthread_mutex_init(&s->rnd_mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    RAND_bytes((unsigned char *)&seed, sizeof seed);
    s->rnd = seed;
    s->base.url = sl_strdup(url);
    int64_t v = 0;
    sl_code rc = s->base.url ? SL_OK : sl_err_set(err, SL_E_NOMEM, "out of memory");
    if (rc == SL_OK) rc = s3_url_parse(url, s->bucket, sizeof s->bucket, s->prefix, sizeof s->prefix, err);
    const char *region = sl_config_get(cfg, "AWS_REGION");
    if (!region || !region[0]) region = sl_config_get_or(cfg, "AWS_DEFAULT_REGION", "us-east-1");
    snprintf(s->region, sizeof s->region, "%s", region);
    const char *ep = sl_config_get(cfg, "S3_ENDPOINT");
    const char *ps = sl_config_get(cfg, "S3_FORCE_PATH_STYLE");
    int path_style = -1;
    if (ps && ps[0]) {
        if (!strcmp(ps, "1") || !strcmp(ps, "true")) path_style = 1;
        else if (!strcmp(ps, "0") || !strcmp(ps, "false")) path_style = 0;
        else if (rc == SL_OK) rc = sl_err_set(err, SL_E_CONFIG, "S3_FORCE_PATH_STYLE takes 1 or 0, not '%s'", ps);
    }
    if (rc == SL_OK) rc = s3_address(ep, s->region, s->bucket, path_style, &s->a, err);
    if (rc == SL_OK && ep && strncmp(ep, "http://", 7) == 0 && !s3_endpoint_is_loopback(ep))
        sl_warn("S3_ENDPOINT %s is plain http: the data and the request signatures travel unencrypted and "
                "unauthenticated over the network (use https://, or http:// only on this machine)", ep);
    /* Some S3-compatible stores take smaller parts than AWS's 5 MiB (Ceph's
     * rgw_multipart_min_part_size; moto's S3_UPLOAD_PART_MIN_SIZE, which the tests use). */
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_MIN_PART_SIZE", (int64_t)MIN_PART, 4096, (int64_t)MAX_PART, &v, err);
    s->min_part = (size_t)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_PART_SIZE", (int64_t)8 << 20 > (int64_t)s->min_part ? (int64_t)8 << 20 : (int64_t)s->min_part, (int64_t)s->min_part, (int64_t)MAX_PART, &v, err);
    s->part_size = (size_t)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_MAX_INFLIGHT", 4, 1, 64, &v, err);
    s->inflight = (int)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_MAX_ATTEMPTS", 5, 1, 100, &v, err);
    s->max_attempts = (int)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_RETRY_BASE_MS", 500, 0, 60000, &v, err);
    s->base_ms = (long)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_TIMEOUT", 300, 1, 86400, &v, err);
    s->timeout = (long)v;
    if (rc == SL_OK) rc = cfg_size(cfg, "S3_LIST_MAX_KEYS", 1000, 1, 1000, &v, err);
    s->list_max_keys = (int)v;
    const char *sse = sl_config_get_or(cfg, "S3_SSE", "");
    if (rc == SL_OK && sse[0] && strcmp(sse, "AES256") != 0 && strcmp(sse, "aws:kms") != 0)
        rc = sl_err_set(err, SL_E_CONFIG, "S3_SSE takes AES256 or aws:kms, not '%s'", sse);
    snprintf(s->sse, sizeof s->sse, "%s", sse);
    snprintf(s->kms, sizeof s->kms, "%s", sl_config_get_or(cfg, "S3_SSE_KMS_KEY_ID", ""));
    if (rc == SL_OK && s->kms[0] && strcmp(s->sse, "aws:kms") != 0)
        rc = sl_err_set(err, SL_E_CONFIG, "S3_SSE_KMS_KEY_ID needs S3_SSE=aws:kms");
    snprintf(s->ca, sizeof s->ca, "%s", sl_config_get_or(cfg, "S3_CA_FILE", ""));
    if (rc == SL_OK) rc = load_credentials(s, cfg, err);
    if (rc == SL_OK) {
        s->share = cu.share_init();
        if (!s->share) rc = sl_err_set(err, SL_E_NOMEM, "cannot create a curl share");
    }
    if (rc == SL_OK) {
        cu.share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
        cu.share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        cu.share_setopt(s->share, CURLSHOPT_USERDATA, s);
        cu.share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        cu.share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    if (rc != SL_OK) {
        st_release(&s->base);
        return NULL;
    }
    return &s->base;
}
