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
 * seq instead of failing on the unique index.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
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

struct EvlogWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	Oid			seq_relid;
	Oid			event_id_index;
};

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

	w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
	w->seq_relid = evlog_relid("event_log_seq_seq");
	w->event_id_index = evlog_relid("event_log_event_id_key");

	w->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = w->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	ExecInitRangeTable(w->estate, list_make1(rte), NIL);
#else
	ExecInitRangeTable(w->estate, list_make1(rte));
#endif

	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, w->rel, 1, NULL, 0);
	/* lets ExecGetTriggerResultRel() and ExecCloseResultRelations() find it */
	w->estate->es_opened_result_relations =
		lappend(w->estate->es_opened_result_relations, w->rri);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	ExecOpenIndices(w->rri, false);

	w->slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(w->rel),
									 &TTSOpsVirtual);

	AfterTriggerBeginQuery();
	return w;
}

void
evlog_writer_close(EvlogWriter *w)
{
	/* fires the AFTER ROW triggers queued by our inserts */
	AfterTriggerEndQuery(w->estate);
	ExecCloseResultRelations(w->estate);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock);
	pfree(w);
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

	InitDirtySnapshot(dirty);
	ScanKeyInit(&key, COL_EVENT_ID + 1, BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(ev->event_id));
	key.sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(w->rel, w->event_id_index, true, &dirty, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(w->rel);
		Datum		values[EVENT_LOG_NATTS];
		bool		nulls[EVENT_LOG_NATTS];
		const char *differs = NULL;

		heap_deform_tuple(tup, desc, values, nulls);
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
		*seq = DatumGetInt64(values[COL_SEQ]);
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

	ExecSimpleRelationInsert(w->rri, w->estate, slot);
	return seq;
}
