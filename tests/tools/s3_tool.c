/* s3_tool.c - drives the store interface from the integration tests and the S3
 * benchmark, so the S3 backend can be tested on its own:
 *   s3_tool put  URL KEY FILE [--abort]   upload FILE as KEY (written in 1 MiB pieces);
 *                                        --abort aborts instead of finishing
 *   s3_tool get  URL KEY FILE            read KEY into FILE (at most 256 MiB, or
 *                                        S3_TOOL_READ_MAX bytes)
 *   s3_tool list URL PREFIX              "key size" lines
 *   s3_tool rm   URL KEY
 * URL is a store location (s3://bucket/prefix or a folder); settings come from the
 * environment as for sluice. Exit code: the CLI's (sl_exit_code). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/sl_buf.h"
#include "../../src/common/sl_config.h"
#include "../../src/sink/store.h"

static int fail(const sl_err *e)
{
    fprintf(stderr, "s3_tool: error: %s\n", e->msg);
    return sl_exit_code(e->code);
}

static int print_key(void *ud, const char *key, uint64_t size)
{
    (void)ud;
    printf("%s %llu\n", key, (unsigned long long)size);
    return 0;
}

int main(int argc, char **argv)
{
    sl_err e = {0};
    if (argc < 4) {
        fprintf(stderr, "usage: s3_tool put|get|list|rm URL KEY [FILE] [--abort]\n");
        return 2;
    }
    sl_config *cfg = sl_config_create(&e);
    if (!cfg) return fail(&e);
    sl_store *st = sl_store_open(argv[2], cfg, &e);
    if (!st) return fail(&e);
    int rc = 0;
    const char *cmd = argv[1], *key = argv[3];
    if (strcmp(cmd, "put") == 0 && argc >= 5) {
        FILE *f = fopen(argv[4], "rb");
        if (!f) {
            fprintf(stderr, "s3_tool: cannot open %s\n", argv[4]);
            return 1;
        }
        sl_sink *sk = sl_store_create(st, key, &e);
        sl_code c = sk ? SL_OK : e.code;
        static char buf[1 << 20];
        size_t n;
        while (c == SL_OK && (n = fread(buf, 1, sizeof buf, f)) > 0) c = sl_sink_write(sk, buf, n, &e);
        fclose(f);
        if (c == SL_OK && argc >= 6 && strcmp(argv[5], "--abort") == 0) {
            sl_sink_abort(sk);
            printf("aborted\n");
        } else if (c == SL_OK) {
            c = sl_sink_finish(sk, &e);
            if (c == SL_OK) printf("put %llu\n", (unsigned long long)sk->bytes);
        }
        sl_sink_release(sk);
        if (c != SL_OK) rc = fail(&e);
    } else if (strcmp(cmd, "get") == 0 && argc >= 5) {
        sl_buf out;
        const char *max = getenv("S3_TOOL_READ_MAX");
        sl_buf_init(&out, max ? (size_t)strtoull(max, NULL, 10) : (size_t)256 << 20);
        if (sl_store_read(st, key, &out, &e) != SL_OK) {
            rc = sl_store_is_not_found(&e) ? (fprintf(stderr, "s3_tool: not found: %s\n", e.msg), 3) : fail(&e);
        } else {
            FILE *f = fopen(argv[4], "wb");
            if (!f || fwrite(out.data, 1, out.len, f) != out.len) rc = 1;
            if (f) fclose(f);
        }
        sl_buf_free(&out);
    } else if (strcmp(cmd, "list") == 0) {
        if (sl_store_list(st, key, print_key, NULL, &e) != SL_OK) rc = fail(&e);
    } else if (strcmp(cmd, "rm") == 0) {
        if (sl_store_remove(st, key, &e) != SL_OK) rc = fail(&e);
    } else {
        fprintf(stderr, "s3_tool: unknown command %s\n", cmd);
        rc = 2;
    }
    sl_store_free(st);
    sl_config_free(cfg);
    return rc;
}
