/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The launcher and the per-database writers that drain the queues.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_WORKER_H
#define EVLOG_WORKER_H

#include "evlog.h"

extern void evlog_worker_register_launcher(void);

#endif							/* EVLOG_WORKER_H */
