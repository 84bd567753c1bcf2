/*-------------------------------------------------------------------------
 *
 * retention.h
 *	  Scheduled pruning (evlog.retention): a short-lived worker per database,
 *	  started by the launcher (worker.c) when a round is due.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_RETENTION_H
#define EVLOG_RETENTION_H

#include "evlog.h"
#include "nodes/pg_list.h"

extern int	evlog_retention_s;
extern int	evlog_retention_check_interval_s;
extern bool evlog_retention_due(void);
extern void evlog_retention_start_round(List *dbs);
extern PGDLLEXPORT void evlog_retention_main(Datum main_arg);

#endif							/* EVLOG_RETENTION_H */
