/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The shared-memory queues of evlog_enqueue: one ring per database using
 *	  one at the moment, the wire format of an entry in it, the producer's,
 *	  the writer's and the launcher's sides.
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_QUEUE_H
#define EVLOG_QUEUE_H

#include "evlog.h"

/*
 * An entry in a queue ring: this header, then kind, [host_id], [rollout_id],
 * payload, [event_id], each a varlena with a 4-byte header starting at a
 * MAXALIGNed offset.  len covers all of it and is MAXALIGNed, so every entry
 * starts MAXALIGNed in the ring and in any copy of a run of entries.
 */
#define EVLOG_ENTRY_PENDING		0	/* pushed at PRE_COMMIT, not decided */
#define EVLOG_ENTRY_COMMITTED	1	/* the worker may write it */
#define EVLOG_ENTRY_ABORTED		2	/* its transaction rolled back: skip */

#define EVLOG_ENTRY_HAS_HOST		0x01
#define EVLOG_ENTRY_HAS_ROLLOUT		0x02
#define EVLOG_ENTRY_HAS_EVENT_ID	0x04

typedef struct EvlogQueueEntry
{
	uint32		len;			/* whole entry, MAXALIGNed */
	uint8		state;			/* EVLOG_ENTRY_* */
	uint8		flags;			/* EVLOG_ENTRY_HAS_* */
	uint16		pad;
	int32		pid;			/* producer, while the entry is pending */
	Oid			role;			/* current user at evlog_enqueue */
	int64		ticket;
	TimestampTz ts;
	TimestampTz enqueued_at;
} EvlogQueueEntry;

typedef struct EvlogQueueSlot EvlogQueueSlot;

/* A run of entries copied out of a ring by the worker. */
typedef struct EvlogBatch
{
	char	   *data;			/* copy of the ring bytes [start, end) */
	uint64		start;
	uint64		end;
	int			nentries;		/* entries in the copy, aborted included */
	int			naborted;
	EvlogEvent *events;			/* the committed ones, decoded */
	int64	   *tickets;
	TimestampTz *enqueued_at;
	Oid		   *roles;			/* who enqueued each */
	int			nevents;
} EvlogBatch;

/* A queue's counters since it was taken (evlog.queue_status). */
typedef struct EvlogQueueCounters
{
	uint64		accepted;
	uint64		flushed;
	uint64		batches;
	uint64		retries;
	uint64		dead_lettered;
	uint64		dropped;
	uint64		crash_lost;
	TimestampTz last_flush_at;
	char		last_error[256];
} EvlogQueueCounters;

/* Counters and state of one queue, as evlog.queue_status shows them. */
typedef struct EvlogQueueStats
{
	Oid			dboid;
	uint64		capacity;
	uint64		used;
	uint64		pending;
	int			worker_pid;
	EvlogQueueCounters counters;
} EvlogQueueStats;

/* Drops and rolled-back tickets the worker has yet to record durably. */
typedef struct EvlogUnrecorded
{
	uint64		drops;
	int64		drop_first;
	int64		drop_last;
	uint64		abandoned;
} EvlogUnrecorded;

extern void evlog_queue_init(void);

extern bool evlog_queue_enabled(void);
extern int	evlog_queue_nslots(void);
extern EvlogQueueSlot *evlog_queue_slot_claim(Oid dboid);
extern Size evlog_entry_size(EvlogEvent *ev);
extern void evlog_entry_write(char *dst, EvlogEvent *ev, int64 ticket,
							  uint8 state);
extern void evlog_entry_decode(char *src, EvlogEvent *ev);

/* producer side */
extern EvlogQueueSlot *evlog_queue_join(uint32 *generation, bool *report_tickets);
extern void evlog_queue_leave(EvlogQueueSlot *slot);
extern uint64 evlog_queue_claim_of(EvlogQueueSlot *slot);
extern void evlog_queue_ticket_begin(EvlogQueueSlot *slot);
extern void evlog_queue_ticket_end(EvlogQueueSlot *slot, int64 ticket);
extern void evlog_queue_want_writer(EvlogQueueSlot *slot);
extern bool evlog_queue_push(EvlogQueueSlot *slot, uint32 generation,
							 const char *data, Size len, int nentries,
							 int64 first_ticket, int64 last_ticket,
							 uint64 *start, uint64 *end);
extern void evlog_queue_decide(EvlogQueueSlot *slot, uint64 start, uint64 end,
							   bool committed);
extern void evlog_queue_add_abandoned(EvlogQueueSlot *slot, int64 *tickets,
									  int n);
extern bool evlog_queue_wait_flushed(uint64 claim, uint64 pos, long timeout_ms);

/* worker side */
extern bool evlog_queue_attach_worker(EvlogQueueSlot *slot);
extern bool evlog_queue_flush_due(EvlogQueueSlot *slot, long *sleep_ms,
								  bool draining);
extern bool evlog_queue_take(EvlogQueueSlot *slot, EvlogBatch *batch,
							 int max_entries, int *blocked_pid);
extern void evlog_queue_abort_stale(EvlogQueueSlot *slot, int pid);
extern void evlog_queue_consumed(EvlogQueueSlot *slot, EvlogBatch *batch,
								 int nflushed, int ndead);
extern void evlog_queue_take_unrecorded(EvlogQueueSlot *slot,
										EvlogUnrecorded *u);
extern void evlog_queue_return_unrecorded(EvlogQueueSlot *slot,
										  EvlogUnrecorded *u);
extern void evlog_queue_note_error(EvlogQueueSlot *slot, const char *msg,
								   bool retry);
extern bool evlog_queue_fix_boundary(EvlogQueueSlot *slot, int64 last,
									 int64 *boundary);
extern void evlog_queue_boundary_known(EvlogQueueSlot *slot);
extern void evlog_queue_add_crash_lost(EvlogQueueSlot *slot, uint64 lost);
extern TimestampTz evlog_queue_lifetime_start(void);
extern bool evlog_queue_has_unrecorded(EvlogQueueSlot *slot);
extern bool evlog_queue_close_if_drained(EvlogQueueSlot *slot, int64 floor);
extern bool evlog_queue_release_if_idle(EvlogQueueSlot *slot);
extern bool evlog_queue_others_waiting(EvlogQueueSlot *slot);
extern void evlog_queue_stats(int index, EvlogQueueStats *stats);

/* launcher side */
struct Latch;
extern void evlog_queue_set_launcher(struct Latch *latch);
extern int	evlog_queue_wanted(Oid *dbs);
extern uint64 evlog_queue_discard(Oid dboid);

#endif							/* EVLOG_QUEUE_H */
