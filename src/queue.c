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
 * (or worker) of a database that needs it and kept until the server stops.
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
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "evlog.h"

struct EvlogQueueSlot
{
	LWLock	   *lock;
	Oid			dboid;			/* InvalidOid: free */
	char	   *ring;

	/* the writer */
	int			worker_pid;
	Latch	   *worker_latch;
	TimestampTz worker_requested_at;
	bool		recovered;		/* crash accounting done in this lifetime */
	int64		ticket_floor;	/* tickets <= this belong to an old epoch */

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

	/* counters */
	uint64		accepted;
	uint64		flushed;
	uint64		batches;
	uint64		retries;
	uint64		dead_lettered;
	uint64		dropped;
	uint64		crash_lost;
	TimestampTz last_flush_at;
	char		last_error[256];

	ConditionVariable space_cv; /* room freed in the ring */
	ConditionVariable flushed_cv;	/* tail advanced */
};

typedef struct EvlogQueueControl
{
	LWLock	   *lock;			/* slot table */
	int			nslots;
	Size		ring_size;
	EvlogQueueSlot slots[FLEXIBLE_ARRAY_MEMBER];
} EvlogQueueControl;

static EvlogQueueControl *queue_ctl = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's slot, once looked up */
static EvlogQueueSlot *my_slot = NULL;

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

int
evlog_queue_slot_index(EvlogQueueSlot *slot)
{
	return slot - queue_ctl->slots;
}

static void
reset_slot(EvlogQueueSlot *slot, Oid dboid)
{
	slot->dboid = dboid;
	slot->worker_pid = 0;
	slot->worker_latch = NULL;
	slot->worker_requested_at = 0;
	slot->recovered = false;
	slot->ticket_floor = PG_INT64_MAX;
	slot->head = slot->tail = slot->pending = slot->flush_request = 0;
	slot->drops_unrecorded = slot->abandoned = 0;
	slot->drop_first = slot->drop_last = 0;
	slot->accepted = slot->flushed = slot->batches = slot->retries = 0;
	slot->dead_lettered = slot->dropped = slot->crash_lost = 0;
	slot->last_flush_at = 0;
	slot->last_error[0] = '\0';
}

/*
 * The queue of a database; with create, claim a free slot for it if it has
 * none, and error if every slot is taken.  Returns NULL only without create.
 */
EvlogQueueSlot *
evlog_queue_slot(Oid dboid, bool create)
{
	EvlogQueueSlot *found = evlog_queue_slot_claim(dboid, create);

	if (!found && create)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("every evlog queue is in use by another database"),
				 errdetail("evlog.max_databases is %d.", queue_ctl->nslots),
				 errhint("Raise evlog.max_databases (needs a restart).")));
	return found;
}

/* As evlog_queue_slot, but NULL instead of an error when all are taken. */
EvlogQueueSlot *
evlog_queue_slot_claim(Oid dboid, bool create)
{
	EvlogQueueSlot *found = NULL;

	if (dboid == MyDatabaseId && my_slot != NULL)
		return my_slot;

	LWLockAcquire(queue_ctl->lock, create ? LW_EXCLUSIVE : LW_SHARED);
	for (int i = 0; i < queue_ctl->nslots && !found; i++)
		if (queue_ctl->slots[i].dboid == dboid)
			found = &queue_ctl->slots[i];
	if (!found && create)
	{
		for (int i = 0; i < queue_ctl->nslots && !found; i++)
			if (!OidIsValid(queue_ctl->slots[i].dboid))
			{
				found = &queue_ctl->slots[i];
				LWLockAcquire(found->lock, LW_EXCLUSIVE);
				reset_slot(found, dboid);
				LWLockRelease(found->lock);
			}
	}
	LWLockRelease(queue_ctl->lock);

	if (found && dboid == MyDatabaseId)
		my_slot = found;
	return found;
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
evlog_entry_write(char *dst, EvlogEvent *ev, int64 ticket, TransactionId xid,
				  uint8 state)
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
	hdr->xid = xid;
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
 * Make sure a writer runs for this queue: register one when none is
 * attached and none was asked for in the last few seconds.
 */
void
evlog_queue_ensure_worker(EvlogQueueSlot *slot)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		start = false;

	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	if (slot->worker_pid == 0 &&
		(slot->worker_requested_at == 0 ||
		 TimestampDifferenceExceeds(slot->worker_requested_at, now, 5000)))
	{
		slot->worker_requested_at = now;
		start = true;
	}
	LWLockRelease(slot->lock);
	if (start && !evlog_worker_start(slot->dboid))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the evlog writer for this database"),
				 errdetail("Queued events stay queued until a writer starts."),
				 errhint("Raise max_worker_processes.")));
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
evlog_queue_push(EvlogQueueSlot *slot, const char *data, Size len,
				 int nentries, int64 first_ticket, int64 last_ticket,
				 uint64 *start, uint64 *end)
{
	TimestampTz deadline = 0;
	TimestampTz stmt_deadline = 0;
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

		LWLockAcquire(slot->lock, LW_EXCLUSIVE);
		if (queue_ctl->ring_size - (slot->head - slot->tail) >= len)
		{
			*start = slot->head;
			ring_write(slot, slot->head, data, len);
			slot->head += len;
			*end = slot->head;
			slot->pending += nentries;
			slot->accepted += nentries;
			wake = wake_worthy(slot, *start);
			latch = slot->worker_latch;
			LWLockRelease(slot->lock);

			if (sleeping)
				ConditionVariableCancelSleep();
			if (latch == NULL)
				evlog_queue_ensure_worker(slot);
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
			slot->dropped += nentries;
			slot->accepted += nentries;
			latch = slot->worker_latch;
			LWLockRelease(slot->lock);
			if (sleeping)
				ConditionVariableCancelSleep();
			if (latch)
				SetLatch(latch);
			return false;
		}
		latch = slot->worker_latch;
		LWLockRelease(slot->lock);

		/* full: have the worker flush now, then wait for room */
		if (latch)
			SetLatch(latch);
		else
			evlog_queue_ensure_worker(slot);

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
evlog_queue_wait_flushed(EvlogQueueSlot *slot, uint64 pos, long timeout_ms)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   timeout_ms);
	bool		done = false;
	bool		sleeping = false;

	for (;;)
	{
		Latch	   *latch;
		long		remaining = -1;

		LWLockAcquire(slot->lock, LW_EXCLUSIVE);
		done = slot->tail >= pos;
		if (!done && slot->flush_request < pos)
			slot->flush_request = pos;
		latch = slot->worker_latch;
		LWLockRelease(slot->lock);
		if (done)
			break;
		if (latch)
			SetLatch(latch);
		else
			evlog_queue_ensure_worker(slot);

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
		/* wake up now and then: a worker may have been started meanwhile */
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
		slot->worker_requested_at = 0;
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
		slot->worker_requested_at = 0;
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
	slot->flushed += nflushed;
	slot->dead_lettered += ndead;
	if (batch)
		slot->batches++;
	slot->last_flush_at = GetCurrentTimestamp();
	slot->last_error[0] = '\0';
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
	strlcpy(slot->last_error, msg, sizeof(slot->last_error));
	if (retry)
		slot->retries++;
	LWLockRelease(slot->lock);
}

bool
evlog_queue_needs_recovery(EvlogQueueSlot *slot)
{
	bool		r;

	LWLockAcquire(slot->lock, LW_SHARED);
	r = !slot->recovered;
	LWLockRelease(slot->lock);
	return r;
}

/* Crash accounting is done: tickets <= floor belong to the old epoch. */
void
evlog_queue_set_recovered(EvlogQueueSlot *slot, int64 floor, uint64 lost)
{
	LWLockAcquire(slot->lock, LW_EXCLUSIVE);
	slot->recovered = true;
	slot->ticket_floor = floor;
	slot->crash_lost += lost;
	LWLockRelease(slot->lock);
}

/* Entries queued (not rolled back) with above < ticket <= upto. */
uint64
evlog_queue_count_tickets(EvlogQueueSlot *slot, int64 above, int64 upto)
{
	uint64		n = 0;

	LWLockAcquire(slot->lock, LW_SHARED);
	for (uint64 pos = slot->tail; pos < slot->head;)
	{
		EvlogQueueEntry hdr;

		read_header(slot, pos, &hdr);
		if (hdr.state != EVLOG_ENTRY_ABORTED &&
			hdr.ticket > above && hdr.ticket <= upto)
			n++;
		pos += hdr.len;
	}
	LWLockRelease(slot->lock);
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
	stats->accepted = slot->accepted;
	stats->flushed = slot->flushed;
	stats->batches = slot->batches;
	stats->retries = slot->retries;
	stats->dead_lettered = slot->dead_lettered;
	stats->dropped = slot->dropped;
	stats->crash_lost = slot->crash_lost;
	stats->last_flush_at = slot->last_flush_at;
	stats->worker_pid = slot->worker_pid;
	strlcpy(stats->last_error, slot->last_error, sizeof(stats->last_error));
	LWLockRelease(slot->lock);
}
