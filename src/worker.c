/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background workers that write queued events: one launcher, and one
 *	  writer per database that uses evlog.
 *
 * Launcher ("evlog launcher", static, registered from _PG_init when evlog
 * is preloaded): connects to no database and starts every writer, so that
 * at most evlog.max_writers run at once.  A backend that queues into a
 * database without a writer asks for one (queue.c sets the launcher's
 * latch); the launcher starts writers for the queues that asked, longest
 * waiting first, and for queues holding entries without a writer (one that
 * exited on an error or made way for another).  At every start it also
 * runs one crash-accounting pass per database (a writer with the
 * recovery_pass flag, which leaves at once unless it finds a loss or work),
 * within the same limit.  No database name is configured anywhere.
 *
 * Writers are registered BGW_NEVER_RESTART: a writer whose database was
 * dropped must not come back every few seconds; the launcher restarts the
 * ones that have work, and discards the queue of a database that no longer
 * exists.  A writer whose queue is empty for evlog.writer_idle_timeout
 * gives the queue back (when no transaction holds tickets for it) and
 * exits, so an idle database holds no connection that would make DROP
 * DATABASE, CREATE DATABASE ... TEMPLATE or ALTER DATABASE ... RENAME wait,
 * and no queue.  When other queues wait for a writer and evlog.max_writers
 * are busy, a writer leaves as soon as its queue is empty, or after
 * WRITER_TURN_MS of work.
 *
 * Writer loop: take up to evlog.batch_size entries, or wait until the
 * oldest has waited evlog.flush_interval (evlog_flush and a half-full ring
 * cut the wait short), and write them in ONE transaction with
 * flush_batch().  Entries are copied out without being consumed; the ring's
 * tail moves only after the commit, so an error or a crash of the writer
 * alone loses nothing.
 *
 * Flush failure: the transaction is aborted (PG_TRY + AbortCurrentTransaction,
 * per-batch memory context reset) and retried after an exponential backoff
 * (100 ms doubling to 10 s; waits on the latch until the deadline, never
 * spins).  Errors of classes that say "try later" (lock timeout, cancel,
 * serialization, out of resources, I/O) are retried for as long as they
 * last.  Any other error is retried once, then the batch is written entry
 * by entry, each in a subtransaction: an entry that still fails goes to
 * evlog.dead_letter with its error, the others land.
 *
 * Crash accounting (gap sentinels).  evlog.queue_state holds, per database,
 * an epoch: epoch_start_ticket and flushed_in_epoch (entries with a ticket
 * above it that are accounted for: written, dead-lettered, dropped and
 * recorded, or rolled back), updated in the same transaction as every
 * batch.  The first writer of a database in a shared-memory lifetime (the
 * epoch began before the shared memory was created) reports what the last
 * lifetime lost:
 *
 *	  lost <= (boundary - epoch_start_ticket) - flushed_in_epoch
 *
 * where boundary is just below the first ticket taken in this lifetime
 * (producers report their tickets until the pass has decided, queue.c), or
 * the sequence's last value if none was taken.  Every old-lifetime ticket
 * is at or below it and every new one above it, so events queued before
 * the pass belong to the new epoch, which starts at boundary.  It is an
 * upper bound: it also counts tickets of enqueues rolled back but not yet
 * recorded by the writer, of transactions cut off by the crash, and the up
 * to 32 values a sequence pre-logs.  A `gap` row gives the ticket range
 * and this count (exact = false).
 *
 * At shutdown (or when terminated) the writer drains the queue, reads the
 * sequence's last value, closes the queue if it is still empty (no
 * producer of the old generation can push any more: their COMMIT fails)
 * and starts a new epoch there, marked clean; so a clean restart reports
 * nothing.  Drops under evlog.overflow = drop are recorded as they happen,
 * with an exact count (exact = true).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "as_user.h"
#include "catcache.h"
#include "log_writer.h"
#include "queue.h"
#include "retention.h"
#include "util.h"
#include "worker.h"

PGDLLEXPORT void evlog_launcher_main(Datum main_arg);
PGDLLEXPORT void evlog_writer_main(Datum main_arg);

#define WRITER_TURN_MS			1000	/* see evlog.max_writers */
#define BACKOFF_MIN_MS			100
#define BACKOFF_MAX_MS			10000
#define NONTRANSIENT_TRIES		2	/* whole-batch attempts before isolating */
#define DRAIN_GIVE_UP_TRIES		8	/* at shutdown, stop retrying after this */

static EvlogQueueSlot *slot;
static MemoryContext batch_cxt;
static int64 epoch_floor;		/* tickets above this count in the epoch */

/* ---- registration ------------------------------------------------------ */

void
evlog_worker_register_launcher(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 5;
	strlcpy(bgw.bgw_library_name, "evlog", BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "evlog_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "evlog launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "evlog launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/* ---- launcher ---------------------------------------------------------- */

/* A writer the launcher started and has not seen exit yet. */
typedef struct RunningWriter
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} RunningWriter;

static List *running = NIL;		/* of RunningWriter, in TopMemoryContext */

/*
 * Start a writer for a database (recovery_pass: only the crash-accounting
 * pass, then leave unless there is work); false if no background worker
 * slot was free.  We are notified when it starts and stops.
 */
static bool
start_writer(Oid dboid, bool recovery_pass)
{
	BackgroundWorker bgw;
	BackgroundWorkerHandle *handle;
	RunningWriter *w;

	evlog_bgworker_init(&bgw, "evlog_writer_main", "evlog writer", dboid);
	bgw.bgw_notify_pid = MyProcPid;
	bgw.bgw_extra[0] = recovery_pass ? 1 : 0;
	if (!RegisterDynamicBackgroundWorker(&bgw, &handle))
		return false;
	w = MemoryContextAlloc(TopMemoryContext, sizeof(RunningWriter));
	w->dboid = dboid;
	w->handle = handle;
	running = lappend(running, w);
	return true;
}

/* Forget the writers that have exited. */
static void
prune_running(void)
{
	ListCell   *lc;

	foreach(lc, running)
	{
		RunningWriter *w = lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(w->handle, &pid) == BGWH_STOPPED)
		{
			running = foreach_delete_current(running, lc);
			pfree(w->handle);
			pfree(w);
		}
	}
}

static bool
writer_running(Oid dboid)
{
	ListCell   *lc;

	foreach(lc, running)
	{
		if (((RunningWriter *) lfirst(lc))->dboid == dboid)
			return true;
	}
	return false;
}

/* Every database (all), or those a writer may connect to. */
static List *
connectable_databases(bool all)
{
	List	   *dbs = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext outer = CurrentMemoryContext;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		/* templates are skipped: a writer there would block CREATE DATABASE */
		if (!all && (!db->datallowconn || db->datistemplate))
			continue;
		old = MemoryContextSwitchTo(outer);
		dbs = lappend_oid(dbs, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return dbs;
}

/*
 * Writers for queues that asked for one, longest waiting first, then the
 * crash-accounting passes still to do (*recovery), as long as fewer than
 * evlog.max_writers run.
 */
static void
start_writers(List **recovery)
{
	Oid		   *wanted = palloc(sizeof(Oid) * evlog_queue_nslots());
	int			n = evlog_queue_wanted(wanted);
	List	   *exist = n > 0 ? connectable_databases(true) : NIL;

	for (int i = 0; i < n; i++)
	{
		if (!list_member_oid(exist, wanted[i]))
		{
			uint64		lost = evlog_queue_discard(wanted[i]);

			ereport(WARNING,
					(errmsg("evlog launcher: discarded " UINT64_FORMAT " queued events of dropped database %u",
							lost, wanted[i])));
			continue;
		}
		if (writer_running(wanted[i]))
			continue;
		if (list_length(running) >= evlog_max_writers ||
			!start_writer(wanted[i], false))
			break;
	}
	while (*recovery != NIL && list_length(running) < evlog_max_writers)
	{
		Oid			dboid = linitial_oid(*recovery);

		if (!writer_running(dboid) && !start_writer(dboid, true))
			break;
		*recovery = list_delete_first(*recovery);
	}
	list_free(exist);
	pfree(wanted);
}

void
evlog_launcher_main(Datum main_arg)
{
	List	   *recovery;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	/*
	 * Every database gets one crash-accounting pass per start (a writer that
	 * reports what the last lifetime lost, then leaves); otherwise writers
	 * run only where events are queued.
	 */
	evlog_queue_set_launcher(MyLatch);
	recovery = connectable_databases(false);
	while (!ShutdownRequestPending)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		prune_running();
		start_writers(&recovery);

		/* scheduled retention, when evlog.retention is set (retention.c) */
		if (evlog_retention_due())
		{
			List	   *dbs = connectable_databases(false);

			evlog_retention_start_round(dbs);
			list_free(dbs);
		}

		/* woken by producers asking for a writer, and writers starting or exiting */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	evlog_queue_set_launcher(NULL);

	/*
	 * 1: restart me.  At server shutdown the postmaster does not; if someone
	 * terminated just this process, it comes back in 5 s (and redoes the
	 * crash-accounting passes, which find nothing new).
	 */
	proc_exit(1);
}

/* ---- writing ----------------------------------------------------------- */

/*
 * Write n events to the log in the current transaction.  The writer's one
 * call site for events; evlog_writer_append_many() replaces the loop.
 */
/* EvlogFetchEvent over an array of events already copied out of the ring */
static void
fetch_queued_event(void *arg, int index, EvlogEvent *event)
{
	*event = ((EvlogEvent *) arg)[index];
}

static void
flush_batch(EvlogEvent *events, int n)
{
	EvlogWriter *w = evlog_writer_open();
	int64	   *seqs = palloc(sizeof(int64) * n);

	/* the COPY-style multi-insert path evlog_append_batch uses */
	evlog_writer_append_many(w, n, fetch_queued_event, events, seqs);
	evlog_writer_close(w);
	pfree(seqs);
}

static bool
transient_error(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_CONNECTION_EXCEPTION:
		case ERRCODE_TRANSACTION_ROLLBACK:
		case ERRCODE_INSUFFICIENT_RESOURCES:
		case ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE:
		case ERRCODE_OPERATOR_INTERVENTION:
		case ERRCODE_SYSTEM_ERROR:
			return true;
		default:
			return false;
	}
}

static void
set_lock_timeout(void)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%d", evlog_flush_lock_timeout_ms);
	SetConfigOption("lock_timeout", buf, PGC_SUSET, PGC_S_OVERRIDE);
}

static Jsonb *
json_payload(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

/* Append a gap row describing lost tickets (first..last bound them). */
static void
write_gap(const char *reason, int64 first, int64 last, uint64 count, bool exact,
		  const char *extra)
{
	EvlogEvent	gap;

	memset(&gap, 0, sizeof(gap));
	gap.kind = cstring_to_text("gap");
	gap.ts = GetCurrentTimestamp();
	gap.payload = json_payload(psprintf("{\"reason\": \"%s\", \"first_ticket\": " INT64_FORMAT
										", \"last_ticket\": " INT64_FORMAT
										", \"count\": " UINT64_FORMAT
										", \"exact\": %s%s}",
										reason, first, last, count,
										exact ? "true" : "false", extra ? extra : ""));
	flush_batch(&gap, 1);
}

/*
 * Record an event the writer could not append.  From 1.2 on the row names
 * the role that enqueued it (evlog.my_dead_letters shows a role its own);
 * a database still at 1.1 has no such column, and gets the row without.
 */
static void
dead_letter(EvlogEvent *ev, int64 ticket, TimestampTz enqueued_at, Oid role,
			ErrorData *edata)
{
	Oid			types[11] = {INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID,
	JSONBOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[11];
	char		nulls[11];
	bool		has_role = get_attnum(evlog_relid("dead_letter"), "enqueued_by") != InvalidAttrNumber;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(ticket);
	values[1] = PointerGetDatum(ev->kind);
	values[2] = TimestampTzGetDatum(ev->ts);
	values[3] = PointerGetDatum(ev->host_id);
	nulls[3] = ev->host_id ? ' ' : 'n';
	values[4] = PointerGetDatum(ev->rollout_id);
	nulls[4] = ev->rollout_id ? ' ' : 'n';
	values[5] = JsonbPGetDatum(ev->payload);
	values[6] = PointerGetDatum(ev->event_id);
	nulls[6] = ev->event_id ? ' ' : 'n';
	values[7] = TimestampTzGetDatum(enqueued_at);
	values[8] = CStringGetTextDatum(edata->message ? edata->message : "unknown error");
	values[9] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	values[10] = ObjectIdGetDatum(role);
	SPI_connect();
	if (has_role)
		evlog_spi_exec_args("INSERT INTO evlog.dead_letter (ticket, kind, ts, host_id, rollout_id, payload,"
							" event_id, enqueued_at, error, sqlstate, enqueued_by)"
							" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
							11, types, values, nulls, EVLOG_SPI_ANY);
	else
		evlog_spi_exec_args("INSERT INTO evlog.dead_letter (ticket, kind, ts, host_id, rollout_id, payload,"
							" event_id, enqueued_at, error, sqlstate)"
							" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
							10, types, values, nulls, EVLOG_SPI_ANY);
	SPI_finish();
}

/*
 * Write the batch entry by entry, each in a subtransaction; an entry that
 * fails with a non-transient error goes to evlog.dead_letter.  A transient
 * error is re-thrown: the whole batch is retried later.
 */
static void
isolate_batch(EvlogBatch *batch, int *nflushed, int *ndead)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	for (int i = 0; i < batch->nevents; i++)
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			flush_batch(&batch->events[i], 1);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			(*nflushed)++;
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(cxt);
			CurrentResourceOwner = owner;
			if (transient_error(edata->sqlerrcode))
				ReThrowError(edata);
			ereport(LOG,
					(errmsg("evlog writer: event with ticket " INT64_FORMAT " moved to evlog.dead_letter",
							batch->tickets[i]),
					 errdetail_internal("%s", edata->message)));
			dead_letter(&batch->events[i], batch->tickets[i],
						batch->enqueued_at[i], batch->roles[i], edata);
			(*ndead)++;
		}
		PG_END_TRY();
	}
}

/* Tickets of the batch's entries (written, dead or rolled back) in the epoch. */
static uint64
accounted_in_epoch(EvlogBatch *batch)
{
	uint64		n = 0;
	char	   *p = batch->data;

	for (int i = 0; i < batch->nentries; i++)
	{
		EvlogQueueEntry *hdr = (EvlogQueueEntry *) p;

		if (hdr->ticket > epoch_floor)
			n++;
		p += hdr->len;
	}
	return n;
}

typedef enum
{
	BATCH_OK,
	BATCH_FAILED_TRANSIENT,
	BATCH_FAILED
} BatchResult;

/*
 * One attempt at writing a batch (or, with batch NULL, only the unrecorded
 * drops) in one transaction.
 */
static BatchResult
try_batch(EvlogBatch *batch, bool isolate)
{
	EvlogUnrecorded u;
	volatile BatchResult result = BATCH_OK;
	volatile int nflushed = 0;
	volatile int ndead = 0;

	evlog_queue_take_unrecorded(slot, &u);
	PG_TRY();
	{
		uint64		accounted = u.abandoned;

		evlog_worker_xact_begin("evlog: writing a batch");

		if (batch != NULL)
		{
			if (isolate)
				isolate_batch(batch, (int *) &nflushed, (int *) &ndead);
			else
			{
				flush_batch(batch->events, batch->nevents);
				nflushed = batch->nevents;
			}
			accounted += accounted_in_epoch(batch);
		}
		if (u.drops > 0)
		{
			write_gap("dropped", u.drop_first, u.drop_last, u.drops, true, NULL);
			if (u.drop_first > epoch_floor)
				accounted += u.drops;
		}
		if (accounted > 0)
		{
			Oid			types[1] = {INT8OID};
			Datum		values[1] = {Int64GetDatum((int64) accounted)};

			SPI_connect();
			evlog_spi_exec_args("UPDATE evlog.queue_state SET flushed_in_epoch = flushed_in_epoch OPERATOR(pg_catalog.+) $1",
								1, types, values, NULL, EVLOG_SPI_ANY);
			SPI_finish();
		}
		evlog_worker_xact_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(batch_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		evlog_queue_return_unrecorded(slot, &u);
		evlog_queue_note_error(slot, edata->message, true);
		ereport(LOG,
				(errmsg("evlog writer: batch of %d events failed, will retry: %s",
						batch ? batch->nevents : 0, edata->message)));
		result = transient_error(edata->sqlerrcode) ? BATCH_FAILED_TRANSIENT : BATCH_FAILED;
	}
	PG_END_TRY();

	if (result == BATCH_OK)
		evlog_queue_consumed(slot, batch, nflushed, ndead);
	return result;
}

/* Wait until a deadline however often the latch is set; never spins. */
static void
sleep_until(TimestampTz deadline)
{
	for (;;)
	{
		long		ms = (long) ((deadline - GetCurrentTimestamp()) / 1000);

		if (ms <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static bool
extension_present(void)
{
	bool		present;

	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("evlog", true));
	CommitTransactionCommand();
	return present;
}

/*
 * Take one batch and write it, retrying until it lands.  Returns false if
 * nothing could be taken (*blocked_pid: the producer whose uncommitted
 * entries are at the head, if any).
 */
static bool
write_next_batch(int *blocked_pid)
{
	EvlogBatch	batch;
	int			attempt = 0;
	bool		isolate = false;
	bool		took;

	MemoryContextReset(batch_cxt);
	MemoryContextSwitchTo(batch_cxt);
	took = evlog_queue_take(slot, &batch, evlog_batch_size, blocked_pid);
	if (!took && *blocked_pid != 0)
	{
		MemoryContextSwitchTo(TopMemoryContext);
		return false;
	}

	for (;;)
	{
		BatchResult r = try_batch(took ? &batch : NULL, isolate);
		int			backoff;

		if (r == BATCH_OK)
			break;
		attempt++;

		/*
		 * DROP EXTENSION took the log with it: nothing can be written or
		 * recorded any more.  Say what is discarded and move on.
		 */
		if (!extension_present())
		{
			ereport(WARNING,
					(errmsg("evlog writer: discarding %d queued events: the evlog extension was dropped",
							took ? batch.nevents : 0),
					 took && batch.nevents > 0 ?
					 errdetail("Tickets " INT64_FORMAT " to " INT64_FORMAT " are lost.",
							   batch.tickets[0], batch.tickets[batch.nevents - 1]) : 0));
			if (took)
				evlog_queue_consumed(slot, &batch, 0, 0);
			break;
		}
		if (r == BATCH_FAILED && attempt >= NONTRANSIENT_TRIES)
			isolate = true;
		if (ShutdownRequestPending && attempt >= DRAIN_GIVE_UP_TRIES)
		{
			ereport(LOG,
					(errmsg("evlog writer: giving up on %d queued events at shutdown",
							took ? batch.nevents : 0),
					 errdetail("They will be reported as a gap after the next start.")));
			proc_exit(0);
		}
		backoff = BACKOFF_MIN_MS << Min(attempt - 1, 7);
		sleep_until(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												Min(backoff, BACKOFF_MAX_MS)));
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			set_lock_timeout();
		}
	}
	MemoryContextSwitchTo(TopMemoryContext);
	return took;
}

/* ---- crash accounting --------------------------------------------------- */

/* The ticket sequence's last value handed out (0: none yet). */
static int64
last_ticket(void)
{
	bool		isnull;
	int64		last;
	bool		called;

	evlog_spi_exec_args("SELECT last_value, is_called FROM evlog.enqueue_ticket_seq", 0, NULL, NULL, NULL, EVLOG_SPI_ANY);
	last = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return called ? last : last - 1;
}

/*
 * First attach in this shared-memory lifetime (the epoch began before the
 * shared memory was created): report what the last lifetime lost, then
 * start a new epoch.  Later attaches just load the epoch.  Returns how
 * many it reported lost.
 *
 * The old epoch ends below the first ticket taken in this lifetime, which
 * producers report until we have decided (evlog_queue_fix_boundary):
 * events queued before this pass belong to the new epoch and are counted
 * if a later crash loses them.
 */
static uint64
recover(void)
{
	bool		first = false;
	uint64		lost = 0;

	evlog_worker_xact_begin("evlog: crash accounting");
	evlog_test_pause(EVLOG_PAUSE_WRITER_RECOVERY);
	SPI_connect();
	evlog_spi_exec_args("SELECT epoch_start_ticket, flushed_in_epoch, clean_shutdown, epoch_started_at"
						" FROM evlog.queue_state FOR UPDATE", 0, NULL, NULL, NULL, EVLOG_SPI_ANY);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("evlog.queue_state must hold exactly one row")));
	{
		HeapTuple	tup = SPI_copytuple(SPI_tuptable->vals[0]);
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		start_null;
		bool		at_null;
		bool		isnull;
		int64		start = DatumGetInt64(SPI_getbinval(tup, desc, 1, &start_null));
		int64		flushed = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		bool		clean = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &at_null));

		first = at_null || at < evlog_queue_lifetime_start();
		if (!first)
		{
			epoch_floor = start_null ? 0 : start;
			evlog_queue_boundary_known(slot);
		}
		else
		{
			int64		boundary;

			while (!evlog_queue_fix_boundary(slot, last_ticket(), &boundary))
			{
				/* a producer is taking a ticket: it takes microseconds */
				(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 10L, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
			}
			if (!start_null && boundary - start - flushed > 0)
				lost = (uint64) (boundary - start - flushed);
			if (lost > 0)
			{
				write_gap("crash", start + 1, boundary, lost, false,
						  clean ? ", \"after_clean_shutdown\": true" : ", \"after_clean_shutdown\": false");
				ereport(LOG,
						(errmsg("evlog writer: up to " UINT64_FORMAT " queued events were lost (tickets " INT64_FORMAT " to " INT64_FORMAT "); recorded a gap",
								lost, start + 1, boundary)));
			}
			{
				Oid			types[1] = {INT8OID};
				Datum		values[1] = {Int64GetDatum(boundary)};

				evlog_spi_exec_args("UPDATE evlog.queue_state SET epoch_start_ticket = $1,"
									" flushed_in_epoch = 0, clean_shutdown = false,"
									" epoch_started_at = pg_catalog.now()", 1, types, values, NULL, EVLOG_SPI_ANY);
			}
			epoch_floor = boundary;
		}
	}
	SPI_finish();
	evlog_worker_xact_end();
	if (lost > 0)
		evlog_queue_add_crash_lost(slot, lost);
	return lost;
}

/*
 * Drained at shutdown: close the queue and start a new epoch, marked clean.
 * The epoch's start is read before closing, so every ticket a producer
 * takes after closing is above it.  false if entries arrived meanwhile:
 * drain them first.
 */
static bool
close_and_mark_clean(void)
{
	int64		last;
	bool		closed;

	evlog_worker_xact_begin(NULL);
	SPI_connect();
	last = last_ticket();
	closed = evlog_queue_close_if_drained(slot, last);
	if (closed)
	{
		Oid			types[1] = {INT8OID};
		Datum		values[1] = {Int64GetDatum(last)};

		evlog_spi_exec_args("UPDATE evlog.queue_state SET epoch_start_ticket = $1,"
							" flushed_in_epoch = 0, clean_shutdown = true,"
							" epoch_started_at = pg_catalog.now()", 1, types, values, NULL, EVLOG_SPI_ANY);
	}
	SPI_finish();
	evlog_worker_xact_end();
	return closed;
}

/* ---- writer main ------------------------------------------------------- */

void
evlog_writer_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	bool		recovery_pass = MyBgworkerEntry->bgw_extra[0] != 0;
	TimestampTz started = GetCurrentTimestamp();
	TimestampTz idle_since;

	evlog_worker_connect(dboid, "evlog writer", true);

	if (!extension_present())
	{
		uint64		n = evlog_queue_discard(dboid);

		if (n > 0)
			ereport(WARNING,
					(errmsg("evlog writer: discarding " UINT64_FORMAT " queued events: the evlog extension was dropped", n)));
		proc_exit(0);
	}
	slot = evlog_queue_slot_claim(dboid);
	if (slot == NULL)
	{
		ereport(LOG,
				(errmsg("evlog writer: no queue left for database %u", dboid),
				 errhint("Raise evlog.max_databases (needs a restart) to use evlog_enqueue in more databases at once.")));
		proc_exit(0);
	}
	if (!evlog_queue_attach_worker(slot))
		proc_exit(0);			/* another writer has this database */

	batch_cxt = AllocSetContextCreate(TopMemoryContext, "evlog batch",
									  ALLOCSET_DEFAULT_SIZES);
	set_lock_timeout();
	/*
	 * A pass that found nothing to report leaves at once; one that did
	 * keeps the queue (and its crash_lost in evlog.queue_status) until it
	 * idles out.
	 */
	if (recover() == 0 && recovery_pass && evlog_queue_release_if_idle(slot))
		proc_exit(0);

	idle_since = GetCurrentTimestamp();
	for (;;)
	{
		long		sleep_ms;
		bool		draining;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			set_lock_timeout();
		}
		draining = ShutdownRequestPending;

		if (evlog_queue_flush_due(slot, &sleep_ms, draining))
		{
			int			blocked_pid;

			if (write_next_batch(&blocked_pid) || blocked_pid == 0)
			{
				TimestampTz now = GetCurrentTimestamp();

				/*
				 * Take turns when evlog.max_writers keeps other queues
				 * waiting: the launcher starts a writer here again later.
				 */
				if (!draining &&
					TimestampDifferenceExceeds(started, now, WRITER_TURN_MS) &&
					evlog_queue_others_waiting(slot))
					proc_exit(0);
				idle_since = now;
				continue;
			}
			/* uncommitted entries at the head: their producer marks them */
			if (kill(blocked_pid, 0) != 0 && errno == ESRCH)
			{
				evlog_queue_abort_stale(slot, blocked_pid);
				continue;
			}
			sleep_ms = 100;
		}
		else if (draining)
		{
			/*
			 * Drained and closed: give the queue back too.  Only a server
			 * shutdown frees shared memory; a writer terminated on its own
			 * (DROP DATABASE ... WITH (FORCE), pg_terminate_backend) would
			 * otherwise leave its slot taken until the next restart.
			 */
			if (close_and_mark_clean())
			{
				(void) evlog_queue_release_if_idle(slot);
				proc_exit(0);
			}
			continue;
		}
		else if (sleep_ms < 0)
		{
			/*
			 * Empty.  Leave after evlog.writer_idle_timeout (at once when
			 * another queue waits for a writer), so that an idle database
			 * holds no connection (DROP DATABASE) and no queue; record
			 * rolled-back tickets first.
			 */
			TimestampTz now = GetCurrentTimestamp();
			bool		others = evlog_queue_others_waiting(slot);

			if (others ||
				TimestampDifferenceExceeds(idle_since, now, evlog_writer_idle_timeout_ms))
			{
				int			blocked_pid;

				if (evlog_queue_has_unrecorded(slot))
				{
					(void) write_next_batch(&blocked_pid);
					continue;
				}
				(void) evlog_queue_release_if_idle(slot);
				proc_exit(0);
			}
			sleep_ms = evlog_writer_idle_timeout_ms;
		}
		else
			idle_since = GetCurrentTimestamp();

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
