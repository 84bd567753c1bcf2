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
 * database, and a database whose previous round is still running, or whose
 * worker found no free slot, keeps its turn for the next launcher tick
 * (evlog_retention_start_round), so a slow database never delays the
 * launcher's other duties nor the other databases' rounds.  A prune behind
 * a transaction holding the log gives up after evlog.maintenance_lock_wait
 * (locks.c) and the round is skipped.
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

#include "as_user.h"
#include "prune.h"
#include "retention.h"
#include "summaries.h"
#include "util.h"

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

/*
 * launcher-local: databases due for a round whose worker has not started
 * yet, oldest first (in TopMemoryContext).
 */
static List *pending = NIL;

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

/*
 * Forget the rounds whose worker has stopped, freeing their handles: the
 * launcher lives as long as the server, and databases come and go.
 */
static void
forget_stopped_rounds(void)
{
	int			kept = 0;

	for (int i = 0; i < nrounds; i++)
	{
		pid_t		pid;

		if (GetBackgroundWorkerPid(rounds[i].handle, &pid) == BGWH_STOPPED)
			pfree(rounds[i].handle);
		else
			rounds[kept++] = rounds[i];
	}
	nrounds = kept;
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

/*
 * From the launcher's loop, about once a second: is a round due, or are
 * databases of an earlier round still waiting for their worker?
 */
bool
evlog_retention_due(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (evlog_retention_s <= 0)
	{
		list_free(pending);
		pending = NIL;
		return false;
	}
	return now >= next_round || pending != NIL;
}

/*
 * Fairness.  Every database gets its round within one check interval of
 * the previous one or as soon as a worker slot frees up, whatever happens
 * elsewhere: a due database stays pending until its worker has started,
 * and pending databases are served oldest first, every launcher tick, so
 * one that could not start (no free slot, its previous round still
 * running) goes first next time instead of after every other database.
 * A database whose worker fails is not pending any more: its next round
 * comes with the next interval.
 */
void
evlog_retention_start_round(List *dbs)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext oldcxt;
	ListCell   *lc;
	List	   *still = NIL;
	bool		full = false;

	forget_stopped_rounds();
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (now >= next_round)
	{
		next_round = TimestampTzPlusMilliseconds(now, (int64) evlog_retention_check_interval_s * 1000);
		foreach(lc, dbs)
			pending = list_append_unique_oid(pending, lfirst_oid(lc));
	}

	foreach(lc, pending)
	{
		Oid			dboid = lfirst_oid(lc);
		BackgroundWorker bgw;
		BackgroundWorkerHandle *handle;

		/* dropped meanwhile: not due any more */
		if (!list_member_oid(dbs, dboid))
			continue;
		if (full || round_running(dboid))
		{
			still = lappend_oid(still, dboid);
			continue;
		}
		evlog_bgworker_init(&bgw, "evlog_retention_main", "evlog retention", dboid);
		bgw.bgw_notify_pid = MyProcPid;
		if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		{
			/* no free slot: this one and the rest keep their turn */
			full = true;
			still = lappend_oid(still, dboid);
			continue;
		}
		remember_round(dboid, handle);
	}
	list_free(pending);
	pending = still;
	MemoryContextSwitchTo(oldcxt);
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

/*
 * evlog_prune(before) in a transaction of its own.  When a
 * transaction holds the log past evlog.maintenance_lock_wait (locks.c),
 * the round is skipped with a LOG message: the next round tries again, and
 * the closed partitions are summarised all the same.  Returns the number
 * of events removed.
 */
static int64
prune_or_skip(TimestampTz before)
{
	/*
	 * The error is copied here, outside the transaction: the abort below
	 * deletes the transaction's memory, and a copy made there would be read
	 * and pfree'd after it was gone (pfree into a deleted context corrupts
	 * the next transaction's memory).
	 */
	MemoryContext cxt = CurrentMemoryContext;
	volatile int64 removed = 0;

	Assert(!IsTransactionState());
	evlog_worker_xact_begin("evlog: scheduled evlog_prune");
	PG_TRY();
	{
		removed = DatumGetInt64(DirectFunctionCall1(evlog_prune, TimestampTzGetDatum(before)));
		evlog_worker_xact_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			PG_RE_THROW();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(LOG,
				(errcode(edata->sqlerrcode),
				 errmsg("evlog retention skipped this round: %s", edata->message),
				 edata->hint ? errhint("%s", edata->hint) : 0));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return removed;
}

/* One round in one database: prune, then summarise; then exit. */
void
evlog_retention_main(Datum main_arg)
{
	TimestampTz before;
	int64		removed = 0;
	bool		installed;

	evlog_worker_connect(DatumGetObjectId(main_arg), "evlog retention", false);

	evlog_worker_xact_begin(NULL);
	installed = evlog_11_installed();
	evlog_worker_xact_end();
	if (!installed)
		proc_exit(0);
	before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										 -(int64) evlog_retention_s * 1000);
	removed = prune_or_skip(before);
	if (removed > 0)
		ereport(LOG,
				(errmsg("evlog retention removed " INT64_FORMAT " events older than %s",
						removed, timestamptz_to_str(before))));

	evlog_worker_xact_begin("evlog: summarising closed partitions");
	(void) evlog_partitions_summarise();
	evlog_worker_xact_end();
	proc_exit(0);
}
