/* test_s3.c - the S3 client's pure parts: SigV4 against AWS's published examples (the
 * S3 documentation's four worked examples - GET Object, PUT Object, GET Bucket
 * lifecycle, List Objects - and cases of the generic aws-sig-v4-test-suite, whose
 * paths need no second encoding), URI and query encoding, URL parsing, addressing,
 * the shared credentials file, retry classification and backoff, part sizing, and
 * error documents. The requests themselves are tested against a real endpoint in
 * test_s3.py. */
#include "../../src/common/sl_alloc.h"
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

/* Found with fuzz_sigv4 (tests/fuzz/corpus/sigv4/regress-long-*): an x-amz-date longer
 * than 16 characters made the string to sign longer than its buffer and HMAC read past
 * it (ASan: stack-buffer-overflow); a long region was cut from the credential scope,
 * signing something else than what was sent. Both are refused now. */
static void sigv4_refuses_what_does_not_fit(void)
{
    char date[600], region[300];
    s3_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    s3_sign_in in = {"GET", "/k", "", h, 1, EMPTY_SHA256, "AKIAIOSFODNN7EXAMPLE",
                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1", "s3", date};
    sl_buf auth;
    sl_err e = {0};
    sl_buf_init(&auth, 0);
    memset(date, 'D', sizeof date - 1);
    date[sizeof date - 1] = 0;
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, &e), SL_E_INTERNAL);
    CHECK(strstr(e.msg, "x-amz-date") != NULL);
    in.amz_date = "2013-05-24T00:00";
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, &e), SL_E_INTERNAL);
    in.amz_date = "20130524T000000Z";
    memset(region, 'r', sizeof region - 1);
    region[sizeof region - 1] = 0;
    in.region = region;
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "region") != NULL);
    in.region = "us-east-1";
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, &e), SL_OK);
    sl_buf_free(&auth);
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

/* The S3 documentation's examples (AmazonS3/latest/API/sig-v4-header-based-auth.html)
 * share a key, a date and a host. */
#define S3_DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_DOC_HOST "examplebucket.s3.amazonaws.com"
#define S3_DOC_DATE "20130524T000000Z"

static void sigv4_s3_put_object_example(void)
{
    /* "Example: PUT Object": key test$file.text (the '$' is encoded once, %24), a
     * body whose SHA-256 is signed, a Date header and a storage class. */
    const char *body = "Welcome to Amazon S3.";
    char phash[65];
    s3_sha256_hex(body, strlen(body), phash);
    CHECK_STR(phash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    sl_buf path, auth, canon;
    sl_buf_init(&path, 0);
    sl_buf_init(&auth, 0);
    sl_buf_init(&canon, 0);
    CHECK_EQ_INT(s3_uri_encode("/test$file.text", 15, 1, &path, NULL), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&path, NULL), SL_OK);
    CHECK_STR((char *)path.data, "/test%24file.text");
    s3_header h[] = {{"Host", S3_DOC_HOST},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-date", S3_DOC_DATE},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                     {"x-amz-content-sha256", phash}};
    s3_sign_in in = {"PUT", (char *)path.data, "", h, 5, phash, S3_DOC_AK, S3_DOC_SK, "us-east-1", "s3", S3_DOC_DATE};
    CHECK_EQ_INT(s3_sign(&in, &auth, &canon, NULL), SL_OK);
    char hash[65];
    s3_sha256_hex(canon.data, canon.len, hash);
    CHECK_STR(hash, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    CHECK_STR((char *)auth.data, "AWS4-HMAC-SHA256 Credential=" S3_DOC_AK "/20130524/us-east-1/s3/aws4_request, "
                                 "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
                                 "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    sl_buf_free(&path);
    sl_buf_free(&auth);
    sl_buf_free(&canon);
}

/* A bucket-level GET of the S3 examples: query pairs through s3_query_canonical. */
static void s3_doc_bucket_get(const char *const *pairs, int nq, const char *want_query, const char *want_sts_hash,
                              const char *want_sig)
{
    sl_buf q, auth, canon;
    sl_buf_init(&q, 0);
    sl_buf_init(&auth, 0);
    sl_buf_init(&canon, 0);
    CHECK_EQ_INT(s3_query_canonical(pairs, nq, &q, NULL), SL_OK);
    CHECK_STR((char *)q.data, want_query);
    s3_header h[] = {{"host", S3_DOC_HOST}, {"x-amz-content-sha256", EMPTY_SHA256}, {"x-amz-date", S3_DOC_DATE}};
    s3_sign_in in = {"GET", "/", (char *)q.data, h, 3, EMPTY_SHA256, S3_DOC_AK, S3_DOC_SK, "us-east-1", "s3",
                     S3_DOC_DATE};
    CHECK_EQ_INT(s3_sign(&in, &auth, &canon, NULL), SL_OK);
    if (want_sts_hash) {
        char hash[65];
        s3_sha256_hex(canon.data, canon.len, hash);
        CHECK_STR(hash, want_sts_hash);
    }
    const char *sig = strstr((char *)auth.data, "Signature=");
    CHECK(sig != NULL);
    CHECK_STR(sig + 10, want_sig);
    CHECK(strstr((char *)auth.data, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,") != NULL);
    sl_buf_free(&q);
    sl_buf_free(&auth);
    sl_buf_free(&canon);
}

static void sigv4_s3_bucket_examples(void)
{
    /* "Example: GET Bucket Lifecycle": a parameter without a value signs as "lifecycle=". */
    const char *lifecycle[] = {"lifecycle", ""};
    s3_doc_bucket_get(lifecycle, 1, "lifecycle=", "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                      "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    if (t_failed_current) return;
    /* "Example: Get Bucket (List Objects)": two parameters, given out of order. */
    const char *list[] = {"prefix", "J", "max-keys", "2"};
    s3_doc_bucket_get(list, 2, "max-keys=2&prefix=J", NULL,
                      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

/* A case of the generic suite (service "service", AKIDEXAMPLE, 20150830T123600Z). */
static void suite_case(const char *method, const char *raw_path, const s3_header *extra, int nextra,
                       const char *body, const char *want_signed, const char *want_sig)
{
    s3_header h[8] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    for (int i = 0; i < nextra; i++) h[2 + i] = extra[i];
    char phash[65];
    s3_sha256_hex(body, strlen(body), phash);
    sl_buf path, auth;
    sl_buf_init(&path, 0);
    sl_buf_init(&auth, 0);
    CHECK_EQ_INT(s3_uri_encode(raw_path, strlen(raw_path), 1, &path, NULL), SL_OK);
    CHECK_EQ_INT(sl_buf_cstr(&path, NULL), SL_OK);
    s3_sign_in in = {method, (char *)path.data, "", h, 2 + nextra, phash, "AKIDEXAMPLE",
                     "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service", "20150830T123600Z"};
    CHECK_EQ_INT(s3_sign(&in, &auth, NULL, NULL), SL_OK);
    char want[400];
    snprintf(want, sizeof want,
             "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=%s, "
             "Signature=%s",
             want_signed, want_sig);
    CHECK_STR((char *)auth.data, want);
    sl_buf_free(&path);
    sl_buf_free(&auth);
}

static void sigv4_test_suite_cases(void)
{
    /* get-vanilla, post-vanilla */
    suite_case("GET", "/", NULL, 0, "", "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    if (t_failed_current) return;
    suite_case("POST", "/", NULL, 0, "", "host;x-amz-date",
               "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
    if (t_failed_current) return;
    /* get-utf8: the raw path "/\u1234" encodes to /%E1%88%B4 (once, as S3 does) */
    suite_case("GET", "/\xe1\x88\xb4", NULL, 0, "", "host;x-amz-date",
               "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
    if (t_failed_current) return;
    /* get-header-value-trim: values trimmed, inner runs of spaces folded (quotes too) */
    s3_header trim[] = {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}};
    suite_case("GET", "/", trim, 2, "", "host;my-header1;my-header2;x-amz-date",
               "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
    if (t_failed_current) return;
    /* post-x-www-form-urlencoded: a body, its hash signed */
    s3_header form[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    suite_case("POST", "/", form, 1, "Param1=value1", "content-type;host;x-amz-date",
               "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a");
}

static void addressing(void)
{
    s3_addr a;
    sl_err e = {0};
    /* AWS: virtual-hosted */
    CHECK_EQ_INT(s3_address(NULL, "eu-west-1", "my-bucket", -1, &a, &e), SL_OK);
    CHECK_STR(a.base_url, "https://my-bucket.s3.eu-west-1.amazonaws.com");
    CHECK_STR(a.host, "my-bucket.s3.eu-west-1.amazonaws.com");
    CHECK_STR(a.path_base, "");
    CHECK_EQ_INT(a.path_style, 0);
    /* AWS, a bucket with dots: path style (the wildcard certificate covers one label) */
    CHECK_EQ_INT(s3_address("", "us-east-1", "logs.example.com", -1, &a, &e), SL_OK);
    CHECK_STR(a.base_url, "https://s3.us-east-1.amazonaws.com/logs.example.com");
    CHECK_STR(a.path_base, "/logs.example.com");
    /* ... unless asked otherwise */
    CHECK_EQ_INT(s3_address("", "us-east-1", "logs.example.com", 0, &a, &e), SL_OK);
    CHECK_STR(a.host, "logs.example.com.s3.us-east-1.amazonaws.com");
    /* a custom endpoint: path style, the port kept, a trailing '/' dropped */
    CHECK_EQ_INT(s3_address("http://127.0.0.1:9000/", "us-east-1", "bkt", -1, &a, &e), SL_OK);
    CHECK_STR(a.base_url, "http://127.0.0.1:9000/bkt");
    CHECK_STR(a.host, "127.0.0.1:9000");
    CHECK_STR(a.path_base, "/bkt");
    CHECK_EQ_INT(a.path_style, 1);
    /* explicit default ports are not part of the Host curl sends, so not signed either */
    CHECK_EQ_INT(s3_address("https://minio.example.com:443", "us-east-1", "bkt", -1, &a, &e), SL_OK);
    CHECK_STR(a.host, "minio.example.com");
    CHECK_STR(a.base_url, "https://minio.example.com/bkt");
    CHECK_EQ_INT(s3_address("http://[::1]:80", "us-east-1", "bkt", -1, &a, &e), SL_OK);
    CHECK_STR(a.host, "[::1]");
    CHECK_EQ_INT(s3_address("http://[::80]", "us-east-1", "bkt", -1, &a, &e), SL_OK);
    CHECK_STR(a.host, "[::80]");
    CHECK_EQ_INT(s3_address("https://r2.example.com:8443", "auto", "bkt", 0, &a, &e), SL_OK);
    CHECK_STR(a.host, "bkt.r2.example.com:8443");
    CHECK_STR(a.base_url, "https://bkt.r2.example.com:8443");
    /* refused: another scheme, a path (it would need signing), a user part (a password
     * would reach messages) */
    CHECK_EQ_INT(s3_address("ftp://x", "us-east-1", "bkt", -1, &a, &e), SL_E_CONFIG);
    CHECK_EQ_INT(s3_address("https://host/base", "us-east-1", "bkt", -1, &a, &e), SL_E_CONFIG);
    CHECK_EQ_INT(s3_address("https://user:pw@host", "us-east-1", "bkt", -1, &a, &e), SL_E_CONFIG);
    CHECK(strstr(e.msg, "pw") == NULL);
    CHECK_EQ_INT(s3_address("https://", "us-east-1", "bkt", -1, &a, &e), SL_E_CONFIG);
}

static void backoff(void)
{
    CHECK_EQ_INT(s3_backoff_cap_ms(500, 1), 1000);
    CHECK_EQ_INT(s3_backoff_cap_ms(500, 2), 2000);
    CHECK_EQ_INT(s3_backoff_cap_ms(500, 5), 16000);
    CHECK_EQ_INT(s3_backoff_cap_ms(500, 6), 20000); /* the 20 s cap */
    CHECK_EQ_INT(s3_backoff_cap_ms(20, 3), 160);
    CHECK_EQ_INT(s3_backoff_cap_ms(60000, 1), 20000);
    CHECK_EQ_INT(s3_backoff_cap_ms(1, 99), 20000); /* no overflow at large n */
    CHECK_EQ_INT(s3_backoff_cap_ms(0, 3), 0);
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
    CHECK(s3_retryable(0, 400, "ThrottlingException"));
    CHECK(s3_retryable(0, 400, "RequestThrottledException"));
    CHECK(s3_retryable(0, 400, "PriorRequestNotComplete"));
    CHECK(s3_retryable(0, 429, ""));
    CHECK(s3_retryable(0, 200, "InternalError")); /* an error document inside a 200 */
    CHECK(!s3_retryable(0, 200, "AccessDenied"));
    CHECK(!s3_retryable(0, 404, "NoSuchUpload"));
    CHECK(!s3_retryable(0, 400, "InvalidDigest"));
    CHECK(!s3_retryable(0, 400, "BadDigest"));
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

static void loopback_endpoints(void)
{
    CHECK(s3_endpoint_is_loopback("http://127.0.0.1:9000"));
    CHECK(s3_endpoint_is_loopback("http://127.5.6.7"));
    CHECK(s3_endpoint_is_loopback("http://localhost:5000"));
    CHECK(s3_endpoint_is_loopback("http://[::1]:9000"));
    CHECK(!s3_endpoint_is_loopback("http://10.0.0.1:9000"));
    CHECK(!s3_endpoint_is_loopback("http://127.0.0.1.evil.example"));
    CHECK(!s3_endpoint_is_loopback("http://localhost.example.com"));
    CHECK(!s3_endpoint_is_loopback("http://[::1]x"));
    CHECK(!s3_endpoint_is_loopback("http://minio.internal:9000"));
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

/* The S3 XML reader's callback log: "name=text;" per element end (plain stdio: the
 * log must not allocate through sl_alloc, whose failures are under test). */
typedef struct xlog {
    char text[2048];
} xlog;
static void log_end(void *ud, const char *name, const char *text)
{
    xlog *l = ud;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s=%s;", name, text);
}

/* A ListObjectsV2 answer (AWS's documented example, with entities and CDATA): walked,
 * then walked with each allocation failing in turn up to the count the allocator
 * reports (expat's included): every failure is SL_E_NOMEM, never a crash, a leak (ASan)
 * or a silently shortened text; an error document's check is never taken for "no error". */
static void xml_alloc_failures(void)
{
    static const char list[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bucket</Name><Prefix/>"
        "<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
        "<Contents><Key>my-image&amp;.jpg</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>"
        "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key><![CDATA[raw/a<b>.parquet]]></Key><Size>7</Size></Contents></ListBucketResult>";
    static const char err_doc[] = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    const char *want = "Name=bucket;Prefix=;KeyCount=2;MaxKeys=1000;IsTruncated=true;"
                       "NextContinuationToken=1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=;Key=my-image&.jpg;"
                       "LastModified=2009-10-12T17:50:30.000Z;ETag=\"fba9dede5f27731c9771645a39863328\";Size=434234;"
                       "StorageClass=STANDARD;Contents=;Key=raw/a<b>.parquet;Size=7;Contents=;ListBucketResult=;";
    long total = -1;
    for (long n = -1;; n++) {
        xlog log = {{0}};
        sl_err e = {0};
        sl_alloc_fail_after(n);
        sl_code rc = s3_xml_walk(list, sizeof list - 1, log_end, &log, &e);
        long made = sl_alloc_fail_after(-1);
        if (n == -1) {
            CHECK_EQ_INT(rc, SL_OK);
            CHECK_STR(log.text, want);
            total = made;
            CHECK(total > 3);
        } else if (rc == SL_OK) {
            CHECK_STR(log.text, want);
        } else {
            CHECK_EQ_INT(rc, SL_E_NOMEM);
            CHECK(strstr(e.msg, "out of memory") != NULL);
            /* What was reported before the failure is a prefix of the whole, never altered. */
            CHECK(strncmp(want, log.text, strlen(log.text)) == 0);
        }
        if (n >= total) break;
    }
    for (long n = -1;; n++) {
        char code[64], msg[128];
        int is_error = -1;
        sl_err e = {0};
        sl_alloc_fail_after(n);
        sl_code rc = s3_xml_error_doc(err_doc, sizeof err_doc - 1, &is_error, code, sizeof code, msg, sizeof msg, &e);
        long made = sl_alloc_fail_after(-1);
        if (n == -1) total = made;
        if (rc == SL_OK) {
            CHECK_EQ_INT(is_error, 1);
            CHECK_STR(code, "SlowDown");
        } else {
            CHECK(n >= 0);
            CHECK_EQ_INT(rc, SL_E_NOMEM);
            CHECK_EQ_INT(is_error, 0);
        }
        if (n >= total) break;
    }
}

T_SUITE(suite_s3) = {
    {"sigv4_s3_get_object_example", sigv4_s3_get_object_example},
    {"sigv4_test_suite_query_order", sigv4_test_suite_query_order},
    {"sigv4_refuses_what_does_not_fit", sigv4_refuses_what_does_not_fit},
    {"sigv4_s3_put_object_example", sigv4_s3_put_object_example},
    {"sigv4_s3_bucket_examples", sigv4_s3_bucket_examples},
    {"sigv4_test_suite_cases", sigv4_test_suite_cases},
    {"addressing", addressing},
    {"backoff", backoff},
    {"encodings", encodings},
    {"url_parse", url_parse},
    {"credentials_file", credentials_file},
    {"retry_rules", retry_rules},
    {"part_sizes", part_sizes},
    {"loopback_endpoints", loopback_endpoints},
    {"error_documents", error_documents},
    {"xml_alloc_failures", xml_alloc_failures},
    T_END,
};
