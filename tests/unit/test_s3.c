/* test_s3.c - the S3 client's pure parts: SigV4 against AWS's published examples (the
 * S3 documentation's GET Object example, and the generic aws-sig-v4-test-suite case
 * get-vanilla-query-order-key-case), URI and query encoding, URL parsing, the shared
 * credentials file, retry classification, part sizing, and error documents. The
 * requests themselves are tested against a real endpoint in test_s3.py. */
#include "../../src/sink/s3.h"
#include "../../src/sink/s3_sign.h"
#include "test.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void sigv4_s3_get_object_example(void)
{
    /* AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object". */
    s3_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Range", "bytes=0-9"},
                     {"x-amz-content-sha256", EMPTY_SHA256},
                     {"x-amz-date", "20130524T000000Z"}};
    s3_sign_in in = {"GET", "/test.txt", "", h, 4, EMPTY_SHA256, "AKIAIOSFODNN7EXAMPLE",
                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3", "20130524T000000Z"};
    sl_buf auth, canon;
    sl_buf_init(&auth, 0);
    sl_buf_init(&canon, 0);
    CHECK_EQ_INT(s3_sign(&in, &auth, &canon, NULL), SL_OK);
    CHECK_STR((char *)canon.data, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                                  "x-amz-content-sha256:" EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
                                  "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256);
    char hash[65];
    s3_sha256_hex(canon.data, canon.len, hash);
    CHECK_STR(hash, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK_STR((char *)auth.data,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    /* A changed secret changes the signature. */
    in.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, NULL), SL_OK);
    CHECK(strstr((char *)auth.data, "f0e8bdb87c96") == NULL);
    sl_buf_free(&auth);
    sl_buf_free(&canon);
}

static void sigv4_test_suite_query_order(void)
{
    /* aws-sig-v4-test-suite/get-vanilla-query-order-key-case: GET /?Param2=value2&Param1=value1 */
    const char *pairs[] = {"Param2", "value2", "Param1", "value1"};
    sl_buf q, auth;
    sl_buf_init(&q, 0);
    sl_buf_init(&auth, 0);
    CHECK_EQ_INT(s3_query_canonical(pairs, 2, &q, NULL), SL_OK);
    CHECK_STR((char *)q.data, "Param1=value1&Param2=value2");
    s3_header h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    s3_sign_in in = {"GET", "/", (char *)q.data, h, 2, EMPTY_SHA256, "AKIDEXAMPLE",
                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service", "20150830T123600Z"};
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, NULL), SL_OK);
    CHECK_STR((char *)auth.data, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                                 "SignedHeaders=host;x-amz-date, "
                                 "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    sl_buf_free(&q);
    sl_buf_free(&auth);
}

static void encodings(void)
{
    sl_buf b;
    sl_buf_init(&b, 0);
    CHECK_EQ_INT(s3_uri_encode("raw/a b/é$~_.-", strlen("raw/a b/é$~_.-"), 1, &b, NULL), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, NULL), SL_OK);
    CHECK_STR((char *)b.data, "raw/a%20b/%C3%A9%24~_.-");
    b.len = 0;
    CHECK_EQ_INT(s3_uri_encode("a/b=c&d", 7, 0, &b, NULL), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&b, NULL), SL_OK);
    CHECK_STR((char *)b.data, "a%2Fb%3Dc%26d");
    b.len = 0;
    const char *pairs[] = {"uploads", "", "prefix", "raw/x y", "list-type", "2"};
    CHECK_EQ_INT(s3_query_canonical(pairs, 3, &b, NULL), SL_OK);
    CHECK_STR((char *)b.data, "list-type=2&prefix=raw%2Fx%20y&uploads=");
    char md5[32], date[17];
    s3_md5_base64("", 0, md5);
    CHECK_STR(md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
    s3_amz_date(1369353600, date);
    CHECK_STR(date, "20130524T000000Z");
    sl_buf_free(&b);
}

static void url_parse(void)
{
    char b[64], p[1100];
    sl_err e = {0};
    CHECK_EQ_INT(s3_url_parse("s3://my-bucket/raw/2026/", b, sizeof b, p, sizeof p, &e), SL_OK);
    CHECK_STR(b, "my-bucket");
    CHECK_STR(p, "raw/2026");
    CHECK_EQ_INT(s3_url_parse("s3://my-bucket", b, sizeof b, p, sizeof p, &e), SL_OK);
    CHECK_STR(p, "");
    CHECK_EQ_INT(s3_url_parse("s3://b1/x", b, sizeof b, p, sizeof p, &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "3 to 63") != NULL);
    CHECK_EQ_INT(s3_url_parse("s3://Bad_Bucket/x", b, sizeof b, p, sizeof p, &e), SL_E_CONFIG);
    CHECK_EQ_INT(s3_url_parse("s3://bucket/a//b", b, sizeof b, p, sizeof p, &e), SL_E_USAGE);
}

static void credentials_file(void)
{
    const char *text = "# comment\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key=secretdefault\n\n"
                       "[profile nightly]\n  aws_access_key_id=AKNIGHT  \naws_secret_access_key = s/n+ight\n"
                       "aws_session_token = tok==\n[other]\naws_access_key_id=AKOTHER\n";
    char ak[64], sk[64], tok[64];
    s3_credentials_parse(text, "default", ak, sizeof ak, sk, sizeof sk, tok, sizeof tok);
    CHECK_STR(ak, "AKDEFAULT");
    CHECK_STR(sk, "secretdefault");
    CHECK_STR(tok, "");
    s3_credentials_parse(text, "nightly", ak, sizeof ak, sk, sizeof sk, tok, sizeof tok);
    CHECK_STR(ak, "AKNIGHT");
    CHECK_STR(sk, "s/n+ight");
    CHECK_STR(tok, "tok==");
    s3_credentials_parse(text, "missing", ak, sizeof ak, sk, sizeof sk, tok, sizeof tok);
    CHECK_STR(ak, "");
}

static void retry_rules(void)
{
    CHECK(s3_retryable(7 /* CURLE_COULDNT_CONNECT */, 0, ""));
    CHECK(s3_retryable(28 /* CURLE_OPERATION_TIMEDOUT */, 0, ""));
    CHECK(s3_retryable(52 /* CURLE_GOT_NOTHING */, 0, ""));
    CHECK(s3_retryable(56 /* CURLE_RECV_ERROR */, 0, ""));
    CHECK(!s3_retryable(60 /* CURLE_PEER_FAILED_VERIFICATION */, 0, ""));
    CHECK(s3_retryable(0, 500, "InternalError"));
    CHECK(s3_retryable(0, 503, "SlowDown"));
    CHECK(s3_retryable(0, 502, ""));
    CHECK(s3_retryable(0, 504, ""));
    CHECK(s3_retryable(0, 400, "RequestTimeout"));
    CHECK(s3_retryable(0, 400, "Throttling"));
    CHECK(!s3_retryable(0, 403, "SignatureDoesNotMatch"));
    CHECK(!s3_retryable(0, 404, "NoSuchBucket"));
    CHECK(!s3_retryable(0, 400, "EntityTooSmall"));
}

static void part_sizes(void)
{
    size_t mib = (size_t)1 << 20;
    CHECK(s3_part_size_for(8 * mib, 1) == 8 * mib);
    CHECK(s3_part_size_for(8 * mib, 1000) == 8 * mib);
    CHECK(s3_part_size_for(8 * mib, 1001) == 16 * mib);
    CHECK(s3_part_size_for(8 * mib, 10000) == 8 * mib * 512);
    CHECK(s3_part_size_for(1 * mib, 1) == 5 * mib); /* the S3 minimum */
    CHECK(s3_part_size_for((size_t)5 << 30, 9000) == (size_t)5 << 30); /* the maximum */
    /* 10,000 parts of the doubling sizes hold far more than S3's 5 TiB object limit */
    double total = 0;
    for (int n = 1; n <= 10000; n++) total += (double)s3_part_size_for(8 * mib, n);
    CHECK(total > 5.0 * 1024 * 1024 * 1024 * 1024);
}

static void error_documents(void)
{
    char code[64], msg[256];
    const char *e = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We "
                    "encountered an internal error. Please try again.</Message><RequestId>656c76696e6727732072657175"
                    "</RequestId></Error>";
    CHECK(s3_parse_error(e, strlen(e), code, sizeof code, msg, sizeof msg));
    CHECK_STR(code, "InternalError");
    CHECK(strstr(msg, "internal error") != NULL);
    const char *ok = "<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>x"
                     "</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
                     "</CompleteMultipartUploadResult>";
    CHECK(!s3_parse_error(ok, strlen(ok), code, sizeof code, msg, sizeof msg));
    CHECK(!s3_parse_error("not xml", 7, code, sizeof code, msg, sizeof msg));
    CHECK(!s3_parse_error("", 0, code, sizeof code, msg, sizeof msg));
}

T_SUITE(suite_s3) = {
    {"sigv4_s3_get_object_example", sigv4_s3_get_object_example},
    {"sigv4_test_suite_query_order", sigv4_test_suite_query_order},
    {"encodings", encodings},
    {"url_parse", url_parse},
    {"credentials_file", credentials_file},
    {"retry_rules", retry_rules},
    {"part_sizes", part_sizes},
    {"error_documents", error_documents},
    T_END,
};
