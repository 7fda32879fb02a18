/* s3_xml.c - S3's XML answers through expat (see the header). expat is given sl_alloc's
 * functions, so the allocation-failure tests reach its allocations too, and the parse is
 * stopped (not silently truncated) when a text buffer cannot grow. */
#include "s3_xml.h"

#include <expat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_alloc.h"
#include "../common/sl_buf.h"

#define TEXT_MAX ((size_t)1 << 20) /* the longest element text we keep (keys are <= 1 KiB) */

typedef struct xml_ctx {
    XML_Parser p;
    sl_buf text;
    s3_xml_end_cb on_end;
    void *ud;
    sl_code failed; /* why the parse was stopped, SL_OK if it was not */
    sl_err why;
} xml_ctx;

static const char *local_name(const char *n)
{
    const char *c = strrchr(n, ':'); /* expat without namespace processing keeps prefixes */
    return c ? c + 1 : n;
}

static void stop(xml_ctx *x, sl_code rc)
{
    if (x->failed == SL_OK) x->failed = rc;
    XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL x_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)name;
    (void)atts;
    ((xml_ctx *)ud)->text.len = 0;
}

static void XMLCALL x_end(void *ud, const XML_Char *name)
{
    xml_ctx *x = ud;
    sl_code rc = sl_buf_cstr(&x->text, &x->why);
    if (rc != SL_OK) {
        stop(x, rc);
        return;
    }
    x->on_end(x->ud, local_name(name), (const char *)x->text.data);
    x->text.len = 0;
}

static void XMLCALL x_chars(void *ud, const XML_Char *s, int len)
{
    xml_ctx *x = ud;
    sl_code rc = sl_buf_append(&x->text, s, (size_t)len, &x->why);
    if (rc != SL_OK) stop(x, rc);
}

static void *x_malloc(size_t n) { return sl_malloc(n); }
static void *x_realloc(void *p, size_t n) { return sl_realloc(p, n); }
static void x_free(void *p) { sl_free(p); }
static const XML_Memory_Handling_Suite mem_suite = {x_malloc, x_realloc, x_free};

sl_code s3_xml_walk(const char *body, size_t n, s3_xml_end_cb on_end, void *ud, sl_err *err)
{
    xml_ctx x;
    sl_code rc = SL_OK;
    if (n > INT_MAX) return sl_err_set(err, SL_E_LIMIT, "an XML answer of %zu bytes is too large to read", n);
    memset(&x, 0, sizeof x);
    x.p = XML_ParserCreate_MM(NULL, &mem_suite, NULL);
    if (!x.p) return sl_err_set(err, SL_E_NOMEM, "out of memory reading an XML answer");
    sl_buf_init(&x.text, TEXT_MAX);
    x.on_end = on_end;
    x.ud = ud;
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, x_start, x_end);
    XML_SetCharacterDataHandler(x.p, x_chars);
    if (XML_Parse(x.p, body, (int)n, 1) != XML_STATUS_OK) {
        enum XML_Error e = XML_GetErrorCode(x.p);
        if (x.failed == SL_E_LIMIT)
            rc = sl_err_set(err, SL_E_LIMIT, "an XML answer holds an element text over %zu bytes", TEXT_MAX);
        else if (x.failed != SL_OK || e == XML_ERROR_NO_MEMORY)
            rc = sl_err_set(err, SL_E_NOMEM, "out of memory reading an XML answer");
        else
            rc = sl_err_set(err, SL_E_FORMAT, "an XML answer is not well formed: %s at line %lu", XML_ErrorString(e),
                            (unsigned long)XML_GetCurrentLineNumber(x.p));
    }
    XML_ParserFree(x.p);
    sl_buf_free(&x.text);
    return rc;
}

typedef struct err_doc {
    int is_error;
    char *code, *msg;
    size_t ccap, mcap;
} err_doc;

static void on_err(void *ud, const char *name, const char *text)
{
    err_doc *d = ud;
    if (strcmp(name, "Error") == 0) d->is_error = 1;
    else if (strcmp(name, "Code") == 0) snprintf(d->code, d->ccap, "%s", text);
    else if (strcmp(name, "Message") == 0) snprintf(d->msg, d->mcap, "%s", text);
}

sl_code s3_xml_error_doc(const char *body, size_t n, int *is_error, char *code, size_t ccap, char *msg, size_t mcap,
                         sl_err *err)
{
    err_doc d = {0, code, msg, ccap, mcap};
    sl_code rc = SL_OK;
    code[0] = msg[0] = 0;
    *is_error = 0;
    if (n) rc = s3_xml_walk(body, n, on_err, &d, err);
    if (rc == SL_E_FORMAT) {
        sl_err_clear(err);
        rc = SL_OK;
        d.is_error = 0;
    }
    if (rc == SL_OK) *is_error = d.is_error;
    if (!*is_error) code[0] = msg[0] = 0;
    return rc;
}

int s3_parse_error(const char *body, size_t n, char *code, size_t ccap, char *msg, size_t mcap)
{
    int is_error = 0;
    return s3_xml_error_doc(body, n, &is_error, code, ccap, msg, mcap, NULL) == SL_OK && is_error;
}
