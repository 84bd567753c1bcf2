/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Scheduled pruning (evlog 1.1): with evlog.retention set, every
 *	  evlog.retention_check_interval the launcher starts, for each database,
 *	  a short-lived worker that runs evlog_prune(now() - evlog.retention)
 *	  and summarises the closed partitions.
 *
 * Why a worker per database and per round: a background worker connects to
 * one database for life, and the launcher (worker.c) connects to none.  A
 * round's worker exits at once where evlog is absent or older than 1.1, so
 * the cost of a round where there is nothing to do is one connection per
 * database.  The launcher never waits for them: it keeps one handle per
 * database and skips a database whose previous round is still running (a
 * prune waiting behind a long transaction for its ACCESS EXCLUSIVE lock),
 * so a slow database never delays the launcher's other duties.
 *
 * Needs shared_preload_libraries = 'evlog' (the launcher).  Without it,
 * schedule evlog_prune with cron or pg_cron instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "evlog.h"

int			evlog_retention_s = 0;
int			evlog_retention_check_interval_s = 60;

/* launcher-local: the running round per database */
typedef struct RetentionRound
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} RetentionRound;

static RetentionRound *rounds = NULL;
static int	nrounds = 0;
static TimestampTz next_round = 0;

static bool
round_running(Oid dboid)
{
	for (int i = 0; i < nrounds; i++)
	{
		pid_t		pid;

		if (rounds[i].dboid == dboid)
			return GetBackgroundWorkerPid(rounds[i].handle, &pid) != BGWH_STOPPED;
	}
	return false;
}

static void
remember_round(Oid dboid, BackgroundWorkerHandle *handle)
{
	for (int i = 0; i < nrounds; i++)
	{
		if (rounds[i].dboid == dboid)
		{
			pfree(rounds[i].handle);
			rounds[i].handle = handle;
			return;
		}
	}
	rounds = rounds == NULL ?
		MemoryContextAlloc(TopMemoryContext, sizeof(RetentionRound)) :
		repalloc(rounds, sizeof(RetentionRound) * (nrounds + 1));
	rounds[nrounds].dboid = dboid;
	rounds[nrounds].handle = handle;
	nrounds++;
}

/* From the launcher's loop, about once a second: is a round due? */
bool
evlog_retention_due(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (evlog_retention_s <= 0 || now < next_round)
		return false;
	next_round = TimestampTzPlusMilliseconds(now, (int64) evlog_retention_check_interval_s * 1000);
	return true;
}

/* Start one worker per database whose previous round has finished. */
void
evlog_retention_start_round(List *dbs)
{
	ListCell   *lc;

	foreach(lc, dbs)
	{
		Oid			dboid = lfirst_oid(lc);
		BackgroundWorker bgw;
		BackgroundWorkerHandle *handle;

		if (round_running(dboid))
			continue;
		evlog_bgworker_init(&bgw, "evlog_retention_main", "evlog retention", dboid);
		bgw.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
			break;				/* no free slot: next round */
		remember_round(dboid, handle);
	}
}

/* Is evlog 1.1 or later installed in this database? */
static bool
evlog_11_installed(void)
{
	Oid			ext = get_extension_oid("evlog", true);

	if (!OidIsValid(ext))
		return false;
	return OidIsValid(get_relname_relid("partition_summaries", get_namespace_oid("evlog", true)));
}

/* One round in one database: prune, then summarise; then exit. */
void
evlog_retention_main(Datum main_arg)
{
	TimestampTz before;
	int64		removed = 0;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), InvalidOid, 0);
	evlog_worker_pin_settings();
	pgstat_report_appname("evlog retention");

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!evlog_11_installed())
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		proc_exit(0);
	}
	pgstat_report_activity(STATE_RUNNING, "evlog: scheduled evlog_prune");
	before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										 -(int64) evlog_retention_s * 1000);
	removed = DatumGetInt64(DirectFunctionCall1(evlog_prune, TimestampTzGetDatum(before)));
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (removed > 0)
		ereport(LOG,
				(errmsg("evlog retention removed " INT64_FORMAT " events older than %s",
						removed, timestamptz_to_str(before))));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "evlog: summarising closed partitions");
	(void) evlog_partitions_summarise();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
