/*-------------------------------------------------------------------------
 *
 * read.c
 *	  Late-commit-safe reading: evlog_read(), evlog_safe_seq(),
 *	  evlog_inflight().
 *
 * evlog_read(after_seq, max_rows) returns committed rows with
 * after_seq < seq <= evlog_safe_seq(), in seq order.  A consumer that always
 * resumes from the last seq it received therefore gets every committed row
 * exactly once: nothing at or below the safe horizon can still appear, and
 * nothing above it is returned yet (seqs.c explains how the horizon is
 * found).  The rows are read with a snapshot taken after the horizon, so
 * every committed row at or below it is visible, whatever the caller's
 * isolation level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#include "catcache.h"
#include "logscan.h"
#include "seqs.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_read);
PG_FUNCTION_INFO_V1(evlog_safe_seq_sql);
PG_FUNCTION_INFO_V1(evlog_inflight_sql);

/* Reading the log in C bypasses the executor: check SELECT ourselves. */
static void
check_select(Oid relid)
{
	AclResult	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));
}

Datum
evlog_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		after_seq;
	int64		max_rows;
	int64		safe;
	int64		returned = 0;
	Relation	rel;
	Snapshot	snapshot;
	EvlogLogScan *scan;
	TupleTableSlot *slot;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("after_seq must not be null"),
				 errhint("Start a new reader with after_seq => 0.")));
	after_seq = PG_GETARG_INT64(0);
	max_rows = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT32(1);
	if (max_rows < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must not be negative")));

	InitMaterializedSRF(fcinfo, 0);

	rel = table_open(evlog_relid("event_log"), AccessShareLock);
	check_select(RelationGetRelid(rel));
	safe = evlog_safe_seq();
	if (after_seq >= safe || max_rows == 0)
	{
		table_close(rel, AccessShareLock);
		return (Datum) 0;
	}

	/* taken after the horizon: every committed seq <= safe is visible */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = evlog_logscan_begin(rel, snapshot, after_seq + 1, safe,
							   ForwardScanDirection);
	while (returned < max_rows &&
		   (slot = evlog_logscan_next(scan)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 slot->tts_values, slot->tts_isnull);
		returned++;
	}
	evlog_logscan_end(scan);
	UnregisterSnapshot(snapshot);
	/*
	 * The rows may point into the partitions' TOAST tables: the log stays
	 * locked until the transaction ends, as a query on it would stay, so
	 * that evlog_prune (ACCESS EXCLUSIVE on the log) cannot drop a
	 * partition before they are sent or while a REPEATABLE READ reader may
	 * read them again.
	 */
	table_close(rel, NoLock);
	return (Datum) 0;
}

Datum
evlog_safe_seq_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(evlog_safe_seq());
}

/* (seq, pid) of every transaction of this database that holds seqs */
Datum
evlog_inflight_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64	   *seqs;
	int		   *pids;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	n = evlog_inflight(&seqs, &pids);
	for (int i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = Int64GetDatum(seqs[i]);
		values[1] = Int32GetDatum(pids[i]);
		nulls[1] = pids[i] == 0;	/* a prepared transaction has no backend */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
