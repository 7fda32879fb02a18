/* fuzz_inspect.c - libFuzzer harness for the Parquet reader behind `sluice inspect`:
 * the input is a whole file, read from memory (pq_reader_open_mem) the way inspect
 * reads it from disk: footer, the JSON document with statistics, the first rows
 * (--head 50) and the escaped text rendering. cmd_inspect.c is compiled in, so the
 * code under test is the command's own, not a copy. Any input must give a document or
 * an error (SL_E_FORMAT, SL_E_UNSUPPORTED), never a crash, a leak or an overread. */
#include "../../src/cli/cmd_inspect.c"

/* The two cli.h functions cmd_inspect.c refers to (defined in main.c). */
void cli_print_global_help(FILE *out) { (void)out; }
int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    (void)cmd;
    (void)fmt;
    return SL_EXIT_USAGE;
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    sl_err e = {0};
    pq_reader *rd;
    if (!devnull) devnull = fopen("/dev/null", "w");
    rd = pq_reader_open_mem("fuzz.parquet", data, n, &e);
    if (!rd) {
        if (e.code != SL_E_FORMAT && e.code != SL_E_IO) abort();
        return 0;
    }
    /* Both renderings; --head 50, and without --head (which must always work). */
    for (int as_json = 0; as_json < 2; as_json++) {
        sl_code rc = inspect_one(rd, 50, as_json, 0, devnull, &e);
        if (rc != SL_OK && rc != SL_E_FORMAT && rc != SL_E_UNSUPPORTED) abort();
        if (rc != SL_OK && inspect_one(rd, -1, as_json, 0, devnull, &e) != SL_OK) abort();
    }
    pq_reader_close(rd);
    return 0;
}
