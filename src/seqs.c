/*-------------------------------------------------------------------------
 *
 * seqs.c
 *	  Seq allocation, and knowing which seqs are still in flight.
 *
 * The problem: seqs are handed out at append time but become visible at
 * commit, so a reader resuming "WHERE seq > last" skips a lower seq that
 * commits after a higher one.  evlog knows which seqs are in flight and
 * lets readers stop just below the lowest of them.
 *
 * The mechanism, in three sentences.  Every transaction that appends takes,
 * at its first allocation, a transaction-scoped lock on a tag that encodes
 * its lowest seq, so the lock manager itself holds the set of in-flight
 * transactions (released after the commit is visible, kept across PREPARE,
 * gone on abort or crash).  Allocation and that registration happen under a
 * short allocation lock that appenders take in share mode (they never wait
 * for each other) and a reader takes exclusively for an instant, so the
 * reader sees a consistent cut: every seq allocated before the cut is
 * either finished or registered.  The safe horizon is then the lowest
 * registered seq minus one, or the highest seq present at the cut.
 *
 * It needs no shared memory of its own, so it works without
 * shared_preload_libraries.  A batch takes the allocation lock exclusively
 * while it takes its seqs (a nextval, then one setval past them), which is
 * what makes a batch's seqs contiguous.
 *
 * Also here, because it hangs off the same per-transaction state: the
 * wake-up of LISTEN evlog for each committing transaction that appended,
 * carrying the highest seq it appended.  With evlog preloaded the
 * database's notifier sends it after the commit (notify.c), so the
 * appender takes no NOTIFY lock; otherwise the transaction NOTIFYs itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_sequence.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "as_user.h"
#include "catcache.h"
#include "logscan.h"
#include "notify.h"
#include "seqs.h"
#include "util.h"
#include "watermark.h"

/* this transaction's appends: lowest seq registered, highest appended */
static int64 xact_first_seq = 0;
static int64 xact_last_seq = 0;

static void
set_allocate_tag(LOCKTAG *tag, Oid log_relid)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, EVLOG_LOCKTAG_MAGIC, log_relid,
						 EVLOG_LOCK_ALLOCATE);
}

/*
 * Register this transaction as in flight from "first" on.  The lock belongs
 * to the top-level transaction even when we are in a subtransaction: if the
 * subtransaction aborts, later appends of the parent must stay covered.
 */
static void
register_inflight(int64 first)
{
	LOCKTAG		tag;
	ResourceOwner save = CurrentResourceOwner;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (first >> 32),
						 (uint32) first, EVLOG_LOCK_INFLIGHT);
	CurrentResourceOwner = TopTransactionResourceOwner;
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	CurrentResourceOwner = save;
	xact_first_seq = first;
}

/*
 * Past this many seqs, a batch moves the sequence once instead of calling
 * nextval for each (each call locks the sequence's buffer and updates its
 * tuple, 2,000 instructions).
 */
#define SEQ_RANGE_MIN	8

/*
 * Move the log's sequence from "first", the value a nextval just returned,
 * on to first + n - 1, as if nextval had been called up to it; false (and
 * nothing changed) if that would not give exactly the values n nextval calls
 * give, and the caller calls nextval instead.  Called under the exclusive
 * allocation lock, so no evlog append takes a value meanwhile.  Checked
 * here: INCREMENT 1 and CACHE 1 (with a cache, "first" may come from this
 * backend's cached block, and moving the sequence to first + n - 1 would
 * move it back below values other backends hold; ALTER SEQUENCE drops
 * cached blocks), and the range within MAXVALUE.  Only the sequence's
 * owner can call nextval outside evlog: one in the instant after our
 * nextval would share a seq with the batch, and the primary key refuses the
 * second of the two rows.  setval WAL-logs the new value at once, so a
 * crash cannot hand the range out again.  It checks UPDATE on the
 * sequence, which writers do not have: it runs as the sequence's owner,
 * restricted (as_user.c), like every statement evlog runs on its own tables.
 */
static bool
advance_sequence(Oid seq_relid, int64 first, int n)
{
	HeapTuple	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(seq_relid));
	Form_pg_sequence seqform;
	int64		last;
	bool		ok;
	Relation	seqrel;
	EvlogAsUser as;

	if (!HeapTupleIsValid(tup))
		return false;
	seqform = (Form_pg_sequence) GETSTRUCT(tup);
	ok = seqform->seqincrement == 1 && seqform->seqcache == 1 &&
		!pg_add_s64_overflow(first, n - 1, &last) && last <= seqform->seqmax;
	ReleaseSysCache(tup);
	if (!ok)
		return false;

	seqrel = relation_open(seq_relid, NoLock);	/* locked by our nextval */
	evlog_as_user_begin(seqrel->rd_rel->relowner, 0, &as);
	relation_close(seqrel, NoLock);
	(void) DirectFunctionCall2(setval_oid, ObjectIdGetDatum(seq_relid), Int64GetDatum(last));
	evlog_as_user_end(&as);
	return true;
}

/*
 * Hand out n consecutive seqs from the log's sequence; returns the first.
 */
int64
evlog_allocate_seqs(Oid log_relid, Oid seq_relid, int n)
{
	LOCKTAG		tag;
	LOCKMODE	mode = n > 1 ? ExclusiveLock : ShareLock;
	int64		first;
	int64		last;

	Assert(n > 0);
	set_allocate_tag(&tag, log_relid);
	(void) LockAcquire(&tag, mode, false, false);
	first = last = nextval_internal(seq_relid, false);
	if (n > SEQ_RANGE_MIN && advance_sequence(seq_relid, first, n))
		last = first + n - 1;
	else
		for (int i = 1; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			last = nextval_internal(seq_relid, false);
		}
	if (xact_first_seq == 0 && evlog_track_inflight)
		register_inflight(first);
	LockRelease(&tag, mode, false);

	/*
	 * A batch computes its seqs as first + k: that needs INCREMENT 1 and
	 * CACHE 1, which only an ALTER SEQUENCE on an extension member could
	 * have changed.
	 */
	if (last - first != n - 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.event_log_seq_seq does not hand out consecutive values"),
				 errdetail("Allocating %d seqs returned " INT64_FORMAT " to " INT64_FORMAT ".",
						   n, first, last),
				 errhint("Restore the sequence's INCREMENT and CACHE to 1.")));

	xact_last_seq = Max(xact_last_seq, last);
	return first;
}

/*
 * Highest seq physically present in the log (committed or in progress),
 * 0 if none.  Read under the exclusive allocation lock, so nothing is
 * between allocation and registration.
 */
static int64
highest_present_seq(Relation rel)
{
	SnapshotData dirty;
	EvlogLogScan *scan;
	TupleTableSlot *slot;
	int64		result = 0;

	InitDirtySnapshot(dirty);
	scan = evlog_logscan_begin(rel, &dirty, PG_INT64_MIN, PG_INT64_MAX,
							   BackwardScanDirection);
	if ((slot = evlog_logscan_next(scan)) != NULL)
	{
		bool		isnull;

		result = DatumGetInt64(slot_getattr(slot, EVLOG_COL_SEQ + 1, &isnull));
	}
	evlog_logscan_end(scan);
	return result;
}

/*
 * Fill in the in-flight transactions of this database: their lowest seq and
 * backend pid.  Returns how many; *seqs and *pids are palloc'd.
 */
int
evlog_inflight(int64 **seqs, int **pids)
{
	LockData   *locks = GetLockStatusData();
	int			n = 0;

	*seqs = palloc(sizeof(int64) * (locks->nelements + 1));
	*pids = palloc(sizeof(int) * (locks->nelements + 1));
	for (int i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *l = &locks->locks[i];

		if (l->locktag.locktag_type != LOCKTAG_ADVISORY ||
			l->locktag.locktag_field4 != EVLOG_LOCK_INFLIGHT ||
			l->locktag.locktag_field1 != MyDatabaseId ||
			l->holdMask == 0)
			continue;
		(*seqs)[n] = ((int64) l->locktag.locktag_field2 << 32) |
			(int64) l->locktag.locktag_field3;
		(*pids)[n] = l->pid;	/* 0 for a prepared transaction */
		n++;
	}
	return n;
}

/*
 * The highest seq below which nothing can still appear: every seq <= it is
 * committed (and visible to a snapshot taken after this returns) or will
 * never exist.
 */
int64
evlog_safe_seq(void)
{
	Relation	rel = table_open(evlog_relid("event_log"), AccessShareLock);
	LOCKTAG		tag;
	int64		present;
	int64		safe;
	int64		bound = 0;
	bool		replica;
	int64	   *seqs;
	int		   *pids;
	int			n;

	if (!evlog_track_inflight)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.track_inflight is off"),
				 errdetail("Without in-flight tracking a reader could skip a late commit."),
				 errhint("Set evlog.track_inflight = on in postgresql.conf and restart.")));

	/*
	 * On a logical-replication subscriber or a hot standby, this server's
	 * own in-flight set says nothing about the publisher's: the replicated
	 * watermark bounds the horizon (watermark.c).
	 */
	replica = evlog_replica_horizon(rel, &bound);
	if (replica && RecoveryInProgress())
	{
		/* no allocation lock during recovery, and no local appends either */
		table_close(rel, AccessShareLock);
		return bound;
	}

	/* the cut: no allocation is half-done while we hold this */
	set_allocate_tag(&tag, RelationGetRelid(rel));
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	present = highest_present_seq(rel);
	LockRelease(&tag, ExclusiveLock, false);

	safe = present;
	n = evlog_inflight(&seqs, &pids);
	for (int i = 0; i < n; i++)
		safe = Min(safe, seqs[i] - 1);
	if (replica)
		safe = Min(safe, bound);

	table_close(rel, AccessShareLock);
	return safe;
}

static void
evlog_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (xact_last_seq > 0 && evlog_notify && !evlog_notify_join())
			{
				char		payload[32];

				snprintf(payload, sizeof(payload), INT64_FORMAT, xact_last_seq);
				Async_Notify("evlog", payload);
			}
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			evlog_notify_leave(xact_last_seq, true);
			xact_first_seq = 0;
			xact_last_seq = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			evlog_notify_leave(0, false);
			xact_first_seq = 0;
			xact_last_seq = 0;
			break;
		default:
			break;
	}
}

void
evlog_seqs_init(void)
{
	RegisterXactCallback(evlog_xact_callback, NULL);
}
