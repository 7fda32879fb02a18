/* s3_xml.h - reading S3's XML answers (error documents, CreateMultipartUpload,
 * ListObjectsV2, ListMultipartUploads) through expat, whose allocations go through
 * sl_alloc like ours. Answers are untrusted: sizes are capped, failures are errors. */
#ifndef SL_S3_XML_H
#define SL_S3_XML_H

#include <stddef.h>

#include "../common/sl_error.h"

/* Called at the end of each element with its local name (any "prefix:" removed) and the
 * text directly inside it (NUL-terminated, "" for none). */
typedef void (*s3_xml_end_cb)(void *ud, const char *name, const char *text);

/* Walks a whole document. SL_E_FORMAT for XML that is not well formed (expat's reason
 * and the line), SL_E_LIMIT for an element's text over 1 MiB, SL_E_NOMEM. */
sl_code s3_xml_walk(const char *body, size_t n, s3_xml_end_cb on_end, void *ud, sl_err *err);

/* Whether body is an S3 error document (<Error><Code/><Message/></Error>): sets
 * *is_error and fills code and msg (empty when absent). A body that is not XML is not
 * one (SL_OK, *is_error 0); SL_E_NOMEM or SL_E_LIMIT when it could not be read. Used on
 * CompleteMultipartUpload's 200, which can carry an error. */
sl_code s3_xml_error_doc(const char *body, size_t n, int *is_error, char *code, size_t ccap, char *msg, size_t mcap,
                         sl_err *err);

/* The same as 1 (an error document) or 0 (not one, or unreadable), for error answers. */
int s3_parse_error(const char *body, size_t n, char *code, size_t ccap, char *msg, size_t mcap);

#endif
