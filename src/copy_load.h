/*-------------------------------------------------------------------------
 *
 * copy_load.h
 *	  Loading events with COPY into the view evlog.append_copy (1.4).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_COPY_LOAD_H
#define EVLOG_COPY_LOAD_H

/*
 * From _PG_init: refuse a load the view's triggers would not see
 * (session_replication_role = replica) instead of dropping its rows.
 */
extern void evlog_copy_load_init(void);

#endif							/* EVLOG_COPY_LOAD_H */
