/* sl_alloc.c - the single allocation path, with a fault-injection counter for tests. */
#include "sl_alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1; /* < 0: disabled */
static atomic_long attempts = 0;

static int should_fail(void)
{
    atomic_fetch_add(&attempts, 1);
    if (atomic_load(&fail_countdown) < 0) return 0;
    return atomic_fetch_sub(&fail_countdown, 1) <= 0;
}

long sl_alloc_fail_after(long n)
{
    long a = atomic_exchange(&attempts, 0);
    atomic_store(&fail_countdown, n);
    return a;
}

void *sl_malloc(size_t n)
{
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *sl_calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *sl_realloc(void *p, size_t n)
{
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

char *sl_strndup(const char *s, size_t n)
{
    char *d = sl_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sl_strdup(const char *s)
{
    return s ? sl_strndup(s, strlen(s)) : NULL;
}

void sl_free(void *p)
{
    free(p);
}
