/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Progress of evlog's long operations (evlog_rebuild, evlog_verify),
 *	  readable from any session through evlog_progress() / evlog.progress.
 *
 * PostgreSQL's pgstat_progress_* API only serves its built-in command
 * types, and a backend's pg_stat_activity.query is the client's query
 * text, not a place to write to.  So evlog keeps its own small array in
 * shared memory, one slot per backend (indexed by backend id, like
 * PgBackendStatus): a backend writes only its own slot, any backend reads
 * them all.  Each slot has a spinlock held for a few stores or one copy,
 * never across anything that can fail.
 *
 * The array is sized with MaxBackends and so exists only when evlog is in
 * shared_preload_libraries.  Without it, reporting does nothing,
 * evlog_progress() returns no rows, and the long operations still report
 * each phase (and every 100000 events) to their caller as NOTICEs.
 *
 * A slot is cleared when its operation returns, at the end of the
 * transaction (commit or abort, whichever comes first), and when the
 * subtransaction it started in aborts (a plpgsql exception block that
 * catches the operation's error goes on in the same transaction), so an
 * operation that fails never leaves a stale row behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "progress.h"

PG_FUNCTION_INFO_V1(evlog_progress);

#define PROGRESS_TEXT	64

typedef struct ProgressSlot
{
	slock_t		mutex;
	int			pid;			/* 0: slot unused */
	Oid			dboid;
	char		command[PROGRESS_TEXT]; /* evlog_rebuild, evlog_verify */
	char		target[PROGRESS_TEXT];	/* the derived table or view */
	char		phase[PROGRESS_TEXT];
	int64		done;
	int64		total;
	TimestampTz started;
} ProgressSlot;

static ProgressSlot *slots = NULL;
static int	nslots = 0;
static bool callback_registered = false;
/* the subtransaction the running operation started in */
static SubTransactionId started_subid = InvalidSubTransactionId;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
progress_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(ProgressSlot));
}

static void
progress_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(progress_shmem_size());
}

static void
progress_shmem_startup(void)
{
	bool		found;
	ProgressSlot *s;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	s = ShmemInitStruct("evlog progress", progress_shmem_size(), &found);
	if (!found)
	{
		for (int i = 0; i < MaxBackends; i++)
		{
			SpinLockInit(&s[i].mutex);
			s[i].pid = 0;
		}
	}
	LWLockRelease(AddinShmemInitLock);
	slots = s;
	nslots = MaxBackends;
}

/* Called from _PG_init while shared_preload_libraries is processed. */
void
evlog_progress_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = progress_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = progress_shmem_startup;
}

/* This backend's slot, or NULL (not preloaded, or no backend id). */
static ProgressSlot *
my_slot(void)
{
	if (slots == NULL || MyBackendId == InvalidBackendId ||
		MyBackendId < 1 || MyBackendId > nslots)
		return NULL;
	return &slots[MyBackendId - 1];
}

static void
clear_my_slot(void)
{
	ProgressSlot *s = my_slot();

	started_subid = InvalidSubTransactionId;
	if (s == NULL)
		return;
	SpinLockAcquire(&s->mutex);
	s->pid = 0;
	SpinLockRelease(&s->mutex);
}

static void
progress_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE)
		clear_my_slot();
}

/*
 * Subtransaction ids grow within a transaction: the aborting one is the
 * one the operation started in, or one of its ancestors.
 */
static void
progress_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && started_subid != InvalidSubTransactionId &&
		mySubid <= started_subid)
		clear_my_slot();
}

/* Report from now on: command (evlog_rebuild or evlog_verify) runs. */
void
evlog_progress_start(const char *command)
{
	ProgressSlot *s = my_slot();
	TimestampTz now;

	if (s == NULL)
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(progress_xact_callback, NULL);
		RegisterSubXactCallback(progress_subxact_callback, NULL);
		callback_registered = true;
	}
	/* a system call: not under the spinlock */
	now = GetCurrentTimestamp();
	started_subid = GetCurrentSubTransactionId();
	SpinLockAcquire(&s->mutex);
	s->pid = MyProcPid;
	s->dboid = MyDatabaseId;
	strlcpy(s->command, command, PROGRESS_TEXT);
	s->target[0] = '\0';
	s->phase[0] = '\0';
	s->done = 0;
	s->total = 0;
	s->started = now;
	SpinLockRelease(&s->mutex);
}

/*
 * The table or view being worked on and when its turn started, the current
 * phase, events read in it and the upper bound on them.
 */
void
evlog_progress_update(const char *target, TimestampTz started, const char *phase,
					  int64 done, int64 total)
{
	ProgressSlot *s = my_slot();

	if (s == NULL)
		return;
	SpinLockAcquire(&s->mutex);
	if (s->pid == MyProcPid)
	{
		strlcpy(s->target, target, PROGRESS_TEXT);
		strlcpy(s->phase, phase, PROGRESS_TEXT);
		s->done = done;
		s->total = total;
		s->started = started;
	}
	SpinLockRelease(&s->mutex);
}

/* The operation returned. */
void
evlog_progress_end(void)
{
	clear_my_slot();
}

/*
 * evlog_progress(): one row per backend of this database running a long
 * evlog operation.  Copies each slot under its spinlock, then builds the
 * rows with no lock held.
 */
Datum
evlog_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	if (slots == NULL)
		return (Datum) 0;

	for (int i = 0; i < nslots; i++)
	{
		ProgressSlot copy;
		Datum		values[7];
		bool		nulls[7] = {false};

		CHECK_FOR_INTERRUPTS();
		SpinLockAcquire(&slots[i].mutex);
		copy = slots[i];
		SpinLockRelease(&slots[i].mutex);
		if (copy.pid == 0 || copy.dboid != MyDatabaseId)
			continue;

		values[0] = Int32GetDatum(copy.pid);
		values[1] = CStringGetTextDatum(copy.command);
		values[2] = CStringGetTextDatum(copy.target);
		values[3] = CStringGetTextDatum(copy.phase);
		values[4] = Int64GetDatum(copy.done);
		values[5] = Int64GetDatum(copy.total);
		values[6] = TimestampTzGetDatum(copy.started);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
