/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  Taking the strong locks of evlog's maintenance without stalling the
 *	  log.
 *
 * PostgreSQL's lock queue is fair: while evlog_prune waits for ACCESS
 * EXCLUSIVE on the log, or evlog_rebuild for SHARE ROW EXCLUSIVE, every
 * later appender and reader queues behind the waiting request, even though
 * it would not conflict with the transaction actually holding the log (an
 * idle-in-transaction reader or appender).  One idle session would then
 * stall everyone for as long as it stays idle.
 *
 * So maintenance never waits long for a strong lock: evlog_lock_strong()
 * requests the whole set of locks an operation needs with lock_timeout set
 * to evlog.maintenance_lock_timeout (50 ms by default), inside a
 * subtransaction.  When one of them times out, the subtransaction rolls
 * back (releasing whatever of the set it got, so nobody stays queued
 * behind us), the caller sleeps on its latch with a doubling backoff
 * capped at one second, and tries again, for at most
 * evlog.maintenance_lock_wait in total; then it raises lock_not_available
 * (55P03), which the retention worker turns into a skipped round.  An
 * appender arriving while an attempt waits is held for at most one
 * lock_timeout; between attempts it is not held at all.  The locks that
 * were obtained are kept until the caller's transaction ends, as with
 * LockRelationOid.
 *
 * Giving way.  evlog_prune already holds SHARE UPDATE EXCLUSIVE on the log
 * while it retries (from its start: one prune at a time, no partition
 * attached meanwhile).  A session that then needs that lock (an appender
 * creating a partition, a rebuild) waits for the prune while the prune's
 * attempts wait for it: a deadlock that lock_timeout hides from the
 * deadlock detector.  With EVLOG_LOCK_GIVE_WAY, the caller gives up with
 * 55P03 as soon as, between two attempts, another backend waits for a
 * lock on the first relation of the set that conflicts with SHARE UPDATE
 * EXCLUSIVE: the prune fails fast, the other session goes on.
 *
 * pg_repack, pg_squeeze and pg_partman do the same for their strong locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/wait_event.h"

#include "locks.h"

int			evlog_maintenance_lock_timeout_ms = 50;
int			evlog_maintenance_lock_wait_ms = 60000;

/* the longest sleep between two attempts */
#define EVLOG_LOCK_BACKOFF_MAX_MS	1000

/*
 * One attempt: every lock of the set, each with lock_timeout.  Returns
 * false, with nothing of the set held, when one of them timed out; other
 * errors propagate.  *blocked names the relation that timed out.
 */
static bool
lock_set_once(const EvlogLockRequest *reqs, int n, Oid *blocked)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	char		timeout[32];
	bool		ok = true;
	volatile int current = 0;

	snprintf(timeout, sizeof(timeout), "%d", Max(evlog_maintenance_lock_timeout_ms, 1));
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		for (current = 0; current < n; current++)
			LockRelationOid(reqs[current].relid, reqs[current].mode);
		AtEOXact_GUC(false, nestlevel);
		/* the locks move to the caller's (sub)transaction */
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		/* releases what the attempt got, the GUC nest level with it */
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		/* cancel, deadlock...: the caller's, at the caller's level */
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
		*blocked = reqs[current].relid;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Is another backend waiting for a lock on relid in a mode that conflicts
 * with SHARE UPDATE EXCLUSIVE (and is not ACCESS EXCLUSIVE, which only
 * maintenance asks for, with its own retries)?  Returns its pid, or 0.
 */
static int
waiter_behind_us(Oid relid)
{
	LockData   *ld = GetLockStatusData();
	int			pid = 0;

	for (int i = 0; i < ld->nelements && pid == 0; i++)
	{
		LockInstanceData *l = &ld->locks[i];

		if (l->locktag.locktag_type == LOCKTAG_RELATION &&
			l->locktag.locktag_field1 == MyDatabaseId &&
			l->locktag.locktag_field2 == relid &&
			l->pid != MyProcPid &&
			l->waitLockMode >= ShareUpdateExclusiveLock &&
			l->waitLockMode < AccessExclusiveLock)
			pid = l->pid;
	}
	pfree(ld->locks);
	pfree(ld);
	return pid;
}

/*
 * Take every lock of reqs[0..n-1] (see the header), in that order, for
 * "what" (used in messages, e.g. "evlog_prune()").  Returns once all are
 * held; raises 55P03 after evlog.maintenance_lock_wait, or, with
 * EVLOG_LOCK_GIVE_WAY in flags, as soon as another session waits behind
 * the SHARE UPDATE EXCLUSIVE lock the caller holds on reqs[0].
 */
void
evlog_lock_strong(const EvlogLockRequest *reqs, int n, const char *what, int flags)
{
	instr_time	start;
	long		backoff = Max(evlog_maintenance_lock_timeout_ms, 1);
	int			attempts = 0;
	Oid			blocked = InvalidOid;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		instr_time	now;
		double		waited;

		attempts++;
		if (lock_set_once(reqs, n, &blocked))
			break;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		waited = INSTR_TIME_GET_MILLISEC(now);
		if (waited + backoff > evlog_maintenance_lock_wait_ms)
		{
			char	   *relname = get_rel_name(blocked);

			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("%s could not lock \"%s\" within evlog.maintenance_lock_wait (%d ms)",
							what, relname ? relname : "?", evlog_maintenance_lock_wait_ms),
					 errdetail("%d attempts of evlog.maintenance_lock_timeout (%d ms) each timed out; another transaction holds a conflicting lock.",
							   attempts, evlog_maintenance_lock_timeout_ms),
					 errhint("Look for sessions idle in transaction in pg_stat_activity (pg_locks shows the holder); end them, then try again, or raise evlog.maintenance_lock_wait.")));
		}
		if ((flags & EVLOG_LOCK_GIVE_WAY) != 0)
		{
			int			pid = waiter_behind_us(reqs[0].relid);

			if (pid != 0)
				ereport(ERROR,
						(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
						 errmsg("%s gave way to process %d, which waits for a lock on \"%s\" that %s holds",
								what, pid, get_rel_name(reqs[0].relid), what),
						 errdetail("%s could not lock \"%s\" within %d attempts.", what,
								   get_rel_name(blocked), attempts),
						 errhint("Try again later; the retention worker does at its next round.")));
		}
		ereport(DEBUG1,
				(errmsg("%s: lock on \"%s\" not available, attempt %d, trying again in %ld ms",
						what, get_rel_name(blocked), attempts, backoff)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 backoff, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		backoff = Min(backoff * 2, EVLOG_LOCK_BACKOFF_MAX_MS);
	}
	if (attempts > 1)
		ereport(DEBUG1,
				(errmsg("%s: locks taken at attempt %d", what, attempts)));
}
