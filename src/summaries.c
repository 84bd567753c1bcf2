/*-------------------------------------------------------------------------
 *
 * summaries.c
 *	  Partition summaries: what evlog_prune needs to know of a partition,
 *	  counted once per closed partition in the background.
 *
 * Partition summaries.  The retention event records how many events a
 * prune removed, and counting them was the one part of a prune that grows
 * with the rows.  A partition that appends can no longer reach never
 * changes, so its count is taken once, in the background: the partition
 * worker summarises every closed partition after it creates the next ones
 * (evlog_summarise_partitions() does it by hand, e.g. after a bulk load),
 * and evlog_prune reads the summary back.  A summary is used only while the
 * partition has the name, upper bound and heap size it had when counted;
 * otherwise prune counts.
 *
 * Summaries are written by the partition creator (partition.c) and the
 * retention worker after their own work, both as the log's owner; nothing
 * here appends to the log or removes from it, so both can call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "as_user.h"
#include "catcache.h"
#include "logscan.h"
#include "seqs.h"
#include "summaries.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_summarise_partitions);

static BlockNumber
heap_blocks(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	BlockNumber n = RelationGetNumberOfBlocks(rel);

	/* closed at once: DETACH refuses a table this session has open */
	table_close(rel, NoLock);
	return n;
}

/* count, min and max seq of a partition, from its primary key */
static void
part_count(Oid relid, EvlogPartStats *ps)
{
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;

	if (SPI_execute(psprintf("SELECT pg_catalog.count(*), pg_catalog.min(seq), pg_catalog.max(seq) FROM %s",
							 evlog_qualified_name(relid)), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "evlog: counting a partition failed");
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	ps->count = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	ps->min_seq = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	if (isnull)
		ps->min_seq = ps->max_seq = 0;
	else
		ps->max_seq = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
}

static bool
summary_read(const EvlogPart *part, BlockNumber blocks, EvlogPartStats *ps)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, INT8OID};
	Datum		values[3];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;

	values[0] = Int64GetDatum(part->hi);
	values[1] = CStringGetTextDatum(get_rel_name(part->relid));
	values[2] = Int64GetDatum((int64) blocks);
	if (SPI_execute_with_args("SELECT events, min_seq, max_seq FROM evlog.partition_summaries"
							  " WHERE hi OPERATOR(pg_catalog.=) $1 AND relname OPERATOR(pg_catalog.=) $2"
							  " AND heap_blocks OPERATOR(pg_catalog.=) $3",
							  3, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "evlog: reading evlog.partition_summaries failed");
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	ps->count = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	ps->min_seq = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	ps->max_seq = isnull ? 0 : DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	if (isnull)
		ps->min_seq = ps->max_seq = 0;
	return true;
}

/*
 * Summarise the closed partitions that have no valid summary yet; returns
 * how many were summarised.  Closed: every seq the partition can hold is at
 * or below evlog_safe_seq() (handed out and committed or aborted; on a
 * subscriber, arrived), so no append can land in it any more.  The caller
 * is connected to SPI as the log's owner.
 */
static int
summarise_closed(Oid logid)
{
	Relation	log;
	EvlogPart  *parts;
	int			nparts;
	int64		safe = evlog_safe_seq();
	int			done = 0;

	log = table_open(logid, AccessShareLock);
	parts = evlog_log_parts(log, &nparts);
	table_close(log, NoLock);

	/*
	 * Count with a snapshot taken after the horizon: every seq at or below
	 * it is then committed and visible.  The transaction's snapshot may
	 * predate the commit of the last appends into a partition now closed,
	 * and would count it short for good.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	for (int i = 0; i < nparts && parts[i].hi <= safe; i++)
	{
		EvlogPartStats	ps;
		BlockNumber blocks;
		Oid			argtypes[6] = {INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID};
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

		CHECK_FOR_INTERRUPTS();
		blocks = heap_blocks(parts[i].relid);
		if (summary_read(&parts[i], blocks, &ps))
			continue;
		part_count(parts[i].relid, &ps);
		values[0] = Int64GetDatum(parts[i].hi);
		values[1] = CStringGetTextDatum(get_rel_name(parts[i].relid));
		values[2] = Int64GetDatum(ps.count);
		values[3] = Int64GetDatum(ps.min_seq);
		values[4] = Int64GetDatum(ps.max_seq);
		values[5] = Int64GetDatum((int64) blocks);
		if (ps.count == 0)
			nulls[3] = nulls[4] = 'n';
		if (SPI_execute_with_args("INSERT INTO evlog.partition_summaries"
								  " (hi, relname, events, min_seq, max_seq, heap_blocks)"
								  " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hi) DO UPDATE"
								  " SET relname = excluded.relname, events = excluded.events,"
								  " min_seq = excluded.min_seq, max_seq = excluded.max_seq,"
								  " heap_blocks = excluded.heap_blocks, summarised_at = pg_catalog.now()",
								  6, argtypes, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "evlog: writing evlog.partition_summaries failed");
		done++;
	}
	PopActiveSnapshot();
	return done;
}

/*
 * Summarise closed partitions as the log's owner (the partition worker,
 * evlog_summarise_partitions()).
 */
int
evlog_partitions_summarise(void)
{
	Oid			logid = evlog_relid("event_log");
	Relation	log;
	EvlogAsUser as;
	int			done;

	log = table_open(logid, AccessShareLock);
	evlog_require_11(log, "summarising partitions");
	evlog_as_user_begin(log->rd_rel->relowner, EVLOG_AS_SPI, &as);
	table_close(log, NoLock);
	done = summarise_closed(logid);
	evlog_as_user_end(&as);
	return done;
}

Datum
evlog_summarise_partitions(PG_FUNCTION_ARGS)
{
	PreventCommandIfReadOnly("evlog_summarise_partitions()");
	PG_RETURN_INT32(evlog_partitions_summarise());
}

/*
 * Does every event of the partition (retention events excepted) have
 * ts < before, and if so, how many are there?
 */
void
evlog_part_stats(const EvlogPart *part, TimestampTz before, EvlogPartStats *ps)
{
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	bool		isnull;

	/*
	 * Is any event as new as the cut?  ts follows seq closely, so the BRIN
	 * index on ts answers this without reading the partition.
	 */
	values[0] = TimestampTzGetDatum(before);
	if (SPI_execute_with_args(psprintf("SELECT EXISTS (SELECT FROM %s WHERE ts OPERATOR(pg_catalog.>=) $1"
									   " AND kind OPERATOR(pg_catalog.<>) 'retention')",
									   evlog_qualified_name(part->relid)),
							  1, argtypes, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "evlog: scanning a partition failed");
	ps->all_older = !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ps->count = 0;
	ps->min_seq = ps->max_seq = 0;
	if (!ps->all_older)
		return;
	/* what the retention event records: summarised, else counted now */
	if (!summary_read(part, heap_blocks(part->relid), ps))
		part_count(part->relid, ps);
}
