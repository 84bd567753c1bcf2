/*-------------------------------------------------------------------------
 *
 * as_user.c
 *	  The one way evlog runs code on someone else's behalf.
 *
 * evlog runs statements as roles other than its caller: as the owner of
 * evlog.event_log for its own tables (derived rows, partitions, summaries,
 * pruning), as the owner of a user view's handler when it calls the
 * handler, and as the owner of a user view's target when it reads, counts
 * or empties that table.  Each such section is bracketed by
 * evlog_as_user_begin() / evlog_as_user_end(), which do what PostgreSQL
 * itself does for REFRESH MATERIALIZED VIEW and index builds
 * (ExecRefreshMatView, index_build):
 *
 *	  - switch to the role with SECURITY_RESTRICTED_OPERATION, so that code a
 *		less privileged role planted (a trigger, rule, cast, operator or
 *		function it owns) cannot change session state that outlives the
 *		section (SET ROLE, temporary objects, cursors WITH HOLD, LISTEN);
 *	  - open a GUC nest level and pin the settings that decide what SQL text
 *		means and where new tables go: search_path = pg_catalog, pg_temp (no
 *		operator, function or cast from a caller's schema can be picked up),
 *		default_tablespace = '' and default_table_access_method = heap (a
 *		caller's SET cannot place evlog's partitions); the nest level is
 *		closed at the end, or by the transaction's abort on error;
 *	  - at the end, undo every setting changed inside the section, not only
 *		the pinned ones: a plain SET (or set_config(..., false)) run by a
 *		handler or a target's trigger would otherwise outlive the section
 *		and the caller's transaction, and the next statement of the caller
 *		(a superuser's session, a background worker) would run with the
 *		search_path that code chose.  AtEOXact_GUC(false, ...), as
 *		index_build and ExecRefreshMatView do.
 *
 * The rule for callers: a user-owned object (a view's target, a handler) is
 * only ever touched as that object's owner, never as the log's owner.
 *
 * EVLOG_AS_TEMP_TABLES drops SECURITY_RESTRICTED_OPERATION, because
 * PostgreSQL refuses to create temporary tables inside one (matview.c makes
 * the same exception for its diff table).  It is only for sections that run
 * evlog's own fixed statements on evlog's own tables and on temporary tables
 * they create themselves (the staging tables of evlog_rebuild and
 * evlog_verify): no other role can attach a trigger or rule to those, and
 * the pinned search_path leaves no operator or function to plant.  Every
 * user object such a section reaches is reached through a nested
 * evlog_as_user_begin() without the flag.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"

#include "as_user.h"

void
evlog_as_user_begin(Oid user, int flags, EvlogAsUser *as)
{
	int			sec;

	GetUserIdAndSecContext(&as->save_user, &as->save_sec);
	sec = as->save_sec | SECURITY_LOCAL_USERID_CHANGE;
	if (!(flags & EVLOG_AS_TEMP_TABLES))
		sec |= SECURITY_RESTRICTED_OPERATION;
	SetUserIdAndSecContext(user, sec);
	as->spi = (flags & EVLOG_AS_SPI) != 0;
	if (as->spi && SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	as->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("default_tablespace", "",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("default_table_access_method", "heap",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
evlog_as_user_end(EvlogAsUser *as)
{
	/* false: roll back every change made at this level, a plain SET too */
	AtEOXact_GUC(false, as->nestlevel);
	if (as->spi)
		SPI_finish();
	SetUserIdAndSecContext(as->save_user, as->save_sec);
}

/*
 * A background worker connected to a database (the queue writer, the
 * retention and partition workers) runs as a superuser or the log's owner
 * with that database's settings: ALTER DATABASE ... SET, which the
 * database's owner, not necessarily a superuser, controls.  Its own SQL
 * must not depend on them: search_path is pinned for the worker's life, as
 * a session setting (above the database's, which a configuration reload
 * does not bring back; not above a function's own SET clause, which a
 * handler called by the queue writer may carry).
 */
void
evlog_worker_pin_settings(void)
{
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);
}

/*
 * The start of each of evlog's database workers: SIGTERM handled as its
 * main loop expects (a worker that loops checks for a shutdown request
 * between rounds; a one-shot worker dies at its next interrupt check),
 * connected to dboid as the bootstrap superuser (a NOLOGIN owner could not
 * connect; work as another role goes through evlog_as_user_begin),
 * settings pinned, and named in pg_stat_activity.
 */
void
evlog_worker_connect(Oid dboid, const char *appname, bool loops)
{
	if (loops)
	{
		pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
		pqsignal(SIGHUP, SignalHandlerForConfigReload);
	}
	else
		pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	evlog_worker_pin_settings();
	pgstat_report_appname(appname);
}
