/* test.h - tiny assertion macros for sluice's C unit tests (after redis's testhelp.h).
 * A test is a void function; a failed CHECK prints where and returns from it. */
#ifndef SL_TEST_H
#define SL_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

extern int t_failed_current;
void t_report(const char *file, int line, const char *what);

#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            t_report(__FILE__, __LINE__, #cond);                      \
            return;                                                   \
        }                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                        \
    do {                                                                          \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                   \
        if (t_a_ != t_b_) {                                                       \
            char t_m_[256];                                                       \
            snprintf(t_m_, sizeof t_m_, "%s == %s (%lld != %lld)", #a, #b, t_a_, t_b_); \
            t_report(__FILE__, __LINE__, t_m_);                                   \
            return;                                                               \
        }                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                           \
    do {                                                                          \
        const char *t_a_ = (a), *t_b_ = (b);                                      \
        if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) {                          \
            char t_m_[1024];                                                      \
            snprintf(t_m_, sizeof t_m_, "%.150s == %.150s (\"%.300s\" != \"%.300s\")", #a, #b, \
                     t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");             \
            t_report(__FILE__, __LINE__, t_m_);                                   \
            return;                                                               \
        }                                                                         \
    } while (0)

/* Compares n bytes, printing both in hex on failure. */
#define CHECK_BYTES(got, want, n)                                                 \
    do {                                                                          \
        if (memcmp((got), (want), (n)) != 0) {                                    \
            t_report_bytes(__FILE__, __LINE__, #got, (const uint8_t *)(got),      \
                           (const uint8_t *)(want), (n));                         \
            return;                                                               \
        }                                                                         \
    } while (0)
void t_report_bytes(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want, size_t n);

typedef struct t_case {
    const char *name;
    void (*fn)(void);
} t_case;

/* Each test file defines one suite: a NULL-terminated array of cases,
 * listed in tests/unit/main.c. */
#define T_SUITE(name) const t_case name[]
#define T_END {NULL, NULL}

#endif
