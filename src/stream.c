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
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
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
#include "utils/tuplestore.h"

#include "as_user.h"
#include "catcache.h"
#include "event.h"
#include "logscan.h"
#include "seqs.h"
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

/* the stream a name names: 'rollout' or 'host', or EVLOG_STREAM_NONE */
static EvlogStreamKind
stream_named(text *name)
{
	char	   *s = text_to_cstring(name);

	if (strcmp(s, "rollout") == 0)
		return EVLOG_STREAM_ROLLOUT;
	if (strcmp(s, "host") == 0)
		return EVLOG_STREAM_HOST;
	return EVLOG_STREAM_NONE;
}

/* 'rollout' or 'host' (expected_stream's values) */
EvlogStreamKind
evlog_stream_kind(text *name, int entry)
{
	EvlogStreamKind stream = stream_named(name);

	if (stream != EVLOG_STREAM_NONE)
		return stream;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("expected_stream must be 'rollout' or 'host'"),
			 errdetail_internal("%sexpected_stream is \"%s\"",
								evlog_entry_prefix(entry), text_to_cstring(name))));
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

/* the log's column holding a stream's ids (attribute number) */
static AttrNumber
stream_attno(EvlogStreamKind stream)
{
	return stream == EVLOG_STREAM_HOST ? EVLOG_COL_HOST_ID + 1 : EVLOG_COL_ROLLOUT_ID + 1;
}

/* the log's (or a 1.0 log's own) index of the stream */
static Oid
stream_index(EvlogStreamKind stream)
{
	Oid			index = evlog_relid_if_exists(stream == EVLOG_STREAM_HOST ?
											  "event_log_host_seq_idx" :
											  "event_log_rollout_seq_idx");

	if (!OidIsValid(index))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("expectations on the host stream need evlog 1.2"),
				 errdetail("The index evlog.event_log_host_seq_idx does not exist."),
				 errhint("Run ALTER EXTENSION evlog UPDATE.")));
	return index;
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
 * A partition's copy of the stream's index, opened; the partition must be a
 * plain table and have one.
 */
static Relation
open_stream_index(Relation log, Relation rel, Oid parent_index,
				  EvlogStreamKind stream)
{
	Oid			index_oid;

	evlog_check_partition(rel);
	index_oid = RelationGetRelid(rel) == RelationGetRelid(log) ? parent_index :
		evlog_partition_index(rel, parent_index);
	if (!OidIsValid(index_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("partition \"%s\" of evlog.event_log has no index for the %s stream",
						RelationGetRelationName(rel), stream_name(stream)),
				 errhint("Partitions must be created by evlog_create_partitions().")));
	return index_open(index_oid, AccessShareLock);
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
	AttrNumber	attno = stream_attno(stream);
	EvlogPart  *parts;
	int			nparts;
	int64		head = EVLOG_STREAM_EMPTY;

	parts = evlog_log_parts(log, &nparts);
	for (int i = nparts - 1; i >= 0 && head == EVLOG_STREAM_EMPTY; i--)
	{
		Relation	rel;
		Relation	index;

		CHECK_FOR_INTERRUPTS();
		/* a partition evlog_prune dropped meanwhile holds nothing */
		rel = try_table_open(parts[i].relid, AccessShareLock);
		if (rel == NULL)
			continue;
		index = open_stream_index(log, rel, parent_index, stream);
		head = part_head(rel, index, attno, id, snapshot);
		index_close(index, AccessShareLock);
		/*
		 * A reader keeps the partition that answered locked to its
		 * transaction's end, as a query on the log would: within a
		 * REPEATABLE READ transaction no DETACH or DROP then changes the
		 * answer.  (Those that held nothing of the stream answer the same
		 * gone.)  The conditional check's writer holds the log anyway.
		 */
		table_close(rel, snapshot != NULL && head != EVLOG_STREAM_EMPTY ?
					NoLock : AccessShareLock);
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
 * The read access the queries these functions replace needed: USAGE on the
 * schema, and SELECT on the table or on the columns read (seq and the
 * stream's column for the head, every column for the events).  Also: the
 * id is compared with the index's collation, exactly; under a
 * nondeterministic collation the query compared otherwise, so that is
 * refused rather than answered differently.
 */
static void
check_stream_read(FunctionCallInfo fcinfo, Relation log, EvlogStreamKind stream,
				  bool whole_rows)
{
	Oid			relid = RelationGetRelid(log);
	Oid			userid = GetUserId();
	Oid			collid = PG_GET_COLLATION();
	AclResult	aclresult;

	if (OidIsValid(collid) && !get_collation_isdeterministic(collid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream ids are compared exactly, not under a nondeterministic collation"),
				 errhint("Call it without COLLATE, or with a deterministic collation.")));

	aclresult = pg_namespace_aclcheck(RelationGetNamespace(log), userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_SCHEMA, "evlog");
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) == ACLCHECK_OK)
		return;
	if (whole_rows ?
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK :
		(pg_attribute_aclcheck(relid, EVLOG_COL_SEQ + 1, userid, ACL_SELECT) != ACLCHECK_OK ||
		 pg_attribute_aclcheck(relid, stream_attno(stream), userid, ACL_SELECT) != ACLCHECK_OK))
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, RelationGetRelationName(log));
}

/* 'rollout' or 'host' (the stream argument); anything else is an error */
static EvlogStreamKind
stream_arg(FunctionCallInfo fcinfo, int argno)
{
	EvlogStreamKind stream = PG_ARGISNULL(argno) ? EVLOG_STREAM_NONE :
		stream_named(PG_GETARG_TEXT_PP(argno));

	if (stream == EVLOG_STREAM_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stream must be 'rollout' or 'host'")));
	return stream;
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
	EvlogAsUser as;

	args[0] = PointerGetDatum(id);
	/* as the caller, search_path pinned, as the function's query ran */
	evlog_as_user_begin(GetUserId(), EVLOG_AS_SPI, &as);
	rc = SPI_execute_with_args(psprintf("SELECT e.seq FROM evlog.event_log e"
										" WHERE e.%s_id OPERATOR(pg_catalog.=) $1"
										" ORDER BY e.seq DESC LIMIT 1",
										stream_name(stream)),
							   1, argtypes, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading a stream's head failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		bool		isnull;

		head = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	}
	evlog_as_user_end(&as);
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
	EvlogStreamKind stream = stream_arg(fcinfo, 0);
	Relation	log;
	int64		head = EVLOG_STREAM_EMPTY;	/* also a NULL id's: no events */

	log = table_open(evlog_relid("event_log"), AccessShareLock);
	check_stream_read(fcinfo, log, stream, false);
	if (!PG_ARGISNULL(1))
	{
		text	   *id = PG_GETARG_TEXT_PP(1);

		if (check_enable_rls(RelationGetRelid(log), InvalidOid, false) == RLS_ENABLED)
			head = stream_head_by_query(stream, id);
		else
			head = stream_head(log, stream, id, GetActiveSnapshot());
	}
	/* kept to the transaction's end, as the query kept it (no prune meanwhile) */
	table_close(log, NoLock);
	PG_RETURN_INT64(head);
}

/*
 * A row of the log into the result, whose row type (the log's) may count
 * dropped columns after evlog's seven, which the partition's or the
 * query's row may not (evlog_check_log_layout accepts those): they are
 * null.  values and isnull hold at least the result's columns.
 */
static void
put_row(ReturnSetInfo *rsinfo, Datum *values, bool *isnull)
{
	for (int a = EVLOG_LOG_NATTS; a < rsinfo->setDesc->natts; a++)
		isnull[a] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
}

/*
 * One partition's rows of the stream with after < seq <= upto, in seq order,
 * into the result, at most *left of them.
 */
static void
part_rows(Relation rel, Relation index, AttrNumber attno, text *id,
		  int64 after, int64 upto, Snapshot snapshot, ReturnSetInfo *rsinfo,
		  int64 *left)
{
	ScanKeyData keys[3];
	SysScanDesc scan;
	HeapTuple	tup;
	int			natts = Max(RelationGetDescr(rel)->natts, rsinfo->setDesc->natts);
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *isnull = palloc(sizeof(bool) * natts);

	ScanKeyInit(&keys[0], attno, BTEqualStrategyNumber, F_TEXTEQ,
				PointerGetDatum(id));
	keys[0].sk_collation = index->rd_indcollation[0];
	ScanKeyInit(&keys[1], EVLOG_COL_SEQ + 1, BTGreaterStrategyNumber, F_INT8GT,
				Int64GetDatum(after));
	ScanKeyInit(&keys[2], EVLOG_COL_SEQ + 1, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(upto));
	scan = systable_beginscan_ordered(rel, index, snapshot, 3, keys);
	while (*left > 0 &&
		   HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		CHECK_FOR_INTERRUPTS();
		heap_deform_tuple(tup, RelationGetDescr(rel), values, isnull);
		put_row(rsinfo, values, isnull);
		(*left)--;
	}
	systable_endscan_ordered(scan);
	pfree(values);
	pfree(isnull);
}

/* The stream's rows after..upto through the query on the log, as the caller. */
static void
stream_rows_by_query(EvlogStreamKind stream, text *id, int64 after, int64 upto,
					 int64 max_rows, Snapshot snapshot, ReturnSetInfo *rsinfo)
{
	Oid			argtypes[3] = {TEXTOID, INT8OID, INT8OID};
	Datum		args[3];
	SPIPlanPtr	plan;
	int			rc;
	EvlogAsUser as;

	args[0] = PointerGetDatum(id);
	args[1] = Int64GetDatum(after);
	args[2] = Int64GetDatum(upto);
	evlog_as_user_begin(GetUserId(), EVLOG_AS_SPI, &as);
	plan = SPI_prepare(psprintf("SELECT e.* FROM evlog.event_log e"
								" WHERE e.%s_id OPERATOR(pg_catalog.=) $1"
								" AND e.seq OPERATOR(pg_catalog.>) $2"
								" AND e.seq OPERATOR(pg_catalog.<=) $3"
								" ORDER BY e.seq", stream_name(stream)),
					   3, argtypes);
	if (plan == NULL)
		elog(ERROR, "preparing a stream's read failed: %s", SPI_result_code_string(SPI_result));
	rc = SPI_execute_snapshot(plan, args, NULL, snapshot, InvalidSnapshot, true, false,
							  max_rows > PG_INT32_MAX ? 0 : max_rows);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading a stream failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		int			natts = Max(SPI_tuptable->tupdesc->natts, rsinfo->setDesc->natts);
		Datum	   *values = palloc(sizeof(Datum) * natts);
		bool	   *isnull = palloc(sizeof(bool) * natts);

		for (uint64 i = 0; i < SPI_processed; i++)
		{
			heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, isnull);
			put_row(rsinfo, values, isnull);
		}
	}
	evlog_as_user_end(&as);
}

PG_FUNCTION_INFO_V1(evlog_stream_read);

/*
 * evlog_stream_read(stream, id, after_seq, max_rows): the stream's events
 * with after_seq < seq <= evlog_safe_seq(), in seq order, at most max_rows
 * (NULL: all).  Read, as evlog_read reads, with a snapshot taken after the
 * horizon: every committed seq at or below it is visible, so a reader
 * resuming after the last seq it received skips nothing, at any isolation
 * level (the caller's own snapshot may predate a late commit below the
 * horizon).  Partitions oldest first, from the one holding after_seq.
 */
Datum
evlog_stream_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EvlogStreamKind stream = stream_arg(fcinfo, 0);
	text	   *id;
	int64		after;
	int64		left;
	int64		safe;
	Relation	log;
	Snapshot	snapshot;

	if (!PG_ARGISNULL(3) && PG_GETARG_INT32(3) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE),
				 errmsg("max_rows must not be negative")));
	InitMaterializedSRF(fcinfo, 0);
	log = table_open(evlog_relid("event_log"), AccessShareLock);
	check_stream_read(fcinfo, log, stream, true);
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		table_close(log, NoLock);
		return (Datum) 0;		/* no id, or no position: no events */
	}
	id = PG_GETARG_TEXT_PP(1);
	after = PG_GETARG_INT64(2);
	left = PG_ARGISNULL(3) ? PG_INT64_MAX : PG_GETARG_INT32(3);

	safe = evlog_safe_seq();
	if (after >= safe || left == 0)
	{
		table_close(log, NoLock);
		return (Datum) 0;
	}

	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (check_enable_rls(RelationGetRelid(log), InvalidOid, false) == RLS_ENABLED)
		stream_rows_by_query(stream, id, after, safe, left, snapshot, rsinfo);
	else
	{
		Oid			parent_index = stream_index(stream);
		AttrNumber	attno = stream_attno(stream);
		EvlogPart  *parts;
		int			nparts;

		parts = evlog_log_parts(log, &nparts);
		for (int i = 0; i < nparts && left > 0 && parts[i].lo <= safe; i++)
		{
			Relation	rel;
			Relation	index;
			int64		before = left;

			if (parts[i].hi <= after)
				continue;
			rel = try_table_open(parts[i].relid, AccessShareLock);
			if (rel == NULL)
				continue;		/* pruned meanwhile: held nothing readable */

			index = open_stream_index(log, rel, parent_index, stream);
			part_rows(rel, index, attno, id, after, safe, snapshot, rsinfo, &left);
			index_close(index, AccessShareLock);
			/* as in stream_head: a partition that gave rows stays locked */
			table_close(rel, left < before ? NoLock : AccessShareLock);
		}
		pfree(parts);
	}
	UnregisterSnapshot(snapshot);
	/*
	 * The rows may point into the partitions' TOAST tables: the log stays
	 * locked until the transaction ends, as the query held it, so that
	 * evlog_prune (ACCESS EXCLUSIVE on the log) cannot drop a partition
	 * before they are sent.
	 */
	table_close(log, NoLock);
	return (Datum) 0;
}
