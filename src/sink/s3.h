/* s3.h - the S3 backend of the output store (store.h): requests signed with SigV4
 * (s3_sign.h), sent with libcurl, retried as the AWS SDKs' standard mode does, with a
 * payload checksum on every request; objects written through a streaming multipart
 * upload (several parts in flight) or one PUT when small. Settings (sl_config):
 *
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   credentials; else the
 *       shared credentials file (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials),
 *       profile AWS_PROFILE or "default"
 *   AWS_REGION (or AWS_DEFAULT_REGION)   default us-east-1
 *   S3_ENDPOINT          scheme://host[:port] (no path, no user), e.g. http://127.0.0.1:9000
 *                        for S3-compatible stores (or the --s3-endpoint flag); default
 *                        https://s3.<region>.amazonaws.com
 *   S3_FORCE_PATH_STYLE  1: path-style URLs (endpoint/bucket/key); 0: virtual-hosted
 *                        (bucket.endpoint/key). Unset: path style with a custom S3_ENDPOINT
 *                        or for a bucket name with a '.' (its virtual host would not match
 *                        the TLS certificate's wildcard); virtual-hosted otherwise
 *   S3_PART_SIZE         bytes per part, default 8 MiB, at least S3_MIN_PART_SIZE;
 *                        doubled every 1,000 parts so a file never needs more than 10,000
 *   S3_MIN_PART_SIZE     the store's minimum part size, default 5 MiB (AWS's); for
 *                        S3-compatible stores that take smaller parts (at least 4096)
 *   S3_MAX_INFLIGHT      parts uploading at once per file, default 4
 *   S3_MAX_ATTEMPTS      attempts per request, default 5
 *   S3_RETRY_BASE_MS     backoff base, default 500: the delay before attempt n+1 is
 *                        random(0,1) * min(base * 2^n, 20 s) ("full jitter")
 *   S3_TIMEOUT           seconds per request, default 300 (connect: 10)
 *   S3_LIST_MAX_KEYS     keys per ListObjectsV2 page, 1 to 1000 (default; tests lower it
 *                        to exercise continuation tokens)
 *   S3_SSE               AES256 or aws:kms; S3_SSE_KMS_KEY_ID for the latter
 *   S3_CA_FILE           a CA bundle instead of the system's (TLS is always verified)
 */
#ifndef SL_S3_H
#define SL_S3_H

#include <stddef.h>
#include <stdint.h>

#include "../common/sl_buf.h"
#include "../common/sl_config.h"
#include "../common/sl_error.h"
#include "s3_xml.h"
#include "store.h"

/* url: "s3://bucket" or "s3://bucket/prefix". */
sl_store *sl_store_s3_open(const char *url, const sl_config *cfg, sl_err *err);

/* ---- internals, exposed for the unit tests ---- */

/* Splits "s3://bucket/a/b" into bucket and prefix ("a/b", no trailing '/'). */
sl_code s3_url_parse(const char *url, char *bucket, size_t bcap, char *prefix, size_t pcap, sl_err *err);

/* Reads the profile's keys from an AWS shared credentials file's text. Missing keys
 * leave the buffers empty. */
sl_code s3_credentials_parse(const char *text, const char *profile, char *ak, size_t akcap, char *sk, size_t skcap,
                             char *token, size_t tcap);

/* Where requests go: base_url + "/" + encoded key is the URL, host the Host header
 * (signed, and sent as is: explicit default ports ":443"/":80" are dropped, as curl
 * drops them), path_base + "/" + encoded key the canonical URI. */
typedef struct s3_addr {
    char base_url[600];
    char host[560];
    char path_base[80];
    int path_style;
} s3_addr;

/* endpoint NULL or "" for AWS in `region`; path_style 1, 0, or -1 for automatic (see
 * S3_FORCE_PATH_STYLE above). SL_E_CONFIG for an endpoint that is not
 * http(s)://host[:port]. */
sl_code s3_address(const char *endpoint, const char *region, const char *bucket, int path_style, s3_addr *out,
                   sl_err *err);

/* 1 when an endpoint's host is this machine (localhost, 127.0.0.0/8, [::1]): plain
 * http:// there is not a warning. */
int s3_endpoint_is_loopback(const char *endpoint);

/* Whether a response is worth retrying: curl error (0 = none), HTTP status, S3 error code. */
int s3_retryable(int curl_code, long status, const char *code);

/* Requests sent again after a retryable failure, by every S3 store of this process. */
long long s3_retry_count(void);

/* The backoff cap before attempt n+1 (n >= 1): min(base_ms * 2^n, 20,000) ms, without
 * overflow for any n. The delay is random(0,1) times this ("full jitter"). */
long s3_backoff_cap_ms(long base_ms, int n);

/* The part size to use for part number n (1-based), from the configured size. */
size_t s3_part_size_for(size_t base, int n);

/* s3_parse_error, the XML answers: s3_xml.h */

#endif
