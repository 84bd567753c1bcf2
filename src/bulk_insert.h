/*-------------------------------------------------------------------------
 *
 * bulk_insert.h
 *	  Writing evlog's own tables from C, outside any query: the minimal
 *	  executor state that index insertion, constraints and AFTER ROW
 *	  triggers need, and the multi-insert flush COPY FROM uses
 *	  (copyfrom.c): one table_multi_insert() for a buffer of rows, then each
 *	  row's index entries and trigger events.  The log's writer and the
 *	  chain's sealer both write this way.  Bottom layer: calls nothing of
 *	  evlog's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_BULK_INSERT_H
#define EVLOG_BULK_INSERT_H

#include "access/heapam.h"
#include "nodes/execnodes.h"

/* a range table entry for inserting into relid (RowExclusiveLock) */
extern RangeTblEntry *evlog_insert_rte(Oid relid, char relkind);

/*
 * An executor state over rtable (entries of evlog_insert_rte), writing with
 * this statement's command id.
 */
extern EState *evlog_insert_estate(List *rtable);

/*
 * The result relation of rel, entry rti of the range table, registered so
 * that ExecGetTriggerResultRel() and ExecCloseResultRelations() find it;
 * with open_indexes, its indexes are opened for insertion.
 */
extern ResultRelInfo *evlog_insert_result_rel(EState *estate, Relation rel, Index rti,
											  bool open_indexes);

/*
 * What the caller does for each row written instead of queueing its AFTER
 * ROW trigger events; returns false to have them queued after all.  row is
 * the slot's index in the buffer written.
 */
typedef bool (*EvlogAfterRow) (TupleTableSlot *slot, int row, void *arg);

/*
 * Write n buffered rows of rri, as CopyMultiInsertBufferFlush() does; the
 * trigger events only queue (they fire at AfterTriggerEndQuery).  With
 * after_row, after_row(slot, row, arg) is called for each row once every row of
 * the buffer has its index entries, and the row's trigger events are queued
 * only if it returns false.  The slots are cleared.
 */
extern void evlog_multi_insert_flush(EState *estate, ResultRelInfo *rri,
									 TupleTableSlot **slots, int n,
									 BulkInsertState bistate,
									 EvlogAfterRow after_row, void *arg);

#endif							/* EVLOG_BULK_INSERT_H */
