/* sl_config.c - .env parsing and layered lookup (flags > environment > file). */
#include "sl_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sl_alloc.h"
#include "sl_buf.h"

typedef struct entry {
    char *key;
    char *value;
    int line;     /* 0 for flags */
    struct entry *next;
} entry;

struct sl_config {
    entry *flags;
    entry *file;
    char *file_name;
};

sl_config *sl_config_create(sl_err *err)
{
    sl_config *c = sl_calloc(1, sizeof *c);
    if (!c) sl_err_set(err, SL_E_NOMEM, "out of memory");
    return c;
}

static void free_list(entry *e)
{
    while (e) {
        entry *n = e->next;
        if (e->value) memset(e->value, 0, strlen(e->value)); /* may be a secret */
        sl_free(e->key);
        sl_free(e->value);
        sl_free(e);
        e = n;
    }
}

void sl_config_free(sl_config *c)
{
    if (!c) return;
    free_list(c->flags);
    free_list(c->file);
    sl_free(c->file_name);
    sl_free(c);
}

static entry *find(entry *e, const char *key)
{
    for (; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

static sl_code put(entry **list, const char *key, size_t klen, const char *val, size_t vlen, int line, sl_err *err)
{
    entry *e;
    char *k = sl_strndup(key, klen), *v = sl_strndup(val, vlen);
    if (!k || !v) goto nomem;
    e = find(*list, k);
    if (e) { /* later lines win, as in shells */
        sl_free(k);
        sl_free(e->value);
        e->value = v;
        e->line = line;
        return SL_OK;
    }
    e = sl_calloc(1, sizeof *e);
    if (!e) goto nomem;
    e->key = k;
    e->value = v;
    e->line = line;
    e->next = *list;
    *list = e;
    return SL_OK;
nomem:
    sl_free(k);
    sl_free(v);
    return sl_err_set(err, SL_E_NOMEM, "out of memory");
}

sl_code sl_config_set(sl_config *c, const char *key, const char *value, sl_err *err)
{
    return put(&c->flags, key, strlen(key), value, strlen(value), 0, err);
}

static sl_code bad_line(const char *name, int line, const char *why, sl_err *err)
{
    return sl_err_set(err, SL_E_CONFIG, "%s:%d: %s", name, line, why);
}

/* Parses one logical line starting at p (ending at '\n' or NUL); returns the end. */
static sl_code parse_line(sl_config *c, const char *name, int line, const char *p, const char *end, sl_err *err)
{
    const char *k0, *k1;
    sl_buf val;
    sl_code rc;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end || *p == '#') return SL_OK;
    if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
        p += 7;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
    }
    k0 = p;
    if (p == end || !(isalpha((unsigned char)*p) || *p == '_'))
        return bad_line(name, line, "expected KEY=VALUE (a key starts with a letter or '_')", err);
    while (p < end && (isalnum((unsigned char)*p) || *p == '_' || *p == '.')) p++;
    k1 = p;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    if (p == end || *p != '=') return bad_line(name, line, "expected '=' after the key", err);
    p++;
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    sl_buf_init(&val, 1 << 20);
    if (p < end && (*p == '\'' || *p == '"')) {
        char q = *p++;
        int closed = 0;
        while (p < end) {
            char ch = *p++;
            if (ch == q) {
                closed = 1;
                break;
            }
            if (q == '"' && ch == '\\' && p < end) {
                char e = *p++;
                ch = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
                if (!(e == 'n' || e == 't' || e == 'r' || e == '"' || e == '\\' || e == '$')) {
                    if ((rc = sl_buf_append_byte(&val, '\\', err)) != SL_OK) goto done;
                }
            }
            if ((rc = sl_buf_append_byte(&val, (uint8_t)ch, err)) != SL_OK) goto done;
        }
        if (!closed) {
            rc = bad_line(name, line, "unterminated quoted value", err);
            goto done;
        }
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (p < end && *p != '#') {
            rc = bad_line(name, line, "unexpected text after the closing quote", err);
            goto done;
        }
    } else {
        const char *v0 = p, *v1;
        while (p < end && !(*p == '#' && (p == v0 || p[-1] == ' ' || p[-1] == '\t'))) p++;
        v1 = p;
        while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t' || v1[-1] == '\r')) v1--;
        if ((rc = sl_buf_append(&val, v0, (size_t)(v1 - v0), err)) != SL_OK) goto done;
    }
    rc = put(&c->file, k0, (size_t)(k1 - k0), val.data ? (const char *)val.data : "", val.len, line, err);
done:
    if (val.data) memset(val.data, 0, val.cap);
    sl_buf_free(&val);
    return rc;
}

sl_code sl_config_load_string(sl_config *c, const char *name, const char *text, sl_err *err)
{
    const char *p = text;
    int line = 1;
    sl_free(c->file_name);
    c->file_name = sl_strdup(name);
    if (!c->file_name) return sl_err_set(err, SL_E_NOMEM, "out of memory");
    while (*p) {
        const char *e = strchr(p, '\n');
        if (!e) e = p + strlen(p);
        {
            const char *end = e;
            if (end > p && end[-1] == '\r') end--;
            SL_TRY(parse_line(c, name, line, p, end, err));
        }
        p = *e ? e + 1 : e;
        line++;
    }
    return SL_OK;
}

sl_code sl_config_load_file(sl_config *c, const char *path, int required, sl_err *err)
{
    FILE *f = fopen(path, "rb");
    sl_buf b;
    sl_code rc;
    char chunk[4096];
    size_t n;
    if (!f) {
        if (!required && errno == ENOENT) return SL_OK;
        return sl_err_set(err, SL_E_CONFIG, "cannot read settings file %s: %s", path, strerror(errno));
    }
    sl_buf_init(&b, 16 << 20);
    rc = SL_OK;
    while (rc == SL_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0) rc = sl_buf_append(&b, chunk, n, err);
    fclose(f);
    if (rc == SL_OK) rc = sl_buf_cstr(&b, err);
    if (rc == SL_OK) rc = sl_config_load_string(c, path, b.data ? (char *)b.data : "", err);
    if (b.data) memset(b.data, 0, b.cap);
    sl_buf_free(&b);
    return rc;
}

const char *sl_config_get(const sl_config *c, const char *key)
{
    entry *e = find(c->flags, key);
    const char *env;
    if (e) return e->value;
    env = getenv(key);
    if (env) return env;
    e = find(c->file, key);
    return e ? e->value : NULL;
}

const char *sl_config_get_or(const sl_config *c, const char *key, const char *dflt)
{
    const char *v = sl_config_get(c, key);
    return v && *v ? v : dflt;
}

sl_code sl_config_get_int(const sl_config *c, const char *key, int64_t dflt, int64_t min, int64_t max,
                          int64_t *out, sl_err *err)
{
    const char *v = sl_config_get(c, key);
    char *endp;
    long long x;
    if (!v || !*v) {
        *out = dflt;
        return SL_OK;
    }
    errno = 0;
    x = strtoll(v, &endp, 10);
    if (errno || *endp || endp == v || x < min || x > max) {
        char src[300];
        return sl_err_set(err, SL_E_CONFIG, "setting %s (from %s) must be a whole number from %lld to %lld",
                          key, sl_config_source(c, key, src, sizeof src), (long long)min, (long long)max);
    }
    *out = x;
    return SL_OK;
}

const char *sl_config_source(const sl_config *c, const char *key, char *buf, unsigned long cap)
{
    entry *e;
    if (find(c->flags, key)) return "flag";
    if (getenv(key)) return "environment";
    e = find(c->file, key);
    if (e) {
        snprintf(buf, cap, "%s:%d", c->file_name ? c->file_name : ".env", e->line);
        return buf;
    }
    return "unset";
}
