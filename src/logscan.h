/*-------------------------------------------------------------------------
 *
 * logscan.h
 *	  The log's physical layout and its ordered scan.  From 1.1 the log is
 *	  partitioned by seq range (1.0: one plain table); everything that walks
 *	  it in seq order (safe-seq horizon, evlog_read, the chain, rebuild,
 *	  prune) goes through an EvlogLogScan.  evlog reads and writes the log by
 *	  column position, so its columns are named once, here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_LOGSCAN_H
#define EVLOG_LOGSCAN_H

#include "evlog.h"
#include "access/sdir.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

/*
 * evlog.event_log's columns, 0-based, in table order: the index of a
 * column in a tuple's values/isnull arrays (attribute number minus one).
 */
typedef enum EvlogLogColumn
{
	EVLOG_COL_SEQ,
	EVLOG_COL_TS,
	EVLOG_COL_KIND,
	EVLOG_COL_HOST_ID,
	EVLOG_COL_ROLLOUT_ID,
	EVLOG_COL_PAYLOAD,
	EVLOG_COL_EVENT_ID,
	EVLOG_LOG_NATTS				/* how many: evlog.event_log's columns */
} EvlogLogColumn;

/*
 * The partitions of the log in seq order; an EvlogLogScan walks them (or
 * the 1.0 plain table) in seq order, its slot's columns numbered as above.
 */
typedef struct EvlogPart
{
	Oid			relid;
	int64		lo;				/* lowest seq it can hold */
	int64		hi;				/* highest seq it can hold */
} EvlogPart;
typedef struct EvlogLogScan EvlogLogScan;

extern void evlog_check_log_layout(Relation rel);
extern void evlog_check_partition(Relation part);
extern EvlogPart *evlog_log_parts(Relation log, int *nparts);
extern bool evlog_log_part_for(Relation log, int64 seq, EvlogPart *part);
extern bool evlog_log_is_partitioned(Relation log);
extern void evlog_require_11(Relation log, const char *what);
extern EvlogLogScan *evlog_logscan_begin(Relation log, Snapshot snapshot,
										 int64 lo, int64 hi, ScanDirection dir);
extern struct TupleTableSlot *evlog_logscan_next(EvlogLogScan *s);
extern void evlog_logscan_end(EvlogLogScan *s);

#endif							/* EVLOG_LOGSCAN_H */
