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
 * The derived tables' trigger is not queued when it is the only AFTER ROW
 * trigger and fires as shipped: the writer derives each row right after its
 * index entries (derive_trigger.c, evlog_derive_directly).
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
 * seq instead of failing on the unique index.  A batch locks its ids in hash
 * order, so batches cannot deadlock on each other's ids; a transaction that
 * would hold too many id locks takes one lock for all ids instead (see
 * lock_all_event_ids_if_many).
 *
 * Batches (evlog_writer_append_many) take the path COPY FROM takes
 * (copyfrom.c): table_multi_insert() with a BulkInsertState into buffers of
 * up to 1000 tuples or 64 kB of event data, then per tuple the index
 * insertions and the AFTER ROW trigger events, table_finish_bulk_insert() at
 * the end.  A BEFORE ROW INSERT trigger may change or drop a row, which
 * multi-insert cannot honour, so with one present the batch falls back to
 * one ExecSimpleRelationInsert() per row, as COPY does.  Neither path fires
 * statement-level triggers, the same as evlog_append.
 *
 * A batch runs in phases, so that nothing is written before every entry is
 * known to be good: (1) fetch, and so validate, every entry; (2) resolve
 * event_ids: in-batch duplicates and ids already in the log; (2b) in a
 * conditional batch, lock the streams and check their heads (stream.c); (3) allocate
 * the seqs of the new rows in one go; (4) insert them in input order; (5)
 * give each duplicate the seq of its first occurrence.
 *
 * Partitions (1.1): the log is partitioned by seq range.  The writer routes
 * each row to the partition covering its seq itself (partition.c knows the
 * bounds), a batch's multi-insert buffer holding rows of one partition at a
 * time.  A unique index on a seq-partitioned table cannot cover event_id,
 * so the writer also inserts (event_id, seq) into evlog.event_ids, whose
 * primary key is the guarantee and which lookups use (evlog_prune removes
 * the entries of pruned events); on a 1.0 database the unique index on the
 * log is used as before.  When a seq comes within half a partition of the
 * last partition's top, evlog's partition creator (a background worker,
 * partition.c) makes the next one; if the head still reaches the top
 * first, the writer waits for it a bounded time (writer_cover): an
 * appending transaction never creates a partition itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bulk_insert.h"
#include "catcache.h"
#include "derive.h"
#include "log_writer.h"
#include "logscan.h"
#include "partition.h"
#include "seqs.h"
#include "stream.h"
#include "util.h"
#include "watermark.h"

/*
 * Multi-insert buffer limits, COPY FROM's: enough rows to amortise the
 * per-call costs, few enough bytes to stay in the CPU caches.
 */
#define BATCH_MAX_TUPLES		1000
#define BATCH_MAX_BYTES			65535

/* A partition of the log the writer has opened for inserting. */
typedef struct WriterPart
{
	EvlogPart	part;
	ResultRelInfo *rri;
	bool		bulk;			/* rows went in through table_multi_insert */
} WriterPart;

struct EvlogWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	Oid			seq_relid;
	Oid			event_id_index;
	Relation	derive_rel;		/* where the rows being derived went */
	struct InsertBuffer *flushing;	/* the batch buffer being written */

	/* 1.1: partitions and the event_id side table */
	bool		partitioned;
	WriterPart *open;
	int			nopen;
	int			maxopen;
	Oid			ids_relid;		/* evlog.event_ids; opened on first use */
	Relation	ids_rel;
	ResultRelInfo *ids_rri;
	TupleTableSlot *ids_slot;
	int64		max_seq;
	bool		need_partition;

	/*
	 * Memory accounting for batches, only when DEBUG1 is being logged (it
	 * walks every memory context): backend memory at open and the highest
	 * figure seen since, reported at close.
	 */
	bool		track_memory;
	Size		mem_base;
	Size		mem_peak;
	int			batch_entries;	/* -1: no batch appended */
};

/* A batch's multi-insert buffer (see flush_buffer). */
typedef struct InsertBuffer
{
	TupleTableSlot *slots[BATCH_MAX_TUPLES];
	bool		derives_nothing[BATCH_MAX_TUPLES];	/* the event's, per slot */
	ResultRelInfo *rri;			/* the partition (or log) the rows go to */
	int			nslots;			/* slots created so far */
	int			nused;			/* slots holding a buffered row */
	Size		bytes;			/* event data buffered */
	BulkInsertState bistate;
	MemoryContext cxt;			/* buffered events' data; reset per flush */
} InsertBuffer;

/* event_id hash and position of one batch entry, sorted to find duplicates */
typedef struct IdKey
{
	uint32		hash;
	int			index;
} IdKey;

/* what phase 2 of a batch decided for an entry */
#define ENTRY_NEW		0		/* to be inserted */
#define ENTRY_STORED	1		/* event_id already in the log */
#define ENTRY_DUP		2		/* event_id seen earlier in the batch */

/*
 * Make a partition cover seq (the head overtook the partitions made ahead,
 * or the log has none).  Normally evlog's partition creator makes it while
 * we wait (partition.c).  Where this process may create it itself, the
 * writer lets go of the log around it (ATTACH refuses a table the session
 * has open; the relcache entry may be rebuilt meanwhile, so every pointer to
 * it is refreshed).  Nothing the writer keeps points into the parent but
 * w->rel and w->rri: rows go to partitions, whose relations stay open.
 */
static void
writer_cover(EvlogWriter *w, int64 seq)
{
	if (evlog_partitions_await(w->rel, seq))
	{
		table_close(w->rel, NoLock);
		(void) evlog_partitions_ensure(evlog_seq_plus_margin(seq),
									   EVLOG_PARTITIONS_AUTO_MAX);
		w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
		if (w->rri != NULL)
			w->rri->ri_RelationDesc = w->rel;
	}
}

EvlogWriter *
evlog_writer_open(void)
{
	EvlogWriter *w = palloc0(sizeof(EvlogWriter));
	List	   *rtable;

	w->rel = table_open(evlog_relid("event_log"), RowExclusiveLock);
	evlog_check_log_layout(w->rel);
	w->seq_relid = evlog_relid("event_log_seq_seq");
	w->partitioned = evlog_log_is_partitioned(w->rel);
	if (w->partitioned && evlog_is_subscribed_cached(RelationGetRelid(w->rel)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.event_log is a logical replication subscriber here"),
				 errdetail("Its seqs are handed out by the publisher; a local append would collide with them."),
				 errhint("Append on the publisher.")));
	/* the first append to an empty log (fresh install, everything pruned) */
	if (w->partitioned && RelationGetPartitionDesc(w->rel, true)->nparts == 0)
		writer_cover(w, 1);
	if (w->partitioned)
	{
		w->event_id_index = evlog_relid("event_ids_pkey");
		w->ids_relid = evlog_relid("event_ids");
		w->maxopen = 4;
		w->open = palloc0(sizeof(WriterPart) * w->maxopen);
	}
	else
		w->event_id_index = evlog_relid("event_log_event_id_key");

	rtable = list_make1(evlog_insert_rte(RelationGetRelid(w->rel), w->rel->rd_rel->relkind));
	if (OidIsValid(w->ids_relid))
		rtable = lappend(rtable, evlog_insert_rte(w->ids_relid, RELKIND_RELATION));
	w->estate = evlog_insert_estate(rtable);
	/* rows go to partitions: the parent's (partitioned) indexes take none */
	w->rri = evlog_insert_result_rel(w->estate, w->rel, 1, !w->partitioned);

	w->slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(w->rel),
									 &TTSOpsVirtual);

	w->batch_entries = -1;
	w->track_memory = message_level_is_interesting(DEBUG1);
	if (w->track_memory)
		w->mem_base = w->mem_peak = MemoryContextMemAllocated(TopMemoryContext, true);

	AfterTriggerBeginQuery();
	return w;
}

static void
note_memory(EvlogWriter *w)
{
	if (w->track_memory)
		w->mem_peak = Max(w->mem_peak, MemoryContextMemAllocated(TopMemoryContext, true));
}

void
evlog_writer_close(EvlogWriter *w)
{
	bool		need = w->need_partition;
	int64		max_seq = w->max_seq;
	Oid			owner = w->rel->rd_rel->relowner;

	note_memory(w);
	if (w->track_memory && w->batch_entries >= 0)
		elog(DEBUG1, "evlog batch of %d entries: peak backend memory %zu bytes above the writer's start",
			 w->batch_entries, w->mem_peak - w->mem_base);

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

	if (need)
		evlog_partitions_request(owner, max_seq);
}

/*
 * The result relation of the partition that holds seq, opened on first use
 * the way ExecInitPartitionInfo() does (routed from the log's RT entry, so
 * its cloned triggers fire); evlog_writer_close() closes it.  On a 1.0 log,
 * the log itself.  With no partition for seq yet (the head overtook the
 * partitions made ahead), creates it first.
 */
static ResultRelInfo *
partition_for(EvlogWriter *w, int64 seq)
{
	Relation	part;
	TupleDesc	pdesc;
	TupleDesc	ldesc;
	ResultRelInfo *rri;
	EvlogPart	bounds;

	if (!w->partitioned)
		return w->rri;
	for (int i = w->nopen - 1; i >= 0; i--)
		if (seq >= w->open[i].part.lo && seq <= w->open[i].part.hi)
			return w->open[i].rri;

	if (!evlog_log_part_for(w->rel, seq, &bounds))
	{
		writer_cover(w, seq);
		if (!evlog_log_part_for(w->rel, seq, &bounds))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no partition of evlog.event_log covers seq " INT64_FORMAT, seq),
					 errhint("Run SELECT evlog_create_partitions(); as the extension owner.")));
	}

	part = table_open(bounds.relid, RowExclusiveLock);
	evlog_check_partition(part);
	pdesc = RelationGetDescr(part);
	ldesc = RelationGetDescr(w->rel);
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
	if (w->nopen == w->maxopen)
	{
		w->maxopen *= 2;
		w->open = repalloc(w->open, sizeof(WriterPart) * w->maxopen);
	}
	w->open[w->nopen].part = bounds;
	w->open[w->nopen].rri = rri;
	w->open[w->nopen].bulk = false;
	w->nopen++;
	return rri;
}

/*
 * Open evlog.event_ids for inserting and looking up, on the first event
 * that has an event_id: most appends have none, and opening a table with
 * its index costs as much as a catalog lookup or two.  The range table
 * entry was made at open, so the executor state is the same either way.
 */
static void
open_ids(EvlogWriter *w)
{
	if (w->ids_rel != NULL)
		return;
	w->ids_rel = table_open(w->ids_relid, RowExclusiveLock);
	w->ids_rri = evlog_insert_result_rel(w->estate, w->ids_rel, 2, true);
	w->ids_slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(w->ids_rel),
										 &TTSOpsVirtual);
}

/* After a row with seq went in: its event_id entry, partition upkeep. */
static void
after_insert(EvlogWriter *w, EvlogEvent *ev, int64 seq)
{
	if (!w->partitioned)
		return;
	if (ev->event_id != NULL)
	{
		TupleTableSlot *ids;

		open_ids(w);
		ids = w->ids_slot;

		ExecClearTuple(ids);
		ids->tts_values[0] = PointerGetDatum(ev->event_id);
		ids->tts_values[1] = Int64GetDatum(seq);
		ids->tts_isnull[0] = ids->tts_isnull[1] = false;
		ExecStoreVirtualTuple(ids);
		/* skipped by a BEFORE ROW trigger: as in insert_log_row */
		ItemPointerSetInvalid(&ids->tts_tid);
		ExecSimpleRelationInsert(w->ids_rri, w->estate, ids);
		if (!ItemPointerIsValid(&ids->tts_tid))
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a BEFORE INSERT trigger skipped the event_id entry of an event appended to evlog.event_log"),
					 errdetail("A row trigger on %s returned NULL; without its entry the event_id \"%s\" would not be unique.",
							   RelationGetRelationName(w->ids_rri->ri_RelationDesc), text_to_cstring(ev->event_id)),
					 errhint("Make the trigger return NEW (or raise an error to refuse the event), or drop it.")));
	}
	w->max_seq = Max(w->max_seq, seq);
	if (!w->need_partition && evlog_partitions_needed(w->rel, seq))
		w->need_partition = true;
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

/* The first field in which two events differ, or NULL if they are the same. */
static const char *
event_differs(EvlogEvent *a, EvlogEvent *b)
{
	if (!text_equal_or_both_null(a->kind, b->kind))
		return "kind";
	if (a->ts != b->ts)
		return "ts";
	if (!text_equal_or_both_null(a->host_id, b->host_id))
		return "host_id";
	if (!text_equal_or_both_null(a->rollout_id, b->rollout_id))
		return "rollout_id";
	if (!DatumGetBool(DirectFunctionCall2(jsonb_eq, JsonbPGetDatum(a->payload),
										  JsonbPGetDatum(b->payload))))
		return "payload";
	return NULL;
}

/*
 * If event_id is already in the log, return its seq (after checking the
 * stored event is the same one) and true; otherwise false.  The caller holds
 * the event_id lock, so no other transaction can be inserting this id now:
 * a dirty snapshot sees every committed row plus our own.  entry is the
 * event's index in a batch, -1 for a single append.
 */
static bool
lookup_event_id(EvlogWriter *w, EvlogEvent *ev, int entry, int64 *seq)
{
	SnapshotData dirty;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	bool		found = false;

	Relation	keyrel;
	EvlogLogScan *ls = NULL;

	if (w->partitioned)
		open_ids(w);
	keyrel = w->partitioned ? w->ids_rel : w->rel;
	InitDirtySnapshot(dirty);
	ScanKeyInit(&key, w->partitioned ? 1 : EVLOG_COL_EVENT_ID + 1, BTEqualStrategyNumber,
				F_TEXTEQ, PointerGetDatum(ev->event_id));
	key.sk_collation = DEFAULT_COLLATION_OID;
	scan = systable_beginscan(keyrel, w->event_id_index, true, &dirty, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		TupleDesc	desc = RelationGetDescr(w->rel);
		Datum		values[EVLOG_LOG_NATTS];
		bool		nulls[EVLOG_LOG_NATTS];
		EvlogEvent	stored;
		const char *differs;

		if (!w->partitioned)
		{
			/* by column: dropped ones after evlog's may follow */
			for (int a = 0; a < EVLOG_LOG_NATTS; a++)
				values[a] = heap_getattr(tup, a + 1, desc, &nulls[a]);
		}
		else
		{
			/* evlog.event_ids (event_id, seq): fetch the event itself */
			bool		isnull;
			int64		idseq = DatumGetInt64(heap_getattr(tup, 2, RelationGetDescr(w->ids_rel), &isnull));
			TupleTableSlot *slot;

			ls = evlog_logscan_begin(w->rel, &dirty, idseq, idseq, ForwardScanDirection);
			slot = evlog_logscan_next(ls);
			if (slot == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("event_id \"%s\" is recorded for seq " INT64_FORMAT ", which is not in the log",
								text_to_cstring(ev->event_id), idseq),
						 errhint("Run evlog_verify() and check evlog.event_ids.")));
			slot_getallattrs(slot);
			memcpy(values, slot->tts_values, sizeof(values));
			memcpy(nulls, slot->tts_isnull, sizeof(nulls));
		}
		stored.kind = DatumGetTextPP(values[EVLOG_COL_KIND]);
		stored.ts = DatumGetTimestampTz(values[EVLOG_COL_TS]);
		stored.host_id = nulls[EVLOG_COL_HOST_ID] ? NULL : DatumGetTextPP(values[EVLOG_COL_HOST_ID]);
		stored.rollout_id = nulls[EVLOG_COL_ROLLOUT_ID] ? NULL : DatumGetTextPP(values[EVLOG_COL_ROLLOUT_ID]);
		stored.payload = DatumGetJsonbP(values[EVLOG_COL_PAYLOAD]);
		stored.event_id = ev->event_id;

		differs = event_differs(&stored, ev);
		if (differs && entry < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("event_id \"%s\" is already in the log with different content",
							text_to_cstring(ev->event_id)),
					 errdetail("The stored event (seq " INT64_FORMAT ") differs in %s.",
							   DatumGetInt64(values[EVLOG_COL_SEQ]), differs),
					 errhint("A retry must resend the same event; a new event needs a new event_id.")));
		if (differs)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("event_id \"%s\" is already in the log with different content",
							text_to_cstring(ev->event_id)),
					 errdetail_internal("entry %d: the stored event (seq " INT64_FORMAT ") differs in %s",
										entry, DatumGetInt64(values[EVLOG_COL_SEQ]), differs),
					 errhint("A retry must resend the same event; a new event needs a new event_id.")));
		*seq = DatumGetInt64(values[EVLOG_COL_SEQ]);
		found = true;
		break;
	}
	if (ls != NULL)
		evlog_logscan_end(ls);
	systable_endscan(scan);
	return found;
}

/*
 * At call time, for a path that writes later (evlog_enqueue): an event_id
 * already in the log with different content is the same error now that
 * evlog_append would raise (23505).  Without the event_id lock: an id
 * committed between now and the write is still caught by the writer (and
 * dead-lettered), this only spares the caller a ticket for a certain
 * failure.  The same content is fine: the writer returns the stored seq.
 */
void
evlog_check_event_id(EvlogEvent *ev)
{
	EvlogWriter w;
	int64		seq;

	if (ev->event_id == NULL)
		return;
	memset(&w, 0, sizeof(w));
	w.rel = table_open(evlog_relid("event_log"), AccessShareLock);
	evlog_check_log_layout(w.rel);
	w.partitioned = evlog_log_is_partitioned(w.rel);
	if (w.partitioned)
	{
		w.event_id_index = evlog_relid("event_ids_pkey");
		w.ids_rel = table_open(evlog_relid("event_ids"), AccessShareLock);
	}
	else
		w.event_id_index = evlog_relid("event_log_event_id_key");
	(void) lookup_event_id(&w, ev, -1, &seq);
	if (w.ids_rel != NULL)
		table_close(w.ids_rel, AccessShareLock);
	table_close(w.rel, AccessShareLock);
}

static uint32
event_id_hash(text *event_id)
{
	return hash_bytes((const unsigned char *) VARDATA_ANY(event_id),
					  VARSIZE_ANY_EXHDR(event_id));
}

/*
 * Lock an event_id by its hash (ids that collide share a lock, which is
 * harmless), held to the end of the transaction.  Every per-id lock comes
 * with a share lock on one "all event_ids" tag.
 *
 * Why the second tag: a transaction may not hold an unbounded number of
 * locks (the shared lock table is sized by max_locks_per_transaction), and a
 * 100,000-entry batch with event_ids would exhaust it.  So once a
 * transaction would hold more than EVLOG_MAX_ID_LOCKS per-id locks, it takes
 * the "all" tag in exclusive mode instead, which stands for every id: it
 * waits for, and then excludes, every other transaction appending with an
 * event_id until it commits.  Appends without an event_id are unaffected.
 *
 * Never an upgrade that waits: a transaction that already holds the "all"
 * tag in share mode (it locked ids before) would, by waiting for exclusive,
 * deadlock with another one doing the same.  It takes exclusive only if it
 * can at once; otherwise it goes on with per-id locks, up to
 * EVLOG_MAX_ID_LOCKS_SHARED in all, and beyond that fails with a hint
 * rather than wait.
 */
#define EVLOG_MAX_ID_LOCKS		64
#define EVLOG_MAX_ID_LOCKS_SHARED	4096

static void append_many(EvlogWriter *w, int n, EvlogFetchEvent fetch,
						void *arg, bool with_expect, int64 *seqs_out);

/* per-id locks taken by the current top-level transaction */
static LocalTransactionId id_locks_lxid = InvalidLocalTransactionId;
static int	id_locks_taken = 0;

static void
set_event_id_tag(LOCKTAG *tag, EvlogWriter *w, uint32 hash, bool all)
{
	if (all)
		SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC,
							 RelationGetRelid(w->rel), EVLOG_LOCK_ALL_EVENT_IDS);
	else
		SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, hash,
							 EVLOG_LOCK_EVENT_ID);
}

/*
 * About to lock n more event_ids: take the "all" tag, exclusive if that
 * many per-id locks would be too many (returns true: no per-id locks
 * needed), shared otherwise.  The count only grows within a transaction
 * (locks released by a rolled-back subtransaction are still counted), which
 * errs towards the exclusive lock, never towards too few locks; and the
 * exclusive lock is re-requested on every call rather than remembered, so a
 * subtransaction that released it cannot fool us.
 */
static bool
lock_all_event_ids_if_many(EvlogWriter *w, int n)
{
	LOCKTAG		tag;
	LocalTransactionId lxid = MyProc->lxid;

	if (lxid != id_locks_lxid)
	{
		id_locks_lxid = lxid;
		id_locks_taken = 0;
	}
	set_event_id_tag(&tag, w, 0, true);
	if (id_locks_taken + n > EVLOG_MAX_ID_LOCKS)
	{
		bool		holds_share = LockHeldByMe(&tag, ShareLock);

		if (!holds_share ||
			LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		{
			id_locks_taken = EVLOG_MAX_ID_LOCKS + 1;
			if (!holds_share)
				(void) LockAcquire(&tag, ExclusiveLock, false, false);
			return true;
		}
		if (id_locks_taken + n > EVLOG_MAX_ID_LOCKS_SHARED)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("this transaction cannot lock %d more event_ids", n),
					 errdetail("It appended events with an event_id before, while other transactions append events with one: it would hold more than %d event_id locks, and waiting for the lock that stands for all of them could deadlock with those transactions.",
							   EVLOG_MAX_ID_LOCKS_SHARED),
					 errhint("Append large batches and loads with event_ids first in their transaction, or in a transaction of their own.")));
	}
	(void) LockAcquire(&tag, ShareLock, false, false);
	return false;
}

/*
 * For a caller about to append a large batch in several calls (a COPY
 * load): lock the event_ids as one call of that size would, with the lock
 * that stands for all of them, before the first call.
 */
void
evlog_writer_lock_all_event_ids(EvlogWriter *w)
{
	(void) lock_all_event_ids_if_many(w, EVLOG_MAX_ID_LOCKS + 1);
}

static void
lock_event_id(EvlogWriter *w, uint32 hash)
{
	LOCKTAG		tag;

	set_event_id_tag(&tag, w, hash, false);
	if (LockAcquire(&tag, ExclusiveLock, false, false) == LOCKACQUIRE_OK)
		id_locks_taken++;
}

static bool derive_inserted(TupleTableSlot *slot, int row, void *arg);

/*
 * Insert one row of the log as ExecSimpleRelationInsert() does (BEFORE ROW
 * triggers, generated columns, constraints, the row, its index entries,
 * AFTER ROW trigger events or the direct derive), without its partition
 * check: partition_for() chose the partition by the bounds that check
 * would test, on the one column of the partition key, seq, and the check
 * compiles the partition constraint again for every statement (as long as
 * the rest of an append).  A BEFORE ROW trigger may not change the seq (the
 * caller returns it and event_ids records it), so the row stays in its
 * partition.  A batch's multi-insert skips the check the same way.
 *
 * A BEFORE ROW trigger that returns NULL would skip the row silently; the
 * seq and the event_id entry would then name a row that was never written,
 * so the append fails instead.
 */
static void
insert_log_row(EvlogWriter *w, ResultRelInfo *rri, TupleTableSlot *slot)
{
	Relation	rel = rri->ri_RelationDesc;
	EState	   *estate = w->estate;
	List	   *recheck = NIL;

	int64		seq = DatumGetInt64(slot->tts_values[EVLOG_COL_SEQ]);
	bool		before_row = rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_before_row;

	if (before_row && !ExecBRInsertTriggers(estate, rri, slot))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("a BEFORE INSERT trigger skipped an event appended to evlog.event_log"),
				 errdetail("A row trigger on %s returned NULL; every appended event must be stored.",
						   RelationGetRelationName(rri->ri_RelationDesc)),
				 errhint("Make the trigger return NEW (or raise an error to refuse the event), or drop it.")));
	if (rel->rd_att->constr && rel->rd_att->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, estate, slot, CMD_INSERT);
	if (rel->rd_att->constr)
		ExecConstraints(rri, slot, estate);
	if (before_row)
	{
		bool		isnull;
		Datum		stored = slot_getattr(slot, EVLOG_COL_SEQ + 1, &isnull);

		/* the seq is returned and recorded (event_ids): it must be stored */
		if (isnull || DatumGetInt64(stored) != seq)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
					 errmsg("a BEFORE INSERT trigger changed the seq of an event appended to evlog.event_log"),
					 errdetail("The event was given seq " INT64_FORMAT "; a row trigger on %s changed it.",
							   seq, RelationGetRelationName(rel)),
					 errhint("A trigger on evlog.event_log must not change seq.")));
	}
	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	if (rri->ri_NumIndices > 0)
		recheck = ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
	w->derive_rel = rel;
	if (!evlog_derive_directly(rri) || !derive_inserted(slot, -1, w))
		ExecARInsertTriggers(estate, rri, slot, recheck, NULL);
	list_free(recheck);
}

/* Put one event, with its seq, into a slot as a virtual tuple. */
static void
store_event(TupleTableSlot *slot, EvlogEvent *ev, int64 seq)
{
	ExecClearTuple(slot);
	slot->tts_values[EVLOG_COL_SEQ] = Int64GetDatum(seq);
	slot->tts_values[EVLOG_COL_TS] = TimestampTzGetDatum(ev->ts);
	slot->tts_values[EVLOG_COL_KIND] = PointerGetDatum(ev->kind);
	slot->tts_values[EVLOG_COL_HOST_ID] = PointerGetDatum(ev->host_id);
	slot->tts_values[EVLOG_COL_ROLLOUT_ID] = PointerGetDatum(ev->rollout_id);
	slot->tts_values[EVLOG_COL_PAYLOAD] = JsonbPGetDatum(ev->payload);
	slot->tts_values[EVLOG_COL_EVENT_ID] = PointerGetDatum(ev->event_id);
	memset(slot->tts_isnull, false, EVLOG_LOG_NATTS * sizeof(bool));
	/* dropped columns after evlog's (evlog_check_log_layout) are null */
	for (int a = EVLOG_LOG_NATTS; a < slot->tts_tupleDescriptor->natts; a++)
		slot->tts_isnull[a] = true;
	slot->tts_isnull[EVLOG_COL_HOST_ID] = ev->host_id == NULL;
	slot->tts_isnull[EVLOG_COL_ROLLOUT_ID] = ev->rollout_id == NULL;
	slot->tts_isnull[EVLOG_COL_EVENT_ID] = ev->event_id == NULL;
	ExecStoreVirtualTuple(slot);
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
		if (!lock_all_event_ids_if_many(w, 1))
			lock_event_id(w, event_id_hash(ev->event_id));
		if (lookup_event_id(w, ev, -1, &seq))
			return seq;
	}

	seq = evlog_allocate_seqs(RelationGetRelid(w->rel), w->seq_relid, 1);
	store_event(slot, ev, seq);
	insert_log_row(w, partition_for(w, seq), slot);
	after_insert(w, ev, seq);
	return seq;
}

/*
 * evlog_writer_append for a conditional append: the event_id first (a retry
 * of an append that landed returns its seq and is not checked again), then
 * the stream's lock and head (stream.c), and only then a seq.
 */
int64
evlog_writer_append_expected(EvlogWriter *w, EvlogEvent *ev)
{
	TupleTableSlot *slot = w->slot;
	int64		seq;

	if (ev->expect.stream == EVLOG_STREAM_NONE)
		return evlog_writer_append(w, ev);
	CHECK_FOR_INTERRUPTS();

	if (ev->event_id != NULL)
	{
		if (!lock_all_event_ids_if_many(w, 1))
			lock_event_id(w, event_id_hash(ev->event_id));
		if (lookup_event_id(w, ev, -1, &seq))
			return seq;
	}
	evlog_stream_expect(w->rel, ev, -1);

	seq = evlog_allocate_seqs(RelationGetRelid(w->rel), w->seq_relid, 1);
	store_event(slot, ev, seq);
	insert_log_row(w, partition_for(w, seq), slot);
	after_insert(w, ev, seq);
	return seq;
}

/* ----------------------------------------------------------------------
 * Batches
 * ---------------------------------------------------------------------- */

static int
idkey_cmp(const void *a, const void *b)
{
	const IdKey *x = (const IdKey *) a;
	const IdKey *y = (const IdKey *) b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Where a batch's events come from: the caller's fetch callback, or the
 * events phase 1 kept when they fitted in work_mem (then no entry is
 * extracted twice).
 */
typedef struct BatchSource
{
	EvlogFetchEvent fetch;
	void	   *arg;
	EvlogEvent *cache;			/* n events, or NULL */
	MemoryContext cache_cxt;	/* owns cache and what it points to */
} BatchSource;

/* entry index into *ev; a fetch allocates in cxt */
static inline void
get_event(BatchSource *src, int index, EvlogEvent *ev, MemoryContext cxt)
{
	MemoryContext old;

	if (src->cache)
	{
		*ev = src->cache[index];
		return;
	}
	old = MemoryContextSwitchTo(cxt);
	src->fetch(src->arg, index, ev);
	MemoryContextSwitchTo(old);
}

/* bytes of event data an event adds to a multi-insert buffer */
static Size
event_bytes(EvlogEvent *ev)
{
	Size		n = sizeof(int64) + sizeof(TimestampTz) +
		VARSIZE_ANY(ev->kind) + VARSIZE(ev->payload);

	if (ev->host_id)
		n += VARSIZE_ANY(ev->host_id);
	if (ev->rollout_id)
		n += VARSIZE_ANY(ev->rollout_id);
	if (ev->event_id)
		n += VARSIZE_ANY(ev->event_id);
	return n;
}

/*
 * The derived tables' part of a row the writer inserted into rel, called
 * directly (evlog_derive_directly): what the AFTER ROW trigger would do at
 * the end of the statement.  row: its place in the batch buffer being
 * written, -1 for a row written alone.  A batch's event that its check
 * found nothing to derive from is not read again: the row is the event as
 * checked (the multi-insert path runs no BEFORE ROW trigger that could
 * change it), and with no user view registered the derive is the built-in
 * rules alone.
 */
static bool
derive_inserted(TupleTableSlot *slot, int row, void *arg)
{
	EvlogWriter *w = (EvlogWriter *) arg;

	if (row >= 0 && w->flushing->derives_nothing[row] && evlog_user_views_none())
		return true;
	return evlog_derive_slot(w->derive_rel, slot);
}

/*
 * Write the buffered rows: one table_multi_insert(), then per row its index
 * entries and its AFTER ROW trigger event, as CopyMultiInsertBufferFlush()
 * does (the trigger events only queue here; they fire at
 * evlog_writer_close()), or its derive, called directly.
 */
static void
flush_buffer(EvlogWriter *w, InsertBuffer *buf)
{
	bool		direct;

	if (buf->nused == 0)
		return;
	note_memory(w);
	direct = evlog_derive_directly(buf->rri);
	w->derive_rel = buf->rri->ri_RelationDesc;
	w->flushing = buf;
	evlog_multi_insert_flush(w->estate, buf->rri, buf->slots, buf->nused, buf->bistate,
							 direct ? derive_inserted : NULL, w);
	buf->nused = 0;
	buf->bytes = 0;
	MemoryContextReset(buf->cxt);
}

/*
 * Phase 2 of a batch: resolve the event_ids.  keys holds (hash, index) of
 * every entry with an event_id.  Sorted by hash, equal ids become
 * neighbours, and the locks are taken in hash order, so two batches can
 * never deadlock on each other's ids.  Within a group of equal hashes,
 * entries come in input order; each is compared with the distinct ids seen
 * before it in the group ("roots").
 *
 * A later entry with the same event_id and the same content as an earlier
 * one is a duplicate: it is not inserted and gets the seq of its first
 * occurrence (or the stored seq, if that one is in the log), exactly as if
 * the two had been appended one after the other.  Different content is an
 * error, as for evlog_append.
 */
static void
resolve_event_ids(EvlogWriter *w, IdKey *keys, int nkeys, BatchSource *src,
				  MemoryContext tmp, uint8 *state, int *dup_of,
				  int64 *seqs_out)
{
	int		   *roots = palloc(nkeys * sizeof(int));
	int			ndistinct = 0;
	bool		all_locked;

	qsort(keys, nkeys, sizeof(IdKey), idkey_cmp);
	for (int k = 0; k < nkeys; k++)
		ndistinct += k == 0 || keys[k].hash != keys[k - 1].hash;
	all_locked = lock_all_event_ids_if_many(w, ndistinct);

	for (int g = 0, gend; g < nkeys; g = gend)
	{
		int			nroots = 0;

		for (gend = g + 1; gend < nkeys && keys[gend].hash == keys[g].hash; gend++)
			;
		if (!all_locked)
			lock_event_id(w, keys[g].hash);

		for (int k = g; k < gend; k++)
		{
			int			i = keys[k].index;
			EvlogEvent	ev;
			bool		dup = false;
			int64		seq;

			CHECK_FOR_INTERRUPTS();
			get_event(src, i, &ev, tmp);
			for (int r = 0; r < nroots && !dup; r++)
			{
				EvlogEvent	first;
				const char *differs;

				get_event(src, roots[r], &first, tmp);
				if (!text_equal_or_both_null(ev.event_id, first.event_id))
					continue;
				differs = event_differs(&first, &ev);
				if (differs)
					ereport(ERROR,
							(errcode(ERRCODE_UNIQUE_VIOLATION),
							 errmsg("event_id \"%s\" appears more than once in the batch with different content",
									text_to_cstring(ev.event_id)),
							 errdetail_internal("entry %d: differs in %s from entry %d, which has the same event_id",
												i, differs, roots[r]),
							 errhint("A retry must resend the same event; a new event needs a new event_id.")));
				state[i] = ENTRY_DUP;
				dup_of[i] = roots[r];
				dup = true;
			}
			if (!dup)
			{
				roots[nroots++] = i;
				if (lookup_event_id(w, &ev, i, &seq))
				{
					state[i] = ENTRY_STORED;
					seqs_out[i] = seq;
				}
			}
			MemoryContextReset(tmp);
		}
	}
	pfree(roots);
}

/* a batch entry's expectation, by stream; see check_batch_expectations */
typedef struct StreamKey
{
	int			stream;			/* EvlogStreamKind */
	uint64		hash;			/* of the stream's id */
	int			index;			/* the entry */
} StreamKey;

static uint64
stream_id_hash(text *id)
{
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(id),
							   VARSIZE_ANY_EXHDR(id), 0);
}

static int
streamkey_cmp(const void *a, const void *b)
{
	const StreamKey *x = (const StreamKey *) a;
	const StreamKey *y = (const StreamKey *) b;

	if (x->stream != y->stream)
		return x->stream < y->stream ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * Phase 2b of a batch: the expectations of its new entries (an entry whose
 * event_id is stored, or earlier in the batch, is a retry: not checked).
 *
 * The batch's entries of one stream are written one after the other, their
 * seqs allocated later: so only the first new entry of a stream can expect
 * a seq (the head before the batch), and a later one can only expect -1,
 * "the previous entry of this stream in the batch", which holds by
 * construction once the first is checked.  Streams are locked in (stream,
 * hash) order, so two batches cannot deadlock on each other's streams.
 *
 * Streams are told apart by a 64-bit hash of their id; two streams of one
 * batch with the same hash would be taken for one, which can only refuse
 * the batch (22023) or let a -1 entry through unchecked.
 */
static void
check_batch_expectations(EvlogWriter *w, int n, BatchSource *src,
						 MemoryContext tmp, const uint8 *state, int nexpect)
{
	StreamKey  *keys = palloc(nexpect * sizeof(StreamKey));
	int		   *first;
	int			nkeys = 0;

	for (int i = 0; i < n; i++)
	{
		EvlogEvent	ev;

		if (state[i] != ENTRY_NEW)
			continue;
		CHECK_FOR_INTERRUPTS();
		get_event(src, i, &ev, tmp);
		if (ev.expect.stream != EVLOG_STREAM_NONE)
		{
			keys[nkeys].stream = ev.expect.stream;
			keys[nkeys].hash = stream_id_hash(evlog_stream_id(&ev, ev.expect.stream, i));
			keys[nkeys].index = i;
			nkeys++;
		}
		MemoryContextReset(tmp);
	}
	if (nkeys == 0)
	{
		pfree(keys);
		return;
	}
	qsort(keys, nkeys, sizeof(StreamKey), streamkey_cmp);

	/* first[k]: the first new entry of key k's stream (for k starting a run) */
	first = palloc(nkeys * sizeof(int));
	for (int k = 0; k < nkeys; k++)
		first[k] = -1;
	for (int i = 0; i < n; i++)
	{
		EvlogEvent	ev;

		if (state[i] != ENTRY_NEW)
			continue;
		CHECK_FOR_INTERRUPTS();
		get_event(src, i, &ev, tmp);
		for (int stream = EVLOG_STREAM_ROLLOUT; stream <= EVLOG_STREAM_HOST; stream++)
		{
			text	   *id = stream == EVLOG_STREAM_HOST ? ev.host_id : ev.rollout_id;
			StreamKey	probe;
			StreamKey  *hit;
			int			k;

			if (id == NULL)
				continue;
			probe.stream = stream;
			probe.hash = stream_id_hash(id);
			probe.index = -1;	/* sorts before every entry of the run */
			/* bsearch finds some key of the run; step back to its start */
			hit = NULL;
			for (int lo = 0, hi = nkeys; lo < hi;)
			{
				int			mid = (lo + hi) / 2;

				if (keys[mid].stream == stream && keys[mid].hash == probe.hash)
				{
					hit = &keys[mid];
					break;
				}
				if (streamkey_cmp(&keys[mid], &probe) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (hit == NULL)
				continue;
			for (k = hit - keys; k > 0 && keys[k - 1].stream == stream &&
				 keys[k - 1].hash == probe.hash; k--)
				;
			if (first[k] < 0)
				first[k] = i;
		}
		MemoryContextReset(tmp);
	}

	for (int g = 0, gend; g < nkeys; g = gend)
	{
		EvlogEvent	ev;

		for (gend = g + 1; gend < nkeys && keys[gend].stream == keys[g].stream &&
			 keys[gend].hash == keys[g].hash; gend++)
			;
		for (int k = g; k < gend; k++)
		{
			int			i = keys[k].index;

			get_event(src, i, &ev, tmp);
			if (ev.expect.seq >= 0 && first[g] != i)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("only the first entry of a stream in a batch can expect a seq"),
						 errdetail_internal("entry %d: entry %d of the batch is earlier in the same stream",
											i, first[g]),
						 errhint("Expect -1 (the previous entry of the stream in this batch), or nothing, for the later entries.")));
			if (ev.expect.seq == EVLOG_EXPECT_PREVIOUS && first[g] == i)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("expected_seq -1 needs an earlier entry of the same stream in the batch"),
						 errdetail_internal("entry %d: it is the batch's first entry of its stream", i),
						 errhint("Expect the stream's latest seq (0 for an empty stream) on the first entry.")));
			MemoryContextReset(tmp);
		}

		/* lock the stream; check the head if its first entry expects one */
		get_event(src, keys[g].index, &ev, tmp);
		evlog_stream_expect(w->rel, &ev, keys[g].index);
		MemoryContextReset(tmp);
	}
	pfree(first);
	pfree(keys);
}

/*
 * Append a batch of n events, fetched through fetch(arg, i, ...); fills
 * seqs_out[0..n-1] with each entry's seq, in input order.  The new rows'
 * seqs are contiguous and follow input order; an entry whose event_id is
 * already in the log, or earlier in the batch, gets that row's seq.  Any
 * error (a bad entry, a conflicting event_id) is raised before a row is
 * written; the caller's transaction makes the batch all or nothing anyway.
 *
 * Memory: besides the caller's input, 13 bytes per entry (seq, state, and
 * the index of a duplicate's first occurrence), 8 per entry with an
 * event_id, one buffer's worth of events, and at most work_mem of events
 * kept from phase 1; every other fetched event lives in a context that is
 * reset after use.
 */
void
evlog_writer_append_many(EvlogWriter *w, int n, EvlogFetchEvent fetch,
						 void *arg, int64 *seqs_out)
{
	append_many(w, n, fetch, arg, false, seqs_out);
}

/* the same, checking each entry's expect (phase 2b) */
void
evlog_writer_append_many_expected(EvlogWriter *w, int n, EvlogFetchEvent fetch,
								  void *arg, int64 *seqs_out)
{
	append_many(w, n, fetch, arg, true, seqs_out);
}

/*
 * Phase 1 of a batch: fetch, and so validate, every entry before any write.
 * The events are kept while they fit in work_mem, so that a typical batch
 * is extracted once; a larger one is dropped from memory and fetched again
 * later, which keeps a 100,000-entry batch at a small fraction of its input
 * size.  Returns the entries' event_id keys (NULL if none) and counts the
 * entries that expect a stream head.
 */
static IdKey *
fetch_entries(BatchSource *src, int n, MemoryContext tmp, bool with_expect,
			  int *nkeys, int *nexpect)
{
	Size		cache_budget = (Size) work_mem * 1024;
	IdKey	   *keys = NULL;

	*nkeys = *nexpect = 0;
	src->cache_cxt = AllocSetContextCreate(CurrentMemoryContext, "evlog batch events",
										   ALLOCSET_DEFAULT_SIZES);
	src->cache = (Size) n * sizeof(EvlogEvent) <= cache_budget ?
		MemoryContextAlloc(src->cache_cxt, n * sizeof(EvlogEvent)) : NULL;
	for (int i = 0; i < n; i++)
	{
		EvlogEvent	ev;

		CHECK_FOR_INTERRUPTS();
		if (src->cache)
		{
			MemoryContext old = MemoryContextSwitchTo(src->cache_cxt);

			src->fetch(src->arg, i, &src->cache[i]);
			MemoryContextSwitchTo(old);
			ev = src->cache[i];
		}
		else
			get_event(src, i, &ev, tmp);

		if (ev.event_id != NULL)
		{
			if (keys == NULL)
				keys = palloc((n - i) * sizeof(IdKey));
			keys[*nkeys].hash = event_id_hash(ev.event_id);
			keys[*nkeys].index = i;
			(*nkeys)++;
		}
		if (with_expect && ev.expect.stream != EVLOG_STREAM_NONE)
			(*nexpect)++;

		/* what the cache holds, the fetch's own scratch memory included */
		if (src->cache &&
			MemoryContextMemAllocated(src->cache_cxt, false) > cache_budget)
		{
			MemoryContextReset(src->cache_cxt);
			src->cache = NULL;
		}
		MemoryContextReset(tmp);
	}
	return keys;
}

/*
 * Phase 4 of a batch: insert the new rows (state ENTRY_NEW) in input order,
 * with seqs from next_seq on, into multi-insert buffers of one partition
 * each; a partition with a BEFORE ROW trigger takes them one by one.
 */
static void
insert_new_entries(EvlogWriter *w, int n, BatchSource *src, const uint8 *state,
				   int64 next_seq, int nnew, int64 *seqs_out)
{
	InsertBuffer *buf = palloc0(sizeof(InsertBuffer));
	bool		multi;

	buf->cxt = AllocSetContextCreate(CurrentMemoryContext, "evlog batch buffer",
									 ALLOCSET_DEFAULT_SIZES);
	multi = !(w->rri->ri_TrigDesc && w->rri->ri_TrigDesc->trig_insert_before_row);
	if (multi && nnew > 0)
		buf->bistate = GetBulkInsertState();
	buf->rri = w->rri;

	for (int i = 0; i < n; i++)
	{
		EvlogEvent	ev;
		TupleTableSlot *slot;
		ResultRelInfo *rri;

		if (state[i] != ENTRY_NEW)
			continue;
		CHECK_FOR_INTERRUPTS();
		seqs_out[i] = next_seq++;
		get_event(src, i, &ev, buf->cxt);

		/* the rows of one buffer go to one partition */
		rri = partition_for(w, seqs_out[i]);
		if (rri != buf->rri)
		{
			flush_buffer(w, buf);
			buf->rri = rri;
			if (buf->bistate)
				ReleaseBulkInsertStatePin(buf->bistate);
		}

		if (!multi || (rri->ri_TrigDesc && rri->ri_TrigDesc->trig_insert_before_row))
		{
			/* BEFORE ROW triggers: the single-row path runs them */
			store_event(w->slot, &ev, seqs_out[i]);
			insert_log_row(w, rri, w->slot);
			after_insert(w, &ev, seqs_out[i]);
			ResetPerTupleExprContext(w->estate);
			MemoryContextReset(buf->cxt);
			continue;
		}

		if (buf->nused == buf->nslots)
			buf->slots[buf->nslots++] = table_slot_create(w->rel, &w->estate->es_tupleTable);
		slot = buf->slots[buf->nused];
		store_event(slot, &ev, seqs_out[i]);
		buf->derives_nothing[buf->nused] = ev.derives_nothing;
		/* validation covers NOT NULL; CHECK constraints a DBA added need this */
		if (rri->ri_RelationDesc->rd_att->constr)
			ExecConstraints(rri, slot, w->estate);
		after_insert(w, &ev, seqs_out[i]);
		for (int p = 0; p < w->nopen; p++)
			if (w->open[p].rri == rri)
				w->open[p].bulk = true;
		buf->nused++;
		buf->bytes += event_bytes(&ev);
		if (buf->nused == BATCH_MAX_TUPLES || buf->bytes >= BATCH_MAX_BYTES)
			flush_buffer(w, buf);
	}
	flush_buffer(w, buf);

	if (buf->bistate)
	{
		FreeBulkInsertState(buf->bistate);
		if (!w->partitioned)
			table_finish_bulk_insert(w->rel, 0);
		for (int p = 0; p < w->nopen; p++)
			if (w->open[p].bulk)
				table_finish_bulk_insert(w->open[p].rri->ri_RelationDesc, 0);
	}
	note_memory(w);
	MemoryContextDelete(buf->cxt);
	pfree(buf);
}

static void
append_many(EvlogWriter *w, int n, EvlogFetchEvent fetch, void *arg,
			bool with_expect, int64 *seqs_out)
{
	MemoryContext tmp;
	BatchSource src;
	IdKey	   *keys;
	int			nkeys;
	int			nexpect;
	uint8	   *state;
	int		   *dup_of = NULL;
	int			nnew = 0;
	int64		next_seq = 0;

	w->batch_entries = n;
	if (n == 0)
		return;

	tmp = AllocSetContextCreate(CurrentMemoryContext, "evlog batch entry",
								ALLOCSET_DEFAULT_SIZES);
	state = palloc0(n * sizeof(uint8));

	/* phase 1: every entry validated */
	src.fetch = fetch;
	src.arg = arg;
	keys = fetch_entries(&src, n, tmp, with_expect, &nkeys, &nexpect);
	note_memory(w);

	/* phase 2: event_ids */
	if (nkeys > 0)
	{
		dup_of = palloc(n * sizeof(int));
		resolve_event_ids(w, keys, nkeys, &src, tmp, state, dup_of, seqs_out);
		pfree(keys);
	}

	/* phase 2b: expectations, before any seq is spent */
	if (nexpect > 0)
		check_batch_expectations(w, n, &src, tmp, state, nexpect);

	/* phase 3: one contiguous range of seqs for the new rows */
	for (int i = 0; i < n; i++)
		nnew += state[i] == ENTRY_NEW;
	if (nnew > 0)
		next_seq = evlog_allocate_seqs(RelationGetRelid(w->rel), w->seq_relid, nnew);

	/* phase 4: the new rows, in input order */
	insert_new_entries(w, n, &src, state, next_seq, nnew, seqs_out);

	/* phase 5: duplicates take their first occurrence's seq */
	if (dup_of)
		for (int i = 0; i < n; i++)
			if (state[i] == ENTRY_DUP)
				seqs_out[i] = seqs_out[dup_of[i]];

	note_memory(w);
	MemoryContextDelete(src.cache_cxt);
	MemoryContextDelete(tmp);
	pfree(state);
	if (dup_of)
		pfree(dup_of);
}
