/* cmd_seed.c - `sluice seed`: creates the source schema if absent and loads
 * deterministic sample data (src/seed/) into the configured database. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/sl_time.h"
#include "../mysql/my_conn.h"
#include "../seed/seed_load.h"
#include "cli.h"

static void usage(FILE *out)
{
    fputs("Usage: sluice seed --scale S [--seed N] [--anchor 'YYYY-MM-DD HH:MM:SS'] [--replace]\n\n"
          "Creates the source schema (init/*.sql) if absent and loads deterministic sample data\n"
          "into MYSQL_DATABASE: customers 100,000*S, products 10,000*S (at least 50), warehouses\n"
          "50*S (at least 20), orders 1,000,000*S over the two years before the anchor, about 2.5\n"
          "order_items per order, about 5 inventory rows per product. The same scale, seed and\n"
          "anchor give byte-identical tables.\n\n"
          "Options:\n"
          "  --scale S        size factor, a positive real number (0.001 is allowed)\n"
          "  --seed N         random seed, default 42\n"
          "  --anchor TS      UTC time the data ends at, default today 00:00:00 UTC\n"
          "  --replace        empty the six source tables first (else they must be empty)\n"
          "  -h, --help       this help\n",
          out);
    cli_print_global_help(out);
}

int cmd_seed(cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"scale", required_argument, NULL, 's'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"anchor", required_argument, NULL, 'a'},
                                         {"replace", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    sl_err err = {0};
    seed_params p = {0, 42, 0};
    my_params mp;
    MYSQL *m;
    int c, replace = 0, have_scale = 0, rc = 0;
    double t0;
    char *end;
    p.anchor_us = seed_default_anchor();
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            errno = 0;
            p.scale = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(p.scale > 0) || p.scale > 1000)
                return cli_usage_error("seed", "--scale takes a number above 0 and at most 1000, not '%s'", optarg);
            have_scale = 1;
            break;
        case 'S':
            errno = 0;
            p.seed = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || optarg[0] == '-')
                return cli_usage_error("seed", "--seed takes a non-negative integer, not '%s'", optarg);
            break;
        case 'a':
            if (sl_ts_parse(optarg, &p.anchor_us, &err) != SL_OK)
                return cli_usage_error("seed", "--anchor: %s", err.msg);
            break;
        case 'r': replace = 1; break;
        case 'h': usage(stdout); return 0;
        default: return cli_usage_error("seed", "unknown option");
        }
    }
    if (optind < argc) return cli_usage_error("seed", "unexpected argument '%s'", argv[optind]);
    if (!have_scale) return cli_usage_error("seed", "--scale is required");
    if (cli_load_config(ctx, "seed", &err) != 0) return cli_fail("seed", &err);
    if (my_params_from_config(ctx->cfg, &mp, 0, &err) != SL_OK) return cli_fail("seed", &err);
    m = my_connect(&mp, MY_LOCAL_INFILE, &err);
    if (!m) return cli_fail("seed", &err);
    t0 = sl_mono_seconds();
    if (seed_load(m, &p, replace, &err) != SL_OK) rc = cli_fail("seed", &err);
    else if (!ctx->quiet) fprintf(stderr, "seed: done in %.1f s\n", sl_mono_seconds() - t0);
    my_close(m);
    return rc;
}
