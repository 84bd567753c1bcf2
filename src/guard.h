/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The append-only guards: the row triggers that refuse UPDATE and DELETE
 *	  on evlog.chain and evlog.event_ids, the DDL guard on evlog's tables,
 *	  and their one bypass, which only evlog_prune sets around its own
 *	  statements and no SQL can reach.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_GUARD_H
#define EVLOG_GUARD_H

#include "evlog.h"

/* set while evlog_prune deletes rows the row triggers protect */
extern bool evlog_prune_active;
/* set while evlog_prune detaches and drops partitions: the DDL guard lets them through */
extern bool evlog_prune_dropping;

#endif							/* EVLOG_GUARD_H */
