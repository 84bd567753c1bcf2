/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  Streams and conditional appends' check (1.2); the SQL entry points
 *	  are append_expected.c's.
 *
 * A stream is the events of one rollout_id or of one host_id, in seq order;
 * its head is its highest seq (0, EVLOG_STREAM_EMPTY, when it has none).  A
 * conditional append names a stream and the head the caller last saw, and
 * is written only if the head is still that one: two control-plane
 * replicas that both read a rollout at seq 41 and both decide to advance it
 * cannot both append.
 *
 * Protocol, per expectation (evlog_stream_expect):
 *	  1. the writer has already resolved the event's event_id: a retry of a
 *	     conditional append that landed gets its seq back, unchecked;
 *	  2. take the stream's lock: a transaction-scoped advisory lock on a
 *	     64-bit hash of (stream kind, id), so only appenders of the same
 *	     stream wait for each other.  A conditional appender that got past
 *	     its check holds the lock until it commits or aborts, so the next one
 *	     checks after that outcome;
 *	  3. read the head with a dirty snapshot, which sees committed rows and
 *	     rows of transactions still in progress: if the highest row of the
 *	     stream belongs to another transaction still running (an
 *	     unconditional append, or a conditional one of a transaction that
 *	     holds the lock in another way, e.g. a prepared transaction), wait for
 *	     that transaction to end and read again.  So the check never trusts
 *	     a head that a late commit could move below it;
 *	  4. compare; on a mismatch raise EV001 before any seq is allocated.
 *
 * The head is read per partition, newest first, through the partition's
 * copy of event_log_rollout_seq_idx / event_log_host_seq_idx (the latter
 * new in 1.2: on a 1.1 database the host stream cannot be checked).  The
 * first partition holding a row of the stream holds its head: partitions
 * are seq ranges.
 *
 * What the lock does not cover: unconditional appends do not take it, so
 * one allocated before a conditional append's check but inserted after it
 * lands below it in the stream (see the README).  Streams written by
 * several writers that need the guarantee should append conditionally.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catcache.h"
#include "event.h"
#include "logscan.h"
#include "stream.h"

/*
 * The stream was not at the expected seq.  A class of evlog's own rather
 * than 40001: serialization_failure tells drivers to replay the same
 * statements, while here the caller must re-read the stream and decide
 * again; nor 23505, which evlog raises for a conflicting event_id.
 */
#define ERRCODE_EVLOG_STREAM_MOVED	MAKE_SQLSTATE('E','V','0','0','1')

static const char *
stream_name(EvlogStreamKind stream)
{
	return stream == EVLOG_STREAM_HOST ? "host" : "rollout";
}

/* 'rollout' or 'host' (expected_stream's values) */
EvlogStreamKind
evlog_stream_kind(text *name, int entry)
{
	char	   *s = text_to_cstring(name);

	if (strcmp(s, "rollout") == 0)
		return EVLOG_STREAM_ROLLOUT;
	if (strcmp(s, "host") == 0)
		return EVLOG_STREAM_HOST;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("expected_stream must be 'rollout' or 'host'"),
			 errdetail_internal("%sexpected_stream is \"%s\"",
								evlog_entry_prefix(entry), s)));
	return EVLOG_STREAM_NONE;	/* keep compiler quiet */
}

/* The id naming the event's stream; an expectation needs one. */
text *
evlog_stream_id(EvlogEvent *ev, EvlogStreamKind stream, int entry)
{
	text	   *id = stream == EVLOG_STREAM_HOST ? ev->host_id : ev->rollout_id;

	if (id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("an expectation on the %s stream needs a %s_id",
						stream_name(stream), stream_name(stream)),
				 errdetail_internal("%s%s_id is null", evlog_entry_prefix(entry),
									stream_name(stream))));
	return id;
}

/*
 * Lock one stream until the end of the transaction.  The tag holds a 64-bit
 * hash of the id: distinct streams share a lock only on a hash collision,
 * and then merely wait for each other.
 */
void
evlog_stream_lock(EvlogStreamKind stream, text *id)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) VARDATA_ANY(id),
										VARSIZE_ANY_EXHDR(id), 0);

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 stream == EVLOG_STREAM_HOST ?
						 EVLOG_LOCK_STREAM_HOST : EVLOG_LOCK_STREAM_ROLLOUT);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/* the log's (or a 1.0 log's own) index of the stream, or InvalidOid */
static Oid
stream_index(EvlogStreamKind stream)
{
	Oid			nsp = get_namespace_oid("evlog", false);

	return get_relname_relid(stream == EVLOG_STREAM_HOST ?
							 "event_log_host_seq_idx" : "event_log_rollout_seq_idx",
							 nsp);
}

/*
 * The head of one partition's part of the stream, 0 if none, read with a
 * dirty snapshot; a row of a transaction still in progress (not ours) is
 * waited for, then the partition is read again.
 */
static int64
part_head(Relation rel, Relation index, AttrNumber attno, text *id)
{
	for (;;)
	{
		SnapshotData dirty;
		SysScanDesc scan;
		ScanKeyData key;
		HeapTuple	tup;
		TransactionId xwait = InvalidTransactionId;
		int64		head = EVLOG_STREAM_EMPTY;

		CHECK_FOR_INTERRUPTS();
		InitDirtySnapshot(dirty);
		ScanKeyInit(&key, attno, BTEqualStrategyNumber, F_TEXTEQ,
					PointerGetDatum(id));
		key.sk_collation = index->rd_indcollation[0];
		scan = systable_beginscan_ordered(rel, index, &dirty, 1, &key);
		tup = systable_getnext_ordered(scan, BackwardScanDirection);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;

			head = DatumGetInt64(heap_getattr(tup, EVLOG_COL_SEQ + 1,
											  RelationGetDescr(rel), &isnull));
			/* set by the dirty snapshot for an inserter still running */
			xwait = dirty.xmin;
		}
		systable_endscan_ordered(scan);
		if (!TransactionIdIsValid(xwait))
			return head;
		XactLockTableWait(xwait, rel, NULL, XLTW_None);
	}
}

/*
 * The stream's head as the next conditional appender must see it: every
 * committed row, and rows of transactions in progress waited for.
 */
static int64
stream_head_dirty(Relation log, EvlogStreamKind stream, text *id)
{
	Oid			parent_index = stream_index(stream);
	AttrNumber	attno = stream == EVLOG_STREAM_HOST ? EVLOG_COL_HOST_ID + 1 : EVLOG_COL_ROLLOUT_ID + 1;
	EvlogPart  *parts;
	int			nparts;
	int64		head = EVLOG_STREAM_EMPTY;

	if (!OidIsValid(parent_index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("expectations on the host stream need evlog 1.2"),
				 errdetail("The index evlog.event_log_host_seq_idx does not exist."),
				 errhint("Run ALTER EXTENSION evlog UPDATE.")));

	parts = evlog_log_parts(log, &nparts);
	for (int i = nparts - 1; i >= 0 && head == EVLOG_STREAM_EMPTY; i--)
	{
		Relation	rel;
		Relation	index;
		Oid			index_oid;

		CHECK_FOR_INTERRUPTS();
		/* a partition evlog_prune dropped meanwhile holds nothing */
		rel = try_table_open(parts[i].relid, AccessShareLock);
		if (rel == NULL)
			continue;
		evlog_check_partition(rel);
		index_oid = parts[i].relid == RelationGetRelid(log) ? parent_index :
			evlog_partition_index(rel, parent_index);
		if (!OidIsValid(index_oid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("partition \"%s\" of evlog.event_log has no index for the %s stream",
							RelationGetRelationName(rel), stream_name(stream)),
					 errhint("Partitions must be created by evlog_create_partitions().")));
		index = index_open(index_oid, AccessShareLock);
		head = part_head(rel, index, attno, id);
		index_close(index, AccessShareLock);
		table_close(rel, AccessShareLock);
	}
	pfree(parts);
	return head;
}

/*
 * Check ev's expectation: lock its stream, then (unless it only follows the
 * previous entry of its batch, which the batch checks) compare the head.
 * entry: the batch entry, -1 for a single append.
 */
void
evlog_stream_expect(Relation log, EvlogEvent *ev, int entry)
{
	EvlogStreamKind stream = ev->expect.stream;
	text	   *id = evlog_stream_id(ev, stream, entry);
	int64		head;

	evlog_stream_lock(stream, id);
	if (ev->expect.seq == EVLOG_EXPECT_PREVIOUS)
		return;
	head = stream_head_dirty(log, stream, id);
	if (head != ev->expect.seq)
		ereport(ERROR,
				(errcode(ERRCODE_EVLOG_STREAM_MOVED),
				 errmsg("%s stream \"%s\" is not at the expected seq",
						stream_name(stream), text_to_cstring(id)),
				 errdetail_internal("%sexpected seq " INT64_FORMAT ", the stream's latest seq is " INT64_FORMAT,
									evlog_entry_prefix(entry), ev->expect.seq, head),
				 errhint("Nothing was appended.  Read the stream again, decide again, and append expecting its new latest seq.")));
}
