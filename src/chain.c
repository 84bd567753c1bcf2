/*-------------------------------------------------------------------------
 *
 * chain.c
 *	  Tamper evidence: a SHA-256 hash chain over the log.  Owns sealing
 *	  (evlog_seal_upto(), SQL evlog_seal()) and checking
 *	  (evlog_verify_chain()).
 *
 * Where the chain lives.  A side table, evlog.chain (seq, prev_seq, hash,
 * sealed_at), one row per sealed event, rather than a column of the log:
 * appenders never compute or wait for a hash, the log's rows stay exactly
 * as appended (no UPDATE, which the log refuses anyway), and the chain can
 * outlive the events it covers, which retention needs.  There is no foreign
 * key to evlog.event_log: the chain records what *was* there, a pruned
 * prefix must leave its last link behind as an anchor (evlog.chain_anchor),
 * and a superuser able to tamper can disable a foreign key's triggers as
 * easily as the log's, so it would add cost without adding evidence.
 *
 * The format (version 1; README and tools/verify_chain.py say the same):
 *
 *	  hash(n) = SHA-256(hash(prev) || enc(event n))
 *
 * where prev is the previous existing seq (holes left by aborted appends
 * are skipped: the chain links consecutive existing seqs) and hash(prev) is
 * 32 zero bytes for the first event ever sealed (the genesis).  enc() is the
 * concatenation of, in order:
 *
 *	  seq         int64, 8 bytes big-endian
 *	  ts          int64, 8 bytes big-endian: microseconds since
 *	              1970-01-01 00:00:00 UTC, modulo 2^64 (two's complement);
 *	              it wraps only past 294247 AD, the top of timestamptz's
 *	              range being 294276 AD
 *	  kind        string
 *	  host_id     string or NULL
 *	  rollout_id  string or NULL
 *	  payload     string: jsonb's canonical text (what payload::text prints)
 *	  event_id    string or NULL
 *
 * A string is its UTF-8 bytes preceded by their length as uint32 big-endian;
 * NULL is the length 0xFFFFFFFF with no bytes, so it never collides with an
 * empty string.
 *
 * Sealing.  evlog_seal_upto() takes a transaction-level advisory lock of its
 * own (so two sealers queue instead of forking the chain; the primary key
 * on evlog.chain.seq is the backstop), reads the last link, then the events
 * after it up to evlog_safe_seq() in seq order with a snapshot taken after
 * the horizon (so every event at or below it is visible and none can still
 * appear), and inserts one chain row per event.  Appenders take no lock of
 * the sealer's and never wait for it.
 *
 * Verifying walks evlog.chain and evlog.event_log side by side in seq order
 * under one snapshot and stops at the first seq where they disagree: an
 * event whose content no longer hashes to its link (edited, or swapped with
 * another), a link whose event is gone (deleted), an event at or below the
 * chain head with no link (inserted), or a link whose recorded predecessor
 * is not the link before it (event and link both deleted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "port/pg_bswap.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "bulk_insert.h"
#include "catcache.h"
#include "chain.h"
#include "logscan.h"
#include "seqs.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_seal);
PG_FUNCTION_INFO_V1(evlog_verify_chain);

/* Columns of evlog.chain, in table order. */
enum
{
	CH_SEQ,
	CH_PREV_SEQ,
	CH_HASH,
	CH_SEALED_AT,
	CH_NATTS
};

/* microseconds between the Unix epoch and PostgreSQL's (2000-01-01) */
#define UNIX_TO_PG_EPOCH_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

#define NULL_STRING_LENGTH	0xFFFFFFFF

/* Reusable state for hashing one event after another. */
typedef struct ChainHasher
{
	pg_cryptohash_ctx *ctx;
	StringInfoData buf;
} ChainHasher;

static void
hasher_init(ChainHasher *h)
{
	h->ctx = pg_cryptohash_create(PG_SHA256);
	if (h->ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	initStringInfo(&h->buf);
}

static void
hasher_free(ChainHasher *h)
{
	pg_cryptohash_free(h->ctx);
	pfree(h->buf.data);
}

static void
append_int64_be(StringInfo buf, int64 v)
{
	uint64		be = pg_hton64((uint64) v);

	appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
}

static void
append_string(StringInfo buf, const char *s, int len)
{
	uint32		be;

	if (s == NULL)
	{
		be = pg_hton32(NULL_STRING_LENGTH);
		appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
		return;
	}
	/* the format is in UTF-8 whatever the database encoding */
	if (GetDatabaseEncoding() != PG_UTF8)
	{
		char	   *utf8 = pg_server_to_any(s, len, PG_UTF8);

		if (utf8 != s)
		{
			s = utf8;
			len = strlen(utf8);
		}
	}
	be = pg_hton32((uint32) len);
	appendBinaryStringInfo(buf, (const char *) &be, sizeof(be));
	appendBinaryStringInfo(buf, s, len);
}

static void
append_text(StringInfo buf, Datum value, bool isnull)
{
	text	   *t;

	if (isnull)
	{
		append_string(buf, NULL, 0);
		return;
	}
	t = DatumGetTextPP(value);
	append_string(buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/*
 * out = SHA-256(prev || enc(event)), the event being an evlog.event_log row
 * whose attributes are all in the slot.  Allocates in the current memory
 * context: callers reset it per row.
 */
static void
chain_hash_event(ChainHasher *h, const uint8 *prev, TupleTableSlot *ev,
				 uint8 *out)
{
	Datum	   *v = ev->tts_values;
	bool	   *n = ev->tts_isnull;
	char	   *payload;

	if (n[EVLOG_COL_SEQ] || n[EVLOG_COL_TS] || n[EVLOG_COL_KIND] || n[EVLOG_COL_PAYLOAD])
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("evlog.event_log row has a null in a not-null column"),
				 errdetail("seq %s", n[EVLOG_COL_SEQ] ? "NULL" :
						   psprintf(INT64_FORMAT, DatumGetInt64(v[EVLOG_COL_SEQ])))));

	resetStringInfo(&h->buf);
	append_int64_be(&h->buf, DatumGetInt64(v[EVLOG_COL_SEQ]));
	/* unsigned: the sum wraps (see enc() above) instead of overflowing */
	append_int64_be(&h->buf, (int64) ((uint64) DatumGetTimestampTz(v[EVLOG_COL_TS]) +
									  (uint64) UNIX_TO_PG_EPOCH_USECS));
	append_text(&h->buf, v[EVLOG_COL_KIND], false);
	append_text(&h->buf, v[EVLOG_COL_HOST_ID], n[EVLOG_COL_HOST_ID]);
	append_text(&h->buf, v[EVLOG_COL_ROLLOUT_ID], n[EVLOG_COL_ROLLOUT_ID]);
	payload = DatumGetCString(DirectFunctionCall1(jsonb_out, v[EVLOG_COL_PAYLOAD]));
	append_string(&h->buf, payload, strlen(payload));
	append_text(&h->buf, v[EVLOG_COL_EVENT_ID], n[EVLOG_COL_EVENT_ID]);

	if (pg_cryptohash_init(h->ctx) < 0 ||
		pg_cryptohash_update(h->ctx, prev, PG_SHA256_DIGEST_LENGTH) < 0 ||
		pg_cryptohash_update(h->ctx, (const uint8 *) h->buf.data, h->buf.len) < 0 ||
		pg_cryptohash_final(h->ctx, out, PG_SHA256_DIGEST_LENGTH) < 0)
		elog(ERROR, "could not compute SHA-256 hash: %s",
			 pg_cryptohash_error(h->ctx));
}

/* Copy a stored hash out of a bytea datum; false if it is not 32 bytes. */
static bool
get_hash(Datum value, bool isnull, uint8 *out)
{
	bytea	   *b;

	if (isnull)
		return false;
	b = DatumGetByteaPP(value);
	if (VARSIZE_ANY_EXHDR(b) != PG_SHA256_DIGEST_LENGTH)
		return false;
	memcpy(out, VARDATA_ANY(b), PG_SHA256_DIGEST_LENGTH);
	return true;
}

static Datum
hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	SET_VARSIZE(b, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	memcpy(VARDATA(b), hash, PG_SHA256_DIGEST_LENGTH);
	return PointerGetDatum(b);
}

/*
 * Look up the row with this seq (first column, primary key) in rel; true
 * and the slot filled if it is there.
 */
static bool
fetch_by_seq(Relation rel, Relation idx, Snapshot snapshot, int64 seq,
			 TupleTableSlot *slot)
{
	ScanKeyData key;
	IndexScanDesc scan;
	bool		found;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(seq));
	scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	if (found)
		slot_getallattrs(slot);
	return found;
}

/*
 * The link a new chain row follows: the highest sealed seq and its hash;
 * else the highest anchor (everything sealed was pruned); else the genesis
 * (seq 0, 32 zero bytes).  Returns false for the genesis.
 */
static bool
last_link(Snapshot snapshot, int64 *seq, uint8 *hash)
{
	static const char *const rels[] = {"chain", "chain_anchor"};

	for (int i = 0; i < lengthof(rels); i++)
	{
		Relation	rel = table_open(evlog_relid(rels[i]), AccessShareLock);
		char	   *idxname = psprintf("%s_pkey", rels[i]);
		Relation	idx = index_open(evlog_relid(idxname), AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		IndexScanDesc scan;
		bool		found;

		scan = index_beginscan(rel, idx, snapshot, 0, 0);
		index_rescan(scan, NULL, 0, NULL, 0);
		found = index_getnext_slot(scan, BackwardScanDirection, slot);
		if (found)
		{
			bool		isnull;
			int			hashcol = i == 0 ? CH_HASH + 1 : 2;

			*seq = DatumGetInt64(slot_getattr(slot, 1, &isnull));
			if (!get_hash(slot_getattr(slot, hashcol, &isnull), isnull, hash))
				ereport(ERROR,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("evlog.%s row for seq " INT64_FORMAT " does not hold a SHA-256 hash",
								rels[i], *seq),
						 errhint("Run evlog_verify_chain() to find where the chain was damaged.")));
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(idx, AccessShareLock);
		table_close(rel, AccessShareLock);
		if (found)
			return true;
	}
	*seq = 0;
	memset(hash, 0, PG_SHA256_DIGEST_LENGTH);
	return false;
}

/*
 * Links are written in batches, the way COPY FROM writes rows: buffer up to
 * LINK_BATCH materialised slots, table_multi_insert() them (one WAL record
 * per heap page instead of one per row), then insert their index entries
 * and queue AFTER ROW triggers one by one.  Constraints are checked as each
 * link is buffered.  evlog.chain has no BEFORE INSERT triggers; like COPY,
 * the sealer would not fire them.
 */
#define LINK_BATCH	1000

typedef struct LinkBuffer
{
	ResultRelInfo *rri;
	EState	   *estate;
	BulkInsertState bistate;
	int			n;
	TupleTableSlot *slots[LINK_BATCH];
} LinkBuffer;

static void
flush_links(LinkBuffer *lb)
{
	evlog_multi_insert_flush(lb->estate, lb->rri, lb->slots, lb->n, lb->bistate,
							 NULL, NULL);
	lb->n = 0;
}

/*
 * Seal up to max_events events (<= 0: no limit) after the last link, in seq
 * order, stopping at evlog_safe_seq().  Returns how many were sealed.
 *
 * Callable from C (the background worker) inside a transaction; the
 * sealer's lock is held until that transaction ends, so commit soon after.
 */
int64
evlog_seal_upto(int64 max_events)
{
	Oid			chain_relid = evlog_relid("chain");
	LOCKTAG		tag;
	int64		safe;
	int64		last_seq;
	uint8		last_hash[PG_SHA256_DIGEST_LENGTH];
	bool		have_prev;
	int64		sealed = 0;
	Snapshot	snapshot;
	Relation	log_rel;
	Relation	chain_rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *ev;
	LinkBuffer *lb;
	EvlogLogScan *scan;
	ChainHasher hasher;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	TimestampTz sealed_at = GetCurrentTransactionStartTimestamp();
	bytea	   *hashbuf;

	PreventCommandIfReadOnly("evlog_seal()");

	/* one sealer at a time: the next one continues from our last link */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, chain_relid,
						 EVLOG_LOCK_SEAL);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	safe = evlog_safe_seq();
	/*
	 * Taken after the lock and the horizon: sees the previous sealer's links
	 * and every committed event <= safe.
	 */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	have_prev = last_link(snapshot, &last_seq, last_hash);
	if (last_seq >= safe)
	{
		UnregisterSnapshot(snapshot);
		return 0;
	}

	log_rel = table_open(evlog_relid("event_log"), AccessShareLock);
	chain_rel = table_open(chain_relid, RowExclusiveLock);

	/* the same minimal executor state as the log's writer, for evlog.chain */
	estate = evlog_insert_estate(list_make1(evlog_insert_rte(chain_relid,
															 chain_rel->rd_rel->relkind)));
	rri = evlog_insert_result_rel(estate, chain_rel, 1, true);
	AfterTriggerBeginQuery();

	lb = palloc0(sizeof(LinkBuffer));
	lb->rri = rri;
	lb->estate = estate;
	lb->bistate = GetBulkInsertState();

	hasher_init(&hasher);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "evlog seal row",
								   ALLOCSET_DEFAULT_SIZES);
	hashbuf = palloc(VARHDRSZ + PG_SHA256_DIGEST_LENGTH);
	SET_VARSIZE(hashbuf, VARHDRSZ + PG_SHA256_DIGEST_LENGTH);

	scan = evlog_logscan_begin(log_rel, snapshot, last_seq + 1, safe,
							   ForwardScanDirection);
	while ((max_events <= 0 || sealed < max_events) &&
		   (ev = evlog_logscan_next(scan)) != NULL)
	{
		int64		seq;
		uint8		hash[PG_SHA256_DIGEST_LENGTH];
		TupleTableSlot *link;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(ev);
		seq = DatumGetInt64(ev->tts_values[EVLOG_COL_SEQ]);
		if (seq > safe)
			break;

		MemoryContextReset(rowcxt);
		ResetPerTupleExprContext(estate);
		oldcxt = MemoryContextSwitchTo(rowcxt);
		chain_hash_event(&hasher, last_hash, ev, hash);
		MemoryContextSwitchTo(oldcxt);

		if (lb->slots[lb->n] == NULL)
			lb->slots[lb->n] = ExecInitExtraTupleSlot(estate,
													  RelationGetDescr(chain_rel),
													  table_slot_callbacks(chain_rel));
		link = lb->slots[lb->n];
		ExecClearTuple(link);
		link->tts_values[CH_SEQ] = Int64GetDatum(seq);
		link->tts_values[CH_PREV_SEQ] = Int64GetDatum(last_seq);
		link->tts_values[CH_HASH] = PointerGetDatum(hashbuf);
		memcpy(VARDATA(hashbuf), hash, PG_SHA256_DIGEST_LENGTH);
		link->tts_values[CH_SEALED_AT] = TimestampTzGetDatum(sealed_at);
		memset(link->tts_isnull, false, CH_NATTS * sizeof(bool));
		link->tts_isnull[CH_PREV_SEQ] = !have_prev;
		ExecStoreVirtualTuple(link);
		/* forms the tuple inside the slot: hashbuf is reused */
		ExecMaterializeSlot(link);
		if (chain_rel->rd_att->constr)
			ExecConstraints(rri, link, estate);
		if (++lb->n == LINK_BATCH)
			flush_links(lb);

		memcpy(last_hash, hash, sizeof(hash));
		last_seq = seq;
		have_prev = true;
		sealed++;
	}
	evlog_logscan_end(scan);
	flush_links(lb);
	FreeBulkInsertState(lb->bistate);
	table_finish_bulk_insert(chain_rel, 0);

	AfterTriggerEndQuery(estate);
	ExecCloseResultRelations(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
	MemoryContextDelete(rowcxt);
	hasher_free(&hasher);
	table_close(chain_rel, NoLock);
	table_close(log_rel, AccessShareLock);
	UnregisterSnapshot(snapshot);

	/* a later seal or verify in this transaction must see the new links */
	if (sealed > 0)
		CommandCounterIncrement();
	return sealed;
}

Datum
evlog_seal(PG_FUNCTION_ARGS)
{
	int64		max_events = 0;

	if (!PG_ARGISNULL(0))
	{
		max_events = PG_GETARG_INT32(0);
		if (max_events <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_events must be positive"),
					 errhint("Pass NULL to seal every event up to evlog_safe_seq().")));
	}
	PG_RETURN_INT64(evlog_seal_upto(max_events));
}

/* ------------------------------------------------------------------------
 * Verification
 * ------------------------------------------------------------------------
 */

/* Bypassing the executor: check SELECT ourselves. */
static Relation
open_for_select(const char *relname)
{
	Relation	rel = table_open(evlog_relid(relname), AccessShareLock);
	AclResult	aclresult = pg_class_aclcheck(RelationGetRelid(rel), GetUserId(),
											  ACL_SELECT);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	return rel;
}

/*
 * An ordered scan over [lo, hi] of a table's int8 primary key: an index
 * scan for the chain, an EvlogLogScan across the log's partitions when idx
 * is NULL.
 */
typedef struct SeqCursor
{
	Relation	rel;
	Relation	idx;
	IndexScanDesc scan;
	EvlogLogScan *ls;
	TupleTableSlot *slot;
	int64		hi;
	bool		valid;			/* slot holds the current row */
	int64		seq;			/* its seq */
} SeqCursor;

static void
seqcur_next(SeqCursor *s)
{
	if (s->ls != NULL)
	{
		s->slot = evlog_logscan_next(s->ls);
		s->valid = s->slot != NULL;
	}
	else
		s->valid = index_getnext_slot(s->scan, ForwardScanDirection, s->slot);
	if (s->valid)
	{
		slot_getallattrs(s->slot);
		s->seq = DatumGetInt64(s->slot->tts_values[EVLOG_COL_SEQ]);
		if (s->seq > s->hi)
			s->valid = false;
	}
}

static void
seqcur_begin(SeqCursor *s, Relation rel, Relation idx, Snapshot snapshot,
			  int64 lo, int64 hi)
{
	ScanKeyData key;

	s->rel = rel;
	s->idx = idx;
	s->hi = hi;
	if (idx == NULL)
	{
		s->ls = evlog_logscan_begin(rel, snapshot, lo, hi, ForwardScanDirection);
		seqcur_next(s);
		return;
	}
	s->ls = NULL;
	s->slot = table_slot_create(rel, NULL);
	ScanKeyInit(&key, 1, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(lo));
	s->scan = index_beginscan(rel, idx, snapshot, 1, 0);
	index_rescan(s->scan, &key, 1, NULL, 0);
	seqcur_next(s);
}

static void
seqcur_end(SeqCursor *s)
{
	if (s->ls != NULL)
	{
		evlog_logscan_end(s->ls);
		return;
	}
	index_endscan(s->scan);
	ExecDropSingleTupleTableSlot(s->slot);
}

/* What evlog_verify_chain() reports. */
typedef struct VerifyResult
{
	bool		bad;
	int64		seq;
	bool		have_expected;
	uint8		expected[PG_SHA256_DIGEST_LENGTH];
	bool		have_found;
	uint8		found[PG_SHA256_DIGEST_LENGTH];
	char	   *reason;
	int64		checked;
	int64		verified_to;	/* last seq verified good, 0 if none */
} VerifyResult;

static void
report_bad(VerifyResult *r, int64 seq, const uint8 *expected,
		   const uint8 *found, char *reason)
{
	r->bad = true;
	r->seq = seq;
	r->have_expected = expected != NULL;
	if (expected)
		memcpy(r->expected, expected, PG_SHA256_DIGEST_LENGTH);
	r->have_found = found != NULL;
	if (found)
		memcpy(r->found, found, PG_SHA256_DIGEST_LENGTH);
	r->reason = reason;
}

/*
 * The hash a chain row with this prev_seq follows: genesis when NULL, else
 * the link of prev_seq in evlog.chain, else in evlog.chain_anchor.
 */
static bool
predecessor_hash(Relation chain_rel, Relation chain_idx, Snapshot snapshot,
				 bool prev_isnull, int64 prev_seq, uint8 *hash)
{
	Relation	anchor_rel;
	Relation	anchor_idx;
	TupleTableSlot *slot;
	bool		found;

	if (prev_isnull)
	{
		memset(hash, 0, PG_SHA256_DIGEST_LENGTH);
		return true;
	}
	slot = table_slot_create(chain_rel, NULL);
	found = fetch_by_seq(chain_rel, chain_idx, snapshot, prev_seq, slot) &&
		get_hash(slot->tts_values[CH_HASH], slot->tts_isnull[CH_HASH], hash);
	ExecDropSingleTupleTableSlot(slot);
	if (found)
		return true;

	anchor_rel = open_for_select("chain_anchor");
	anchor_idx = index_open(evlog_relid("chain_anchor_pkey"), AccessShareLock);
	slot = table_slot_create(anchor_rel, NULL);
	found = fetch_by_seq(anchor_rel, anchor_idx, snapshot, prev_seq, slot) &&
		get_hash(slot->tts_values[1], slot->tts_isnull[1], hash);
	ExecDropSingleTupleTableSlot(slot);
	index_close(anchor_idx, AccessShareLock);
	table_close(anchor_rel, AccessShareLock);
	return found;
}

/* highest seq in evlog.chain (0 if empty) */
static int64
chain_head_seq(Relation rel, Relation idx, Snapshot snapshot)
{
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan = index_beginscan(rel, idx, snapshot, 0, 0);
	int64		head = 0;

	index_rescan(scan, NULL, 0, NULL, 0);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;

		head = DatumGetInt64(slot_getattr(slot, 1, &isnull));
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return head;
}

static void
verify_range(Snapshot snapshot, int64 from_seq, int64 to_seq, VerifyResult *r)
{
	Relation	log_rel = open_for_select("event_log");
	Relation	chain_rel = open_for_select("chain");
	Relation	chain_idx = index_open(evlog_relid("chain_pkey"), AccessShareLock);
	SeqCursor		ch;
	SeqCursor		ev;
	int64		hi;
	int64		lo;
	int64		prev_seq = 0;
	uint8		prev_hash[PG_SHA256_DIGEST_LENGTH];
	ChainHasher hasher;
	MemoryContext rowcxt;
	MemoryContext oldcxt;

	memset(r, 0, sizeof(*r));

	/* nothing above the chain head is sealed yet: not a finding */
	hi = Min(to_seq, chain_head_seq(chain_rel, chain_idx, snapshot));
	seqcur_begin(&ch, chain_rel, chain_idx, snapshot, from_seq, hi);

	hasher_init(&hasher);
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "evlog verify row",
								   ALLOCSET_DEFAULT_SIZES);

	/*
	 * Where the walk starts: the first link in range and the hash it
	 * follows.  Events below it but in range must not exist, except below
	 * the predecessor it records (a pruned prefix, or outside from_seq).
	 */
	lo = from_seq;
	if (ch.valid)
	{
		bool		prev_isnull = ch.slot->tts_isnull[CH_PREV_SEQ];

		prev_seq = prev_isnull ? 0 : DatumGetInt64(ch.slot->tts_values[CH_PREV_SEQ]);
		if (!prev_isnull && prev_seq + 1 > lo)
			lo = prev_seq + 1;
		if (!predecessor_hash(chain_rel, chain_idx, snapshot, prev_isnull,
							  prev_seq, prev_hash))
		{
			uint8		stored[PG_SHA256_DIGEST_LENGTH];
			bool		have = get_hash(ch.slot->tts_values[CH_HASH],
										ch.slot->tts_isnull[CH_HASH], stored);

			report_bad(r, ch.seq, have ? stored : NULL, NULL,
					   psprintf("link of the recorded predecessor seq " INT64_FORMAT " is in neither evlog.chain nor evlog.chain_anchor",
								prev_seq));
		}
	}
	seqcur_begin(&ev, log_rel, NULL, snapshot, lo, hi);

	while (!r->bad && (ch.valid || ev.valid))
	{
		uint8		stored[PG_SHA256_DIGEST_LENGTH];
		uint8		computed[PG_SHA256_DIGEST_LENGTH];
		bool		have_stored;
		bool		link_prev_isnull;
		int64		link_prev;

		CHECK_FOR_INTERRUPTS();

		if (!ev.valid || (ch.valid && ch.seq < ev.seq))
		{
			have_stored = get_hash(ch.slot->tts_values[CH_HASH],
								   ch.slot->tts_isnull[CH_HASH], stored);
			report_bad(r, ch.seq, have_stored ? stored : NULL, NULL,
					   pstrdup("event row is missing"));
			break;
		}

		/* the event's hash, following the previous link */
		MemoryContextReset(rowcxt);
		oldcxt = MemoryContextSwitchTo(rowcxt);
		chain_hash_event(&hasher, prev_hash, ev.slot, computed);
		MemoryContextSwitchTo(oldcxt);

		if (!ch.valid || ev.seq < ch.seq)
		{
			report_bad(r, ev.seq, NULL, computed,
					   pstrdup("event row is not in the chain"));
			break;
		}

		/* same seq: the link must follow the previous one and match */
		have_stored = get_hash(ch.slot->tts_values[CH_HASH],
							   ch.slot->tts_isnull[CH_HASH], stored);
		link_prev_isnull = ch.slot->tts_isnull[CH_PREV_SEQ];
		link_prev = link_prev_isnull ? 0 : DatumGetInt64(ch.slot->tts_values[CH_PREV_SEQ]);
		if (r->checked > 0 && (link_prev_isnull || link_prev != prev_seq))
		{
			report_bad(r, ch.seq, have_stored ? stored : NULL, computed,
					   link_prev_isnull ?
					   psprintf("link records no predecessor but follows seq " INT64_FORMAT,
								prev_seq) :
					   psprintf("link records predecessor seq " INT64_FORMAT " but the previous link is seq " INT64_FORMAT,
								link_prev, prev_seq));
			break;
		}
		if (!have_stored)
		{
			report_bad(r, ch.seq, NULL, computed,
					   pstrdup("link does not hold a SHA-256 hash"));
			break;
		}
		if (memcmp(stored, computed, sizeof(stored)) != 0)
		{
			report_bad(r, ch.seq, stored, computed,
					   pstrdup("event does not match its chain hash"));
			break;
		}
		memcpy(prev_hash, stored, sizeof(stored));
		prev_seq = ch.seq;
		r->checked++;
		r->verified_to = ch.seq;
		seqcur_next(&ch);
		seqcur_next(&ev);
	}

	MemoryContextDelete(rowcxt);
	hasher_free(&hasher);
	seqcur_end(&ev);
	seqcur_end(&ch);
	index_close(chain_idx, AccessShareLock);
	table_close(chain_rel, AccessShareLock);
	table_close(log_rel, AccessShareLock);
}

Datum
evlog_verify_chain(PG_FUNCTION_ARGS)
{
	int64		from_seq = PG_ARGISNULL(0) ? PG_INT64_MIN : PG_GETARG_INT64(0);
	int64		to_seq = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT64(1);
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	Snapshot	snapshot;
	VerifyResult r;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	if (from_seq > to_seq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_seq must not be greater than to_seq"),
				 errdetail("from_seq is " INT64_FORMAT ", to_seq is " INT64_FORMAT ".",
						   from_seq, to_seq)));

	/* one snapshot for both tables, so links and events agree in time */
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	verify_range(snapshot, from_seq, to_seq, &r);
	UnregisterSnapshot(snapshot);

	memset(nulls, true, sizeof(nulls));
	if (r.bad)
	{
		values[0] = Int64GetDatum(r.seq);
		nulls[0] = false;
		if (r.have_expected)
		{
			values[1] = hash_datum(r.expected);
			nulls[1] = false;
		}
		if (r.have_found)
		{
			values[2] = hash_datum(r.found);
			nulls[2] = false;
		}
		values[3] = CStringGetTextDatum(r.reason);
		nulls[3] = false;
	}
	values[4] = Int64GetDatum(r.checked);
	nulls[4] = false;
	if (r.verified_to != 0)
	{
		values[5] = Int64GetDatum(r.verified_to);
		nulls[5] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
