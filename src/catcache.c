/*-------------------------------------------------------------------------
 *
 * catcache.c
 *	  Backend-local caches of the catalog lookups every append makes.
 *
 * An append used to look up the same things each time: the OIDs of
 * evlog's relations by name (evlog_relid: a namespace and a relation
 * syscache lookup, 6 to 8 times per append) and whether the kind is
 * registered (an index scan of evlog.kinds); whether the log is the target
 * of a subscription is cached beside its lookup (watermark.c).  Each answer is kept
 * here until something that could change it is invalidated, so a cached
 * answer is exactly as fresh as the syscache lookup it replaces (both see a
 * change once this backend has processed its invalidation message, at the
 * latest at its next transaction start or lock acquisition):
 *
 *	- relation OIDs: reset by any invalidation of pg_class's name syscache
 *	  (RELNAMENSP) or of the namespace syscache; only found OIDs are kept.
 *	- registered kinds: only kinds found are kept; reset by a relcache
 *	  invalidation of evlog.kinds, which its statement trigger
 *	  evlog.kinds_changed (1.3) sends on UPDATE, DELETE and TRUNCATE, and at
 *	  the abort of any (sub)transaction (it may have inserted the kind it
 *	  found).  Without that trigger (a database still at 1.1 or 1.2) kinds
 *	  are not cached: a deleted kind would go unnoticed.
 *	- a partition's copy of one of the log's indexes (what
 *	  index_get_partition finds by scanning pg_inherits for each index of
 *	  the partition, most of a conditional append's cost per partition it
 *	  looks in): only copies found are kept, by partition; an entry goes
 *	  with any relcache invalidation of its partition, which PostgreSQL
 *	  sends when the partition is detached, dropped or its indexes change
 *	  (an index that is attached cannot be detached or dropped alone).  A
 *	  lookup during which any relcache invalidation arrived is not kept,
 *	  and when a (sub)transaction that added entries aborts, they all go:
 *	  attaching an index to a partitioned one invalidates the two indexes
 *	  but not the partition, so an entry the transaction found through its
 *	  own ALTER INDEX ... ATTACH PARTITION would outlive the rollback.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catcache.h"

PG_FUNCTION_INFO_V1(evlog_kinds_changed);

/* evlog's relations looked up by name: few enough for a linear search */
#define RELID_CACHE_SIZE	16

typedef struct RelidEntry
{
	char		name[NAMEDATALEN];	/* a copy: callers may pass palloc'd names */
	Oid			relid;
} RelidEntry;

static RelidEntry relid_cache[RELID_CACHE_SIZE];
static int	relid_count = 0;

/* registered kinds found, by name; NULL until first used */
static HTAB *kinds_cache = NULL;
static MemoryContext kinds_cxt = NULL;
static Oid	kinds_relid = InvalidOid;	/* evlog.kinds when kinds_cache is valid */
static int	kinds_trigger = -1; /* evlog.kinds_changed present: -1 unknown */

static bool callbacks_registered = false;

/*
 * Partitions' copies of partitioned indexes, by partition: at most
 * PART_INDEX_SLOTS partitioned indexes each (the conditional check uses
 * two).  NULL until first used.
 */
#define PART_INDEX_SLOTS	2

typedef struct PartIndexEntry
{
	Oid			part;			/* key */
	Oid			parent[PART_INDEX_SLOTS];	/* InvalidOid: slot free */
	Oid			child[PART_INDEX_SLOTS];
} PartIndexEntry;

static HTAB *part_index_cache = NULL;
static MemoryContext part_index_cxt = NULL;
/* relcache invalidations seen: a lookup that spans one is not kept */
static uint64 relcache_invals = 0;
/* entries added since the top transaction began */
static bool part_index_added = false;

static void
reset_part_index(void)
{
	if (part_index_cache != NULL)
		MemoryContextReset(part_index_cxt);
	part_index_cache = NULL;
	part_index_added = false;
}

#define KIND_KEY_MAX	NAMEDATALEN

typedef struct KindEntry
{
	char		kind[KIND_KEY_MAX]; /* kinds of this length or more: not cached */
} KindEntry;

/*
 * A cache's hash table, in its own memory context under TopMemoryContext
 * (made at first use, reset to drop the table).
 */
static HTAB *
cache_create(MemoryContext *cxt, const char *name, Size keysize, Size entrysize,
			 long nelem)
{
	HASHCTL		ctl;

	if (*cxt == NULL)
	{
		*cxt = AllocSetContextCreate(TopMemoryContext, "evlog cache",
									 ALLOCSET_SMALL_SIZES);
		MemoryContextSetIdentifier(*cxt, name);
	}
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = *cxt;
	return hash_create(name, nelem, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

static void
reset_kinds(void)
{
	if (kinds_cxt != NULL)
		MemoryContextReset(kinds_cxt);
	kinds_cache = NULL;
	kinds_relid = InvalidOid;
	kinds_trigger = -1;
}

static void
relname_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	relid_count = 0;
	/* the trigger's presence is a property of pg_class/pg_trigger too */
	reset_kinds();
}

static void
relcache_changed(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == kinds_relid)
		reset_kinds();
	relcache_invals++;
	if (part_index_cache == NULL)
		return;
	if (!OidIsValid(relid))
		reset_part_index();
	else
		(void) hash_search(part_index_cache, &relid, HASH_REMOVE, NULL);
}

static void
xact_abort(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		reset_kinds();
		if (part_index_added)
			reset_part_index();
	}
	else if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
			 event == XACT_EVENT_PREPARE)
		part_index_added = false;
}

static void
subxact_abort(SubXactEvent event, SubTransactionId mySubid,
			  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		reset_kinds();
		if (part_index_added)
			reset_part_index();
	}
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterSyscacheCallback(RELNAMENSP, relname_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACENAME, relname_changed, (Datum) 0);
	CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
	RegisterXactCallback(xact_abort, NULL);
	RegisterSubXactCallback(subxact_abort, NULL);
	callbacks_registered = true;
}

/* OID of a relation in the schema "evlog", or InvalidOid if there is none. */
Oid
evlog_relid_if_exists(const char *relname)
{
	Oid			nsp;
	Oid			relid;

	register_callbacks();
	for (int i = 0; i < relid_count; i++)
		if (strcmp(relid_cache[i].name, relname) == 0)
			return relid_cache[i].relid;

	nsp = get_namespace_oid("evlog", true);
	relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;
	if (OidIsValid(relid) && relid_count < RELID_CACHE_SIZE &&
		strlen(relname) < NAMEDATALEN)
	{
		strlcpy(relid_cache[relid_count].name, relname, NAMEDATALEN);
		relid_cache[relid_count].relid = relid;
		relid_count++;
	}
	return relid;
}

/* OID of a relation in the schema "evlog"; errors if the extension is gone. */
Oid
evlog_relid(const char *relname)
{
	Oid			relid = evlog_relid_if_exists(relname);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"evlog.%s\" does not exist", relname),
				 errhint("Run CREATE EXTENSION evlog in this database.")));
	return relid;
}

/* Does evlog.kinds carry the evlog.kinds_changed trigger (1.3)? */
static bool
kinds_trigger_present(Relation rel)
{
	TriggerDesc *td = rel->trigdesc;

	if (td == NULL)
		return false;
	for (int i = 0; i < td->numtriggers; i++)
		if (strcmp(td->triggers[i].tgname, "kinds_changed") == 0 &&
			td->triggers[i].tgenabled != TRIGGER_DISABLED)
			return true;
	return false;
}

/* Is kind (already checked to be a valid id) a row of evlog.kinds? */
bool
evlog_kind_registered(text *kind)
{
	Oid			relid;
	int			len = VARSIZE_ANY_EXHDR(kind);
	bool		cacheable;
	KindEntry	key;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData skey;
	bool		found;

	register_callbacks();
	cacheable = len < KIND_KEY_MAX;
	if (cacheable)
	{
		memset(key.kind, 0, sizeof(key.kind));
		memcpy(key.kind, VARDATA_ANY(kind), len);
		if (kinds_cache != NULL &&
			hash_search(kinds_cache, &key, HASH_FIND, NULL) != NULL)
			return true;
	}

	relid = evlog_relid("kinds");
	rel = table_open(relid, AccessShareLock);
	ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(kind));
	skey.sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(rel, evlog_relid("kinds_pkey"), true,
							  GetActiveSnapshot(), 1, &skey);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);

	/* table_open processed invalidations: the state below is current */
	if (found && cacheable)
	{
		if (kinds_trigger < 0)
			kinds_trigger = kinds_trigger_present(rel) ? 1 : 0;
		if (kinds_trigger == 1)
		{
			if (kinds_cache == NULL)
				kinds_cache = cache_create(&kinds_cxt, "evlog kinds",
										   sizeof(KindEntry), sizeof(KindEntry), 64);
			kinds_relid = relid;
			(void) hash_search(kinds_cache, &key, HASH_ENTER, NULL);
		}
	}
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Statement trigger evlog.kinds_changed on evlog.kinds (1.3): every backend
 * forgets the kinds it has cached, at the latest at its next transaction.
 */
Datum
evlog_kinds_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.kinds_changed() was not called by the trigger manager")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
	return PointerGetDatum(NULL);
}

/*
 * The index of partition "part" attached to the partitioned index
 * "parent_index", InvalidOid if it has none (index_get_partition's answer,
 * cached).  The caller holds a lock on the partition.
 */
Oid
evlog_partition_index(Relation part, Oid parent_index)
{
	Oid			relid = RelationGetRelid(part);
	uint64		invals_before;
	Oid			child;
	PartIndexEntry *e;
	bool		found;
	int			slot;

	register_callbacks();
	if (part_index_cache != NULL)
	{
		e = hash_search(part_index_cache, &relid, HASH_FIND, NULL);
		for (int i = 0; e != NULL && i < PART_INDEX_SLOTS; i++)
			if (e->parent[i] == parent_index)
				return e->child[i];
	}

	invals_before = relcache_invals;
	child = index_get_partition(part, parent_index);
	if (!OidIsValid(child) || relcache_invals != invals_before)
		return child;

	if (part_index_cache == NULL)
		part_index_cache = cache_create(&part_index_cxt, "evlog partition indexes",
										sizeof(Oid), sizeof(PartIndexEntry), 256);
	e = hash_search(part_index_cache, &relid, HASH_ENTER, &found);
	if (!found)
		memset(e->parent, 0, sizeof(e->parent));
	slot = 0;
	while (slot < PART_INDEX_SLOTS - 1 && OidIsValid(e->parent[slot]))
		slot++;
	e->parent[slot] = parent_index;
	e->child[slot] = child;
	part_index_added = true;
	return child;
}
