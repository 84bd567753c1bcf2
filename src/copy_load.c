/*-------------------------------------------------------------------------
 *
 * copy_load.c
 *	  Loading events with plain COPY ... FROM (or INSERT ... SELECT): the
 *	  triggers of the view evlog.append_copy (1.4), which buffer its rows
 *	  and write them through the batch writer.
 *
 * The view has the columns of evlog_append(kind, ts, host_id, rollout_id,
 * payload jsonb, event_id), in that order, and no rows.  Three triggers on
 * it run evlog_append_copy_trigger:
 *
 *	  BEFORE INSERT FOR EACH STATEMENT   starts an empty load
 *	  INSTEAD OF INSERT FOR EACH ROW     validates the row and buffers it
 *	  AFTER INSERT FOR EACH STATEMENT    writes what is left, ends the load
 *
 * A row is validated by the code evlog_append(..., payload jsonb, ...) runs
 * (evlog_event_from_values, evlog_check_payload) and by the derived tables'
 * payload rules (evlog_derive_check, as the batch functions do), so it
 * raises the error its append would, before any seq is taken for it.  The
 * buffer is written, whenever it holds LOAD_MAX_EVENTS events or
 * LOAD_MAX_BYTES of tuple data, with evlog_writer_append_many: the path of
 * evlog_append_batch (multi-insert, event_id rules, a contiguous range of
 * seqs per write, the derived rows the log's AFTER ROW trigger makes).
 * Seqs follow input order.  An error anywhere aborts the statement, and
 * with it the rows already written: the load is all or nothing.
 *
 * The buffer lives in a context under TopTransactionContext, not in the
 * statement's memory: COPY resets its per-row context after each trigger
 * call, and the AFTER STATEMENT trigger runs from the after-trigger queue.
 * A (sub)transaction abort deletes it (the callbacks below), so a COPY
 * that failed and was rolled back to a savepoint leaves nothing for the
 * next one.  Loads do not nest: a statement inserting into the view while
 * another one is loading (from a trigger or derived-view handler fired by
 * its writes) is refused at its start.  Two INSERTs into the view in one
 * query (one in a WITH) make one load: PostgreSQL fires a relation's
 * statement triggers once per query.
 *
 * session_replication_role = replica: PostgreSQL fires no trigger of the
 * view then (origin triggers; a view's cannot be made ENABLE ALWAYS), so the
 * rows would be counted as inserted and dropped.  Wherever the library is
 * loaded (always, with shared_preload_libraries = 'evlog'), a permission
 * check hook refuses INSERT or COPY into the view in that mode first.
 *
 * Privileges: like every append path, the writer bypasses the executor's
 * permission checks on evlog.event_log.  The gate is INSERT on the view,
 * which the executor checks for COPY and INSERT alike and which
 * evlog_grant_writer grants.  So the trigger function refuses to run for
 * any relation but evlog's view: attached to a view of the caller's own,
 * it would write the log without that grant.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "catcache.h"
#include "copy_load.h"
#include "derive.h"
#include "event.h"
#include "log_writer.h"

PG_FUNCTION_INFO_V1(evlog_append_copy_trigger);

/*
 * A write per 1,000 events (or 1 MB of rows, for large payloads): the
 * writer's own multi-insert buffers hold 1,000 rows or 64 kB, and the
 * per-write costs (opening the log, taking the seqs) vanish at this size.
 */
#define LOAD_MAX_EVENTS		1000
#define LOAD_MAX_BYTES		(1024 * 1024)

/* the view's columns, in evlog_append's argument order (event.h) */
#define LOAD_NATTS			6

static const Oid load_types[LOAD_NATTS] = {
	TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID
};

typedef struct CopyLoad
{
	MemoryContext cxt;			/* the load's; under TopTransactionContext */
	MemoryContext rows_cxt;		/* buffered rows; reset after each write */
	MemoryContext write_cxt;	/* the writer's; reset after each write */
	SubTransactionId subid;		/* where the statement runs */
	int			max_events;
	int64		written;		/* rows of the statement written so far */
	int			n;
	int			ids;			/* buffered events with an event_id */
	Size		bytes;
	EvlogEvent	events[LOAD_MAX_EVENTS];
} CopyLoad;

/* the load in progress in this backend, or NULL */
static CopyLoad *load = NULL;
static bool callbacks_registered = false;

static void
discard_load(void)
{
	if (load == NULL)
		return;
	MemoryContextDelete(load->cxt);
	load = NULL;
}

static void
load_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/* every statement ends its load: rows left here would be lost */
			if (load != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg("a load into evlog.append_copy was not finished"),
						 errdetail("%d buffered events were not written.", load->n)));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			discard_load();
			break;
		default:
			/* commit: the memory went with TopTransactionContext */
			load = NULL;
			break;
	}
}

/*
 * Subtransaction ids grow within a transaction: the aborting one is the
 * one the load started in, or one of its ancestors.
 */
static void
load_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (load == NULL)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB && mySubid <= load->subid)
		discard_load();
	else if (event == SUBXACT_EVENT_COMMIT_SUB && mySubid == load->subid)
		load->subid = parentSubid;
}

/* the view's layout is what the row trigger reads by position */
static void
check_view_layout(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = desc->natts == LOAD_NATTS;

	for (int i = 0; ok && i < LOAD_NATTS; i++)
		ok = !TupleDescAttr(desc, i)->attisdropped &&
			TupleDescAttr(desc, i)->atttypid == load_types[i];
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("evlog.append_copy does not have the columns evlog expects"),
				 errdetail("Expected (kind text, ts timestamptz, host_id text, rollout_id text, payload jsonb, event_id text)."),
				 errhint("Reinstall the extension's view: it was changed after CREATE EXTENSION.")));
}

static void
begin_load(Relation rel)
{
	MemoryContext cxt;

	if (load != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a load into evlog.append_copy is already in progress"),
				 errdetail("A statement that inserts into evlog.append_copy cannot start while another one is loading, e.g. from a trigger or derived-view handler fired by the events it writes."),
				 errhint("Load the events in separate statements.")));
	check_view_layout(rel);
	if (!callbacks_registered)
	{
		RegisterXactCallback(load_xact_callback, NULL);
		RegisterSubXactCallback(load_subxact_callback, NULL);
		callbacks_registered = true;
	}

	cxt = AllocSetContextCreate(TopTransactionContext, "evlog append_copy load",
								ALLOCSET_DEFAULT_SIZES);
	load = MemoryContextAllocZero(cxt, sizeof(CopyLoad));
	load->cxt = cxt;
	load->rows_cxt = AllocSetContextCreate(cxt, "evlog append_copy rows",
										   ALLOCSET_DEFAULT_SIZES);
	load->write_cxt = AllocSetContextCreate(cxt, "evlog append_copy write",
											ALLOCSET_DEFAULT_SIZES);
	load->subid = GetCurrentSubTransactionId();
	/* a write is a batch: it stays within evlog.max_batch_entries */
	load->max_events = Max(Min(LOAD_MAX_EVENTS, evlog_max_batch_entries), 1);
}

/* the writer's fetch: every buffered event was validated when buffered */
static void
fetch_buffered(void *arg, int index, EvlogEvent *ev)
{
	*ev = ((CopyLoad *) arg)->events[index];
}

/*
 * The writer's errors name a buffered event as "entry i" of its batch: say
 * which row of the statement that is.
 */
static void
write_error_context(void *arg)
{
	CopyLoad   *l = (CopyLoad *) arg;

	errcontext("writing rows " INT64_FORMAT " to " INT64_FORMAT " of the load into evlog.append_copy (entry 0 is row " INT64_FORMAT ")",
			   l->written + 1, l->written + l->n, l->written + 1);
}

/*
 * Write the buffered events, in their order; the buffer is empty after.
 * more: the statement has more rows to come (the buffer is full).
 *
 * A load that writes more than once is a large batch written in pieces:
 * its event_ids are locked the way one call of that size would lock them
 * (log_writer.c), all at once with the lock that stands for every id,
 * from its first write that has one.  Piece by piece, a first piece with
 * few ids would take them one by one, and the pieces after it could then
 * run past the per-transaction limit whenever another session appends
 * with an event_id.
 */
static void
write_buffered(CopyLoad *l, bool more)
{
	MemoryContext old;
	EvlogWriter *writer;
	int64	   *seqs;
	ErrorContextCallback errcb;

	if (l->n == 0)
		return;
	errcb.callback = write_error_context;
	errcb.arg = l;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	old = MemoryContextSwitchTo(l->write_cxt);
	writer = evlog_writer_open();
	if (l->ids > 0 && (more || l->written > 0))
		evlog_writer_lock_all_event_ids(writer);
	seqs = palloc(l->n * sizeof(int64));
	evlog_writer_append_many(writer, l->n, fetch_buffered, l, seqs);
	evlog_writer_close(writer);
	MemoryContextSwitchTo(old);
	error_context_stack = errcb.previous;
	MemoryContextReset(l->write_cxt);
	MemoryContextReset(l->rows_cxt);
	l->written += l->n;
	l->n = 0;
	l->ids = 0;
	l->bytes = 0;
}

/*
 * Validate the row as evlog_append validates its arguments and buffer it.
 * The row is copied into the buffer's memory first (COPY frees it after
 * this call), and read there, so that values the checks detoast or unpack
 * stay with it.
 */
static void
buffer_row(CopyLoad *l, TriggerData *trigdata)
{
	TupleDesc	desc = RelationGetDescr(trigdata->tg_relation);
	MemoryContext old = MemoryContextSwitchTo(l->rows_cxt);
	HeapTuple	tuple = heap_copytuple(trigdata->tg_trigtuple);
	Datum		values[LOAD_NATTS];
	bool		nulls[LOAD_NATTS];
	NullableDatum args[LOAD_NATTS];
	EvlogEvent *ev = &l->events[l->n];

	heap_deform_tuple(tuple, desc, values, nulls);
	for (int i = 0; i < LOAD_NATTS; i++)
	{
		args[i].value = values[i];
		args[i].isnull = nulls[i];
	}
	evlog_event_from_values(args, ev, EVLOG_ARG_EVENT_ID);
	ev->payload = DatumGetJsonbP(args[EVLOG_ARG_PAYLOAD].value);
	evlog_check_payload(ev->payload, -1);
	ev->derives_nothing = !evlog_derive_check(ev, -1);
	ev->expect.stream = EVLOG_STREAM_NONE;
	ev->expect.seq = EVLOG_STREAM_EMPTY;
	MemoryContextSwitchTo(old);

	l->n++;
	/* what the buffer holds: values as detoasted, not the row's pointers */
	l->bytes += VARSIZE(ev->payload) + VARSIZE_ANY(ev->kind) +
		(ev->host_id ? VARSIZE_ANY(ev->host_id) : 0) +
		(ev->rollout_id ? VARSIZE_ANY(ev->rollout_id) : 0) +
		(ev->event_id ? VARSIZE_ANY(ev->event_id) : 0);
	l->ids += ev->event_id != NULL;
	if (l->n >= l->max_events || l->bytes >= LOAD_MAX_BYTES)
		write_buffered(l, true);
}

Datum
evlog_append_copy_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.append_copy_trigger() was not called by the trigger manager")));
	rel = trigdata->tg_relation;
	event = trigdata->tg_event;

	/*
	 * The writer skips the permission checks on the log: only INSERT on
	 * evlog's own view may lead to it.
	 */
	if (RelationGetRelid(rel) != evlog_relid("append_copy"))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("evlog.append_copy_trigger() fires only on evlog.append_copy"),
				 errdetail("It was fired by a trigger on \"%s\".", RelationGetRelationName(rel)),
				 errhint("Load events into evlog.append_copy itself; evlog_grant_writer() grants INSERT on it.")));
	if (!TRIGGER_FIRED_BY_INSERT(event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("evlog.append_copy_trigger() must be fired by INSERT")));

	if (TRIGGER_FIRED_FOR_STATEMENT(event) && TRIGGER_FIRED_BEFORE(event))
	{
		begin_load(rel);
		return PointerGetDatum(NULL);
	}
	if (TRIGGER_FIRED_FOR_ROW(event) && TRIGGER_FIRED_INSTEAD(event))
	{
		if (load == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("evlog.append_copy_trigger() fired for a row outside a load"),
					 errhint("The view's BEFORE INSERT FOR EACH STATEMENT trigger starts a load: it must be enabled.")));
		buffer_row(load, trigdata);

		/*
		 * The row counts as inserted: COPY and INSERT report it.  Returned
		 * as a copy (made in the trigger's per-row memory): the trigger
		 * manager frees its own tuple only when it gets another one back,
		 * and the statement would otherwise keep every row of the input.
		 */
		return PointerGetDatum(heap_copytuple(trigdata->tg_trigtuple));
	}
	if (TRIGGER_FIRED_FOR_STATEMENT(event) && TRIGGER_FIRED_AFTER(event))
	{
		/* a statement that inserted no row may find no load: nothing to do */
		if (load != NULL)
		{
			write_buffered(load, false);
			discard_load();
		}
		return PointerGetDatum(NULL);
	}
	ereport(ERROR,
			(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
			 errmsg("evlog.append_copy_trigger() must be fired BEFORE INSERT FOR EACH STATEMENT, INSTEAD OF INSERT FOR EACH ROW or AFTER INSERT FOR EACH STATEMENT")));
	return PointerGetDatum(NULL);		/* not reached */
}

static ExecutorCheckPerms_hook_type prev_check_perms = NULL;

/*
 * Refuse INSERT or COPY into evlog.append_copy under session_replication_role
 * = replica (see the header).  Costs nothing in any other mode.
 */
static bool
refuse_load_without_triggers(List *range_table, bool ereport_on_violation)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
	{
		ListCell   *lc;

		foreach(lc, range_table)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

			if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_VIEW ||
				!(rte->requiredPerms & ACL_INSERT))
				continue;
			if (rte->relid == evlog_relid_if_exists("append_copy"))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("cannot load into evlog.append_copy while session_replication_role is replica"),
						 errdetail("The view's triggers do not fire in that mode: its rows would be dropped."),
						 errhint("SET session_replication_role = origin for the load.")));
		}
	}
	return prev_check_perms == NULL || prev_check_perms(range_table, ereport_on_violation);
}

void
evlog_copy_load_init(void)
{
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = refuse_load_without_triggers;
}
