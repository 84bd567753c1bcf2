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
 * are seq ranges.  evlog_stream_head(), the read a conditional appender
 * makes before deciding (1.6), walks the same way with the caller's
 * snapshot: as a query on the log, PostgreSQL planned every partition and
 * merged all their index scans, however recent the stream's head.
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
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
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
 * The head of one partition's part of the stream, 0 if none.  With
 * snapshot NULL, read with a dirty snapshot: a row of a transaction still
 * in progress (not ours) is waited for, then the partition is read again.
 */
static int64
part_head(Relation rel, Relation index, AttrNumber attno, text *id,
		  Snapshot snapshot)
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
		scan = systable_beginscan_ordered(rel, index, snapshot ? snapshot : &dirty,
										  1, &key);
		tup = systable_getnext_ordered(scan, BackwardScanDirection);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;

			head = DatumGetInt64(heap_getattr(tup, EVLOG_COL_SEQ + 1,
											  RelationGetDescr(rel), &isnull));
			/* set by the dirty snapshot for an inserter still running */
			if (snapshot == NULL)
				xwait = dirty.xmin;
		}
		systable_endscan_ordered(scan);
		if (!TransactionIdIsValid(xwait))
			return head;
		XactLockTableWait(xwait, rel, NULL, XLTW_None);
	}
}

/*
 * The stream's head: the highest seq of its rows that snapshot shows, or
 * with snapshot NULL as the next conditional appender must see it (every
 * committed row, and rows of transactions in progress waited for).
 */
static int64
stream_head(Relation log, EvlogStreamKind stream, text *id, Snapshot snapshot)
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
		head = part_head(rel, index, attno, id, snapshot);
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
	head = stream_head(log, stream, id, NULL);
	if (head != ev->expect.seq)
		ereport(ERROR,
				(errcode(ERRCODE_EVLOG_STREAM_MOVED),
				 errmsg("%s stream \"%s\" is not at the expected seq",
						stream_name(stream), text_to_cstring(id)),
				 errdetail_internal("%sexpected seq " INT64_FORMAT ", the stream's latest seq is " INT64_FORMAT,
									evlog_entry_prefix(entry), ev->expect.seq, head),
				 errhint("Nothing was appended.  Read the stream again, decide again, and append expecting its new latest seq.")));
}

/*
 * Read access to the column holding a stream's ids and to seq, as the query
 * this replaces needed (USAGE on the schema, SELECT on the table or on
 * both columns).
 */
static void
check_stream_read(Relation log, EvlogStreamKind stream)
{
	Oid			relid = RelationGetRelid(log);
	Oid			userid = GetUserId();
	AclResult	aclresult;

	aclresult = pg_namespace_aclcheck(RelationGetNamespace(log), userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, "evlog");
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	if (pg_attribute_aclcheck(relid, EVLOG_COL_SEQ + 1, userid, ACL_SELECT) != ACLCHECK_OK ||
		pg_attribute_aclcheck(relid, stream == EVLOG_STREAM_HOST ?
							  EVLOG_COL_HOST_ID + 1 : EVLOG_COL_ROLLOUT_ID + 1,
							  userid, ACL_SELECT) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(log));
}

/*
 * With row-level security in force on the log for this user, the head is
 * what the policies let the query see: the query itself, as the caller.
 */
static int64
stream_head_by_query(EvlogStreamKind stream, text *id)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	int64		head = EVLOG_STREAM_EMPTY;
	int			rc;

	args[0] = PointerGetDatum(id);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(stream == EVLOG_STREAM_HOST ?
							   "SELECT e.seq FROM evlog.event_log e"
							   " WHERE e.host_id OPERATOR(pg_catalog.=) $1"
							   " ORDER BY e.seq DESC LIMIT 1" :
							   "SELECT e.seq FROM evlog.event_log e"
							   " WHERE e.rollout_id OPERATOR(pg_catalog.=) $1"
							   " ORDER BY e.seq DESC LIMIT 1",
							   1, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading a stream's head failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		bool		isnull;

		head = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return head;
}

PG_FUNCTION_INFO_V1(evlog_stream_head);

/*
 * evlog_stream_head(stream, id): the stream's latest seq as the caller's
 * snapshot sees it, 0 if it has none (a NULL id has none).
 */
Datum
evlog_stream_head(PG_FUNCTION_ARGS)
{
	EvlogStreamKind stream = EVLOG_STREAM_NONE;
	Relation	log;
	text	   *id;
	int64		head;

	if (!PG_ARGISNULL(0))
	{
		char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));

		if (strcmp(s, "rollout") == 0)
			stream = EVLOG_STREAM_ROLLOUT;
		else if (strcmp(s, "host") == 0)
			stream = EVLOG_STREAM_HOST;
	}
	if (stream == EVLOG_STREAM_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream must be 'rollout' or 'host'")));
	if (PG_ARGISNULL(1))
		PG_RETURN_INT64(EVLOG_STREAM_EMPTY);
	id = PG_GETARG_TEXT_PP(1);

	log = table_open(evlog_relid("event_log"), AccessShareLock);
	check_stream_read(log, stream);
	if (check_enable_rls(RelationGetRelid(log), InvalidOid, false) == RLS_ENABLED)
		head = stream_head_by_query(stream, id);
	else
		head = stream_head(log, stream, id, GetActiveSnapshot());
	table_close(log, AccessShareLock);
	PG_RETURN_INT64(head);
}
