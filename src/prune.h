/*-------------------------------------------------------------------------
 *
 * prune.h
 *	  Retention: evlog_prune(before) removes whole partitions from the
 *	  oldest on.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_PRUNE_H
#define EVLOG_PRUNE_H

#include "evlog.h"
#include "fmgr.h"

extern int	evlog_max_consumer_lag_events;
extern PGDLLEXPORT Datum evlog_prune(PG_FUNCTION_ARGS);

#endif							/* EVLOG_PRUNE_H */
