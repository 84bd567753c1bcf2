/*-------------------------------------------------------------------------
 *
 * partition.h
 *	  Creating the log's partitions ahead of need: evlog's partition creator
 *	  (a short-lived background worker that appenders request and wait
 *	  for) and evlog_create_partitions().
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_PARTITION_H
#define EVLOG_PARTITION_H

#include "evlog.h"
#include "utils/relcache.h"

/*
 * Most partitions one transaction creates: from the append path and
 * triggers, and from evlog_create_partitions() (its "ahead" limit).
 */
#define EVLOG_PARTITIONS_AUTO_MAX	2
#define EVLOG_PARTITIONS_CALL_MAX	64
extern int	evlog_partitions_ensure(int64 upto, int max_new);
extern int64 evlog_seq_plus_margin(int64 seq);
extern bool evlog_partitions_needed(Relation log, int64 seq);
extern void evlog_partitions_request(Oid owner, int64 seq);
extern bool evlog_partitions_await(Relation log, int64 seq);
extern PGDLLEXPORT void evlog_partition_worker_main(Datum main_arg);

#endif							/* EVLOG_PARTITION_H */
