/*-------------------------------------------------------------------------
 *
 * locks.h
 *	  Strong locks for maintenance (prune, rebuild): a short lock_timeout,
 *	  retried with backoff and bounded in total, so that maintenance never
 *	  queues for long in front of appenders.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_LOCKS_H
#define EVLOG_LOCKS_H

#include "evlog.h"

extern int	evlog_maintenance_lock_timeout_ms;
extern int	evlog_maintenance_lock_wait_ms;

typedef struct EvlogLockRequest
{
	Oid			relid;
	int			mode;			/* a LOCKMODE */
} EvlogLockRequest;
#define EVLOG_LOCK_GIVE_WAY		0x01	/* see locks.c */
extern void evlog_lock_strong(const EvlogLockRequest *reqs, int n, const char *what,
							  int flags);

#endif							/* EVLOG_LOCKS_H */
