/*-------------------------------------------------------------------------
 *
 * bulk_insert.c
 *	  Executor state for writing evlog's own tables outside a query, and
 *	  the COPY-style multi-insert flush (see bulk_insert.h).
 *
 * Why not plain heap_insert: the tables written here have indexes, CHECK
 * constraints a DBA may add, and AFTER ROW triggers (the log's derive and
 * append-only triggers, cloned to each partition); the executor's helpers
 * maintain all of them, given a result relation in an executor state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tableam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lockdefs.h"

#include "bulk_insert.h"

RangeTblEntry *
evlog_insert_rte(Oid relid, char relkind)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = relkind;
	rte->rellockmode = RowExclusiveLock;
	return rte;
}

EState *
evlog_insert_estate(List *rtable)
{
	EState	   *estate = CreateExecutorState();

	ExecInitRangeTable(estate, rtable);
	estate->es_output_cid = GetCurrentCommandId(true);
	return estate;
}

ResultRelInfo *
evlog_insert_result_rel(EState *estate, Relation rel, Index rti, bool open_indexes)
{
	ResultRelInfo *rri = makeNode(ResultRelInfo);

	InitResultRelInfo(rri, rel, rti, NULL, 0);
	estate->es_opened_result_relations =
		lappend(estate->es_opened_result_relations, rri);
	if (open_indexes)
		ExecOpenIndices(rri, false);
	return rri;
}

void
evlog_multi_insert_flush(EState *estate, ResultRelInfo *rri,
						 TupleTableSlot **slots, int n, BulkInsertState bistate,
						 EvlogAfterRow after_row, void *arg)
{
	MemoryContext old;

	if (n == 0)
		return;
	/* the table AM may leak into the current context: give it a short one */
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
	table_multi_insert(rri->ri_RelationDesc, slots, n, estate->es_output_cid, 0,
					   bistate);
	for (int i = 0; i < n; i++)
	{
		List	   *recheck = NIL;

		if (rri->ri_NumIndices > 0)
			recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false,
											NULL, NIL);
		if (after_row == NULL)
		{
			ExecARInsertTriggers(estate, rri, slots[i], recheck, NULL);
			ExecClearTuple(slots[i]);
		}
		ResetPerTupleExprContext(estate);
	}

	/*
	 * Only now: what after_row runs may read the table, whose rows are all
	 * in the heap already and must be in its indexes too.
	 */
	for (int i = 0; after_row != NULL && i < n; i++)
	{
		if (!after_row(slots[i], i, arg))
			ExecARInsertTriggers(estate, rri, slots[i], NIL, NULL);
		ExecClearTuple(slots[i]);
		ResetPerTupleExprContext(estate);
	}
	MemoryContextSwitchTo(old);
}
