/*-------------------------------------------------------------------------
 *
 * watermark.h
 *	  The replicated safe-seq watermark: on a subscriber or hot standby, the
 *	  publisher's safe seq and partition top.  evlog_replica_horizon returns
 *	  false when this server is neither.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_WATERMARK_H
#define EVLOG_WATERMARK_H

#include "evlog.h"
#include "utils/relcache.h"

/* evlog.watermark's columns (attribute numbers) */
#define EVLOG_WM_SAFE_SEQ			2
#define EVLOG_WM_PARTITION_TOP	3

extern Oid	evlog_watermark_relid(void);
extern bool evlog_replica_horizon(Relation log, int64 *safe);
extern bool evlog_is_subscribed(Oid relid);
/* the same, cached until pg_subscription_rel changes (the append path) */
extern bool evlog_is_subscribed_cached(Oid relid);
extern void evlog_watermark_record_top(int64 top);

#endif							/* EVLOG_WATERMARK_H */
