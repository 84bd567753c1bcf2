/*-------------------------------------------------------------------------
 *
 * partition.c
 *	  The log's partitions (evlog 1.1): scanning the log in seq order across
 *	  them, and creating them ahead of need.
 *
 * From 1.1 on, evlog.event_log is partitioned by RANGE (seq); evlog 1.0
 * had one plain table.  Everything that walks the log in seq order (the
 * safe-seq horizon, evlog_read, sealing and verifying the chain, rebuild)
 * goes through an EvlogLogScan, which visits the partitions in bound order
 * and each one through its own primary-key index, so it works on both
 * layouts: a plain table is one "partition" covering every seq.  A
 * partitioned index cannot be scanned directly, hence the walk.
 *
 * Partitions are named evlog.event_log_p<lower bound, 19 digits>, so that
 * name order is seq order (pg_dump restores table data in name order, and
 * the derive trigger then sees RolloutOpened before its transitions).  A new
 * partition is created as a standalone table and then ATTACHed, which needs
 * only SHARE UPDATE EXCLUSIVE on the parent: appenders (ROW EXCLUSIVE) are
 * never blocked.  Creation happens
 *	  - from the append path, once an allocated seq comes within half a
 *		partition of the last partition's upper bound: log_writer.c calls
 *		evlog_partitions_maintain() after closing the log (ATTACH refuses a
 *		table the session still has open), which starts a short-lived
 *		dynamic background worker that creates the partition in its own
 *		transaction as the log's owner, then summarises the partitions the
 *		log has moved past (prune.c); only without a free worker slot, or
 *		when the last partition is about to fill up, does the appending
 *		transaction create it itself, in a subtransaction;
 *	  - from evlog_create_partitions(ahead), e.g. before a bulk load.
 * The size of new partitions is evlog.partition_size (seqs per partition).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "utils/inval.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "evlog.h"

PG_FUNCTION_INFO_V1(evlog_create_partitions);

/*
 * The partitions of the log in seq order, with their inclusive seq ranges.
 * A plain (1.0) log is one part covering every seq.
 */
EvlogPart *
evlog_log_parts(Relation log, int *nparts)
{
	PartitionDesc pd;
	PartitionBoundInfo bi;
	EvlogPart  *parts;
	int			n = 0;

	if (log->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		parts = palloc(sizeof(EvlogPart));
		parts[0].relid = RelationGetRelid(log);
		parts[0].lo = PG_INT64_MIN;
		parts[0].hi = PG_INT64_MAX;
		*nparts = 1;
		return parts;
	}

	pd = RelationGetPartitionDesc(log, true);
	bi = pd->boundinfo;
	parts = palloc(sizeof(EvlogPart) * (pd->nparts + 1));
	if (bi == NULL)
	{
		*nparts = 0;
		return parts;
	}
	if (partition_bound_has_default(bi))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.event_log has a default partition"),
				 errdetail("Every partition of the log must cover a seq range, so that the log can be read in seq order."),
				 errhint("Detach the default partition.")));

	/*
	 * Range bounds: indexes[i] is the partition whose upper bound (exclusive)
	 * is datums[i]; its lower bound is datums[i - 1].
	 */
	for (int i = 0; i < bi->ndatums; i++)
	{
		int			p = bi->indexes[i];

		if (p < 0)
			continue;
		parts[n].relid = pd->oids[p];
		parts[n].hi = bi->kind[i][0] == PARTITION_RANGE_DATUM_VALUE ?
			DatumGetInt64(bi->datums[i][0]) - 1 : PG_INT64_MAX;
		parts[n].lo = (i > 0 && bi->kind[i - 1][0] == PARTITION_RANGE_DATUM_VALUE) ?
			DatumGetInt64(bi->datums[i - 1][0]) : PG_INT64_MIN;
		n++;
	}
	*nparts = n;
	return parts;
}

bool
evlog_log_is_partitioned(Relation log)
{
	return log->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
}

/*
 * Functions that only exist from 1.1 on call this: a clear error if the C
 * library meets a database still at 1.0.
 */
void
evlog_require_11(Relation log, const char *what)
{
	if (!evlog_log_is_partitioned(log))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs evlog 1.1 in this database", what),
				 errdetail("evlog.event_log still has the 1.0 layout (one unpartitioned table)."),
				 errhint("Run ALTER EXTENSION evlog UPDATE.")));
}

/*
 * The log's columns, in table order: every C reader and writer of
 * evlog.event_log and its partitions relies on them being there.
 */
static const struct
{
	const char *name;
	Oid			type;
}			log_columns[EVLOG_LOG_NATTS] = {
	{"seq", INT8OID},
	{"ts", TIMESTAMPTZOID},
	{"kind", TEXTOID},
	{"host_id", TEXTOID},
	{"rollout_id", TEXTOID},
	{"payload", JSONBOID},
	{"event_id", TEXTOID}
};

/*
 * evlog reads and writes the log by column position, so a table or a
 * partition whose columns are not evlog's (a superuser's ALTER TABLE:
 * a column added, renamed, retyped, dropped) is refused with an error
 * rather than read with the wrong layout.  Only dropped columns after
 * evlog's seven are accepted: they leave every position unchanged.
 */
void
evlog_check_log_layout(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int a = 0; a < Max(desc->natts, EVLOG_LOG_NATTS); a++)
	{
		Form_pg_attribute att = a < desc->natts ? TupleDescAttr(desc, a) : NULL;
		const char *problem = NULL;

		if (a >= EVLOG_LOG_NATTS)
		{
			if (!att->attisdropped)
				problem = psprintf("The table has an extra column \"%s\"", NameStr(att->attname));
		}
		else if (att == NULL || att->attisdropped)
			problem = psprintf("Column %d is not \"%s\"", a + 1, log_columns[a].name);
		else if (strcmp(NameStr(att->attname), log_columns[a].name) != 0 ||
				 att->atttypid != log_columns[a].type)
			problem = psprintf("Column %d is \"%s\" %s, not \"%s\" %s", a + 1,
							   NameStr(att->attname), format_type_be(att->atttypid),
							   log_columns[a].name, format_type_be(log_columns[a].type));
		if (problem)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("\"%s\" does not have evlog.event_log's columns",
							RelationGetRelationName(rel)),
					 errdetail("%s.", problem),
					 errhint("evlog reads and writes only the layout it created; undo the ALTER TABLE.")));
	}
}

struct EvlogLogScan
{
	Relation	log;
	Snapshot	snapshot;
	ScanDirection dir;
	int64		lo;
	int64		hi;
	EvlogPart  *parts;
	int			nparts;
	int			cur;			/* index into parts of the open partition */
	Relation	part;
	Relation	idx;
	IndexScanDesc scan;
	TupleTableSlot *slot;
};

static void
logscan_close_part(EvlogLogScan *s)
{
	if (s->scan == NULL)
		return;
	index_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
	index_close(s->idx, NoLock);
	if (s->part != s->log)
		table_close(s->part, NoLock);
	s->scan = NULL;
	s->slot = NULL;
}

/* Open the next partition in scan order that overlaps [lo, hi]. */
static bool
logscan_open_next(EvlogLogScan *s)
{
	ScanKeyData keys[2];
	Oid			idxoid;

	logscan_close_part(s);
	for (;;)
	{
		EvlogPart  *p;

		s->cur += ScanDirectionIsForward(s->dir) ? 1 : -1;
		if (s->cur < 0 || s->cur >= s->nparts)
			return false;
		p = &s->parts[s->cur];
		if (p->hi >= s->lo && p->lo <= s->hi)
			break;
	}

	if (s->parts[s->cur].relid == RelationGetRelid(s->log))
		s->part = s->log;
	else
	{
		/* columns by position: a dropped one after evlog's does not matter */
		s->part = table_open(s->parts[s->cur].relid, AccessShareLock);
		evlog_check_log_layout(s->part);
	}
	idxoid = RelationGetPrimaryKeyIndex(s->part);
	if (!OidIsValid(idxoid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition \"%s\" of evlog.event_log has no primary key",
						RelationGetRelationName(s->part))));
	s->idx = index_open(idxoid, AccessShareLock);
	s->slot = table_slot_create(s->part, NULL);
	ScanKeyInit(&keys[0], 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(s->lo));
	ScanKeyInit(&keys[1], 1, BTLessEqualStrategyNumber, F_INT8LE, Int64GetDatum(s->hi));
#if PG_VERSION_NUM >= 180000
	s->scan = index_beginscan(s->part, s->idx, s->snapshot, NULL, 2, 0);
#else
	s->scan = index_beginscan(s->part, s->idx, s->snapshot, 2, 0);
#endif
	index_rescan(s->scan, keys, 2, NULL, 0);
	return true;
}

/*
 * Scan the log's rows with lo <= seq <= hi visible to snapshot, in seq
 * order (dir forward or backward).  The caller keeps log open and locked.
 */
EvlogLogScan *
evlog_logscan_begin(Relation log, Snapshot snapshot, int64 lo, int64 hi,
					ScanDirection dir)
{
	EvlogLogScan *s = palloc0(sizeof(EvlogLogScan));

	evlog_check_log_layout(log);
	s->log = log;
	s->snapshot = snapshot;
	s->dir = dir;
	s->lo = lo;
	s->hi = hi;
	s->parts = evlog_log_parts(log, &s->nparts);
	s->cur = ScanDirectionIsForward(dir) ? -1 : s->nparts;
	return s;
}

/*
 * The next row, or NULL at the end.  The slot belongs to the scan and is
 * valid until the next call; its columns are numbered as in the parent.
 */
TupleTableSlot *
evlog_logscan_next(EvlogLogScan *s)
{
	for (;;)
	{
		if (s->scan == NULL && !logscan_open_next(s))
			return NULL;
		if (index_getnext_slot(s->scan, s->dir, s->slot))
			return s->slot;
		logscan_close_part(s);
	}
}

void
evlog_logscan_end(EvlogLogScan *s)
{
	logscan_close_part(s);
	pfree(s->parts);
	pfree(s);
}

/* ------------------------------------------------------------------------
 * Creating partitions
 * ------------------------------------------------------------------------
 */

/* Run one statement through SPI (connected by the caller). */
static void
spi_run(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc < 0)
		elog(ERROR, "evlog: \"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

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
	spi_run(psprintf("CREATE TABLE evlog.%s (LIKE evlog.event_log INCLUDING DEFAULTS "
					 "INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)", name));
	spi_run(psprintf("CREATE TRIGGER event_log_no_truncate BEFORE TRUNCATE ON evlog.%s "
					 "FOR EACH STATEMENT EXECUTE FUNCTION evlog.refuse_change()", name));
	spi_run(psprintf("ALTER TABLE evlog.%s ENABLE ALWAYS TRIGGER event_log_no_truncate", name));
	spi_run(psprintf("REVOKE ALL ON evlog.%s FROM PUBLIC", name));
	spi_run(psprintf("COMMENT ON TABLE evlog.%s IS 'partition of evlog.event_log: seqs "
					 INT64_FORMAT " to " INT64_FORMAT " (created by evlog; dropped by evlog_prune)'",
					 name, lo, hi - 1));
	spi_run(psprintf("ALTER TABLE evlog.event_log ATTACH PARTITION evlog.%s "
					 "FOR VALUES FROM (" INT64_FORMAT ") TO (" INT64_FORMAT ")",
					 name, lo, hi));
}

/*
 * ATTACH clones the foreign keys that reference the log to the new
 * partition, taking SHARE ROW EXCLUSIVE on each referencing table (the
 * derived tables): a wait there would hold back every appender that queues
 * behind it.  The worker takes those locks first, without waiting, and
 * tries again later when one is busy.
 */
static bool ensure_nowait = false;

static void
lock_referencing_nowait(Oid logid)
{
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
		if (!ConditionalLockRelationOid(c->conrelid, ShareRowExclusiveLock))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock \"%s\" for attaching a partition without waiting",
							get_rel_name(c->conrelid))));
	}
	systable_endscan(scan);
	table_close(con, AccessShareLock);
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

	if (ensure_nowait)
	{
		if (!ConditionalLockRelationOid(logid, ShareUpdateExclusiveLock))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("could not lock evlog.event_log for attaching a partition without waiting")));
	}
	else
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

	if (ensure_nowait)
		lock_referencing_nowait(logid);
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
	/* subscribers create theirs from this (watermark.c) */
	if (created > 0)
		evlog_watermark_record_top(next - 1);
	evlog_as_user_end(&as);
	return created;
}

/* backend-local: the highest seq known to have a partition */
static int64 known_top = 0;

/*
 * Called by the writer with the log open, after allocating seq: does the
 * log need a partition ahead soon?  Cheap: compares with the cached top.
 */
bool
evlog_partitions_needed(Relation log, int64 seq)
{
	int64		margin = Max(evlog_partition_size / 2, 1);

	if (!evlog_log_is_partitioned(log))
		return false;
	if (known_top == 0 || seq + margin > known_top)
	{
		int			n;
		EvlogPart  *parts = evlog_log_parts(log, &n);

		known_top = n > 0 ? parts[n - 1].hi : 0;
		pfree(parts);
	}
	return seq + margin > known_top;
}

/*
 * What a partition worker is asked to do, passed in bgw_extra: create
 * partitions up to "upto" with partitions of "size" seqs.
 */
typedef struct PartitionJob
{
	int64		upto;
	int32		size;
	int32		attempts;
} PartitionJob;

/*
 * Create partitions up to "upto" in a transaction of their own, through a
 * dynamic background worker connected to this database as the log's owner:
 * the appender's transaction then holds no lock of the creation and never
 * delays other appenders, whatever it does next.  With wait, returns once
 * the worker has exited; without, at once.  Returns false when no worker
 * could be started (max_worker_processes, no postmaster).
 */
static bool
partitions_by_worker(Oid owner, int64 upto, bool wait)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	/* about 1 s of attempts when awaited, about a minute otherwise */
	PartitionJob job = {upto, evlog_partition_size, wait ? 20 : 1200};
	pid_t		pid;

	if (!IsUnderPostmaster)
		return false;
	evlog_bgworker_init(&worker, "evlog_partition_worker_main", "evlog partition creator", MyDatabaseId);
	worker.bgw_notify_pid = MyProcPid;
	StaticAssertStmt(sizeof(PartitionJob) + sizeof(Oid) <= BGW_EXTRALEN, "bgw_extra too small");
	memcpy(worker.bgw_extra, &job, sizeof(job));
	memcpy(worker.bgw_extra + sizeof(job), &owner, sizeof(owner));

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return false;
	if (!wait)
		return true;
	if (WaitForBackgroundWorkerStartup(handle, &pid) != BGWH_STARTED)
		return false;
	(void) WaitForBackgroundWorkerShutdown(handle);
	/* see the partitions it committed */
	AcceptInvalidationMessages();
	return true;
}

/* The partition worker: one transaction, then exit. */
void
evlog_partition_worker_main(Datum main_arg)
{
	PartitionJob job;
	Oid			owner;
	char		size[16];

	memcpy(&job, MyBgworkerEntry->bgw_extra, sizeof(job));
	memcpy(&owner, MyBgworkerEntry->bgw_extra + sizeof(job), sizeof(owner));
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(DatumGetObjectId(main_arg), owner, 0);
	evlog_worker_pin_settings();

	snprintf(size, sizeof(size), "%d", job.size);
	SetConfigOption("evlog.partition_size", size, PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * Never wait for a lock an appender holds (see lock_referencing_nowait):
	 * try, and try again a little later, up to the job's number of attempts
	 * (the appender that filled the last partition creates one itself if we
	 * never get there).
	 */
	ensure_nowait = true;
	for (int attempt = 0; attempt < job.attempts; attempt++)
	{
		MemoryContext cxt = CurrentMemoryContext;
		bool		done = false;

		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "evlog: creating partitions");
		PG_TRY();
		{
			(void) evlog_partitions_ensure(job.upto, EVLOG_PARTITIONS_AUTO_MAX);
			PopActiveSnapshot();
			CommitTransactionCommand();
			done = true;
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(cxt);
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		pgstat_report_activity(STATE_IDLE, NULL);
		if (done)
			break;
		pg_usleep(50 * 1000L);
	}

	/*
	 * Then, in a transaction of its own, count the partitions the log has
	 * moved past, so that evlog_prune need not (prune.c).  A failure here
	 * only means prune counts them itself.
	 */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "evlog: summarising closed partitions");
	PG_TRY();
	{
		(void) evlog_partitions_summarise();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}

/* In this transaction, in a subtransaction: a failure is only a WARNING. */
static void
partitions_in_subtransaction(int64 upto)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		(void) evlog_partitions_ensure(upto, EVLOG_PARTITIONS_AUTO_MAX);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("evlog could not create a partition up to seq " INT64_FORMAT ": %s",
						upto, edata->message),
				 errhint("Run SELECT evlog_create_partitions(); as the extension owner.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* backend-local: the top for which this backend last started a worker */
static int64 launched_for_top = -1;

/*
 * From the append path, after the writer closed the log: a seq came within
 * half a partition of the top.  A worker creates the next partition(s) in
 * its own transaction while the append goes on; without a worker slot, this
 * transaction creates them (in a subtransaction).
 */
void
evlog_partitions_maintain(Oid owner, int64 seq)
{
	int64		margin = Max(evlog_partition_size / 2, 1);
	int64		top = known_top;

	known_top = 0;
	if (top == launched_for_top)
		return;					/* a worker of ours is on it */
	if (partitions_by_worker(owner, seq + margin, false))
		launched_for_top = top;
	else
		partitions_in_subtransaction(seq + margin);
}

/*
 * Before an append: is the log's head within a quarter of a partition of
 * the last partition's top, with no worker having added the next one yet?
 * Then this append creates it, in its own transaction, before going on (it
 * waits for the locks the worker would not wait for).  Cheap far from the
 * top: only this backend's last seq and the cached top are compared; near
 * it, the sequence's position is read.
 */
bool
evlog_partitions_exhausted(Relation log, int64 last_seq, int64 *upto)
{
	int64		margin = Max(evlog_partition_size / 2, 1);
	int64		pos;

	if (!evlog_log_is_partitioned(log))
		return false;
	if (known_top == 0 || last_seq + margin >= known_top)
	{
		int			n;
		EvlogPart  *parts = evlog_log_parts(log, &n);

		known_top = n > 0 ? parts[n - 1].hi : 0;
		pfree(parts);
	}
	if (last_seq != 0 && last_seq + margin < known_top)
		return false;
	pos = sequence_position();
	*upto = pos + margin;
	return pos + Max(margin / 2, 1) >= known_top;
}

/*
 * The log has no partition at all (a fresh install, everything pruned):
 * the first one is needed now.  Waits for a worker, else creates it here;
 * the caller checks, since the worker cannot see an extension created by
 * this same, uncommitted, transaction.
 *
 * A background worker (the queue's writer) creates it here: a new worker
 * cannot connect while DROP DATABASE (or CREATE DATABASE ... TEMPLATE,
 * ALTER DATABASE ... RENAME) holds the database's lock, and that command is
 * waiting for the writer to leave, so waiting for the creator would keep
 * the writer connected until the command gave up.
 */
void
evlog_partitions_first(Oid owner)
{
	if (IsBackgroundWorker || !partitions_by_worker(owner, 1, true))
		(void) evlog_partitions_ensure(1, EVLOG_PARTITIONS_AUTO_MAX);
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
