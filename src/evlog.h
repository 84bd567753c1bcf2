/*-------------------------------------------------------------------------
 *
 * evlog.h
 *	  What every part of evlog shares: the PostgreSQL version it is built
 *	  for, its advisory lock tags (one list, so no two subsystems collide),
 *	  the GUC variables (defined in evlog.c) and the event as every append
 *	  path carries it.  Each subsystem's own interface is in its header:
 *
 *	  util.h        relation lookup, qualified names, one SPI statement,
 *	                a background worker's transaction and its registration
 *	  as_user.h     running statements as another role, restricted
 *	  locks.h       maintenance's strong locks, never queued for long
 *	  event.h       validation of one event's fields (every append path)
 *	  seqs.h        seq allocation, the in-flight set, evlog_safe_seq
 *	  log_writer.h  the only code that writes evlog.event_log
 *	  stream.h      streams and conditional appends' head check
 *	  logscan.h     the log's column layout, its partitions, the ordered scan
 *	  partition.h   creating partitions ahead of need (the partition creator)
 *	  summaries.h   per-partition counts taken in the background
 *	  guard.h       the append-only triggers, the DDL guard, their bypass
 *	  prune.h       evlog_prune
 *	  retention.h   scheduled pruning by a worker per database
 *	  watermark.h   the replicated safe-seq watermark
 *	  derive.h      the derived tables: rules, trigger, user views
 *	  chain.h       the SHA-256 hash chain
 *	  queue.h       the shared-memory queues and their entry format
 *	  worker.h      the launcher and the queue writers
 *	  progress.h    progress of long operations
 *	  catcache.h    backend-local caches of the append path's catalog lookups
 *	  notify.h      the per-database notifier that sends NOTIFY evlog
 *
 *	  Layering, as the includes show it: util, as_user, locks, event, seqs,
 *	  logscan and watermark call nothing above them; the log writer calls
 *	  those and the partition creator; features (prune, retention, derive,
 *	  chain, rebuild, the queue's writers, loading with COPY in copy_load.c)
 *	  sit on top and are never called from below.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_H
#define EVLOG_H

#include "postgres.h"

/*
 * Built for PostgreSQL 15 only: its executor and lock APIs are called
 * directly, with their 15 signatures, and no other version is tested.
 */
#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
#error "evlog is built for PostgreSQL 15"
#endif

#include "utils/jsonb.h"
#include "utils/timestamp.h"

/*
 * evlog's advisory lock tags: (database, EVLOG_LOCKTAG_MAGIC or data,
 * data, one of these in field4).  SQL-level advisory locks use field4 = 1
 * or 2, so ours never collide with an application's.
 */
#define EVLOG_LOCKTAG_MAGIC		0x45564c47	/* "EVLG" */
#define EVLOG_LOCK_ALLOCATE		0x4576	/* seq allocation (seqs.c) */
#define EVLOG_LOCK_EVENT_ID		0x4577	/* one event_id (log_writer.c) */
#define EVLOG_LOCK_INFLIGHT		0x4578	/* a transaction's lowest seq (seqs.c) */
#define EVLOG_LOCK_SEAL			0x4579	/* the one sealer of the chain (chain.c) */
#define EVLOG_LOCK_ALL_EVENT_IDS	0x457A	/* every event_id at once (log_writer.c) */
#define EVLOG_LOCK_STREAM_ROLLOUT	0x457B	/* one rollout's stream (stream.c) */
#define EVLOG_LOCK_STREAM_HOST	0x457C	/* one host's stream (stream.c) */
#define EVLOG_LOCK_PARTITION_CREATOR	0x457D	/* the one partition creator (partition.c) */


/* GUCs (evlog.c) */
extern int	evlog_max_payload_bytes;
extern bool evlog_track_inflight;
extern bool evlog_notify;
extern int	evlog_partition_size;
extern int	evlog_partition_wait_ms;
extern int	evlog_max_batch_entries;
extern int	evlog_max_databases;
extern int	evlog_queue_size_kb;
extern int	evlog_batch_size;
extern int	evlog_flush_interval_ms;
extern int	evlog_enqueue_timeout_ms;
extern int	evlog_flush_lock_timeout_ms;
extern int	evlog_enqueue_mode;
extern int	evlog_overflow;
extern int	evlog_max_writers;
extern int	evlog_writer_idle_timeout_ms;
extern int	evlog_notifier_idle_timeout_ms;
extern int	evlog_test_pause_at;

/*
 * Test-only pauses (evlog.test_pause_at, superuser): the paused process
 * waits for the SQL advisory lock pg_advisory_lock(EVLOG_TEST_PAUSE_KEY) in
 * its database, so a test holds that lock, watches the wait in pg_locks,
 * and releases it.
 */
#define EVLOG_TEST_PAUSE_KEY		1163283527	/* "EVLG" */
typedef enum EvlogTestPause
{
	EVLOG_PAUSE_NONE,
	EVLOG_PAUSE_PRE_COMMIT_PUSH,	/* producer, before its PRE_COMMIT push */
	EVLOG_PAUSE_WRITER_RECOVERY		/* writer, before crash accounting */
} EvlogTestPause;
extern void evlog_test_pause(EvlogTestPause at);

typedef enum EvlogEnqueueMode
{
	EVLOG_ENQUEUE_COMMIT,		/* queue at commit; rollback logs nothing */
	EVLOG_ENQUEUE_CALL			/* queue at call; survives rollback */
} EvlogEnqueueMode;

typedef enum EvlogOverflow
{
	EVLOG_OVERFLOW_BLOCK,		/* wait for room, then error */
	EVLOG_OVERFLOW_DROP			/* drop, count, record a gap */
} EvlogOverflow;

/*
 * A conditional append's expectation about one stream (stream.c): the
 * stream's latest seq must be seq (EVLOG_STREAM_EMPTY: no event yet).  In a
 * batch, EVLOG_EXPECT_PREVIOUS stands for "the previous entry of the same
 * stream in this batch", whose seq the caller cannot know in advance.
 */
typedef enum EvlogStreamKind
{
	EVLOG_STREAM_NONE = 0,		/* no expectation: an unconditional append */
	EVLOG_STREAM_ROLLOUT,		/* the events of one rollout_id */
	EVLOG_STREAM_HOST			/* the events of one host_id */
} EvlogStreamKind;

#define EVLOG_STREAM_EMPTY		0
#define EVLOG_EXPECT_PREVIOUS	(-1)

typedef struct EvlogExpect
{
	EvlogStreamKind stream;
	int64		seq;
} EvlogExpect;

/*
 * One validated event, ready to be written.  Text fields are NULL pointers
 * when SQL NULL.  seq is filled in by the writer.  expect is read only by
 * the conditional paths (evlog_writer_append_expected, and batches written
 * with_expect); other producers of events may leave it unset.
 * derives_nothing: evlog_derive_check() read the event and the derived
 * tables' rules write nothing for it (a passing probe, say), so a batch's
 * writer need not read it again; false when not known.  Every producer
 * sets it.
 */
typedef struct EvlogEvent
{
	text	   *kind;
	TimestampTz ts;
	text	   *host_id;
	text	   *rollout_id;
	Jsonb	   *payload;
	text	   *event_id;
	EvlogExpect expect;
	bool		derives_nothing;
} EvlogEvent;

#endif							/* EVLOG_H */
