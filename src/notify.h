/*-------------------------------------------------------------------------
 *
 * notify.h
 *	  The per-database notifier: with evlog preloaded, an appending
 *	  transaction publishes its highest seq in shared memory at commit and
 *	  wakes its database's notifier, a background worker that sends
 *	  NOTIFY evlog in its own transaction, so that committing appenders
 *	  never take PostgreSQL's notification lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_NOTIFY_H
#define EVLOG_NOTIFY_H

#include "evlog.h"

/* shared memory hooks (preload only) */
extern void evlog_notify_init(void);

/*
 * An appending transaction joins its database's notifier before it commits
 * (false: none can serve it, the transaction notifies itself) and leaves at
 * the end of the transaction with its highest seq.
 */
extern bool evlog_notify_join(void);
extern void evlog_notify_leave(int64 last_seq, bool committed);

extern PGDLLEXPORT void evlog_notifier_main(Datum main_arg);

#endif							/* EVLOG_NOTIFY_H */
