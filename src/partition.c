/*-------------------------------------------------------------------------
 *
 * partition.c
 *	  The log's partitions (evlog 1.1): creating them ahead of need, by
 *	  evlog's partition creator or evlog_create_partitions().
 *
 * From 1.1 on, evlog.event_log is partitioned by RANGE (seq) (reading
 * across the partitions is logscan.c's).
 *
 * Partitions are named evlog.event_log_p<lower bound, 19 digits>, so that
 * name order is seq order (pg_dump restores table data in name order, and
 * the derive trigger then sees RolloutOpened before its transitions).  A new
 * partition is created as a standalone table and then ATTACHed, which needs
 * only SHARE UPDATE EXCLUSIVE on the parent: appenders (ROW EXCLUSIVE) are
 * never blocked.  Creation happens
 *	  - in evlog's partition creator, a short-lived background worker that
 *		appenders start when their seqs come within half a partition of the
 *		last partition's top, and wait for (evlog.partition_wait at most)
 *		when a burst outruns it: an appending transaction never creates a
 *		partition and never takes the log's SHARE UPDATE EXCLUSIVE lock
 *		(see "The partition creator" below for the few exceptions);
 *	  - from evlog_create_partitions(ahead), e.g. before a bulk load, in the
 *		caller's transaction.
 * The size of new partitions is evlog.partition_size (seqs per partition).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/inval.h"
#include "catalog/pg_constraint.h"
#include "common/int.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "as_user.h"
#include "catcache.h"
#include "locks.h"
#include "logscan.h"
#include "partition.h"
#include "summaries.h"
#include "util.h"
#include "watermark.h"

PG_FUNCTION_INFO_V1(evlog_create_partitions);
/* ------------------------------------------------------------------------
 * Creating partitions
 * ------------------------------------------------------------------------
 */

/*
 * Create and attach the partition [lo, hi).  The caller is connected to
 * SPI, runs as the log's owner and holds SHARE UPDATE EXCLUSIVE on the log.
 */
static void
create_partition(int64 lo, int64 hi)
{
	char	   *name = psprintf("event_log_p%019lld", (long long) lo);

	/*
	 * A standalone table first: ATTACH then needs only SHARE UPDATE
	 * EXCLUSIVE on the parent, and builds the partition's indexes and clones
	 * the row triggers (append-only, derive) from the parent.  TRUNCATE
	 * triggers are not cloned: each partition gets its own.
	 */
	(void) evlog_spi_exec(psprintf("CREATE TABLE evlog.%s (LIKE evlog.event_log INCLUDING DEFAULTS "
								  "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)", name), EVLOG_SPI_ANY);
	(void) evlog_spi_exec(psprintf("CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON evlog.%s "
								  "FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_change()", name), EVLOG_SPI_ANY);
	(void) evlog_spi_exec(psprintf("ALTER TABLE evlog.%s ENABLE ALWAYS TRIGGER event_log_no_truncate", name), EVLOG_SPI_ANY);
	(void) evlog_spi_exec(psprintf("REVOKE ALL ON evlog.%s FROM PUBLIC", name), EVLOG_SPI_ANY);
	(void) evlog_spi_exec(psprintf("COMMENT ON TABLE evlog.%s IS 'partition of evlog.event_log: seqs "
								  INT64_FORMAT " to " INT64_FORMAT " (created by evlog; dropped by evlog_prune)'",
								  name, lo, hi - 1), EVLOG_SPI_ANY);
	(void) evlog_spi_exec(psprintf("ALTER TABLE evlog.event_log ATTACH PARTITION evlog.%s "
								  "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
								  name, lo, hi), EVLOG_SPI_ANY);
}

/*
 * ATTACH clones the foreign keys that reference the log to the new
 * partition, taking SHARE ROW EXCLUSIVE on each referencing table (the
 * derived tables of a 1.1 database, an application's table): a wait there
 * would hold back every appender that queues behind it.  The partition
 * creator takes those locks first, without waiting, and tries again later
 * when one is busy.
 */
static bool referencing_nowait = false;
static bool referencing_busy = false;	/* the last failure was that */

/*
 * Tables with a foreign key to the log: lock each (SHARE ROW EXCLUSIVE,
 * without waiting) when lock is set, else only say whether there is one.
 */
static bool
referencing_tables(Oid logid, bool lock)
{
	bool		found = false;

	Relation	con = table_open(ConstraintRelationId, AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tup;

	scan = systable_beginscan(con, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint c = (Form_pg_constraint) GETSTRUCT(tup);

		if (c->contype != CONSTRAINT_FOREIGN || c->confrelid != logid ||
			OidIsValid(c->conparentid))
			continue;
		found = true;
		if (lock && !ConditionalLockRelationOid(c->conrelid, ShareRowExclusiveLock))
		{
			referencing_busy = true;
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock \"%s\" for attaching a partition without waiting",
							get_rel_name(c->conrelid))));
		}
	}
	systable_endscan(scan);
	table_close(con, AccessShareLock);
	return found;
}

/*
 * The log's sequence position (last seq handed out, 0 if none), unchanged.
 * Read as the sequence's owner: appending roles have no privilege on it.
 */
static int64
sequence_position(void)
{
	Oid			seqid = evlog_relid("event_log_seq_seq");
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(seqid));
	Oid			owner;
	EvlogAsUser as;
	Datum		last;
	LOCAL_FCINFO(lfc, 1);

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", seqid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	evlog_as_user_begin(owner, 0, &as);
	InitFunctionCallInfoData(*lfc, NULL, 1, InvalidOid, NULL, NULL);
	lfc->args[0].value = ObjectIdGetDatum(seqid);
	lfc->args[0].isnull = false;
	last = pg_sequence_last_value(lfc);
	evlog_as_user_end(&as);
	return lfc->isnull ? 0 : DatumGetInt64(last);
}

/*
 * Make sure partitions reach at least up to seq "upto" (inclusive),
 * creating at most max_new partitions; returns how many were created.
 * Takes SHARE UPDATE EXCLUSIVE on the log (held to transaction end, so
 * concurrent creators queue and then see ours).
 *
 * Seqs are spent by transactions that fail after allocating them, and a
 * caller can spend any number; nobody will ever append at them.  Creating
 * every partition of evlog.partition_size seqs up to "upto" could then take
 * thousands of CREATE/ATTACHes in one transaction (minutes, and more locks
 * than the lock table holds), failing the same way at every later append.
 * So when more than max_new would be needed, the first one spans the gap:
 * it covers a whole number of partitions' worth of seqs, so the later
 * partitions keep their usual bounds, and holds whatever lands there.
 */
int
evlog_partitions_ensure(int64 upto, int max_new)
{
	Oid			logid = evlog_relid("event_log");
	Relation	log;
	EvlogPart  *parts;
	int			nparts;
	int64		next;
	int64		needed;
	int			created = 0;
	bool		force;
	EvlogAsUser as;

	LockRelationOid(logid, ShareUpdateExclusiveLock);
	log = table_open(logid, NoLock);
	evlog_require_11(log, "creating partitions");

	/*
	 * A partition is created LIKE the log, which leaves out dropped
	 * columns: with one in the log, the new partition's rows would not
	 * have the log's layout, and the writer refuses such a partition.
	 */
	evlog_check_log_layout(log);
	if (RelationGetDescr(log)->natts != EVLOG_LOG_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot create a partition of evlog.event_log: the table has a dropped column"),
				 errdetail("A new partition would not have the column layout of the existing ones."),
				 errhint("Dump the database, recreate the extension and restore it to get a clean layout.")));
	parts = evlog_log_parts(log, &nparts);
	/* no partition yet (fresh install, or all pruned): start at the sequence */
	next = nparts > 0 ? parts[nparts - 1].hi : sequence_position();
	if (next >= PG_INT64_MAX - 1)
	{
		table_close(log, NoLock);
		return 0;				/* the last partition reaches the end */
	}
	next++;
	force = nparts == 0;
	if (next > upto && !force)
	{
		table_close(log, NoLock);
		return 0;
	}

	if (referencing_nowait)
	{
		referencing_busy = false;
		(void) referencing_tables(logid, true);
	}
	/* the appender's own settings (default_tablespace...) do not apply */
	evlog_as_user_begin(log->rd_rel->relowner, EVLOG_AS_SPI, &as);
	table_close(log, NoLock);
	needed = next > upto ? 1 : (upto - next) / evlog_partition_size + 1;
	while (needed > 0)
	{
		int64		width = (int64) evlog_partition_size;
		int64		hi;

		CHECK_FOR_INTERRUPTS();
		if (needed > max_new - created)
		{
			/* the gap: all but the room left for max_new */
			int64		nwide = needed - (max_new - created) + 1;

			width = nwide > PG_INT64_MAX / evlog_partition_size ?
				PG_INT64_MAX : nwide * evlog_partition_size;
			needed -= nwide;
		}
		else
			needed--;
		hi = next > PG_INT64_MAX - width ? PG_INT64_MAX : next + width;
		create_partition(next, hi);
		created++;
		next = hi;
		if (hi == PG_INT64_MAX)
			break;				/* no seq above it */
	}
	/* subscribers create theirs from this (watermark_publish.c) */
	if (created > 0)
		evlog_watermark_record_top(next - 1);
	evlog_as_user_end(&as);
	return created;
}

/* backend-local: the highest seq known to have a partition */
static int64 known_top = 0;

/*
 * Half a partition beyond seq, where appenders ask for partitions; at most
 * the end of bigint (a seq near it must not overflow).
 */
int64
evlog_seq_plus_margin(int64 seq)
{
	int64		sum;

	if (pg_add_s64_overflow(seq, Max(evlog_partition_size / 2, 1), &sum))
		return PG_INT64_MAX;
	return sum;
}

/*
 * Called by the writer with the log open, after allocating seq: does the
 * log need a partition ahead soon?  Cheap: compares with the cached top.
 */
bool
evlog_partitions_needed(Relation log, int64 seq)
{
	int64		target = evlog_seq_plus_margin(seq);

	if (!evlog_log_is_partitioned(log))
		return false;
	if (known_top == 0 || target > known_top)
	{
		int			n;
		EvlogPart  *parts = evlog_log_parts(log, &n);

		known_top = n > 0 ? parts[n - 1].hi : 0;
		pfree(parts);
	}
	return target > known_top;
}

/*
 * The partition creator: a short-lived dynamic background worker, at most
 * one per database at a time, that works as the log's owner.  It creates
 * partitions in transactions of its own until the log's sequence is at
 * least half a partition below the top, then starts a summariser for the
 * partitions the log has moved past and exits.  The summariser is the same
 * worker in another role, with a lock of its own: counting a partition
 * reads all its rows (a restored log has every partition to count again)
 * and may wait for a lock on evlog.partition_summaries, and a creator that
 * did it itself would keep the creator's lock all that time, while
 * appenders that need a partition could start no other creator.  Appenders ask for it when their seqs come
 * near the top (evlog_partitions_request) and, when a burst outruns it, wait
 * for it a bounded time (evlog_partitions_await): an appending transaction
 * never takes the log's SHARE UPDATE EXCLUSIVE lock itself, so it never
 * holds a DDL lock to its end, never queues behind one and cannot deadlock
 * with another appender over one.
 *
 * The creator waits for SHARE UPDATE EXCLUSIVE on the log like any ATTACH.
 * Appenders (ROW EXCLUSIVE) and readers do not conflict with it, so nobody
 * queues behind the waiting creator but other maintenance, which takes its
 * strong locks with a short lock_timeout (locks.c) and so steps aside.  The
 * locks ATTACH takes on tables with a foreign key to the log (SHARE ROW
 * EXCLUSIVE) do conflict with appenders, so those are tried without waiting
 * and retried.
 *
 * "One per database" is a session lock the creator holds while it runs;
 * a backend that finds it taken does not start another.  The job tells the
 * creator the partition size of the session that asked (a SUSET setting).
 *
 * Like evlog's other workers, it connects as the bootstrap superuser and
 * does its work as the log's owner, read from the catalog where the work
 * is done (evlog_partitions_ensure, sequence_position, the summaries): the
 * owner need not be able to log in (the superuser who installed evlog may
 * be NOLOGIN by now), and a worker connecting as such a role would fail
 * at every start, leaving appenders without partitions.
 */
typedef struct PartitionJob
{
	int64		upto;
	int32		size;
	bool		summarise;		/* the summariser, not a creator */
} PartitionJob;

/* field3 tells the creator's lock (0) from the summariser's (1) */
static void
set_creator_tag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, 0,
						 EVLOG_LOCK_PARTITION_CREATOR);
}

static void
set_summariser_tag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, 1,
						 EVLOG_LOCK_PARTITION_CREATOR);
}

/* Is a partition creator running for this database? */
static bool
creator_running(void)
{
	LOCKTAG		tag;

	set_creator_tag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, false);
	return false;
}

/*
 * The creator this backend started last, until it is seen gone (in
 * TopMemoryContext: it outlives the transaction that started it).  While
 * it has not yet taken the creator lock, only this handle tells that it
 * is on its way.
 */
static BackgroundWorkerHandle *launched = NULL;

static void launch_summariser(void);
static void summariser_main(void) pg_attribute_noreturn();

static bool
launched_running(void)
{
	pid_t		pid;

	if (launched == NULL)
		return false;
	if (GetBackgroundWorkerPid(launched, &pid) != BGWH_STOPPED)
		return true;
	pfree(launched);
	launched = NULL;
	return false;
}

/*
 * Start a creator for partitions up to "upto", unless one is running or on
 * its way.  False only when none could be started (no free background
 * worker slot, or no postmaster).  We are notified (our latch is set) when
 * it starts and when it exits.
 */
static bool
launch_creator(int64 upto)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PartitionJob job = {upto, evlog_partition_size, false};
	MemoryContext old;
	bool		ok;

	if (!IsUnderPostmaster)
		return false;
	if (launched_running() || creator_running())
		return true;
	evlog_bgworker_init(&worker, "evlog_partition_worker_main", "evlog partition creator", MyDatabaseId);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(PartitionJob) <= BGW_EXTRALEN, "bgw_extra too small");
	memcpy(worker.bgw_extra, &job, sizeof(job));
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(old);
	if (ok)
		launched = handle;
	return ok;
}

/*
 * May this process create partitions in its own transaction?  Only where
 * that stalls nobody or no creator could do it:
 *	- this transaction already holds SHARE UPDATE EXCLUSIVE or more on the
 *	  log (it created the log, as CREATE EXTENSION does, or called
 *	  evlog_create_partitions): a creator would wait for us;
 *	- evlog's own background processes (the queue's writer), whose
 *	  transactions are short, and which must not wait for a new worker:
 *	  DROP DATABASE holds the database's lock, which a new worker needs to
 *	  connect, while it waits for the writer to leave;
 *	- no postmaster (single-user mode);
 *	- a table has a foreign key to the log (the derived tables of a 1.1
 *	  database, or an application's): ATTACH then locks it against our own
 *	  ROW EXCLUSIVE on it, so a creator could not finish before we do.
 */
static bool
may_create_here(Relation log)
{
	if (!IsUnderPostmaster)
		return true;
	if (referencing_tables(RelationGetRelid(log), false))
		return true;
	if (IsBackgroundWorker && MyBgworkerEntry != NULL &&
		strcmp(MyBgworkerEntry->bgw_library_name, "evlog") == 0)
		return true;
	return CheckRelationLockedByMe(log, ShareUpdateExclusiveLock, true);
}

/*
 * From the append path, after the writer closed the log: a seq came within
 * half a partition of the top.  Starts the creator if it is not running;
 * never waits and never creates a partition in this transaction.
 */
void
evlog_partitions_request(Oid owner, int64 seq)
{
	/* owner: the creator reads it from the catalog itself */
	known_top = 0;
	(void) launch_creator(evlog_seq_plus_margin(seq));
}

/*
 * The writer needs a partition covering seq now (the head overtook the
 * partitions made ahead, or the log has none).  Returns true if the caller
 * is to create it in this transaction (see may_create_here); otherwise
 * waits for the creator, at most evlog.partition_wait, and returns false
 * once a partition covers seq, or fails.  The log stays open: the creator's
 * ATTACH needs nothing that conflicts with our ROW EXCLUSIVE, and relcache
 * invalidation shows us the new partition.
 */
bool
evlog_partitions_await(Relation log, int64 seq)
{
	TimestampTz start = GetCurrentTimestamp();
	bool		started = false;

	if (may_create_here(log))
		return true;
	for (;;)
	{
		EvlogPart	part;

		CHECK_FOR_INTERRUPTS();
		AcceptInvalidationMessages();
		if (evlog_log_part_for(log, seq, &part))
			return false;

		/* a creator that exited before getting this far: start another */
		started |= launch_creator(evlog_seq_plus_margin(seq));
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), evlog_partition_wait_ms))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no partition of evlog.event_log covers seq " INT64_FORMAT " yet", seq),
					 errdetail(started ?
							   "evlog's partition creator did not attach one within evlog.partition_wait (%d ms)." :
							   "evlog could not start its partition creator within evlog.partition_wait (%d ms): no background worker slot was free.",
							   evlog_partition_wait_ms),
					 errhint("Create partitions ahead of large loads with evlog_create_partitions(ahead), or raise evlog.partition_size; "
							 "look in pg_locks for a session holding a lock on evlog.event_log that conflicts with SHARE UPDATE EXCLUSIVE.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * The creator's work, one transaction: partitions up to "upto", and a whole
 * partition beyond the sequence's position (whatever was allocated since
 * the job was made), so that appenders, who ask at half a partition, do not
 * ask again for half a partition of appends.  The whole partition in the
 * first round, and in a later one only if appenders would ask at the
 * position now (a burst went on while we created): not in every round,
 * since the top of a fresh log's first partition is exactly one partition
 * beyond position 0, and a second round would then make a second partition
 * whenever the appender waiting for the first had taken its seq by then.
 * Returns how many it created.
 */
static int
creator_round(int64 upto, bool first)
{
	int			created;
	int64		pos;
	int64		ahead = evlog_partition_size;
	bool		extend = first;

	evlog_worker_xact_begin("evlog: creating partitions");
	pos = sequence_position();
	if (!extend)
	{
		Relation	log = table_open(evlog_relid("event_log"), AccessShareLock);

		extend = evlog_partitions_needed(log, pos);
		table_close(log, AccessShareLock);
	}
	if (extend)
		upto = Max(upto, pos > PG_INT64_MAX - ahead ? PG_INT64_MAX : pos + ahead);
	created = evlog_partitions_ensure(upto, EVLOG_PARTITIONS_AUTO_MAX);
	evlog_worker_xact_end();
	return created;
}

/*
 * Start a summariser (see "The partition creator"), unless one is running:
 * nobody waits for it, so it notifies nobody.
 */
static void
launch_summariser(void)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PartitionJob job = {0, evlog_partition_size, true};
	LOCKTAG		tag;

	/* a session lock: the creator calls this outside any transaction */
	set_summariser_tag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return;
	LockRelease(&tag, ExclusiveLock, true);
	evlog_bgworker_init(&worker, "evlog_partition_worker_main", "evlog partition summariser", MyDatabaseId);
	worker.bgw_notify_pid = 0;
	memcpy(worker.bgw_extra, &job, sizeof(job));
	if (RegisterDynamicBackgroundWorker(&worker, &handle))
		pfree(handle);
}

/*
 * The summariser: count the closed partitions that have no valid summary,
 * in a transaction of its own, one summariser per database, then exit.  A
 * failure only means prune counts them itself.
 */
static void
summariser_main(void)
{
	LOCKTAG		tag;
	char		timeout[16];

	set_summariser_tag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		proc_exit(0);			/* another one is counting */
	/* a lock held by an idle transaction: give up, the next one counts */
	snprintf(timeout, sizeof(timeout), "%d", Max(evlog_maintenance_lock_wait_ms, 1));
	SetConfigOption("lock_timeout", timeout, PGC_SUSET, PGC_S_OVERRIDE);

	evlog_worker_xact_begin("evlog: summarising closed partitions");
	PG_TRY();
	{
		(void) evlog_partitions_summarise();
		evlog_worker_xact_end();
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	PG_END_TRY();
	proc_exit(0);
}

/* The partition creator's main (see above), then exit. */
void
evlog_partition_worker_main(Datum main_arg)
{
	PartitionJob job;
	char		size[16];
	char		timeout[16];
	LOCKTAG		tag;
	TimestampTz start;
	long		backoff = 10;
	volatile bool first = true;

	memcpy(&job, MyBgworkerEntry->bgw_extra, sizeof(job));
	evlog_worker_connect(DatumGetObjectId(main_arg),
						 job.summarise ? "evlog partition summariser" : "evlog partition creator",
						 false);
	if (job.summarise)
		summariser_main();

	set_creator_tag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		proc_exit(0);			/* another creator is at it */

	snprintf(size, sizeof(size), "%d", job.size);
	SetConfigOption("evlog.partition_size", size, PGC_SUSET, PGC_S_OVERRIDE);
	/* a lock held by an idle transaction: give up, an appender asks again */
	snprintf(timeout, sizeof(timeout), "%d", Max(evlog_maintenance_lock_wait_ms, 1));
	SetConfigOption("lock_timeout", timeout, PGC_SUSET, PGC_S_OVERRIDE);
	referencing_nowait = true;

	/*
	 * Rounds until the sequence is half a partition below the top: a burst
	 * that goes on while we create gets its partitions from us, not from a
	 * new worker each time.  A round that could not lock a referencing table
	 * without waiting is tried again after a backoff; any other failure
	 * (including lock_timeout) ends the job.
	 */
	start = GetCurrentTimestamp();
	for (;;)
	{
		MemoryContext cxt = CurrentMemoryContext;
		ErrorData  *edata = NULL;
		int			created = 0;

		CHECK_FOR_INTERRUPTS();
		PG_TRY();
		{
			created = creator_round(job.upto, first);
			first = false;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			AbortCurrentTransaction();
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		PG_END_TRY();
		if (edata == NULL && created == 0)
			break;				/* far enough ahead */
		if (edata != NULL)
		{
			if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE || !referencing_busy ||
				TimestampDifferenceExceeds(start, GetCurrentTimestamp(), evlog_maintenance_lock_wait_ms))
			{
				ereport(LOG,
						(errcode(edata->sqlerrcode),
						 errmsg("evlog partition creator could not create partitions: %s", edata->message)));
				break;
			}
			FreeErrorData(edata);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 backoff, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			backoff = Min(backoff * 2, 1000);
		}
	}

	/*
	 * Then the partitions the log has moved past are to be counted, so that
	 * evlog_prune need not (summaries.c): by a summariser, so that this lock is
	 * free for the next creator meanwhile.  No free worker slot only means
	 * prune counts them itself.
	 */
	launch_summariser();
	proc_exit(0);
}

/*
 * evlog_create_partitions(ahead integer DEFAULT 2, upto bigint DEFAULT
 * NULL): make sure partitions cover "ahead" whole partitions beyond the
 * current position of the log's sequence, and at least up to seq "upto";
 * returns how many it created.
 */
Datum
evlog_create_partitions(PG_FUNCTION_ARGS)
{
	int32		ahead = PG_ARGISNULL(0) ? 2 : PG_GETARG_INT32(0);
	int64		upto = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1);

	int64		pos;

	/* each partition costs a CREATE and an ATTACH and holds its locks */
	if (ahead < 0 || ahead > EVLOG_PARTITIONS_CALL_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ahead must be between 0 and %d", EVLOG_PARTITIONS_CALL_MAX),
				 errhint("Call evlog_create_partitions() again later to go further.")));
	PreventCommandIfReadOnly("evlog_create_partitions()");

	pos = sequence_position();
	PG_RETURN_INT32(evlog_partitions_ensure(Max(upto, pos + (int64) ahead * evlog_partition_size),
											EVLOG_PARTITIONS_CALL_MAX));
}
