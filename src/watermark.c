/*-------------------------------------------------------------------------
 *
 * watermark.c
 *	  The replicated safe-seq watermark (evlog 1.1): what evlog_safe_seq()
 *	  trusts on a logical-replication subscriber and on a hot standby.
 *
 * The problem.  evlog_safe_seq() on the server that appends knows which
 * seqs are in flight (seqs.c).  A subscriber or a standby does not: rows
 * arrive in the publisher's commit order, not seq order, so a row with a
 * lower seq can still arrive after a higher one has been applied, and the
 * local horizon would let a reader skip it.
 *
 * The cure.  evlog.watermark holds one row, (safe_seq, partition_top), on
 * the publisher.  evlog_publish_watermark() writes the publisher's
 * evlog_safe_seq() into it; call it periodically (cron, pg_cron, the
 * background worker).  The table is published with the log.  When a
 * watermark W is written, every seq <= W is committed or will never exist,
 * so every transaction holding one committed before the transaction
 * writing W: logical replication applies in commit order and a standby
 * replays WAL in commit order, so by the time a reader there sees W, it
 * sees every event <= W.  A subscriber's or standby's evlog_safe_seq() is
 * therefore min(W, local horizon); on a standby, where no lock can be
 * taken and nothing is appended locally, W itself.  Before any watermark
 * has arrived the reading functions raise an error rather than guess.
 *
 * partition_top is the upper end of the publisher's partitions, written
 * in the transaction that creates a partition (partition.c), so it reaches
 * a subscriber before any row that needs the new partition: the trigger
 * evlog.watermark_applied (watermark_publish.c, with
 * evlog_publish_watermark) creates the subscriber's own partitions up to it
 * (the subscriber routes replicated rows into its partitions, whose bounds
 * need not match the publisher's).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_subscription_rel.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "util.h"
#include "watermark.h"

/* Is relid the target of a logical-replication subscription here? */
bool
evlog_is_subscribed(Oid relid)
{
	Relation	rel = table_open(SubscriptionRelRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, Anum_pg_subscription_rel_srrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, SubscriptionRelSrrelidSrsubidIndexId, true,
							  NULL, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The last answer of evlog_is_subscribed, kept until pg_subscription_rel's
 * syscache is invalidated: every append asks it about the log, and the
 * answer changes only with a subscription's ALTER/CREATE/DROP.
 */
static Oid	subscribed_relid = InvalidOid;	/* InvalidOid: nothing cached */
static bool subscribed_answer = false;
static bool subscribed_callback = false;

static void
subscription_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	subscribed_relid = InvalidOid;
}

bool
evlog_is_subscribed_cached(Oid relid)
{
	if (!subscribed_callback)
	{
		CacheRegisterSyscacheCallback(SUBSCRIPTIONRELMAP, subscription_changed, (Datum) 0);
		subscribed_callback = true;
	}
	if (!OidIsValid(subscribed_relid) || subscribed_relid != relid)
	{
		subscribed_answer = evlog_is_subscribed(relid);
		subscribed_relid = relid;
	}
	return subscribed_answer;
}

/* OID of evlog.watermark, with a clear error on a 1.0 database. */
Oid
evlog_watermark_relid(void)
{
	Oid			nsp = get_namespace_oid("evlog", false);
	Oid			relid = get_relname_relid("watermark", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.watermark does not exist"),
				 errdetail("Reading on a subscriber or a hot standby needs evlog 1.1."),
				 errhint("Run ALTER EXTENSION evlog UPDATE on the primary.")));
	return relid;
}

/*
 * On a subscriber of evlog.event_log or a hot standby: set *safe to the
 * replicated watermark and return true.  Elsewhere return false.
 */
bool
evlog_replica_horizon(Relation log, int64 *safe)
{
	Relation	rel;
	TableScanDesc scan;
	Snapshot	snapshot;
	HeapTuple	tup;
	bool		have = false;

	if (!RecoveryInProgress() && !evlog_is_subscribed(RelationGetRelid(log)))
		return false;

	rel = table_open(evlog_watermark_relid(), AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	if ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, EVLOG_WM_SAFE_SEQ, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			*safe = DatumGetInt64(d);
			have = true;
		}
	}
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	if (!have)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no evlog watermark has reached this %s yet",
						RecoveryInProgress() ? "standby" : "subscriber"),
				 errdetail("Here the publisher's in-flight appends are unknown: without its watermark a reader could skip a late commit."),
				 errhint("Run SELECT evlog_publish_watermark(); on the primary periodically, and publish evlog.watermark with evlog.event_log.")));
	return true;
}

/*
 * Record partition_top on this server's watermark row (partition.c, in the
 * transaction that created the partitions; connected to SPI), when the
 * watermark is published: a server that does not publish it (or that
 * subscribes to it, or is about to: its row would collide with the
 * publisher's) records nothing.  evlog_publish_watermark() records the top
 * as well.
 */
void
evlog_watermark_record_top(int64 top)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int			rc;

	if (evlog_is_subscribed(evlog_watermark_relid()))
		return;
	rc = SPI_execute("SELECT 1 FROM pg_catalog.pg_publication_tables"
					 " WHERE schemaname OPERATOR(pg_catalog.=) 'evlog'"
					 " AND tablename OPERATOR(pg_catalog.=) 'watermark'", true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "evlog: reading pg_publication_tables failed");
	if (SPI_processed == 0)
		return;
	values[0] = Int64GetDatum(top);
	(void) evlog_spi_exec_args("INSERT INTO evlog.watermark AS w (id, partition_top) VALUES (true, $1)"
							   " ON CONFLICT (id) DO UPDATE"
							   " SET partition_top = pg_catalog.int8larger(w.partition_top, EXCLUDED.partition_top)",
							   1, argtypes, values, NULL, SPI_OK_INSERT);
}
