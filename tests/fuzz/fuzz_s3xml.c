/* fuzz_s3xml.c - libFuzzer harness for S3's XML answers (s3_xml.h): any body must walk
 * to the end or fail with SL_E_FORMAT or SL_E_LIMIT; the texts handed to the callback
 * are NUL-terminated and within the 1 MiB cap; s3_parse_error fills only within its
 * buffers and says "not an error" for anything it could not read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/sink/s3_xml.h"

typedef struct seen {
    size_t elements;
    char key[1100];
    unsigned long long size;
} seen;

static void on_end(void *ud, const char *name, const char *text)
{
    seen *s = ud;
    size_t n = strlen(text);
    if (n > ((size_t)1 << 20)) abort();
    s->elements++;
    /* What the store's handlers do with ListObjectsV2 and ListMultipartUploads. */
    if (strcmp(name, "Key") == 0) snprintf(s->key, sizeof s->key, "%s", text);
    else if (strcmp(name, "Size") == 0) s->size = strtoull(text, NULL, 10);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    seen s = {0};
    sl_err e = {0};
    char code[16], msg[32];
    int is_error;
    sl_code rc = s3_xml_walk((const char *)data, n, on_end, &s, &e);
    if (rc != SL_OK && rc != SL_E_FORMAT && rc != SL_E_LIMIT) abort();
    if (rc != SL_OK && !e.msg[0]) abort();
    rc = s3_xml_error_doc((const char *)data, n, &is_error, code, sizeof code, msg, sizeof msg, &e);
    if (rc != SL_OK && rc != SL_E_LIMIT) abort();
    if (strlen(code) >= sizeof code || strlen(msg) >= sizeof msg) abort();
    if (!is_error && (code[0] || msg[0])) abort();
    if (s3_parse_error((const char *)data, n, code, sizeof code, msg, sizeof msg) != is_error) abort();
    return 0;
}
