/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Progress of long operations (rebuild, verify), in shared memory when
 *	  evlog is preloaded, so that another session can watch it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_PROGRESS_H
#define EVLOG_PROGRESS_H

#include "evlog.h"

extern void evlog_progress_init(void);
extern void evlog_progress_start(const char *command);
extern void evlog_progress_update(const char *target, TimestampTz started,
								  const char *phase, int64 done, int64 total);
extern void evlog_progress_end(void);

#endif							/* EVLOG_PROGRESS_H */
