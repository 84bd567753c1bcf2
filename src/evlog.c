/*-------------------------------------------------------------------------
 *
 * evlog.c
 *	  Module load: the magic block and the evlog.* settings.
 *
 * Everything here works with or without shared_preload_libraries: the
 * settings are defined whenever the library is loaded, which happens at the
 * first call of any evlog C function.  Only when it is preloaded does
 * _PG_init also request the queues' shared memory (queue.c) and register
 * the launcher background worker (worker.c); evlog_enqueue needs both.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "copy_load.h"
#include "locks.h"
#include "notify.h"
#include "progress.h"
#include "prune.h"
#include "queue.h"
#include "retention.h"
#include "seqs.h"
#include "worker.h"

PG_MODULE_MAGIC;

int			evlog_max_payload_bytes = 1024 * 1024;
int			evlog_max_batch_entries = 100000;
bool		evlog_track_inflight = true;
bool		evlog_notify = true;
int			evlog_partition_size = 1000000;
int			evlog_partition_wait_ms = 5000;
int			evlog_max_databases = 32;
int			evlog_queue_size_kb = 512;
int			evlog_batch_size = 1000;
int			evlog_flush_interval_ms = 100;
int			evlog_enqueue_timeout_ms = 10000;
int			evlog_flush_lock_timeout_ms = 5000;
int			evlog_enqueue_mode = EVLOG_ENQUEUE_COMMIT;
int			evlog_overflow = EVLOG_OVERFLOW_BLOCK;
int			evlog_max_writers = 4;
int			evlog_writer_idle_timeout_ms = 1000;
int			evlog_notifier_idle_timeout_ms = 1000;
int			evlog_test_pause_at = EVLOG_PAUSE_NONE;

static const struct config_enum_entry enqueue_mode_options[] = {
	{"commit", EVLOG_ENQUEUE_COMMIT, false},
	{"call", EVLOG_ENQUEUE_CALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry overflow_options[] = {
	{"block", EVLOG_OVERFLOW_BLOCK, false},
	{"drop", EVLOG_OVERFLOW_DROP, false},
	{NULL, 0, false}
};

static const struct config_enum_entry test_pause_options[] = {
	{"none", EVLOG_PAUSE_NONE, false},
	{"pre_commit_push", EVLOG_PAUSE_PRE_COMMIT_PUSH, false},
	{"writer_recovery", EVLOG_PAUSE_WRITER_RECOVERY, false},
	{NULL, 0, false}
};

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * SUSET: the limit protects the log from oversized rows; an application
	 * role must not be able to lift it for its own session.
	 */
	DefineCustomIntVariable("evlog.max_payload_bytes",
							"Largest payload, in bytes, that an append accepts.",
							"Checked on the payload's text before it is parsed, on its jsonb form, and on what it prints as (payload::text).",
							&evlog_max_payload_bytes,
							1024 * 1024,
							1,
							MaxAllocSize / 2,
							PGC_SUSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	/*
	 * SUSET for the same reason: a batch is held in one backend's memory and
	 * one transaction, and the limit is what keeps that bounded.  The upper
	 * bound keeps the seq array of the largest batch within MaxAllocSize.
	 */
	DefineCustomIntVariable("evlog.max_batch_entries",
							"Most entries one evlog_append_batch call accepts.",
							"A larger batch is refused before anything is written.",
							&evlog_max_batch_entries,
							100000,
							1,
							10000000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/*
	 * Only for measuring what in-flight tracking costs (bench/60_read.sh).
	 * SIGHUP, not per session: a server tracks every appender or none.  With
	 * tracking off the reading functions refuse to run rather than risk
	 * skipping a late commit; transactions already open when it is turned
	 * back on are not covered, so only change it on an idle server.
	 */
	DefineCustomBoolVariable("evlog.track_inflight",
							 "Records which seqs are still in flight, so readers never skip a late commit.",
							 "Turning it off is only for benchmarking: evlog_read and evlog_safe_seq then raise an error.",
							 &evlog_track_inflight,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	/*
	 * NOTIFY serialises committing transactions in PostgreSQL (one lock per
	 * database, held through the commit record's flush), so a bulk loader or
	 * a many-writer workload whose consumers poll can turn it off.
	 */
	DefineCustomBoolVariable("evlog.notify",
							 "Sends NOTIFY evlog with the highest appended seq when an appending transaction commits.",
							 "Consumers that poll evlog_read or evlog_consumer_next do not need it; PostgreSQL serialises the commits of notifying transactions.",
							 &evlog_notify,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * Seqs per partition of the log (1.1), for partitions created from now
	 * on; existing partitions keep their bounds.  SUSET: it shapes the
	 * schema, which only an administrator should.
	 */
	DefineCustomIntVariable("evlog.partition_size",
							"Number of seqs per partition of evlog.event_log, for partitions created from now on.",
							"evlog_prune drops whole partitions: this is the granularity of retention.",
							&evlog_partition_size,
							1000000,
							16,
							PG_INT32_MAX,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	/*
	 * An appender whose seq has no partition yet (a burst outran the ones
	 * made ahead) waits this long for evlog's partition creator, then fails;
	 * it never creates one in its own transaction.
	 */
	DefineCustomIntVariable("evlog.partition_wait",
							"Longest time an append waits for evlog's partition creator when its seq has no partition yet.",
							"Past it the append fails; partitions are created ahead of need, so this only happens when a burst outruns them or the creator cannot take its lock.",
							&evlog_partition_wait_ms,
							5000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * ---- asynchronous append (queue.c, enqueue.c, worker.c) ----
	 *
	 * The sizes of shared memory can only be defined while preloading: a
	 * PGC_POSTMASTER setting defined after startup is a FATAL error, and
	 * without preloading there is no shared memory to size anyway.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("evlog.max_databases",
								"Databases that can have events queued at the same time (one queue each).",
								"A database holds a queue from its first enqueue until its writer has drained it. Needs shared_preload_libraries = 'evlog'.",
								&evlog_max_databases,
								32, 1, 1024,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("evlog.queue_size",
								"Shared memory for each database's queue of enqueued events.",
								"A full queue makes evlog_enqueue (or the COMMIT) wait, see evlog.enqueue_timeout.",
								&evlog_queue_size_kb,
								512, 64, 1024 * 1024,
								PGC_POSTMASTER, GUC_UNIT_KB,
								NULL, NULL, NULL);
	}
	DefineCustomIntVariable("evlog.batch_size",
							"Most queued events the writer writes in one transaction.",
							NULL,
							&evlog_batch_size,
							1000, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.flush_interval",
							"Longest time a queued event waits for a batch to fill before it is written.",
							NULL,
							&evlog_flush_interval_ms,
							100, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.flush_lock_timeout",
							"lock_timeout of the writer's transactions; a batch that times out is retried.",
							"0 waits for locks indefinitely.",
							&evlog_flush_lock_timeout_ms,
							5000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.enqueue_timeout",
							"Longest wait for room in a full queue before evlog_enqueue (or the COMMIT) fails.",
							"0 waits indefinitely; statement_timeout, cancel, and the check for a writer waiting on a lock of the waiting transaction still apply.",
							&evlog_enqueue_timeout_ms,
							10000, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.max_writers",
							"Most evlog writers (background workers) running at once.",
							"Each takes one of max_worker_processes; queues beyond it wait their turn.",
							&evlog_max_writers,
							4, 1, 1024,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.writer_idle_timeout",
							"How long a writer with an empty queue stays before it exits and gives its queue up.",
							"Keep it well below 5 s: DROP DATABASE waits that long for other connections.",
							&evlog_writer_idle_timeout_ms,
							1000, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * The notifier (notify.c) holds a background worker slot and a
	 * connection to its database while it stays: short by default, so that
	 * it neither keeps evlog writers from starting nor makes DROP DATABASE
	 * wait.  An append after it left starts a new one.
	 */
	DefineCustomIntVariable("evlog.notifier_idle_timeout",
							"How long the notifier of a database stays without appends to notify before it exits.",
							"Needs shared_preload_libraries = 'evlog'; each notifier takes one of max_worker_processes while it runs.",
							&evlog_notifier_idle_timeout_ms,
							1000, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Test-only pauses at the places where the queue's races are; a paused
	 * process waits for pg_advisory_lock(1163283527) of its database.
	 * SUSET: it stalls commits.
	 */
	DefineCustomEnumVariable("evlog.test_pause_at",
							 "Test only: pause at a point of the asynchronous append until pg_advisory_lock(1163283527) is free.",
							 NULL,
							 &evlog_test_pause_at,
							 EVLOG_PAUSE_NONE, test_pause_options,
							 PGC_SUSET, GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
	DefineCustomEnumVariable("evlog.enqueue_mode",
							 "When evlog_enqueue queues its event: at commit of the caller's transaction, or at the call.",
							 "commit: a rolled-back transaction logs nothing.  call: the event is queued at once and survives a rollback.",
							 &evlog_enqueue_mode,
							 EVLOG_ENQUEUE_COMMIT, enqueue_mode_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * ---- scheduled retention (retention.c; the launcher needs preloading) ----
	 */
	DefineCustomIntVariable("evlog.retention",
							"Age beyond which the background worker prunes events (evlog_prune); 0 turns scheduled pruning off.",
							"Needs shared_preload_libraries = 'evlog'. Applies to every database where evlog 1.1 is installed.",
							&evlog_retention_s,
							0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.retention_check_interval",
							"How often the background worker runs scheduled pruning when evlog.retention is set.",
							NULL,
							&evlog_retention_check_interval_s,
							60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("evlog.max_consumer_lag_events",
							"How many seqs a named consumer may fall behind before retention removes events it has not acknowledged; -1: never.",
							"A consumer passed this way is told so by its next evlog_consumer_next().",
							&evlog_max_consumer_lag_events,
							-1, -1, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * ---- maintenance's strong locks (locks.c) ----
	 */
	DefineCustomIntVariable("evlog.maintenance_lock_timeout",
							"lock_timeout of each attempt of evlog_prune and evlog_rebuild to take their strong locks on the log.",
							"Appenders and readers arriving meanwhile wait at most this long behind the attempt.",
							&evlog_maintenance_lock_timeout_ms,
							50, 1, 60 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("evlog.maintenance_lock_wait",
							"Longest total time evlog_prune and evlog_rebuild retry their strong locks before failing with lock_not_available.",
							"Attempts are retried with a doubling backoff of at most 1 s; the retention worker skips the round instead.",
							&evlog_maintenance_lock_wait_ms,
							60 * 1000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * SUSET: dropping events is an auditing decision, not an application
	 * role's.
	 */
	DefineCustomEnumVariable("evlog.overflow",
							 "What a full queue does to a new event: block (wait, then error) or drop (count it and record a gap).",
							 NULL,
							 &evlog_overflow,
							 EVLOG_OVERFLOW_BLOCK, overflow_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("evlog");

	evlog_seqs_init();
	evlog_copy_load_init();

	if (process_shared_preload_libraries_in_progress)
	{
		evlog_progress_init();
		evlog_queue_init();
		evlog_notify_init();
		evlog_worker_register_launcher();
	}
}
