/* SPDX-License-Identifier: MIT */
/* The SQLite schema as numbered migrations, applied in order, tracked with PRAGMA user_version. */
#ifndef HITL_STORE_MIGRATIONS_H
#define HITL_STORE_MIGRATIONS_H

#include <stddef.h>

/* Migration i (0-based) brings a database from user_version i to i + 1. Each entry is one or more
 * SQL statements separated by semicolons. Append only: never edit a migration that has shipped. */
extern const char *const hitl__sqlite_migrations[];
extern const size_t hitl__sqlite_migrations_count;

#endif
