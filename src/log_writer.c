/*-------------------------------------------------------------------------
 *
 * log_writer.c
 *	  The only code that writes evlog.event_log.
 *
 * Every append path (evlog_append, the batch functions, the background
 * worker) goes through an EvlogWriter:
 *
 *	  writer = evlog_writer_open();        -- executor state, indexes, triggers
 *	  seq = evlog_writer_append(writer, &ev);
 *	  evlog_writer_close(writer);          -- fires queued AFTER ROW triggers
 *
 * Why the executor and not SPI: a C function called from SELECT runs outside
 * any INSERT, so we set up the same minimal executor state the logical
 * replication apply worker uses (one result relation, its indexes, an
 * AfterTriggerBeginQuery/EndQuery bracket).  Constraints, unique indexes and
 * AFTER ROW triggers (derived tables, user triggers) behave exactly as for an
 * INSERT, without parsing or planning one per call.
 *
 * Privileges: the log has no INSERT grant for anyone but its owner; EXECUTE
 * on the append functions is the gate (see evlog_grant_writer()).  Since we
 * bypass the executor's permission checks, this is by design, not accident.
 *
 * Seq allocation: seqs come from evlog.event_log_seq_seq (WAL-logged, crash
 * safe, carried by pg_dump) through evlog_allocate_seqs() in seqs.c, which
 * also records which seqs are still in flight.
 *
 * Idempotency: an event_id is locked (transaction-scoped advisory lock on its
 * hash) before it is looked up, so two concurrent appends of the same id
 * serialise: the second sees the first's row once it commits and returns its
 * seq instead of failing on the unique index.  In 1.0 the unique index is
 * on the log itself; from 1.1 on the log is partitioned by seq, where a
 * unique index on event_id cannot exist, so the writer also inserts
 * (event_id, seq) into evlog.event_ids, whose primary key is the guarantee
 * (evlog_prune removes the entries of pruned events).
 *
 * Partitions (1.1): the writer routes each row to the partition covering
 * its seq itself (the partitions are seq ranges it already knows, see
 * partition.c), and when a seq comes within half a partition of the last
 * one, it creates the next partition after closing the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "evlog.h"

/* Columns of evlog.event_log, in table order. */
enum
{
	COL_SEQ,
	COL_TS,
	COL_KIND,
	COL_HOST_ID,
	COL_ROLLOUT_ID,
	COL_PAYLOAD,
	COL_EVENT_ID,
	EVENT_LOG_NATTS
};

/* A partition of the log the writer has opened for inserting. */
typedef struct WriterPart
{
	EvlogPart	part;
	ResultRelInfo *rri;
} WriterPart;

struct EvlogWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	Oid			seq_relid;
	Oid			event_id_index;
	/* 1.1: partitions and the event_id side table */
	bool		partitioned;
	EvlogPart  *parts;
	int			nparts;
	WriterPart *open;
	int			nopen;
	Relation	ids_rel;
	ResultRelInfo *ids_rri;
	TupleTableSlot *ids_slot;
	int64		max_seq;
	bool		need_partition;
};

/* the last seq this backend appended (partition.c decides from it) */
static int64 backend_last_seq = 0;

/* OID of a relation in the schema "evlog"; errors if the extension is gone. */
Oid
evlog_relid(const char *relname)
{
	Oid			nsp = get_namespace_oid("evlog", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(relname, nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"evlog.%s\" does not exist", relname),
				 errhint("Run CREATE EXTENSION evlog in this database.")));
	return relid;
}

EvlogWriter *
evlog_writer_open(void)
{
	EvlogWriter *w = palloc0(sizeof(EvlogWriter));
	RangeTblEntry *rte;
	List	   *rtable;
	int64		upto;

	w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
	w->seq_relid = evlog_relid("event_log_seq_seq");
	w->partitioned = evlog_log_is_partitioned(w->rel);
	if (w->partitioned && evlog_is_subscribed(RelationGetRelid(w->rel)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.event_log is a logical replication subscriber here"),
				 errdetail("Its seqs are handed out by the publisher; a local append would collide with them."),
				 errhint("Append on the publisher.")));
	if (w->partitioned && RelationGetPartitionDesc(w->rel, true)->nparts == 0)
	{
		/* the first append after a fresh install: ATTACH wants the log closed */
		Oid			owner = w->rel->rd_rel->relowner;

		table_close(w->rel, NoLock);
		evlog_partitions_first(owner);
		w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
		if (RelationGetPartitionDesc(w->rel, true)->nparts == 0)
		{
			/*
			 * The worker could not do it (e.g. the extension was created in
			 * this very transaction, invisible to it): create it here.
			 */
			table_close(w->rel, NoLock);
			(void) evlog_partitions_ensure(1);
			w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
		}
	}
	else if (w->partitioned && evlog_partitions_exhausted(w->rel, backend_last_seq, &upto))
	{
		/*
		 * The head is close to the top and no worker has added the next
		 * partition: create it in this transaction before going on.
		 */
		table_close(w->rel, NoLock);
		(void) evlog_partitions_ensure(upto);
		w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
	}
	if (w->partitioned)
	{
		w->event_id_index = evlog_relid("event_ids_pkey");
		w->ids_rel = table_open(evlog_relid("event_ids"), RowExclusiveLock);
		w->parts = evlog_log_parts(w->rel, &w->nparts);
		w->open = palloc0(sizeof(WriterPart) * Max(w->nparts, 1));
	}
	else
		w->event_id_index = evlog_relid("event_log_event_id_key");

	w->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = w->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rtable = list_make1(rte);
	if (w->ids_rel != NULL)
	{
		rte = makeNode(RangeTblEntry);
		rte->rtekind = RTE_RELATION;
		rte->relid = RelationGetRelid(w->ids_rel);
		rte->relkind = w->ids_rel->rd_rel->relkind;
		rte->rellockmode = RowExclusiveLock;
		rtable = lappend(rtable, rte);
	}
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(w->estate, rtable, NIL);
#else
	ExecInitRangeTable(w->estate, rtable);
#endif

	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	/* lets ExecGetTriggerResultRel() and ExecCloseResultRelations() find it */
	w->estate->es_opened_result_relations =
		lappend(w->estate->es_opened_result_relations, w->rri);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	if (!w->partitioned)
		ExecOpenIndices(w->rri, false);

	w->slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(w->rel),
									 &TTSOpsVirtual);
	if (w->ids_rel != NULL)
	{
		w->ids_rri = makeNode(ResultRelInfo);
		InitResultRelInfo(w->ids_rri, w->ids_rel, 2, NULL, 0);
		w->estate->es_opened_result_relations =
			lappend(w->estate->es_opened_result_relations, w->ids_rri);
		ExecOpenIndices(w->ids_rri, false);
		w->ids_slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(w->ids_rel),
											 &TTSOpsVirtual);
	}

	AfterTriggerBeginQuery();
	return w;
}

void
evlog_writer_close(EvlogWriter *w)
{
	bool		need = w->need_partition;
	int64		max_seq = w->max_seq;
	Oid			owner = w->rel->rd_rel->relowner;

	/* fires the AFTER ROW triggers queued by our inserts */
	AfterTriggerEndQuery(w->estate);
	ExecCloseResultRelations(w->estate);
	/* routed partitions are ours to close, as ExecCleanupTupleRouting would */
	for (int i = 0; i < w->nopen; i++)
	{
		ExecCloseIndices(w->open[i].rri);
		table_close(w->open[i].rri->ri_RelationDesc, NoLock);
	}
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	if (w->ids_rel != NULL)
		table_close(w->ids_rel, NoLock);
	table_close(w->rel, NoLock);
	pfree(w);

	/* ATTACH refuses a table this session has open: only now */
	if (need)
		evlog_partitions_maintain(owner, max_seq);
}

/*
 * The result relation of the partition that holds seq, opened on first use
 * the way ExecInitPartitionInfo() does (routed from the log's RT entry, so
 * its cloned triggers fire and ExecCloseResultRelations() closes it).
 */
static ResultRelInfo *
partition_for(EvlogWriter *w, int64 seq)
{
	Relation	part;
	TupleDesc	pdesc;
	TupleDesc	ldesc = RelationGetDescr(w->rel);
	ResultRelInfo *rri;
	int			i;

	for (i = w->nopen - 1; i >= 0; i--)
		if (seq >= w->open[i].part.lo && seq <= w->open[i].part.hi)
			return w->open[i].rri;

	for (i = 0; i < w->nparts; i++)
		if (seq >= w->parts[i].lo && seq <= w->parts[i].hi)
			break;
	if (i == w->nparts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no partition of evlog.event_log covers seq " INT64_FORMAT, seq),
				 errdetail("Partitions are created ahead of need, half a partition (evlog.partition_size) before the last one fills up."),
				 errhint("Run SELECT evlog_create_partitions(); as the extension owner, or schedule it.")));

	part = table_open(w->parts[i].relid, RowExclusiveLock);
	pdesc = RelationGetDescr(part);
	for (int a = 0; a < ldesc->natts; a++)
	{
		if (pdesc->natts != ldesc->natts ||
			TupleDescAttr(pdesc, a)->atttypid != TupleDescAttr(ldesc, a)->atttypid ||
			TupleDescAttr(pdesc, a)->attisdropped != TupleDescAttr(ldesc, a)->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("partition \"%s\" of evlog.event_log has a different column layout",
							RelationGetRelationName(part)),
					 errhint("Partitions must be created by evlog_create_partitions().")));
	}

	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, part, 1, w->rri, 0);
	w->estate->es_tuple_routing_result_relations =
		lappend(w->estate->es_tuple_routing_result_relations, rri);
	ExecOpenIndices(rri, false);
	if (w->nopen == Max(w->nparts, 1))
		elog(ERROR, "evlog: more partitions opened than exist");
	w->open[w->nopen].part = w->parts[i];
	w->open[w->nopen].rri = rri;
	w->nopen++;
	return rri;
}

static bool
text_equal_or_both_null(text *a, text *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID,
												PointerGetDatum(a),
												PointerGetDatum(b)));
}

/*
 * Error out unless the stored row (values/nulls in event_log column order)
 * is the event being appended.
 */
static void
check_same_event(EvlogEvent *ev, Datum *values, bool *nulls)
{
	const char *differs = NULL;

	if (!text_equal_or_both_null(DatumGetTextPP(values[COL_KIND]), ev->kind))
		differs = "kind";
	else if (DatumGetTimestampTz(values[COL_TS]) != ev->ts)
		differs = "ts";
	else if (!text_equal_or_both_null(nulls[COL_HOST_ID] ? NULL : DatumGetTextPP(values[COL_HOST_ID]),
									  ev->host_id))
		differs = "host_id";
	else if (!text_equal_or_both_null(nulls[COL_ROLLOUT_ID] ? NULL : DatumGetTextPP(values[COL_ROLLOUT_ID]),
									  ev->rollout_id))
		differs = "rollout_id";
	else if (!DatumGetBool(DirectFunctionCall2(jsonb_eq, values[COL_PAYLOAD],
											   JsonbPGetDatum(ev->payload))))
		differs = "payload";

	if (differs)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("event_id \"%s\" is already in the log with different content",
						text_to_cstring(ev->event_id)),
				 errdetail("The stored event (seq " INT64_FORMAT ") differs in %s.",
						   DatumGetInt64(values[COL_SEQ]), differs),
				 errhint("A retry must resend the same event; a new event needs a new event_id.")));
}

/*
 * If event_id is already in the log, return its seq (after checking the
 * stored event is the same one) and true; otherwise false.  The caller holds
 * the event_id lock, so no other transaction can be inserting this id now:
 * a dirty snapshot sees every committed row plus our own.
 */
static bool
lookup_event_id(EvlogWriter *w, EvlogEvent *ev, int64 *seq)
{
	SnapshotData dirty;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;
	Relation	keyrel = w->partitioned ? w->ids_rel : w->rel;
	int			keycol = w->partitioned ? 1 : COL_EVENT_ID + 1;

	InitDirtySnapshot(dirty);
	ScanKeyInit(&key, keycol, BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(ev->event_id));
	key.sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(keyrel, w->event_id_index, true, &dirty, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[EVENT_LOG_NATTS];
		bool		nulls[EVENT_LOG_NATTS];

		if (!w->partitioned)
		{
			heap_deform_tuple(tup, RelationGetDescr(w->rel), values, nulls);
			check_same_event(ev, values, nulls);
			*seq = DatumGetInt64(values[COL_SEQ]);
		}
		else
		{
			/* evlog.event_ids (event_id, seq): fetch the event itself */
			bool		isnull;
			EvlogLogScan *ls;
			TupleTableSlot *slot;

			*seq = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(w->ids_rel), &isnull));
			ls = evlog_logscan_begin(w->rel, &dirty, *seq, *seq, ForwardScanDirection);
			slot = evlog_logscan_next(ls);
			if (slot == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("event_id \"%s\" is recorded for seq " INT64_FORMAT ", which is not in the log",
								text_to_cstring(ev->event_id), *seq),
						 errhint("Run evlog_verify() and check evlog.event_ids.")));
			slot_getallattrs(slot);
			check_same_event(ev, slot->tts_values, slot->tts_isnull);
			evlog_logscan_end(ls);
		}
		found = true;
		break;
	}
	systable_endscan(scan);
	return found;
}

static void
lock_event_id(EvlogWriter *w, text *event_id)
{
	LOCKTAG		tag;
	uint32		h = hash_bytes((const unsigned char *) VARDATA_ANY(event_id),
							   VARSIZE_ANY_EXHDR(event_id));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, h,
						 EVLOG_LOCK_EVENT_ID);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Append one validated event; returns its seq.  With an event_id that is
 * already stored (same content), returns the stored seq and writes nothing.
 */
int64
evlog_writer_append(EvlogWriter *w, EvlogEvent *ev)
{
	TupleTableSlot *slot = w->slot;
	int64		seq;

	CHECK_FOR_INTERRUPTS();

	if (ev->event_id != NULL)
	{
		lock_event_id(w, ev->event_id);
		if (lookup_event_id(w, ev, &seq))
			return seq;
	}

	seq = evlog_allocate_seqs(RelationGetRelid(w->rel), w->seq_relid, 1);

	ExecClearTuple(slot);
	slot->tts_values[COL_SEQ] = Int64GetDatum(seq);
	slot->tts_values[COL_TS] = TimestampTzGetDatum(ev->ts);
	slot->tts_values[COL_KIND] = PointerGetDatum(ev->kind);
	slot->tts_values[COL_HOST_ID] = PointerGetDatum(ev->host_id);
	slot->tts_values[COL_ROLLOUT_ID] = PointerGetDatum(ev->rollout_id);
	slot->tts_values[COL_PAYLOAD] = JsonbPGetDatum(ev->payload);
	slot->tts_values[COL_EVENT_ID] = PointerGetDatum(ev->event_id);
	memset(slot->tts_isnull, false, EVENT_LOG_NATTS * sizeof(bool));
	slot->tts_isnull[COL_HOST_ID] = ev->host_id == NULL;
	slot->tts_isnull[COL_ROLLOUT_ID] = ev->rollout_id == NULL;
	slot->tts_isnull[COL_EVENT_ID] = ev->event_id == NULL;
	ExecStoreVirtualTuple(slot);

	if (!w->partitioned)
	{
		ExecSimpleRelationInsert(w->rri, w->estate, slot);
		return seq;
	}

	ExecSimpleRelationInsert(partition_for(w, seq), w->estate, slot);
	if (ev->event_id != NULL)
	{
		TupleTableSlot *ids = w->ids_slot;

		ExecClearTuple(ids);
		ids->tts_values[0] = PointerGetDatum(ev->event_id);
		ids->tts_values[1] = Int64GetDatum(seq);
		ids->tts_isnull[0] = ids->tts_isnull[1] = false;
		ExecStoreVirtualTuple(ids);
		ExecSimpleRelationInsert(w->ids_rri, w->estate, ids);
	}
	w->max_seq = Max(w->max_seq, seq);
	backend_last_seq = seq;
	if (!w->need_partition && evlog_partitions_needed(w->rel, seq))
		w->need_partition = true;
	return seq;
}
