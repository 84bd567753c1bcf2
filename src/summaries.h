/*-------------------------------------------------------------------------
 *
 * summaries.h
 *	  Partition summaries: each closed partition's event count, seq range
 *	  and size, counted once in the background (by the partition creator
 *	  and the retention worker) so that evlog_prune reads no rows to choose
 *	  what to remove.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_SUMMARIES_H
#define EVLOG_SUMMARIES_H

#include "evlog.h"
#include "logscan.h"

/* what is known of one partition */
typedef struct EvlogPartStats
{
	int64		count;
	int64		min_seq;
	int64		max_seq;
	bool		all_older;
} EvlogPartStats;

extern int	evlog_partitions_summarise(void);
extern void evlog_part_stats(const EvlogPart *part, TimestampTz before, EvlogPartStats *ps);

#endif							/* EVLOG_SUMMARIES_H */
