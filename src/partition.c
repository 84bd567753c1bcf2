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
 *		partition of the last partition's upper bound (log_writer.c calls
 *		evlog_partitions_maintain() after closing the log, because ATTACH
 *		refuses a table the session still has open), run as the log's
 *		owner in a subtransaction so that a failure never fails the append;
 *	  - from evlog_create_partitions(ahead), e.g. from cron or the
 *		background worker.
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
#include "catalog/partition.h"
#include "catalog/pg_class.h"
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
		s->part = table_open(s->parts[s->cur].relid, AccessShareLock);
		if (RelationGetDescr(s->part)->natts != RelationGetDescr(s->log)->natts)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("partition \"%s\" of evlog.event_log has a different column layout",
							RelationGetRelationName(s->part)),
					 errhint("Partitions must be created by evlog_create_partitions().")));
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

/*
 * search_path = pg_catalog, pg_temp until AtEOXact_GUC(true, <returned
 * level>): for DDL and DML that evlog runs on a caller's behalf.
 */
int
evlog_pin_search_path(void)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
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
 * Create and attach the partition [lo, lo + evlog_partition_size).  The
 * caller is connected to SPI, runs as the log's owner and holds SHARE
 * UPDATE EXCLUSIVE on the log.
 */
static void
create_partition(int64 lo)
{
	int64		hi = lo + evlog_partition_size;
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

/* The log's sequence position (last seq handed out, 0 if none), unchanged. */
static int64
sequence_position(void)
{
	Datum		last;
	LOCAL_FCINFO(lfc, 1);

	InitFunctionCallInfoData(*lfc, NULL, 1, InvalidOid, NULL, NULL);
	lfc->args[0].value = ObjectIdGetDatum(evlog_relid("event_log_seq_seq"));
	lfc->args[0].isnull = false;
	last = pg_sequence_last_value(lfc);
	return lfc->isnull ? 0 : DatumGetInt64(last);
}

/*
 * Make sure partitions reach at least up to seq "upto" (inclusive); returns
 * how many were created.  Takes SHARE UPDATE EXCLUSIVE on the log (held to
 * transaction end, so concurrent creators queue and then see ours).
 */
int
evlog_partitions_ensure(int64 upto)
{
	Oid			logid = evlog_relid("event_log");
	Relation	log;
	EvlogPart  *parts;
	int			nparts;
	int64		next;
	int			created = 0;
	bool		force;
	int			nestlevel;
	Oid			save_user;
	int			save_sec;

	LockRelationOid(logid, ShareUpdateExclusiveLock);
	log = table_open(logid, NoLock);
	evlog_require_11(log, "creating partitions");
	parts = evlog_log_parts(log, &nparts);
	/* no partition yet (fresh install, or all pruned): start at the sequence */
	next = nparts > 0 ? parts[nparts - 1].hi : sequence_position();
	if (next == PG_INT64_MAX)
	{
		table_close(log, NoLock);
		return 0;				/* the last partition is unbounded */
	}
	next++;
	force = nparts == 0;
	if (next > upto && !force)
	{
		table_close(log, NoLock);
		return 0;
	}

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(log->rd_rel->relowner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE);
	table_close(log, NoLock);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	nestlevel = evlog_pin_search_path();
	while (force || next <= upto)
	{
		CHECK_FOR_INTERRUPTS();
		force = false;
		create_partition(next);
		next += evlog_partition_size;
		created++;
	}
	/* subscribers create theirs from this (watermark.c) */
	if (created > 0)
		evlog_watermark_record_top(next - 1);
	AtEOXact_GUC(true, nestlevel);
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);
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
 * From the append path, after the writer closed the log: create the next
 * partition(s) so that seq + half a partition is covered.  Runs in a
 * subtransaction: if creation fails (e.g. the session has the log open in
 * an outer query), the append still succeeds and a later one retries.
 */
void
evlog_partitions_maintain(int64 seq)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	int64		margin = Max(evlog_partition_size / 2, 1);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		(void) evlog_partitions_ensure(seq + margin);
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
				 errmsg("evlog could not create a partition ahead of seq " INT64_FORMAT ": %s",
						seq, edata->message),
				 errhint("Run SELECT evlog_create_partitions(); as the extension owner.")));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	known_top = 0;
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

	if (ahead < 0 || ahead > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ahead must be between 0 and 1000")));
	PreventCommandIfReadOnly("evlog_create_partitions()");

	PG_RETURN_INT32(evlog_partitions_ensure(Max(upto, sequence_position() + (int64) ahead * evlog_partition_size)));
}
