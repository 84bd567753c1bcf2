/*-------------------------------------------------------------------------
 *
 * watermark_publish.c
 *	  The SQL side of the replicated watermark (see watermark.c):
 *	  evlog_publish_watermark() on the publisher, and the trigger that
 *	  creates a subscriber's partitions up to the publisher's partition top.
 *	  Kept apart from watermark.c because these create partitions and read
 *	  the safe seq, while watermark.c sits below both: the seq horizon and
 *	  the partition creator call it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/rel.h"

#include "catcache.h"
#include "logscan.h"
#include "partition.h"
#include "seqs.h"
#include "util.h"
#include "watermark.h"

PG_FUNCTION_INFO_V1(evlog_publish_watermark);
PG_FUNCTION_INFO_V1(evlog_watermark_applied);

/*
 * evlog_publish_watermark(): write this server's evlog_safe_seq() and the
 * top of its partitions into evlog.watermark (never moving either
 * backwards); returns the safe seq.
 */
Datum
evlog_publish_watermark(PG_FUNCTION_ARGS)
{
	int64		safe;
	int64		top = 0;
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2];
	Relation	log;
	EvlogPart  *parts;
	int			nparts;

	PreventCommandIfReadOnly("evlog_publish_watermark()");
	log = table_open(evlog_relid("event_log"), AccessShareLock);
	evlog_require_11(log, "evlog_publish_watermark()");
	if (evlog_is_subscribed(evlog_watermark_relid()))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.watermark is a logical replication subscriber here"),
				 errhint("Publish the watermark on the publisher.")));
	parts = evlog_log_parts(log, &nparts);
	if (nparts > 0 && parts[nparts - 1].hi != PG_INT64_MAX)
		top = parts[nparts - 1].hi;
	table_close(log, AccessShareLock);

	safe = evlog_safe_seq();
	values[0] = Int64GetDatum(safe);
	values[1] = Int64GetDatum(top);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) evlog_spi_exec_args("INSERT INTO evlog.watermark AS w (id, safe_seq, partition_top, published_at)"
							   " VALUES (true, $1, $2, pg_catalog.now())"
							   " ON CONFLICT (id) DO UPDATE"
							   " SET safe_seq = pg_catalog.int8larger(COALESCE(w.safe_seq, EXCLUDED.safe_seq), EXCLUDED.safe_seq),"
							   " partition_top = pg_catalog.int8larger(w.partition_top, EXCLUDED.partition_top),"
							   " published_at = EXCLUDED.published_at",
							   2, argtypes, values, NULL, SPI_OK_INSERT);
	SPI_finish();
	PG_RETURN_INT64(safe);
}

/*
 * AFTER INSERT OR UPDATE trigger on evlog.watermark, ENABLE ALWAYS so that
 * it fires in the apply worker: on a subscriber, create partitions up to
 * the publisher's partition top before rows needing them arrive.
 */
Datum
evlog_watermark_applied(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tup;
	bool		isnull;
	Datum		top;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.watermark_applied() must be fired AFTER ... FOR EACH ROW")));
	if (!evlog_is_subscribed(RelationGetRelid(trigdata->tg_relation)))
		return PointerGetDatum(NULL);

	tup = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
		trigdata->tg_newtuple : trigdata->tg_trigtuple;
	top = heap_getattr(tup, EVLOG_WM_PARTITION_TOP,
					   RelationGetDescr(trigdata->tg_relation), &isnull);
	if (!isnull && DatumGetInt64(top) > 0)
		(void) evlog_partitions_ensure(DatumGetInt64(top), EVLOG_PARTITIONS_AUTO_MAX);
	return PointerGetDatum(NULL);
}
