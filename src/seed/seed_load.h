/* seed_load.h - putting the generated sample data into a MySQL/MariaDB database. */
#ifndef SL_SEED_LOAD_H
#define SL_SEED_LOAD_H

#include <mysql.h>

#include "../common/sl_error.h"
#include "seed.h"

/* Runs init/ SQL files's CREATE TABLE IF NOT EXISTS statements. */
sl_code seed_create_schema(MYSQL *m, sl_err *err);

/* Creates the schema if absent and loads every table. The tables must be empty, or
 * `replace` empties them first. m must be opened with MY_LOCAL_INFILE. */
sl_code seed_load(MYSQL *m, const seed_params *p, int replace, sl_err *err);

#endif
