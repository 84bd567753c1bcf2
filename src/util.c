/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Helpers at the bottom of evlog's layers (see util.h): relation
 *	  lookup, quoted names, checked SPI statements, a background worker's
 *	  transaction and registration.  Nothing here calls the rest of evlog.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "util.h"

char *
evlog_qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}

static uint64
spi_check(const char *sql, int rc, int expect)
{
	if (expect == EVLOG_SPI_ANY ? rc < 0 : rc != expect)
		elog(ERROR, "evlog: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
	return SPI_processed;
}

uint64
evlog_spi_exec(const char *sql, int expect)
{
	return spi_check(sql, SPI_execute(sql, false, 0), expect);
}

uint64
evlog_spi_exec_args(const char *sql, int nargs, Oid *types, Datum *values,
					const char *nulls, int expect)
{
	return spi_check(sql, SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0),
					 expect);
}

int64
evlog_spi_int8(const char *sql, bool *isnull)
{
	evlog_spi_exec(sql, SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		*isnull = true;
		return 0;
	}
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull));
}

void
evlog_worker_xact_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (activity != NULL)
		pgstat_report_activity(STATE_RUNNING, activity);
}

void
evlog_worker_xact_end(void)
{
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * Every dynamic worker of evlog is started once recovery is over and never
 * restarted by the postmaster: whoever started it decides whether it runs
 * again.
 */
void
evlog_bgworker_init(BackgroundWorker *bgw, const char *function, const char *type, Oid dboid)
{
	memset(bgw, 0, sizeof(*bgw));
	bgw->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw->bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw->bgw_library_name, "evlog", BGW_MAXLEN);
	strlcpy(bgw->bgw_function_name, function, BGW_MAXLEN);
	snprintf(bgw->bgw_name, BGW_MAXLEN, "%s for database %u", type, dboid);
	strlcpy(bgw->bgw_type, type, BGW_MAXLEN);
	bgw->bgw_main_arg = ObjectIdGetDatum(dboid);
}
