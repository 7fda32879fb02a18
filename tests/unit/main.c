/* main.c - the unit test runner: every suite is listed here, once. Runs all (or
 * those whose name contains argv[1]) and ends with "N passed, N failed". */
#include <stdio.h>
#include <string.h>

#include "test.h"

extern const t_case suite_common[];
extern const t_case suite_config[];
extern const t_case suite_batch[];
extern const t_case suite_seed[];
extern const t_case suite_pqread[];
extern const t_case suite_pqwrite[];
extern const t_case suite_store[];
extern const t_case suite_s3[];
extern const t_case suite_observe[];
extern const t_case suite_incremental[];
extern const t_case suite_plan[];
extern const t_case suite_mysql[];
extern const t_case suite_report[];
extern const t_case suite_tfmap[];
extern const t_case suite_pack[];
extern const t_case suite_idset[];
extern const t_case suite_select[];

static const struct {
    const char *name;
    const t_case *cases;
} suites[] = {
    {"common", suite_common},
    {"config", suite_config},
    {"batch", suite_batch},
    {"seed", suite_seed},
    {"pqread", suite_pqread},
    {"pqwrite", suite_pqwrite},
    {"store", suite_store},
    {"s3", suite_s3},
    {"observe", suite_observe},
    {"incremental", suite_incremental},
    {"plan", suite_plan},
    {"mysql", suite_mysql},
    {"report", suite_report},
    {"tfmap", suite_tfmap},
    {"pack", suite_pack},
    {"idset", suite_idset},
    {"select", suite_select},
};

int t_failed_current;

void t_report(const char *file, int line, const char *what)
{
    fprintf(stderr, "    FAILED %s:%d: %s\n", file, line, what);
    t_failed_current = 1;
}

void t_report_bytes(const char *file, int line, const char *what, const uint8_t *got, const uint8_t *want, size_t n)
{
    fprintf(stderr, "    FAILED %s:%d: %s bytes differ\n      got: ", file, line, what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x ", got[i]);
    fprintf(stderr, "\n     want: ");
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%02x ", want[i]);
    fprintf(stderr, "\n");
    t_failed_current = 1;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        for (const t_case *c = suites[s].cases; c->name; c++) {
            char full[256];
            snprintf(full, sizeof full, "%s.%s", suites[s].name, c->name);
            if (filter && !strstr(full, filter)) continue;
            t_failed_current = 0;
            c->fn();
            if (t_failed_current) {
                failed++;
                printf("FAIL %s\n", full);
            } else {
                passed++;
                printf("ok   %s\n", full);
            }
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched\n");
        return 1;
    }
    return failed ? 1 : 0;
}
