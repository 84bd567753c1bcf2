/*-------------------------------------------------------------------------
 *
 * stream.h
 *	  Streams (one rollout's or one host's events): the lock and head check
 *	  of conditional appends, evlog_stream_head.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_STREAM_H
#define EVLOG_STREAM_H

#include "evlog.h"
#include "utils/relcache.h"

extern EvlogStreamKind evlog_stream_kind(text *name, int entry);
extern text *evlog_stream_id(EvlogEvent *ev, EvlogStreamKind stream, int entry);
extern void evlog_stream_lock(EvlogStreamKind stream, text *id);
extern void evlog_stream_expect(Relation log, EvlogEvent *ev, int entry);

#endif							/* EVLOG_STREAM_H */
