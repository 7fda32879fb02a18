/* fuzz_sigv4.c - libFuzzer harness for SigV4 canonicalisation (s3_sign.h). The input is
 * lines: method, object key, region, then "date:X" (the x-amz-date, any text),
 * "h:name:value" headers and "k=v" query pairs.
 * Properties checked, from the SigV4 specification rather than from our code:
 *  - s3_uri_encode leaves only unreserved characters (and '/' when asked) and %XX with
 *    upper-case hex, and decoding its output gives the input back;
 *  - s3_query_canonical's pairs come out sorted by encoded key, then value;
 *  - s3_sign's canonical request has method, path and query as its first three lines,
 *    then one "name:value" line per header in sorted lower-case order, and the
 *    Authorization value ends with a 64-hex-digit signature. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../src/common/sl_buf.h"
#include "../../src/sink/s3_sign.h"

#define MAXF 64

static int unreserved(unsigned char c, int keep_slash)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~' || (keep_slash && c == '/');
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1; }

static void check_encode(const char *s, size_t n, int keep_slash)
{
    sl_buf b;
    size_t j = 0;
    sl_buf_init(&b, 0);
    if (s3_uri_encode(s, n, keep_slash, &b, NULL) != SL_OK) abort();
    for (size_t i = 0; i < b.len; i++) {
        unsigned char c = b.data[i];
        unsigned char want;
        if (c == '%') {
            if (i + 2 >= b.len) abort();
            int hi = hexval((char)b.data[i + 1]), lo = hexval((char)b.data[i + 2]);
            if (hi < 0 || lo < 0) abort();
            want = (unsigned char)(hi * 16 + lo);
            if (unreserved(want, keep_slash)) abort(); /* encoded what need not be */
            i += 2;
        } else {
            if (!unreserved(c, keep_slash)) abort();
            want = c;
        }
        if (j >= n || (unsigned char)s[j] != want) abort(); /* round trip */
        j++;
    }
    if (j != n) abort();
    sl_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *text = malloc(n + 1), *f[MAXF];
    int nf = 0;
    if (!text) return 0;
    memcpy(text, data, n);
    text[n] = 0;
    for (char *p = text, *q; nf < MAXF && p; p = q) {
        q = strchr(p, '\n');
        if (q) *q++ = 0;
        f[nf++] = p;
    }
    const char *method = nf > 0 ? f[0] : "GET", *key = nf > 1 ? f[1] : "", *region = nf > 2 ? f[2] : "us-east-1";
    check_encode(key, strlen(key), 1);
    check_encode(key, strlen(key), 0);

    const char *pairs[2 * MAXF];
    s3_header hs[MAXF];
    char hname[MAXF][128];
    int nq = 0, nh = 0;
    hs[nh].name = "host";
    hs[nh++].value = "bucket.s3.amazonaws.com";
    const char *amz_date = "20261206T120000Z";
    for (int i = 3; i < nf; i++) {
        if (strncmp(f[i], "date:", 5) == 0) {
            amz_date = f[i] + 5;
        } else if (strncmp(f[i], "h:", 2) == 0) {
            char *colon = strchr(f[i] + 2, ':');
            if (!colon || colon == f[i] + 2 || (size_t)(colon - f[i] - 2) >= sizeof hname[0]) continue;
            memcpy(hname[nh], f[i] + 2, (size_t)(colon - f[i] - 2));
            hname[nh][colon - f[i] - 2] = 0;
            /* A name a client could send: no separator, no upper case twin of "host". */
            if (strpbrk(hname[nh], ":\r\n") || strcasecmp(hname[nh], "host") == 0) continue;
            int dup = 0;
            for (int k = 0; k < nh; k++) dup |= strcasecmp(hs[k].name, hname[nh]) == 0;
            if (dup) continue;
            hs[nh].name = hname[nh];
            hs[nh++].value = colon + 1;
        } else {
            char *eq = strchr(f[i], '=');
            pairs[2 * nq] = f[i];
            pairs[2 * nq + 1] = eq ? eq + 1 : NULL;
            if (eq) *eq = 0;
            nq++;
        }
    }

    sl_buf q, path, auth, canon;
    sl_buf_init(&q, 0);
    sl_buf_init(&path, 0);
    sl_buf_init(&auth, 0);
    sl_buf_init(&canon, 0);
    if (s3_query_canonical(pairs, nq, &q, NULL) != SL_OK) abort();
    /* Sorted: each pair (key, then value) >= the one before. */
    if (nq) {
        char *save = NULL, *prev = NULL, *prevv = NULL;
        sl_buf_cstr(&q, NULL);
        for (char *p = strtok_r((char *)q.data, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(p, '=');
            if (!eq) abort();
            *eq = 0;
            if (prev) {
                int c = strcmp(prev, p);
                if (c > 0 || (c == 0 && strcmp(prevv, eq + 1) > 0)) abort();
            }
            prev = p;
            prevv = eq + 1;
        }
        q.len = 0;
        if (s3_query_canonical(pairs, nq, &q, NULL) != SL_OK) abort(); /* the string again, unsplit */
    }
    sl_buf_append(&path, "/bucket/", 8, NULL);
    s3_uri_encode(key, strlen(key), 1, &path, NULL);
    sl_buf_cstr(&path, NULL);
    s3_sign_in in = {method, (const char *)path.data, q.len ? (const char *)q.data : "", hs, nh,
                     "UNSIGNED-PAYLOAD", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region, "s3",
                     amz_date};
    sl_err e = {0};
    sl_code rc = s3_sign(&in, &auth, &canon, &e);
    if (rc == SL_OK) {
        const char *a = (const char *)auth.data, *sig = NULL;
        for (const char *p = strstr(a, "Signature="); p; p = strstr(p + 1, "Signature=")) sig = p; /* the last */
        if (!sig || strlen(sig + 10) != 64 || strspn(sig + 10, "0123456789abcdef") != 64) abort();
        /* Canonical request: method, path, query lines, then one line per header, names
         * in lower case and strictly increasing. */
        char *save = NULL, *line[3 + MAXF + 1];
        int nl = 0;
        sl_buf_cstr(&canon, NULL);
        for (char *c = (char *)canon.data, *nx; c && nl < 3 + nh; c = nx) {
            nx = strchr(c, '\n');
            if (nx) *nx++ = 0;
            line[nl++] = c;
        }
        (void)save;
        if (nl < 3 + nh) abort();
        if (strcmp(line[0], method) || strcmp(line[1], (const char *)path.data) ||
            strcmp(line[2], q.len ? (const char *)q.data : ""))
            abort();
        for (int i = 0; i < nh; i++) {
            char *h = line[3 + i], *colon = strchr(h, ':');
            if (!colon) abort();
            for (char *k = h; k < colon; k++)
                if (*k >= 'A' && *k <= 'Z') abort();
            if (i > 0) {
                char *ph = line[2 + i];
                size_t pl = (size_t)(strchr(ph, ':') - ph), hl = (size_t)(colon - h);
                int c = memcmp(ph, h, pl < hl ? pl : hl);
                if (c > 0 || (c == 0 && pl >= hl)) abort();
            }
        }
    } else if (rc != SL_E_CONFIG && rc != SL_E_INTERNAL) {
        abort();
    }
    sl_buf_free(&q);
    sl_buf_free(&path);
    sl_buf_free(&auth);
    sl_buf_free(&canon);
    free(text);
    return 0;
}
