/* cmd_check.c - `sluice check`: can we reach the database, and does it hold the
 * source schema the pipeline reads? Prints the server version and row estimates. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../common/sl_buf.h"
#include "../mysql/my_catalog.h"
#include "../mysql/my_conn.h"
#include "cli.h"

static void usage(FILE *out)
{
    fputs("Usage: sluice check [options]\n\n"
          "Connects with the MYSQL_* settings, prints the server version and the TLS version and\n"
          "cipher in use (or \"not encrypted\"), checks that the\n"
          "database holds every table and column of the source schema (customers, products,\n"
          "orders, order_items, warehouses, inventory) and prints row estimates.\n"
          "Exits 5 and names what is missing when the schema is incomplete.\n\n"
          "Options:\n"
          "  -h, --help   this help\n",
          out);
    cli_print_global_help(out);
}

int cmd_check(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    sl_err err = {0};
    my_params p;
    MYSQL *m;
    sl_buf missing;
    char who[512];
    int c, rc = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        return cli_usage_error("check", "unknown option");
    }
    if (optind < argc) return cli_usage_error("check", "unexpected argument '%s'", argv[optind]);
    if (cli_load_config(ctx, "check", &err) != 0) return cli_fail("check", &err);
    if (my_params_from_config(ctx->cfg, &p, 0, &err) != SL_OK) return cli_fail("check", &err);
    m = my_connect(&p, 0, &err);
    if (!m) return cli_fail("check", &err);
    printf("connected: %s\nserver: %s\n", my_params_describe(&p, who, sizeof who), mysql_get_server_info(m));
    printf("tls: %s (MYSQL_SSL_MODE=%s)\ndatabase: %s\n", my_tls_describe(m, who, sizeof who),
           my_ssl_mode_name(p.ssl_mode), p.database);
    sl_buf_init(&missing, 1 << 20);
    if (my_catalog_missing(m, my_source_schema, my_source_schema_count, &missing, &err) != SL_OK) {
        rc = cli_fail("check", &err);
        goto done;
    }
    for (int t = 0; t < my_source_schema_count; t++) {
        long long rows = -1;
        if (my_catalog_row_estimate(m, my_source_schema[t].table, &rows, &err) != SL_OK) {
            rc = cli_fail("check", &err);
            goto done;
        }
        if (rows >= 0) printf("table %-12s ~%lld rows\n", my_source_schema[t].table, rows);
        else printf("table %-12s missing\n", my_source_schema[t].table);
    }
    if (missing.len) {
        sl_err_set(&err, SL_E_SCHEMA, "database '%s' lacks the source schema's %s", p.database,
                   (const char *)missing.data);
        rc = cli_fail("check", &err);
    } else {
        printf("schema: ok\n");
    }
done:
    sl_buf_free(&missing);
    my_close(m);
    return rc;
}
