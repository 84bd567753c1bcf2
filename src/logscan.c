/*-------------------------------------------------------------------------
 *
 * logscan.c
 *	  The log's layout and its partitions as a reader sees them, and the
 *	  scan that walks the log in seq order across them.
 *
 * From 1.1 on, evlog.event_log is partitioned by RANGE (seq); evlog 1.0
 * had one plain table.  Everything that walks the log in seq order (the
 * safe-seq horizon, evlog_read, sealing and verifying the chain, rebuild,
 * prune) goes through an EvlogLogScan, which visits the partitions in bound
 * order and each one through its own primary-key index, so it works on both
 * layouts: a plain table is one "partition" covering every seq.  A
 * partitioned index cannot be scanned directly, hence the walk.  Creating
 * partitions is partition.c's; this file only reads the catalogs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "logscan.h"

/*
 * The partitioned log's bounds.  Range bounds: indexes[i] is the partition
 * whose upper bound (exclusive) is datums[i] (-1: a gap); its lower bound
 * is datums[i - 1].
 */
static PartitionBoundInfo
log_bounds(Relation log, PartitionDesc *pd)
{
	PartitionBoundInfo bi;

	*pd = RelationGetPartitionDesc(log, true);
	bi = (*pd)->boundinfo;
	if (bi != NULL && partition_bound_has_default(bi))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.event_log has a default partition"),
				 errdetail("Every partition of the log must cover a seq range, so that the log can be read in seq order."),
				 errhint("Detach the default partition.")));
	return bi;
}

/* the part whose upper bound is datum i, for indexes[i] >= 0 */
static EvlogPart
bound_part(PartitionDesc pd, PartitionBoundInfo bi, int i)
{
	EvlogPart	part;

	part.relid = pd->oids[bi->indexes[i]];
	part.hi = bi->kind[i][0] == PARTITION_RANGE_DATUM_VALUE ?
		DatumGetInt64(bi->datums[i][0]) - 1 : PG_INT64_MAX;
	part.lo = (i > 0 && bi->kind[i - 1][0] == PARTITION_RANGE_DATUM_VALUE) ?
		DatumGetInt64(bi->datums[i - 1][0]) : PG_INT64_MIN;
	return part;
}

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

	bi = log_bounds(log, &pd);
	parts = palloc(sizeof(EvlogPart) * (pd->nparts + 1));
	for (int i = 0; bi != NULL && i < bi->ndatums; i++)
		if (bi->indexes[i] >= 0)
			parts[n++] = bound_part(pd, bi, i);
	*nparts = n;
	return parts;
}

/*
 * The partition of the log that covers seq, into *part; false if none
 * does.  A binary search of the bounds: an append asks once per statement,
 * and a log kept for long has thousands of partitions.
 */
bool
evlog_log_part_for(Relation log, int64 seq, EvlogPart *part)
{
	PartitionDesc pd;
	PartitionBoundInfo bi;
	int			lo = 0;
	int			hi;

	if (log->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		part->relid = RelationGetRelid(log);
		part->lo = PG_INT64_MIN;
		part->hi = PG_INT64_MAX;
		return true;
	}
	bi = log_bounds(log, &pd);
	if (bi == NULL)
		return false;

	/* the first bound above seq: the upper bound of the range holding it */
	hi = bi->ndatums;
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		bool		above;

		if (bi->kind[mid][0] == PARTITION_RANGE_DATUM_VALUE)
			above = DatumGetInt64(bi->datums[mid][0]) > seq;
		else
			above = bi->kind[mid][0] == PARTITION_RANGE_DATUM_MAXVALUE;
		if (above)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == bi->ndatums || bi->indexes[lo] < 0)
		return false;
	*part = bound_part(pd, bi, lo);
	return true;
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
	[EVLOG_COL_SEQ] = {"seq", INT8OID},
	[EVLOG_COL_TS] = {"ts", TIMESTAMPTZOID},
	[EVLOG_COL_KIND] = {"kind", TEXTOID},
	[EVLOG_COL_HOST_ID] = {"host_id", TEXTOID},
	[EVLOG_COL_ROLLOUT_ID] = {"rollout_id", TEXTOID},
	[EVLOG_COL_PAYLOAD] = {"payload", JSONBOID},
	[EVLOG_COL_EVENT_ID] = {"event_id", TEXTOID}
};

/*
 * A partition of the log must be a plain table: rows are written into it
 * and read through its primary key, which neither a partitioned table
 * attached as a partition (it has no storage of its own) nor a foreign
 * table allows.  And it must have the log's columns in the log's order
 * (evlog_check_log_layout): PostgreSQL attaches a table whose columns are
 * the same in another order.  evlog_create_partitions() makes only such
 * tables; an owner's own ATTACH can make others, and is refused wherever
 * one is used.
 */
void
evlog_check_partition(Relation part)
{
	if (part->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition \"%s\" of evlog.event_log is not a plain table",
						RelationGetRelationName(part)),
				 errdetail("Partitions of the log cannot be partitioned, foreign or any other kind of relation."),
				 errhint("Detach it; partitions must be created by evlog_create_partitions().")));
	/* columns by position: a dropped one after evlog's does not matter */
	evlog_check_log_layout(part);
}

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
		s->part = table_open(s->parts[s->cur].relid, AccessShareLock);
		evlog_check_partition(s->part);
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
	s->scan = index_beginscan(s->part, s->idx, s->snapshot, 2, 0);
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
