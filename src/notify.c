/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  The push for LISTEN evlog, sent by evlog's own process so that
 *	  appending transactions never take PostgreSQL's NOTIFY lock.
 *
 * Why: a transaction that NOTIFYs takes one lock (NotifyQueueLock, heavy
 * lock on the database's pg_notify entry in practice) at PRE_COMMIT and
 * keeps it until its commit record is flushed, so every notifying commit
 * waits for the previous one's flush: committing writers are serialised.
 *
 * How, when evlog is preloaded: an appending transaction joins its
 * database's slot at PRE_COMMIT (committing++), and at its end publishes
 * the highest seq it appended (committed only) and sets the latch of the
 * database's notifier, a background worker connected to the database.  The
 * notifier wakes, and in a transaction of its own sends one NOTIFY evlog
 * with the highest seq published so far: a burst of commits becomes one
 * notification carrying the newest seq, which is all a consumer needs to
 * read up to it (evlog_read stops below any seq still in flight, so a lower
 * seq committing later is read on the next wake-up, never skipped).  Its
 * transactions commit with synchronous_commit = off: a notification is no
 * data, and a LISTENing backend reads it once the commit is in the clog.
 *
 * The first appender of a database whose notifier is not running registers
 * one (a dynamic background worker); the notifier sends what was published
 * before it attached.  It exits after evlog.notifier_idle_timeout without a
 * wake-up (a connected worker makes DROP DATABASE wait), freeing its slot
 * under the same spinlock appenders join under, only when no transaction is
 * between PRE_COMMIT and its end and everything published was sent: so no
 * publication is left unsent by a notifier that went away.
 *
 * Falls back to the appender's own NOTIFY (the behaviour before 1.3) when
 * the library is not preloaded (no shared memory), when every slot is in
 * use, or when no background worker slot is free.  The payload is the same
 * in every case: a seq up to which committed events can be read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "as_user.h"
#include "notify.h"
#include "util.h"

/* a notifier registered but not attached after this long is taken as lost */
#define NOTIFIER_START_TIMEOUT_MS	10000

/* after a notification, the notifier gathers commits this long */
#define NOTIFY_PAUSE_MS				1

typedef struct NotifySlot
{
	Oid			dboid;			/* InvalidOid: free */
	int			pid;			/* the attached notifier, 0: none */
	Latch	   *latch;			/* its latch, NULL: none */
	TimestampTz start_requested;	/* a notifier was registered (0: no) */
	int			committing;		/* transactions between PRE_COMMIT and end */
	int64		published;		/* highest seq of a committed appender */
} NotifySlot;

typedef struct NotifyCtl
{
	slock_t		mutex;			/* protects every slot; held for a few loads */
	int			nslots;
	NotifySlot	slots[FLEXIBLE_ARRAY_MEMBER];
} NotifyCtl;

static NotifyCtl *notify_ctl = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's transaction joined slot joined_slot at PRE_COMMIT */
static int	joined_slot = -1;

static Size
notify_shmem_size(void)
{
	return add_size(offsetof(NotifyCtl, slots),
					mul_size(sizeof(NotifySlot), evlog_max_databases));
}

static void
notify_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(notify_shmem_size());
}

static void
notify_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	notify_ctl = ShmemInitStruct("evlog notifier", notify_shmem_size(), &found);
	if (!found)
	{
		memset(notify_ctl, 0, notify_shmem_size());
		SpinLockInit(&notify_ctl->mutex);
		notify_ctl->nslots = evlog_max_databases;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
evlog_notify_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = notify_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = notify_shmem_startup;
}

static bool
register_notifier(Oid dboid)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;

	evlog_bgworker_init(&bgw, "evlog_notifier_main", "evlog notifier", dboid);
	return RegisterDynamicBackgroundWorker(&bgw, &handle);
}

/*
 * At PRE_COMMIT of a transaction that appended: leave the NOTIFY to this
 * database's notifier.  Returns false when the caller must NOTIFY itself.
 */
bool
evlog_notify_join(void)
{
	int			found = -1;
	int			free_slot = -1;
	bool		start = false;
	TimestampTz now = 0;

	if (notify_ctl == NULL || joined_slot >= 0)
		return joined_slot >= 0;

	SpinLockAcquire(&notify_ctl->mutex);
	for (int i = 0; i < notify_ctl->nslots; i++)
	{
		if (notify_ctl->slots[i].dboid == MyDatabaseId)
		{
			found = i;
			break;
		}
		if (free_slot < 0 && notify_ctl->slots[i].dboid == InvalidOid)
			free_slot = i;
	}
	if (found < 0 && free_slot >= 0)
	{
		NotifySlot *s = &notify_ctl->slots[free_slot];

		memset(s, 0, sizeof(NotifySlot));
		s->dboid = MyDatabaseId;
		found = free_slot;
	}
	if (found >= 0)
	{
		NotifySlot *s = &notify_ctl->slots[found];

		s->committing++;
		if (s->pid == 0 && s->start_requested == 0)
		{
			s->start_requested = 1; /* set properly below, outside the lock */
			start = true;
		}
	}
	SpinLockRelease(&notify_ctl->mutex);

	if (found < 0)
		return false;			/* every slot in use: notify ourselves */
	joined_slot = found;

	if (!start)
	{
		/* a registered notifier that never attached: register another */
		NotifySlot *s = &notify_ctl->slots[found];
		TimestampTz requested;
		int			pid;

		SpinLockAcquire(&notify_ctl->mutex);
		requested = s->start_requested;
		pid = s->pid;
		SpinLockRelease(&notify_ctl->mutex);
		if (pid != 0 || requested <= 1)
			return true;
		now = GetCurrentTimestamp();
		if (!TimestampDifferenceExceeds(requested, now, NOTIFIER_START_TIMEOUT_MS))
			return true;
	}

	now = GetCurrentTimestamp();
	if (register_notifier(MyDatabaseId))
	{
		SpinLockAcquire(&notify_ctl->mutex);
		if (notify_ctl->slots[found].pid == 0)
			notify_ctl->slots[found].start_requested = now;
		SpinLockRelease(&notify_ctl->mutex);
		return true;
	}

	/* no background worker slot: this transaction notifies by itself */
	SpinLockAcquire(&notify_ctl->mutex);
	notify_ctl->slots[found].start_requested = 0;
	notify_ctl->slots[found].committing--;
	SpinLockRelease(&notify_ctl->mutex);
	joined_slot = -1;
	return false;
}

/*
 * At the end of a transaction that joined: publish its highest seq if it
 * committed, and wake the notifier.  Runs after the commit record is
 * written: nothing here may fail.
 */
void
evlog_notify_leave(int64 last_seq, bool committed)
{
	NotifySlot *s;
	Latch	   *latch;

	if (joined_slot < 0)
		return;
	s = &notify_ctl->slots[joined_slot];
	joined_slot = -1;
	SpinLockAcquire(&notify_ctl->mutex);
	if (committed && last_seq > s->published)
		s->published = last_seq;
	s->committing--;
	latch = committed ? s->latch : NULL;
	SpinLockRelease(&notify_ctl->mutex);
	if (latch != NULL)
		SetLatch(latch);
}

/* ---- the notifier ------------------------------------------------------ */

static int	my_slot = -1;

static void
notifier_detach(int code, Datum arg)
{
	if (my_slot < 0)
		return;
	SpinLockAcquire(&notify_ctl->mutex);
	if (notify_ctl->slots[my_slot].pid == MyProcPid)
	{
		notify_ctl->slots[my_slot].pid = 0;
		notify_ctl->slots[my_slot].latch = NULL;
		notify_ctl->slots[my_slot].start_requested = 0;
	}
	SpinLockRelease(&notify_ctl->mutex);
	my_slot = -1;
}

static void
send_notify(int64 seq)
{
	char		payload[32];

	snprintf(payload, sizeof(payload), INT64_FORMAT, seq);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	Async_Notify("evlog", payload);
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
evlog_notifier_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	int64		sent = 0;
	TimestampTz idle_since;

	evlog_worker_connect(dboid, "evlog notifier", true);
	/* a notification is no data: do not wait for the flush of its commit */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);

	/* attach to the database's slot, unless another notifier has it */
	SpinLockAcquire(&notify_ctl->mutex);
	for (int i = 0; i < notify_ctl->nslots; i++)
	{
		NotifySlot *s = &notify_ctl->slots[i];

		if (s->dboid == dboid && s->pid == 0)
		{
			s->pid = MyProcPid;
			s->latch = MyLatch;
			s->start_requested = 0;
			my_slot = i;
			break;
		}
	}
	SpinLockRelease(&notify_ctl->mutex);
	if (my_slot < 0)
		proc_exit(0);
	on_shmem_exit(notifier_detach, (Datum) 0);

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		NotifySlot *s = &notify_ctl->slots[my_slot];
		int64		published;
		bool		leave = false;
		long		wait_ms;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		ResetLatch(MyLatch);
		SpinLockAcquire(&notify_ctl->mutex);
		published = s->published;
		SpinLockRelease(&notify_ctl->mutex);
		if (published > sent)
		{
			send_notify(published);
			sent = published;
			idle_since = GetCurrentTimestamp();

			/*
			 * Then pause, deaf to the latch: every commit in the pause is
			 * carried by the next notification.  Without it, a stream of
			 * commits kept the notifier running one transaction after
			 * another, a quarter of the throughput of two appending
			 * clients on two cores; with it, at most one notification per
			 * NOTIFY_PAUSE_MS, and a commit waits that much at most for
			 * its push.  Appenders' SetLatch stays cheap meanwhile (no
			 * signal to a process that is not waiting on its latch).
			 */
			(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 NOTIFY_PAUSE_MS, PG_WAIT_EXTENSION);
			continue;
		}

		now = GetCurrentTimestamp();
		if (ShutdownRequestPending ||
			TimestampDifferenceExceeds(idle_since, now, evlog_notifier_idle_timeout_ms))
		{
			/*
			 * Leave only when nobody is committing and everything published
			 * was sent, in the critical section that appenders join in: a
			 * transaction joining after it finds the slot free and starts a
			 * new notifier.
			 */
			SpinLockAcquire(&notify_ctl->mutex);
			if (s->committing == 0 && s->published == sent)
			{
				memset(s, 0, sizeof(NotifySlot));
				leave = true;
			}
			SpinLockRelease(&notify_ctl->mutex);
			if (leave)
			{
				my_slot = -1;
				proc_exit(0);
			}
			/* a transaction is committing: its wake-up will come */
			wait_ms = 10;
		}
		else
		{
			long		secs;
			int			usecs;

			TimestampDifference(now,
								TimestampTzPlusMilliseconds(idle_since, evlog_notifier_idle_timeout_ms),
								&secs, &usecs);
			wait_ms = Max(secs * 1000 + usecs / 1000, 1);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
	}
}
