/* sl_alloc.h - every allocation of sluice goes through these functions, so that a
 * test can make the n-th allocation fail and prove each failure path cleans up
 * (curl's torture mode, SQLite's fault injection). */
#ifndef SL_ALLOC_H
#define SL_ALLOC_H

#include <stddef.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t size);
void *sl_realloc(void *p, size_t n);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);
void sl_free(void *p);

/* Test hook: allocations after the next `n` succeed-calls fail (n < 0: never fail).
 * Returns how many allocations were attempted since the last call. */
long sl_alloc_fail_after(long n);

#endif
