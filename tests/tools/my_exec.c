/* my_exec.c - test tool: connects with the MYSQL_* settings of the environment as
 * sluice does (my_connect: TLS, restricted password plugins, no multi-statements) and
 * runs each argument as one statement with my_exec. Prints "tls: ..." then "ok" per
 * statement; on failure the error and exit 4 (connect) or 1 (statement).
 * Usage: my_exec [SQL]... */
#include <stdio.h>

#include "../../src/common/sl_config.h"
#include "../../src/mysql/my_conn.h"

int main(int argc, char **argv)
{
    sl_err err = {0};
    my_params p;
    char buf[200];
    int rc = 0;
    sl_config *cfg = sl_config_create(&err);
    if (!cfg || my_params_from_config(cfg, &p, 0, &err) != SL_OK) {
        fprintf(stderr, "my_exec: %s\n", err.msg);
        sl_config_free(cfg);
        return 3;
    }
    MYSQL *m = my_connect(&p, 0, &err);
    if (!m) {
        fprintf(stderr, "my_exec: %s\n", err.msg);
        sl_config_free(cfg);
        return 4;
    }
    printf("tls: %s\n", my_tls_describe(m, buf, sizeof buf));
    for (int i = 1; i < argc && rc == 0; i++) {
        if (my_exec(m, argv[i], &err) != SL_OK) {
            fprintf(stderr, "my_exec: %s\n", err.msg);
            rc = 1;
        } else {
            printf("ok\n");
        }
    }
    my_close(m);
    sl_config_free(cfg);
    return rc;
}
