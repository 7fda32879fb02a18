/* my_exec.c - test tool: connects with the MYSQL_* settings of the environment as
 * sluice does (my_connect: TLS, restricted password plugins, no multi-statements) and
 * runs each argument as one statement with my_exec. Prints "tls: ..." then "ok" per
 * statement; on failure the error and exit 4 (connect) or 1 (statement).
 * Usage: my_exec [SQL]...
 *    or: my_exec --bounded SECONDS SQL   (my_exec_bounded: a second connection kills SQL
 *        if it runs longer; prints "killed" then) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/common/sl_config.h"
#include "../../src/mysql/my_conn.h"
#include "../../src/mysql/my_lock.h"

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
    if (argc == 4 && strcmp(argv[1], "--bounded") == 0) {
        int killed = 0;
        MYSQL *watch = my_connect(&p, 0, &err);
        if (!watch) {
            fprintf(stderr, "my_exec: %s\n", err.msg);
            rc = 4;
        } else {
            if (my_exec_bounded(m, watch, argv[3], atof(argv[2]), &killed, &err) != SL_OK) {
                fprintf(stderr, "my_exec: %s\n", err.msg);
                rc = 1;
            }
            printf("%s\n", killed ? "killed" : "not killed");
        }
        my_close(watch);
        argc = 1;
    }
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
