/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The shared-memory queues behind evlog_enqueue: one bounded byte ring
 *	  per database, the producer (enqueue) side, and the accessors the
 *	  per-database writer (worker.c) and evlog.queue_status use.
 *
 * Shared memory exists only with shared_preload_libraries = 'evlog'.  It is
 * requested in shmem_request_hook and created in shmem_startup_hook: a
 * control struct, evlog.max_databases slots, and one ring of
 * evlog.queue_size bytes per slot.  A slot is claimed by the first backend
 * (or writer) of a database that needs it, and released by its writer once
 * it is drained and no transaction holds tickets for it: a database costs a
 * queue only while it has events in flight.
 *
 * Why one ring per database rather than one shared ring: a writer is bound
 * to its database, and a shared ring's tail could only move as fast as the
 * slowest (or failing) database's writer, so one database's lock timeout
 * would stall every other database's enqueues.
 *
 * Holders and generations.  A transaction that enqueues joins the slot
 * (holders++) until it ends, so a slot is never released under a ticket
 * that may still be pushed.  When the writer closes a drained queue (at
 * shutdown, or when it is terminated) it bumps the generation under the
 * slot lock in the same critical section that saw the ring empty: a
 * producer that joined an earlier generation can no longer push, and its
 * COMMIT fails instead of being acknowledged for an entry nobody will
 * write.
 *
 * Ring positions are 64-bit byte counts that only grow: head is where the
 * next entry goes, tail is the start of the oldest entry not yet written to
 * the log; used = head - tail, and a position's byte is ring[pos % size].
 * Entries are MAXALIGNed and may wrap around the end of the ring.
 *
 * Lock protocol (the checkpointer's request queue is the model): one LWLock
 * per slot (named tranche "evlog"), plus one for the slot table.
 *	- Producers copy entries in at head under the slot lock held
 *	  exclusively, and set the worker's latch only after releasing it.  They
 *	  never wait while holding it: a full ring makes them sleep on the slot's
 *	  space condition variable, which the worker broadcasts after each batch.
 *	- An entry pushed at PRE_COMMIT is PENDING until its transaction ends;
 *	  the producer then marks it COMMITTED or ABORTED in place (state byte,
 *	  under the lock).  The worker stops at the first PENDING entry.
 *	- Only the slot's one worker moves tail, and only after the batch has
 *	  committed, so the bytes in [tail, head) are stable for it: it decides
 *	  how far to read under the lock and copies without it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lock.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/proc.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "queue.h"

struct EvlogQueueSlot
{
	LWLock	   *lock;
	Oid			dboid;			/* InvalidOid: free */
	char	   *ring;

	uint64		claim;			/* which claim of the slot (0: free) */
	uint32		generation;		/* bumped when the writer closes the queue */
	int			holders;		/* transactions joined, see above */

	/* the writer */
	int			worker_pid;
	Latch	   *worker_latch;
	TimestampTz writer_wanted_at;	/* asked the launcher for one (0: no) */
	int64		ticket_floor;	/* tickets <= this belong to an old epoch */

	/*
	 * Until the writer's first crash-accounting pass of this shared-memory
	 * lifetime has fixed where the old epoch ends, producers report the
	 * tickets they take: taking counts those between asking the sequence
	 * and reporting, min_new_ticket is the lowest reported (0: none).
	 */
	bool		boundary_fixed;
	int			taking;
	int64		min_new_ticket;

	/* positions */
	uint64		head;
	uint64		tail;
	uint64		pending;		/* entries in [tail, head) */
	uint64		flush_request;	/* flush at once until tail reaches this */

	/* not yet recorded durably by the worker */
	uint64		drops_unrecorded;
	int64		drop_first;
	int64		drop_last;
	uint64		abandoned;		/* tickets of rolled-back enqueues */

	EvlogQueueCounters counters;

	ConditionVariable space_cv; /* room freed in the ring */
	ConditionVariable flushed_cv;	/* tail advanced */
};

typedef struct EvlogQueueControl
{
	LWLock	   *lock;			/* slot table */
	int			nslots;
	Size		ring_size;
	uint64		next_claim;
	TimestampTz lifetime_start; /* when this shared memory was created */
	Latch	   *launcher_latch;	/* set to ask for a writer */
	EvlogQueueSlot slots[FLEXIBLE_ARRAY_MEMBER];
} EvlogQueueControl;

static EvlogQueueControl *queue_ctl = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
ring_size(void)
{
	return (Size) evlog_queue_size_kb * 1024;
}

static Size
control_size(void)
{
	return MAXALIGN(add_size(offsetof(EvlogQueueControl, slots),
							 mul_size(sizeof(EvlogQueueSlot), evlog_max_databases)));
}

static Size
queue_shmem_size(void)
{
	return add_size(control_size(), mul_size(ring_size(), evlog_max_databases));
}

static void
evlog_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(queue_shmem_size());
	RequestNamedLWLockTranche("evlog", evlog_max_databases + 1);
}

static void
evlog_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	queue_ctl = ShmemInitStruct("evlog queues", queue_shmem_size(), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche("evlog");
		char	   *rings = (char *) queue_ctl + control_size();

		queue_ctl->lock = &locks[0].lock;
		queue_ctl->nslots = evlog_max_databases;
		queue_ctl->ring_size = ring_size();
		queue_ctl->next_claim = 1;
		queue_ctl->lifetime_start = GetCurrentTimestamp();
		queue_ctl->launcher_latch = NULL;
		for (int i = 0; i < queue_ctl->nslots; i++)
		{
			EvlogQueueSlot *slot = &queue_ctl->slots[i];

			memset(slot, 0, sizeof(EvlogQueueSlot));
			slot->lock = &locks[i + 1].lock;
			slot->ring = rings + (Size) i * queue_ctl->ring_size;
			ConditionVariableInit(&slot->space_cv);
			ConditionVariableInit(&slot->flushed_cv);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
evlog_queue_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = evlog_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = evlog_shmem_startup;
}

bool
evlog_queue_enabled(void)
{
	return queue_ctl != NULL;
}

int
evlog_queue_nslots(void)
{
	return queue_ctl ? queue_ctl->nslots : 0;
}

static void
reset_slot(EvlogQueueSlot *slot, Oid dboid)
{
	slot->dboid = dboid;
	slot->claim = OidIsValid(dboid) ? queue_ctl->next_claim++ : 0;
	slot->holders = 0;
	slot->worker_pid = 0;
	slot->worker_latch = NULL;
	slot->writer_wanted_at = 0;
	slot->ticket_floor = 0;
	slot->boundary_fixed = false;
	slot->taking = 0;
	slot->min_new_ticket = 0;
	slot->head = slot->tail = slot->pending = slot->flush_request = 0;
	slot->drops_unrecorded = slot->abandoned = 0;
	slot->drop_first = slot->drop_last = 0;
	memset(&slot->counters, 0, sizeof(slot->counters));
}

/*
 * The slot of a database, claiming a free one if it has none; NULL if every
 * slot is in use.  Called with the slot table lock held exclusively.
 */
static EvlogQueueSlot *
find_or_claim(Oid dboid)
{
	EvlogQueueSlot *found = NULL;

	for (int i = 0; i < queue_ctl->nslots && !found; i++)
		if (queue_ctl->slots[i].dboid == dboid)
			found = &queue_ctl->slots[i];
	for (int i = 0; i < queue_ctl->nslots && !found; i++)
		if (!OidIsValid(queue_ctl->slots[i].dboid))
		{
			found = &queue_ctl->slots[i];
			LWLockAcquire(found->lock, LW_EXCLUSIVE);
			reset_slot(found, dboid);
			LWLockRelease(found->lock);
		}
	return found;
}

/* The writer's way in: the database's slot, claimed if need be, or NULL. */
EvlogQueueSlot *
evlog_queue_slot_claim(Oid dboid)
{
	EvlogQueueSlot *found;

	LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
	found = find_or_claim(dboid);
	LWLockRelease(queue_ctl->lock);
	return found;
}

/*
 * Join this database's queue for the rest of the transaction (the caller
 * leaves it with evlog_queue_leave when the transaction ends): the slot is
 * not released while we may still push into it.  *generation is the
 * generation we may push into; *report_tickets says whether the tickets we
 * take must be reported (evlog_queue_ticket_begin/end).
 */
EvlogQueueSlot *
evlog_queue_join(uint32 *generation, bool *report_tickets)
{
	EvlogQueueSlot *found = NULL;
	int			nslots = queue_ctl->nslots;

	/*
	 * Usually the queue exists: a shared lock on the slot table suffices,
	 * since claiming and releasing take it exclusively.
	 */
	LWLockAcquire(queue_ctl->lock, LW_SHARED);
	for (int i = 0; i < nslots && !found; i++)
		if (queue_ctl->slots[i].dboid == MyDatabaseId)
			found = &queue_ctl->slots[i];
	if (!found)
	{
		LWLockRelease(queue_ctl->lock);
		LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
		found = find_or_claim(MyDatabaseId);
	}
	if (found)
	{
		LWLockAcquire(found->lock, LW_EXCLUSIVE);
		found->holders++;
		*generation = found->generation;
		*report_tickets = !found->boundary_fixed;
		LWLockRelease(found->lock);
	}
	LWLockRelease(queue_ctl->lock);

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("every evlog queue is in use by another database"),
				 errdetail("evlog.max_databases is %d; a database holds a queue only while it has events queued or a transaction that enqueued is open.",
						   nslots),
				 errhint("Retry once other databases' queues have drained, or raise evlog.max_databases (needs a restart).")));
	return found;
}

/*
 * The last transaction to leave a queue that no writer serves and none was
 * asked for (nothing was pushed: the enqueues were rolled back, or the
 * writer idled out while the transaction was open) gives the queue back
 * itself, or asks for a writer when rolled-back tickets are left to record
 * (or the crash-accounting pass has not fixed the epoch's boundary yet):
 * otherwise the slot stayed taken with nobody to release it, for good if
 * the database was then dropped.
 */
void
evlog_queue_leave(EvlogQueueSlot *slot)
{
	Oid			dboid;
	uint64		claim;
	bool		unattended;
	bool		unrecorded;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	Assert(slot->holders > 0);
	slot->holders--;
	dboid = slot->dboid;
	claim = slot->claim;
	unattended = slot->holders == 0 && slot->worker_pid == 0 &&
		slot->writer_wanted_at == 0 && slot->head == slot->tail;
	unrecorded = slot->abandoned > 0 || slot->drops_unrecorded > 0 ||
		!slot->boundary_fixed;
	LWLockRelease(slot->lock);

	if (!unattended)
		return;
	if (unrecorded)
	{
		evlog_queue_want_writer(slot);
		return;
	}
	/* release_if_idle's conditions, for a slot without a writer */
	LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	unattended = slot->dboid == dboid && slot->claim == claim &&
		slot->holders == 0 && slot->taking == 0 && slot->worker_pid == 0 &&
		slot->writer_wanted_at == 0 && slot->head == slot->tail &&
		slot->drops_unrecorded == 0 && slot->abandoned == 0 &&
		slot->boundary_fixed;
	if (unattended)
		reset_slot(slot, InvalidOid);
	LWLockRelease(slot->lock);
	LWLockRelease(queue_ctl->lock);
	if (unattended)
	{
		ConditionVariableBroadcast(&slot->flushed_cv);
		ConditionVariableBroadcast(&slot->space_cv);
	}
}

/*
 * Around taking a ticket while the old epoch's end is not fixed yet: the
 * writer's first crash-accounting pass must know the lowest ticket of this
 * lifetime, and must not decide while one is being taken.  ticket 0: the
 * sequence failed.
 */
void
evlog_queue_ticket_begin(EvlogQueueSlot *slot)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	slot->taking++;
	LWLockRelease(slot->lock);
}

void
evlog_queue_ticket_end(EvlogQueueSlot *slot, int64 ticket)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	slot->taking--;
	if (ticket > 0 && (slot->min_new_ticket == 0 || ticket < slot->min_new_ticket))
		slot->min_new_ticket = ticket;
	LWLockRelease(slot->lock);
}

/* ---- the ring ---------------------------------------------------------- */

static void
ring_write(EvlogQueueSlot *slot, uint64 pos, const char *src, Size len)
{
	Size		size = queue_ctl->ring_size;
	Size		off = pos % size;
	Size		first = Min(len, size - off);

	memcpy(slot->ring + off, src, first);
	if (first < len)
		memcpy(slot->ring, src + first, len - first);
}

static void
ring_read(EvlogQueueSlot *slot, uint64 pos, char *dst, Size len)
{
	Size		size = queue_ctl->ring_size;
	Size		off = pos % size;
	Size		first = Min(len, size - off);

	memcpy(dst, slot->ring + off, first);
	if (first < len)
		memcpy(dst + first, slot->ring, len - first);
}

static void
read_header(EvlogQueueSlot *slot, uint64 pos, EvlogQueueEntry *hdr)
{
	ring_read(slot, pos, (char *) hdr, sizeof(EvlogQueueEntry));
}

static void
set_state(EvlogQueueSlot *slot, uint64 pos, uint8 state)
{
	slot->ring[(pos + offsetof(EvlogQueueEntry, state)) % queue_ctl->ring_size] = state;
}

/* ---- entries ----------------------------------------------------------- */

static Size
field_size(void *v)
{
	return v ? MAXALIGN(VARSIZE_ANY_EXHDR(v) + VARHDRSZ) : 0;
}

Size
evlog_entry_size(EvlogEvent *ev)
{
	return MAXALIGN(sizeof(EvlogQueueEntry)) + field_size(ev->kind) +
		field_size(ev->host_id) + field_size(ev->rollout_id) +
		field_size(ev->payload) + field_size(ev->event_id);
}

static char *
put_field(char *dst, void *v)
{
	Size		len;

	if (v == NULL)
		return dst;
	len = VARSIZE_ANY_EXHDR(v);
	SET_VARSIZE(dst, len + VARHDRSZ);
	memcpy(VARDATA(dst), VARDATA_ANY(v), len);
	return dst + MAXALIGN(len + VARHDRSZ);
}

/* Serialize an event into dst, which has evlog_entry_size(ev) bytes. */
void
evlog_entry_write(char *dst, EvlogEvent *ev, int64 ticket, uint8 state)
{
	EvlogQueueEntry *hdr = (EvlogQueueEntry *) dst;
	char	   *p = dst + MAXALIGN(sizeof(EvlogQueueEntry));

	memset(hdr, 0, sizeof(EvlogQueueEntry));
	hdr->len = evlog_entry_size(ev);
	hdr->state = state;
	hdr->flags = (ev->host_id ? EVLOG_ENTRY_HAS_HOST : 0) |
		(ev->rollout_id ? EVLOG_ENTRY_HAS_ROLLOUT : 0) |
		(ev->event_id ? EVLOG_ENTRY_HAS_EVENT_ID : 0);
	hdr->pid = MyProcPid;
	hdr->role = GetUserId();
	hdr->ticket = ticket;
	hdr->ts = ev->ts;
	hdr->enqueued_at = GetCurrentTimestamp();
	p = put_field(p, ev->kind);
	p = put_field(p, ev->host_id);
	p = put_field(p, ev->rollout_id);
	p = put_field(p, ev->payload);
	p = put_field(p, ev->event_id);
	Assert(p == dst + hdr->len);
}

static char *
get_field(char *p, void **v)
{
	*v = p;
	return p + MAXALIGN(VARSIZE(p));
}

/* Point ev's fields into a serialized entry (no copy). */
void
evlog_entry_decode(char *src, EvlogEvent *ev)
{
	EvlogQueueEntry *hdr = (EvlogQueueEntry *) src;
	char	   *p = src + MAXALIGN(sizeof(EvlogQueueEntry));
	void	   *v;

	memset(ev, 0, sizeof(EvlogEvent));
	ev->ts = hdr->ts;
	p = get_field(p, &v);
	ev->kind = v;
	if (hdr->flags & EVLOG_ENTRY_HAS_HOST)
	{
		p = get_field(p, &v);
		ev->host_id = v;
	}
	if (hdr->flags & EVLOG_ENTRY_HAS_ROLLOUT)
	{
		p = get_field(p, &v);
		ev->rollout_id = v;
	}
	p = get_field(p, &v);
	ev->payload = v;
	if (hdr->flags & EVLOG_ENTRY_HAS_EVENT_ID)
	{
		(void) get_field(p, &v);
		ev->event_id = v;
	}
}

/* ---- producer side ----------------------------------------------------- */

/*
 * Ask the launcher for a writer for this queue (it starts writers, so that
 * their number stays within evlog.max_writers).
 */
void
evlog_queue_want_writer(EvlogQueueSlot *slot)
{
	Latch	   *launcher = NULL;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->worker_pid == 0 && slot->writer_wanted_at == 0)
	{
		slot->writer_wanted_at = GetCurrentTimestamp();
		launcher = queue_ctl->launcher_latch;
	}
	LWLockRelease(slot->lock);
	if (launcher)
		SetLatch(launcher);
}

/*
 * Is the writer of the queue waiting, directly or through other waiting
 * backends, for a lock this backend holds?  Then waiting for it to make
 * room is a deadlock that PostgreSQL's detector cannot see (we wait on a
 * condition variable, not a lock).  Follows pg_blocking_pids() from the
 * writer, visiting a bounded number of backends.
 */
static bool
writer_waits_for_us(int writer_pid)
{
	int			todo[64];
	int			ntodo = 0;
	int			visited = 0;

	if (writer_pid == 0)
		return false;
	todo[ntodo++] = writer_pid;
	while (ntodo > 0 && visited < 64)
	{
		int			pid = todo[--ntodo];
		ArrayType  *arr;
		Datum	   *elems;
		int			nelems;

		visited++;
		arr = DatumGetArrayTypeP(DirectFunctionCall1(pg_blocking_pids,
													 Int32GetDatum(pid)));
		deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT,
						  &elems, NULL, &nelems);
		for (int i = 0; i < nelems; i++)
		{
			int			blocker = DatumGetInt32(elems[i]);

			if (blocker == MyProcPid)
				return true;
			if (ntodo < lengthof(todo))
				todo[ntodo++] = blocker;
		}
		pfree(elems);
		pfree(arr);
	}
	return false;
}

static bool
wake_worthy(EvlogQueueSlot *slot, uint64 start)
{
	return start == slot->tail ||
		slot->pending >= (uint64) evlog_batch_size ||
		slot->flush_request > slot->tail ||
		slot->head - slot->tail > queue_ctl->ring_size / 2;
}

/*
 * Copy len bytes holding nentries serialized entries into the queue.  A
 * full queue makes us wait (interruptibly) up to evlog.enqueue_timeout, then
 * error; under evlog.overflow = drop the entries are counted as dropped
 * instead and false is returned.  On success *start and *end delimit them.
 * tickets_above_floor: how many of their tickets belong to the current
 * crash-accounting epoch (see worker.c); only used when dropping.
 */
bool
evlog_queue_push(EvlogQueueSlot *slot, uint32 generation, const char *data,
				 Size len, int nentries, int64 first_ticket,
				 int64 last_ticket, uint64 *start, uint64 *end)
{
	TimestampTz deadline = 0;
	TimestampTz stmt_deadline = 0;
	TimestampTz next_check = 0;
	bool		sleeping = false;

	if (len > queue_ctl->ring_size)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("events do not fit in the evlog queue"),
				 errdetail("%d events take %zu bytes; evlog.queue_size is %zu bytes.",
						   nentries, len, queue_ctl->ring_size),
				 errhint("Commit fewer enqueued events per transaction, or raise evlog.queue_size.")));

	for (;;)
	{
		Latch	   *latch;
		bool		wake = false;
		long		remaining = -1;
		int			writer_pid;

		LWLockAcquire(slot->lock, LW_EXCLUSIVE);
		if (slot->generation != generation)
		{
			LWLockRelease(slot->lock);
			if (sleeping)
				ConditionVariableCancelSleep();
			ereport(ERROR,
					(errcode(ERRCODE_OPERATOR_INTERVENTION),
					 errmsg("evlog queue was closed before this transaction's events were queued"),
					 errdetail("The evlog writer of this database drained its queue and stopped (server shutdown, or the writer was terminated); %d enqueued events were not queued and will not be logged.",
							   nentries),
					 errhint("Run the transaction again: a new writer takes the queue over, or the server is shutting down.")));
		}
		if (queue_ctl->ring_size - (slot->head - slot->tail) >= len)
		{
			*start = slot->head;
			ring_write(slot, slot->head, data, len);
			slot->head += len;
			*end = slot->head;
			slot->pending += nentries;
			slot->counters.accepted += nentries;
			wake = wake_worthy(slot, *start);
			latch = slot->worker_latch;
			LWLockRelease(slot->lock);

			if (sleeping)
				ConditionVariableCancelSleep();
			if (latch == NULL)
				evlog_queue_want_writer(slot);
			else if (wake)
				SetLatch(latch);
			return true;
		}
		if (evlog_overflow == EVLOG_OVERFLOW_DROP)
		{
			if (slot->drops_unrecorded == 0 || first_ticket < slot->drop_first)
				slot->drop_first = first_ticket;
			if (slot->drops_unrecorded == 0 || last_ticket > slot->drop_last)
				slot->drop_last = last_ticket;
			slot->drops_unrecorded += nentries;
			slot->counters.dropped += nentries;
			slot->counters.accepted += nentries;
			latch = slot->worker_latch;
			LWLockRelease(slot->lock);
			if (sleeping)
				ConditionVariableCancelSleep();
			if (latch)
				SetLatch(latch);
			else
				evlog_queue_want_writer(slot);
			return false;
		}
		latch = slot->worker_latch;
		writer_pid = slot->worker_pid;
		LWLockRelease(slot->lock);

		/* full: have the worker flush now, then wait for room */
		if (latch)
			SetLatch(latch);
		else
			evlog_queue_want_writer(slot);

		/*
		 * A writer blocked by a lock we hold never makes room: fail like
		 * the deadlock detector would, checking as often as it would.
		 */
		if (sleeping && GetCurrentTimestamp() >= next_check)
		{
			next_check = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													 DeadlockTimeout);
			if (writer_waits_for_us(writer_pid))
			{
				ConditionVariableCancelSleep();
				ereport(ERROR,
						(errcode(ERRCODE_T_R_DEADLOCK_DETECTED),
						 errmsg("deadlock detected"),
						 errdetail("This transaction waits for room in the evlog queue, and the evlog writer (PID %d) that would make room waits for a lock this transaction holds; %d events were not queued.",
								   writer_pid, nentries),
						 errhint("Do not hold locks on evlog.event_log or on event_ids the queued events use while enqueuing into a full queue.")));
			}
		}

		if (!sleeping)
		{
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   evlog_enqueue_timeout_ms);

			/*
			 * At COMMIT the statement timer is already off (it is disabled
			 * before the commit starts), so honour statement_timeout here.
			 */
			if (StatementTimeout > 0)
				stmt_deadline = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(),
															StatementTimeout);
			ConditionVariablePrepareToSleep(&slot->space_cv);
			sleeping = true;
			continue;			/* re-check before the first sleep */
		}
		if (stmt_deadline != 0)
		{
			remaining = (long) ((stmt_deadline - GetCurrentTimestamp()) / 1000);
			if (remaining <= 0)
			{
				ConditionVariableCancelSleep();
				ereport(ERROR,
						(errcode(ERRCODE_QUERY_CANCELED),
						 errmsg("canceling statement due to statement timeout"),
						 errdetail("It was waiting for room in the evlog queue.")));
			}
		}
		if (evlog_enqueue_timeout_ms > 0)
		{
			long		left = (long) ((deadline - GetCurrentTimestamp()) / 1000);

			remaining = remaining < 0 ? left : Min(remaining, left);
			if (left <= 0)
			{
				ConditionVariableCancelSleep();
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
						 errmsg("evlog queue is full"),
						 errdetail("%d events (%zu bytes) waited %d ms for room in a queue of %zu bytes; they were not accepted.",
								   nentries, len, evlog_enqueue_timeout_ms,
								   queue_ctl->ring_size),
						 errhint("Check evlog.queue_status for the writer's last error, or raise evlog.queue_size or evlog.enqueue_timeout.")));
			}
		}
		if (remaining < 0 || remaining > DeadlockTimeout)
			remaining = DeadlockTimeout;
		(void) ConditionVariableTimedSleep(&slot->space_cv, remaining,
										   PG_WAIT_EXTENSION);
	}
}

/*
 * The transaction that pushed [start, end) as PENDING has ended: mark its
 * entries so the worker writes or skips them.
 */
void
evlog_queue_decide(EvlogQueueSlot *slot, uint64 start, uint64 end,
				   bool committed)
{
	Latch	   *latch;
	bool		wake;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	Assert(slot->tail <= start);
	for (uint64 pos = start; pos < end;)
	{
		EvlogQueueEntry hdr;

		read_header(slot, pos, &hdr);
		set_state(slot, pos, committed ? EVLOG_ENTRY_COMMITTED : EVLOG_ENTRY_ABORTED);
		pos += hdr.len;
	}
	wake = wake_worthy(slot, start);
	latch = slot->worker_latch;
	LWLockRelease(slot->lock);
	if (latch && wake)
		SetLatch(latch);
}

/* Record tickets handed out by enqueues that were rolled back. */
void
evlog_queue_add_abandoned(EvlogQueueSlot *slot, int64 *tickets, int n)
{
	uint64		count = 0;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	for (int i = 0; i < n; i++)
		if (tickets[i] > slot->ticket_floor)
			count++;
	slot->abandoned += count;
	LWLockRelease(slot->lock);
}

/*
 * Wait until the worker has written everything before pos (the tail has
 * passed it).  false on timeout (timeout_ms < 0: none).
 */
bool
evlog_queue_wait_flushed(uint64 claim, uint64 pos, long timeout_ms)
{
	EvlogQueueSlot *slot = NULL;
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	bool		done = false;
	bool		sleeping = false;

	for (;;)
	{
		Latch	   *latch;
		long		remaining = -1;

		/*
		 * A queue is released only once drained: if ours is gone (or was
		 * claimed again since), everything we queued into it was written.
		 */
		if (slot == NULL)
		{
			LWLockAcquire(queue_ctl->lock, LW_SHARED);
			for (int i = 0; i < queue_ctl->nslots && !slot; i++)
				if (queue_ctl->slots[i].claim == claim)
					slot = &queue_ctl->slots[i];
			LWLockRelease(queue_ctl->lock);
			if (slot == NULL)
			{
				done = true;
				break;
			}
		}
		LWLockAcquire(slot->lock, LW_EXCLUSIVE);
		done = slot->claim != claim || slot->tail >= pos;
		if (!done && slot->flush_request < pos)
			slot->flush_request = pos;
		latch = slot->worker_latch;
		LWLockRelease(slot->lock);
		if (done)
			break;
		if (latch)
			SetLatch(latch);
		else
			evlog_queue_want_writer(slot);

		if (!sleeping)
		{
			ConditionVariablePrepareToSleep(&slot->flushed_cv);
			sleeping = true;
			continue;
		}
		if (timeout_ms >= 0)
		{
			remaining = (long) ((deadline - GetCurrentTimestamp()) / 1000);
			if (remaining <= 0)
				break;
		}
		/* wake up now and then: a writer may have been started meanwhile */
		if (remaining < 0 || remaining > 1000)
			remaining = 1000;
		(void) ConditionVariableTimedSleep(&slot->flushed_cv, remaining,
										   PG_WAIT_EXTENSION);
	}
	if (sleeping)
		ConditionVariableCancelSleep();
	return done;
}

/* ---- worker side ------------------------------------------------------- */

static void
detach_worker(int code, Datum arg)
{
	EvlogQueueSlot *slot = (EvlogQueueSlot *) DatumGetPointer(arg);

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->worker_pid == MyProcPid)
	{
		slot->worker_pid = 0;
		slot->worker_latch = NULL;
		/* leaving work behind (making way): queue up behind earlier askers */
		if (slot->head != slot->tail || slot->drops_unrecorded > 0)
			slot->writer_wanted_at = GetCurrentTimestamp();
	}
	LWLockRelease(slot->lock);
}

/* Become the slot's writer; false if another live writer has it. */
bool
evlog_queue_attach_worker(EvlogQueueSlot *slot)
{
	bool		ok = false;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->worker_pid != 0 && slot->worker_pid != MyProcPid &&
		kill(slot->worker_pid, 0) != 0)
		slot->worker_pid = 0;	/* a writer that died without cleaning up */
	if (slot->worker_pid == 0)
	{
		slot->worker_pid = MyProcPid;
		slot->worker_latch = MyLatch;
		slot->writer_wanted_at = 0;
		ok = true;
	}
	LWLockRelease(slot->lock);
	if (ok)
		on_shmem_exit(detach_worker, PointerGetDatum(slot));
	return ok;
}

/*
 * Is a batch due?  If not, *sleep_ms is how long until one is (-1: until
 * woken).  draining: shutting down, write whatever is there.
 */
bool
evlog_queue_flush_due(EvlogQueueSlot *slot, long *sleep_ms, bool draining)
{
	bool		due = false;

	*sleep_ms = -1;
	LWLockAcquire(slot->lock, LW_SHARED);
	if (slot->pending == 0)
		due = slot->drops_unrecorded > 0;
	else if (draining || slot->pending >= (uint64) evlog_batch_size ||
			 slot->flush_request > slot->tail ||
			 slot->head - slot->tail > queue_ctl->ring_size / 2)
		due = true;
	else
	{
		EvlogQueueEntry hdr;
		TimestampTz now = GetCurrentTimestamp();
		TimestampTz at;

		read_header(slot, slot->tail, &hdr);
		at = TimestampTzPlusMilliseconds(hdr.enqueued_at, evlog_flush_interval_ms);
		if (at <= now)
			due = true;
		else
			*sleep_ms = (long) ((at - now) / 1000) + 1;
	}
	LWLockRelease(slot->lock);
	return due;
}

/*
 * Copy up to max_entries decided entries from the tail into batch (in the
 * current memory context), without consuming them.  Stops at the first
 * PENDING entry; if that is the very first, *blocked_pid is its producer.
 */
bool
evlog_queue_take(EvlogQueueSlot *slot, EvlogBatch *batch, int max_entries,
				 int *blocked_pid)
{
	uint64		pos;
	int			n = 0;
	int			naborted = 0;
	char	   *p;

	*blocked_pid = 0;
	LWLockAcquire(slot->lock, LW_SHARED);
	batch->start = pos = slot->tail;
	while (pos < slot->head && n < max_entries)
	{
		EvlogQueueEntry hdr;

		read_header(slot, pos, &hdr);
		if (hdr.state == EVLOG_ENTRY_PENDING)
		{
			if (n == 0)
				*blocked_pid = hdr.pid;
			break;
		}
		if (hdr.state == EVLOG_ENTRY_ABORTED)
			naborted++;
		pos += hdr.len;
		n++;
	}
	LWLockRelease(slot->lock);

	batch->end = pos;
	batch->nentries = n;
	batch->naborted = naborted;
	batch->nevents = 0;
	if (n == 0)
		return false;

	/* only we move the tail: these bytes stay put without the lock */
	batch->data = palloc(pos - batch->start);
	ring_read(slot, batch->start, batch->data, pos - batch->start);
	batch->events = palloc(sizeof(EvlogEvent) * n);
	batch->tickets = palloc(sizeof(int64) * n);
	batch->enqueued_at = palloc(sizeof(TimestampTz) * n);
	batch->roles = palloc(sizeof(Oid) * n);
	p = batch->data;
	for (int i = 0; i < n; i++)
	{
		EvlogQueueEntry *hdr = (EvlogQueueEntry *) p;

		if (hdr->state == EVLOG_ENTRY_COMMITTED)
		{
			evlog_entry_decode(p, &batch->events[batch->nevents]);
			batch->tickets[batch->nevents] = hdr->ticket;
			batch->enqueued_at[batch->nevents] = hdr->enqueued_at;
			batch->roles[batch->nevents] = hdr->role;
			batch->nevents++;
		}
		p += hdr->len;
	}
	return true;
}

/* The producer of the PENDING entry at the tail is gone: skip its entries. */
void
evlog_queue_abort_stale(EvlogQueueSlot *slot, int pid)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	for (uint64 pos = slot->tail; pos < slot->head;)
	{
		EvlogQueueEntry hdr;

		read_header(slot, pos, &hdr);
		if (hdr.state == EVLOG_ENTRY_PENDING && hdr.pid == pid)
			set_state(slot, pos, EVLOG_ENTRY_ABORTED);
		pos += hdr.len;
	}
	LWLockRelease(slot->lock);
}

/* A batch committed: consume it, count it, wake producers and flushers. */
void
evlog_queue_consumed(EvlogQueueSlot *slot, EvlogBatch *batch, int nflushed,
					 int ndead)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (batch)
	{
		Assert(slot->tail == batch->start);
		slot->tail = batch->end;
		slot->pending -= batch->nentries;
	}
	slot->counters.flushed += nflushed;
	slot->counters.dead_lettered += ndead;
	if (batch)
		slot->counters.batches++;
	slot->counters.last_flush_at = GetCurrentTimestamp();
	slot->counters.last_error[0] = '\0';
	LWLockRelease(slot->lock);
	ConditionVariableBroadcast(&slot->space_cv);
	ConditionVariableBroadcast(&slot->flushed_cv);
}

/*
 * Take over the drops and abandoned tickets not yet recorded, to record
 * them in the batch transaction; give them back with
 * evlog_queue_return_unrecorded if it fails.
 */
void
evlog_queue_take_unrecorded(EvlogQueueSlot *slot, EvlogUnrecorded *u)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	u->drops = slot->drops_unrecorded;
	u->drop_first = slot->drop_first;
	u->drop_last = slot->drop_last;
	u->abandoned = slot->abandoned;
	slot->drops_unrecorded = 0;
	slot->abandoned = 0;
	LWLockRelease(slot->lock);
}

void
evlog_queue_return_unrecorded(EvlogQueueSlot *slot, EvlogUnrecorded *u)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (u->drops > 0)
	{
		if (slot->drops_unrecorded == 0 || u->drop_first < slot->drop_first)
			slot->drop_first = u->drop_first;
		if (slot->drops_unrecorded == 0 || u->drop_last > slot->drop_last)
			slot->drop_last = u->drop_last;
		slot->drops_unrecorded += u->drops;
	}
	slot->abandoned += u->abandoned;
	LWLockRelease(slot->lock);
}

void
evlog_queue_note_error(EvlogQueueSlot *slot, const char *msg, bool retry)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	strlcpy(slot->counters.last_error, msg, sizeof(slot->counters.last_error));
	if (retry)
		slot->counters.retries++;
	LWLockRelease(slot->lock);
}

/*
 * First crash-accounting pass of this lifetime: last is the ticket
 * sequence's last value, read after the pass locked evlog.queue_state.
 * Fix where the old epoch ends: below the lowest ticket taken in this
 * lifetime, or at last if none was.  false while a producer is between
 * taking a ticket and reporting it (it may be lower than any reported):
 * read last again and retry.
 */
bool
evlog_queue_fix_boundary(EvlogQueueSlot *slot, int64 last, int64 *boundary)
{
	bool		ok;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	ok = slot->taking == 0;
	if (ok)
	{
		*boundary = slot->min_new_ticket > 0 ? slot->min_new_ticket - 1 : last;
		slot->boundary_fixed = true;
	}
	LWLockRelease(slot->lock);
	return ok;
}

/* Later claims of this lifetime: tickets need no reporting any more. */
void
evlog_queue_boundary_known(EvlogQueueSlot *slot)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	slot->boundary_fixed = true;
	LWLockRelease(slot->lock);
}

void
evlog_queue_add_crash_lost(EvlogQueueSlot *slot, uint64 lost)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	slot->counters.crash_lost += lost;
	LWLockRelease(slot->lock);
}

TimestampTz
evlog_queue_lifetime_start(void)
{
	return queue_ctl->lifetime_start;
}

/* Abandoned tickets or drops the writer has yet to record. */
bool
evlog_queue_has_unrecorded(EvlogQueueSlot *slot)
{
	bool		r;

	LWLockAcquire(slot->lock, LW_SHARED);
	r = slot->abandoned > 0 || slot->drops_unrecorded > 0;
	LWLockRelease(slot->lock);
	return r;
}

/*
 * Close the queue if it is drained: from now on producers that joined
 * before cannot push (see the file header).  floor is the ticket
 * sequence's last value read before this call: the new epoch's start.
 * Tickets taken after that read by producers of the old generation are
 * counted if rolled back (they are above the floor); those at or below it
 * are not, as they belong to the epoch being closed.
 */
bool
evlog_queue_close_if_drained(EvlogQueueSlot *slot, int64 floor)
{
	bool		closed = false;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->head == slot->tail && slot->drops_unrecorded == 0)
	{
		slot->generation++;
		slot->ticket_floor = floor;
		slot->abandoned = 0;
		closed = true;
	}
	LWLockRelease(slot->lock);
	return closed;
}

/*
 * Give the slot up if nothing is queued, nothing is left to record and no
 * transaction holds tickets for it; then detach the writer too.
 */
bool
evlog_queue_release_if_idle(EvlogQueueSlot *slot)
{
	bool		released = false;

	LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->head == slot->tail && slot->holders == 0 && slot->taking == 0 &&
		slot->drops_unrecorded == 0 && slot->abandoned == 0 &&
		slot->worker_pid == MyProcPid)
	{
		reset_slot(slot, InvalidOid);
		released = true;
	}
	LWLockRelease(slot->lock);
	LWLockRelease(queue_ctl->lock);
	if (released)
	{
		ConditionVariableBroadcast(&slot->flushed_cv);
		ConditionVariableBroadcast(&slot->space_cv);
	}
	return released;
}

/*
 * Does another queue wait for a writer while evlog.max_writers are busy?
 * Then this writer should make way.
 */
bool
evlog_queue_others_waiting(EvlogQueueSlot *slot)
{
	bool		waiting = false;
	int			writers = 0;

	for (int i = 0; i < queue_ctl->nslots; i++)
	{
		EvlogQueueSlot *s = &queue_ctl->slots[i];

		LWLockAcquire(s->lock, LW_SHARED);
		if (s->worker_pid != 0)
			writers++;
		else if (s != slot && OidIsValid(s->dboid) &&
				 (s->writer_wanted_at != 0 || s->head != s->tail))
			waiting = true;
		LWLockRelease(s->lock);
	}
	return waiting && writers >= evlog_max_writers;
}

/* ---- launcher side ------------------------------------------------------ */

void
evlog_queue_set_launcher(Latch *latch)
{
	LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
	queue_ctl->launcher_latch = latch;
	LWLockRelease(queue_ctl->lock);
}

/*
 * Databases whose queue needs a writer and has none, longest waiting first,
 * into dbs (evlog_queue_nslots() entries); returns how many.
 */
int
evlog_queue_wanted(Oid *dbs)
{
	TimestampTz *since = palloc(sizeof(TimestampTz) * queue_ctl->nslots);
	int			n = 0;

	for (int i = 0; i < queue_ctl->nslots; i++)
	{
		EvlogQueueSlot *s = &queue_ctl->slots[i];
		TimestampTz at = 0;
		Oid			dboid;

		LWLockAcquire(s->lock, LW_SHARED);
		dboid = s->dboid;
		if (OidIsValid(dboid) && s->worker_pid == 0)
		{
			if (s->writer_wanted_at != 0)
				at = s->writer_wanted_at;
			else if (s->head != s->tail || s->drops_unrecorded > 0)
				at = 1;			/* work and nobody asked: a writer left */
		}
		LWLockRelease(s->lock);
		if (at == 0)
			continue;
		/* insertion sort: there are at most evlog.max_databases */
		{
			int			j = n;

			while (j > 0 && since[j - 1] > at)
			{
				since[j] = since[j - 1];
				dbs[j] = dbs[j - 1];
				j--;
			}
			since[j] = at;
			dbs[j] = dboid;
			n++;
		}
	}
	pfree(since);
	return n;
}

/*
 * The database of a claimed slot is gone (dropped with events still queued
 * and no writer connected): nothing can write them any more.  Returns how
 * many were discarded.
 */
uint64
evlog_queue_discard(Oid dboid)
{
	uint64		n = 0;

	LWLockAcquire(queue_ctl->lock, LW_EXCLUSIVE);
	for (int i = 0; i < queue_ctl->nslots; i++)
	{
		EvlogQueueSlot *s = &queue_ctl->slots[i];

		LWLockAcquire(s->lock, LW_EXCLUSIVE);
		if (s->dboid == dboid && s->worker_pid == 0)
		{
			n += s->pending;
			reset_slot(s, InvalidOid);
		}
		LWLockRelease(s->lock);
	}
	LWLockRelease(queue_ctl->lock);
	return n;
}

/* A copy of slot index's state; stats->dboid is InvalidOid if unused. */
void
evlog_queue_stats(int index, EvlogQueueStats *stats)
{
	EvlogQueueSlot *slot = &queue_ctl->slots[index];

	LWLockAcquire(slot->lock, LW_SHARED);
	stats->dboid = slot->dboid;
	stats->capacity = queue_ctl->ring_size;
	stats->used = slot->head - slot->tail;
	stats->pending = slot->pending;
	stats->counters = slot->counters;
	stats->worker_pid = slot->worker_pid;
	LWLockRelease(slot->lock);
}

uint64
evlog_queue_claim_of(EvlogQueueSlot *slot)
{
	uint64		claim;

	LWLockAcquire(slot->lock, LW_SHARED);
	claim = slot->claim;
	LWLockRelease(slot->lock);
	return claim;
}

/*
 * evlog.test_pause_at: wait here until the advisory lock
 * pg_advisory_lock(EVLOG_TEST_PAUSE_KEY) of this database is free.  Inside
 * a transaction; a lock wait is interruptible and visible in pg_locks.
 */
void
evlog_test_pause(EvlogTestPause at)
{
	LOCKTAG		tag;

	if (evlog_test_pause_at != at)
		return;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, EVLOG_TEST_PAUSE_KEY, 1);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	LockRelease(&tag, ExclusiveLock, false);
}
