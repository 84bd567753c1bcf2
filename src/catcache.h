/*-------------------------------------------------------------------------
 *
 * catcache.h
 *	  Backend-local caches of the catalog lookups every append repeats:
 *	  evlog's relation OIDs, the registered kinds, and partitions' copies of
 *	  the log's indexes.  Each is reset by
 *	  the invalidation that makes it stale (relation or schema renamed or
 *	  dropped, evlog.kinds updated, deleted or truncated), so a cached
 *	  answer is always the catalog's.  Bottom layer: calls nothing of
 *	  evlog's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_CATCACHE_H
#define EVLOG_CATCACHE_H

#include "utils/relcache.h"

#include "evlog.h"

/* OID of a relation in the schema "evlog"; errors if the extension is gone. */
extern Oid	evlog_relid(const char *relname);
/* the same, InvalidOid if there is no such relation */
extern Oid	evlog_relid_if_exists(const char *relname);

/* is kind in evlog.kinds?  (cached only once the kinds trigger exists) */
extern bool evlog_kind_registered(text *kind);

/* a partition's index attached to a partitioned index (index_get_partition, cached) */
extern Oid	evlog_partition_index(Relation part, Oid parent_index);

#endif							/* EVLOG_CATCACHE_H */
