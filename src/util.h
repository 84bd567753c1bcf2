/*-------------------------------------------------------------------------
 *
 * util.h
 *	  Small helpers every subsystem uses: quoting a relation's name, running one SPI statement with a checked
 *	  result, and a background worker's transaction and registration.  They
 *	  live at the bottom of evlog's layers and call nothing of evlog's, so
 *	  any module may use them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_UTIL_H
#define EVLOG_UTIL_H

#include "evlog.h"

/* schema.name of a relation, each part quoted as needed */
extern char *evlog_qualified_name(Oid relid);

/*
 * Run one statement through SPI (connected by the caller) and return
 * SPI_processed.  expect is the SPI_OK_* result the statement must give,
 * or EVLOG_SPI_ANY to accept every success; anything else is an internal
 * error naming the statement.
 */
#define EVLOG_SPI_ANY	0
extern uint64 evlog_spi_exec(const char *sql, int expect);
extern uint64 evlog_spi_exec_args(const char *sql, int nargs, Oid *types,
								  Datum *values, const char *nulls, int expect);
/* the first column of the first row of a query, as int8 (*isnull if none) */
extern int64 evlog_spi_int8(const char *sql, bool *isnull);

/*
 * A background worker's unit of work: a transaction with a snapshot,
 * reported in pg_stat_activity as activity (NULL: not reported) until
 * evlog_worker_xact_end commits it and reports the worker idle.
 */
extern void evlog_worker_xact_begin(const char *activity);
extern void evlog_worker_xact_end(void);

/*
 * Fill in a dynamic background worker of evlog's, connected to database
 * dboid; type doubles as the name, suffixed with the database.  The caller
 * sets bgw_notify_pid and bgw_extra as needed.
 */
struct BackgroundWorker;
extern void evlog_bgworker_init(struct BackgroundWorker *bgw, const char *function,
								const char *type, Oid dboid);

#endif							/* EVLOG_UTIL_H */
