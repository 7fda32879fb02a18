/* sl_config.h - settings by name, as the original pipeline's .env has them
 * (MYSQL_HOST, MYSQL_PORT, MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD, AWS_...).
 * A value comes from, in order: a command-line flag (sl_config_set), the process
 * environment, the .env file. Values are never logged: they may be secrets. */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stdint.h>

#include "sl_error.h"

typedef struct sl_config sl_config;

sl_config *sl_config_create(sl_err *err);
void sl_config_free(sl_config *c);

/* Parses a .env file: KEY=VALUE lines, '#' comments, an optional 'export ' prefix,
 * single quotes (literal), double quotes (\n \t \" \\ \$ escapes), unquoted values
 * trimmed, with ' #' starting a comment. A missing file is fine unless `required`.
 * A malformed line fails with SL_E_CONFIG naming the file and line (never its value). */
sl_code sl_config_load_file(sl_config *c, const char *path, int required, sl_err *err);
/* Same, from a string (tests); `name` is used in messages. */
sl_code sl_config_load_string(sl_config *c, const char *name, const char *text, sl_err *err);

/* Flag override. */
sl_code sl_config_set(sl_config *c, const char *key, const char *value, sl_err *err);
/* NULL when unset anywhere. Empty strings count as set. */
const char *sl_config_get(const sl_config *c, const char *key);
const char *sl_config_get_or(const sl_config *c, const char *key, const char *dflt);
/* Integer in [min, max]; `dflt` when unset; SL_E_CONFIG naming the key otherwise. */
sl_code sl_config_get_int(const sl_config *c, const char *key, int64_t dflt, int64_t min, int64_t max,
                          int64_t *out, sl_err *err);
/* Where a value came from: "flag", "environment", "<file>:<line>", or "unset". */
const char *sl_config_source(const sl_config *c, const char *key, char *buf, unsigned long cap);

#endif
