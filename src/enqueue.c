/*-------------------------------------------------------------------------
 *
 * enqueue.c
 *	  SQL entry points of asynchronous append: evlog_enqueue(...),
 *	  evlog_flush(timeout), evlog_queue_status(); and commit-time queuing.
 *
 * evlog_enqueue validates the event exactly as evlog_append does (event.c),
 * in the caller, then hands out a ticket from evlog.enqueue_ticket_seq
 * (durable and increasing across restarts; worker.c's crash accounting is
 * built on it) and queues the event for the database's writer.
 *
 * When is it queued?  evlog.enqueue_mode = commit (the default) keeps the
 * serialized entries in TopTransactionContext and pushes them into shared
 * memory at PRE_COMMIT, where waiting for room and raising an error are
 * still possible: a full queue makes the COMMIT wait or fail, never lose.
 * The entries go in PENDING; at COMMIT (after the commit record) or ABORT
 * the backend marks them COMMITTED or ABORTED, so a transaction that fails
 * after PRE_COMMIT still logs nothing.  This needs no transaction id, so an
 * enqueue-only transaction stays a read-only one (no commit record, no WAL
 * flush).  A rolled-back subtransaction takes its enqueues with it (a stack
 * of marks into the buffer, one per subtransaction level that enqueued).
 * PREPARE TRANSACTION with pending enqueues is refused.
 *
 * evlog.enqueue_mode = call queues at once, COMMITTED: the event survives
 * the caller's rollback (an audit trail of attempts).
 *
 * Either way the transaction joins its database's queue at its first
 * enqueue and leaves it when it ends (queue.c): the queue is not given
 * back while a ticket of ours may still be pushed, and a push into a queue
 * its writer closed in the meantime fails the COMMIT (or the call).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catcache.h"
#include "derive.h"
#include "event.h"
#include "log_writer.h"
#include "queue.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_enqueue_text);
PG_FUNCTION_INFO_V1(evlog_enqueue_jsonb);
PG_FUNCTION_INFO_V1(evlog_flush);
PG_FUNCTION_INFO_V1(evlog_queue_status);

/* Where a subtransaction level's enqueues start in the buffer. */
typedef struct SubMark
{
	int			level;
	int			len;
	int			nentries;
} SubMark;

/* This transaction's enqueues not yet pushed (commit mode). */
typedef struct PendingEnqueues
{
	StringInfoData buf;			/* serialized entries, back to back */
	int			nentries;
	SubMark    *marks;
	int			nmarks;
	int			maxmarks;
} PendingEnqueues;

static PendingEnqueues *pending = NULL;

/*
 * The queue this transaction joined at its first enqueue (it stays a
 * holder until the transaction ends), the generation it may push into, and
 * whether its tickets must be reported to the writer's crash accounting.
 */
static EvlogQueueSlot *xact_slot = NULL;
static uint32 xact_generation;
static bool xact_report_tickets;

/* pushed at PRE_COMMIT, to be marked at COMMIT or ABORT */
static bool block_pushed = false;
static uint64 block_start;
static uint64 block_end;

/*
 * End of the last entry this session got into the queue, and which claim
 * of the queue it went into (evlog_flush)
 */
static uint64 last_queued_end = 0;
static uint64 last_queued_claim = 0;

static bool callbacks_registered = false;

static void
require_queue(void)
{
	if (!evlog_queue_enabled())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog queue is not available"),
				 errdetail("Asynchronous append needs the evlog background writer and its shared memory."),
				 errhint("Add evlog to shared_preload_libraries in postgresql.conf and restart the server; evlog_append works without it.")));
}

/* ---- commit-mode buffer ------------------------------------------------ */

static PendingEnqueues *
get_pending(void)
{
	if (pending == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		pending = palloc0(sizeof(PendingEnqueues));
		initStringInfo(&pending->buf);
		pending->maxmarks = 4;
		pending->marks = palloc(sizeof(SubMark) * pending->maxmarks);
		MemoryContextSwitchTo(old);
	}
	return pending;
}

/*
 * Before enqueuing at nest level > 1: remember where each open level that
 * has no mark yet starts (nothing was enqueued at those levels so far, so
 * they all start at the current end).
 */
static void
mark_levels(PendingEnqueues *p)
{
	int			level = GetCurrentTransactionNestLevel();
	int			top = p->nmarks > 0 ? p->marks[p->nmarks - 1].level : 1;

	for (int l = top + 1; l <= level; l++)
	{
		if (p->nmarks == p->maxmarks)
		{
			p->maxmarks *= 2;
			p->marks = repalloc(p->marks, sizeof(SubMark) * p->maxmarks);
		}
		p->marks[p->nmarks].level = l;
		p->marks[p->nmarks].len = p->buf.len;
		p->marks[p->nmarks].nentries = p->nentries;
		p->nmarks++;
	}
}

/* Tickets of the entries in buf[from, to), palloc'd; returns the count. */
static int
collect_tickets(PendingEnqueues *p, int from, int to, int64 **tickets)
{
	int			n = 0;

	*tickets = palloc(sizeof(int64) * Max(p->nentries, 1));
	for (int pos = from; pos < to;)
	{
		EvlogQueueEntry *hdr = (EvlogQueueEntry *) (p->buf.data + pos);

		(*tickets)[n++] = hdr->ticket;
		pos += hdr->len;
	}
	return n;
}

static void
abandon(PendingEnqueues *p, int from)
{
	int64	   *tickets;
	int			n = collect_tickets(p, from, p->buf.len, &tickets);

	if (n > 0)
		evlog_queue_add_abandoned(xact_slot, tickets, n);
	pfree(tickets);
}

static void
evlog_enqueue_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg)
{
	int			level;
	SubMark    *top;

	if (pending == NULL || pending->nmarks == 0)
		return;
	level = GetCurrentTransactionNestLevel();
	top = &pending->marks[pending->nmarks - 1];
	if (top->level != level)
		return;

	switch (event)
	{
		case SUBXACT_EVENT_ABORT_SUB:
			abandon(pending, top->len);
			pending->buf.len = top->len;
			pending->buf.data[top->len] = '\0';
			pending->nentries = top->nentries;
			pending->nmarks--;
			break;
		case SUBXACT_EVENT_COMMIT_SUB:
			/* its entries now belong to the parent level */
			if (level - 1 > 1 &&
				(pending->nmarks < 2 || pending->marks[pending->nmarks - 2].level != level - 1))
				top->level = level - 1;
			else
				pending->nmarks--;
			break;
		default:
			break;
	}
}

static void
push_pending(void)
{
	PendingEnqueues *p = pending;
	EvlogQueueSlot *slot = xact_slot;
	int64	   *tickets;
	int			n = collect_tickets(p, 0, p->buf.len, &tickets);
	int64		first = tickets[0];
	int64		last = tickets[0];

	for (int i = 1; i < n; i++)
	{
		first = Min(first, tickets[i]);
		last = Max(last, tickets[i]);
	}
	pfree(tickets);

	evlog_test_pause(EVLOG_PAUSE_PRE_COMMIT_PUSH);
	if (evlog_queue_push(slot, xact_generation, p->buf.data, p->buf.len,
						 p->nentries, first, last, &block_start, &block_end))
		block_pushed = true;
	/* pushed or dropped and counted: either way no longer ours */
	pending = NULL;
}

/* Remember how far this session queued, for evlog_flush. */
static void
note_queued(uint64 end)
{
	uint64		claim = evlog_queue_claim_of(xact_slot);

	if (claim != last_queued_claim)
		last_queued_end = 0;
	last_queued_claim = claim;
	last_queued_end = Max(last_queued_end, end);
}

static void
leave_queue(void)
{
	if (xact_slot != NULL)
		evlog_queue_leave(xact_slot);
	xact_slot = NULL;
	block_pushed = false;
	pending = NULL;
}

static void
evlog_enqueue_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NULL && pending->nentries > 0)
				push_pending();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NULL && pending->nentries > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has enqueued evlog events"),
						 errdetail("Events enqueued with evlog.enqueue_mode = commit are queued when the transaction commits, which a prepared transaction does in another session."),
						 errhint("Use evlog_append in transactions you prepare, or set evlog.enqueue_mode = call.")));
			break;
		case XACT_EVENT_COMMIT:
			if (block_pushed)
			{
				evlog_queue_decide(xact_slot, block_start, block_end, true);
				note_queued(block_end);
			}
			leave_queue();
			break;
		case XACT_EVENT_ABORT:
			if (block_pushed)
				evlog_queue_decide(xact_slot, block_start, block_end, false);
			else if (pending != NULL && pending->nentries > 0)
				abandon(pending, 0);
			leave_queue();
			break;
		case XACT_EVENT_PREPARE:
			leave_queue();
			break;
		default:
			break;
	}
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(evlog_enqueue_xact_callback, NULL);
	RegisterSubXactCallback(evlog_enqueue_subxact_callback, NULL);
	callbacks_registered = true;
}

/* ---- evlog_enqueue ----------------------------------------------------- */

/* The next ticket, reported to the crash accounting while it asks. */
static int64
take_ticket(EvlogQueueSlot *slot)
{
	volatile int64 ticket = 0;

	if (!xact_report_tickets)
		return nextval_internal(evlog_relid("enqueue_ticket_seq"), false);

	evlog_queue_ticket_begin(slot);
	PG_TRY();
	{
		ticket = nextval_internal(evlog_relid("enqueue_ticket_seq"), false);
	}
	PG_FINALLY();
	{
		evlog_queue_ticket_end(slot, ticket);
	}
	PG_END_TRY();
	return ticket;
}

static int64
enqueue_one(EvlogEvent *ev)
{
	EvlogQueueSlot *slot;
	Size		size = evlog_entry_size(ev);
	int64		ticket;

	/* what evlog_append would refuse for its payload is refused now */
	(void) evlog_derive_check(ev, -1);
	register_callbacks();
	if (xact_slot == NULL)
		xact_slot = evlog_queue_join(&xact_generation, &xact_report_tickets);
	slot = xact_slot;
	ticket = take_ticket(slot);

	if (evlog_enqueue_mode == EVLOG_ENQUEUE_CALL)
	{
		char	   *buf = palloc(size);
		uint64		start;
		uint64		end;

		/*
		 * The ticket must be durable before the event can be: if this
		 * transaction rolls back, nothing else would flush the sequence's
		 * WAL, and after a crash the ticket could be handed out again.
		 * (Free when the sequence did not log, as 31 calls in 32 do not.)
		 */
		if (XactLastRecEnd != InvalidXLogRecPtr)
			XLogFlush(XactLastRecEnd);
		evlog_entry_write(buf, ev, ticket, EVLOG_ENTRY_COMMITTED);
		if (evlog_queue_push(slot, xact_generation, buf, size, 1, ticket,
							 ticket, &start, &end))
			note_queued(end);
		pfree(buf);
	}
	else
	{
		PendingEnqueues *p = get_pending();

		if (GetCurrentTransactionNestLevel() > 1)
			mark_levels(p);
		enlargeStringInfo(&p->buf, size);
		evlog_entry_write(p->buf.data + p->buf.len, ev, ticket,
						  EVLOG_ENTRY_PENDING);
		p->buf.len += size;
		p->nentries++;
	}
	return ticket;
}

Datum
evlog_enqueue_text(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	require_queue();
	evlog_event_from_values(fcinfo->args, &ev, EVLOG_ARG_EVENT_ID);
	ev.payload = evlog_parse_payload(PG_GETARG_TEXT_PP(EVLOG_ARG_PAYLOAD), -1);
	evlog_check_event_id(&ev);
	PG_RETURN_INT64(enqueue_one(&ev));
}

Datum
evlog_enqueue_jsonb(PG_FUNCTION_ARGS)
{
	EvlogEvent	ev;

	require_queue();
	evlog_event_from_values(fcinfo->args, &ev, EVLOG_ARG_EVENT_ID);
	ev.payload = PG_GETARG_JSONB_P(EVLOG_ARG_PAYLOAD);
	evlog_check_payload(ev.payload, -1);
	evlog_check_event_id(&ev);
	PG_RETURN_INT64(enqueue_one(&ev));
}

/* ---- evlog_flush ------------------------------------------------------- */

/*
 * evlog_flush(timeout interval): wait until every event this session got
 * into the queue (committed enqueues, or call-mode ones) is in the log or
 * dead-lettered.  NULL timeout: no limit.  Events enqueued in the still
 * open transaction (commit mode) are not in the queue yet.
 */
Datum
evlog_flush(PG_FUNCTION_ARGS)
{
	long		timeout_ms = -1;

	require_queue();
	if (!PG_ARGISNULL(0))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(0);
		double		ms = iv->time / 1000.0 +
			((double) iv->day + iv->month * (double) DAYS_PER_MONTH) * (double) (USECS_PER_DAY / 1000);

		timeout_ms = ms <= 0 ? 0 : (ms > (double) LONG_MAX ? LONG_MAX : (long) ms);
	}
	if (last_queued_end == 0)
		PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(evlog_queue_wait_flushed(last_queued_claim, last_queued_end,
											timeout_ms));
}

/* ---- evlog.queue_status ------------------------------------------------ */

Datum
evlog_queue_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		super = superuser();

	/*
	 * A role sees its own database's queue only, and the writer's last error
	 * (which may quote an event's payload or event_id) not at all; a
	 * superuser sees every database's queue, errors included.
	 */
	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < evlog_queue_nslots(); i++)
	{
		EvlogQueueStats st;
		Datum		values[16];
		bool		nulls[16] = {0};
		char	   *dbname;
		int			c = 0;

		evlog_queue_stats(i, &st);
		if (!OidIsValid(st.dboid) || (!super && st.dboid != MyDatabaseId))
			continue;
		dbname = get_database_name(st.dboid);
		values[c] = dbname ? DirectFunctionCall1(namein, CStringGetDatum(dbname)) : (Datum) 0;
		nulls[c++] = dbname == NULL;
		values[c++] = Int64GetDatum((int64) st.capacity);
		values[c++] = Int64GetDatum((int64) st.used);
		values[c++] = Int64GetDatum((int64) st.pending);
		values[c++] = Int64GetDatum((int64) st.counters.accepted);
		values[c++] = Int64GetDatum((int64) st.counters.flushed);
		values[c++] = Int64GetDatum((int64) st.counters.batches);
		values[c++] = Int64GetDatum((int64) st.counters.retries);
		values[c++] = Int64GetDatum((int64) st.counters.dead_lettered);
		values[c++] = Int64GetDatum((int64) st.counters.dropped);
		values[c++] = Int64GetDatum((int64) st.counters.crash_lost);
		values[c++] = Int64GetDatum((int64) (st.counters.dropped + st.counters.crash_lost));
		values[c] = super && st.counters.last_error[0] ? CStringGetTextDatum(st.counters.last_error) : (Datum) 0;
		nulls[c++] = !super || st.counters.last_error[0] == '\0';
		values[c] = TimestampTzGetDatum(st.counters.last_flush_at);
		nulls[c++] = st.counters.last_flush_at == 0;
		values[c] = Int32GetDatum(st.worker_pid);
		nulls[c++] = st.worker_pid == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
