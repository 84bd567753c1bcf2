/*-------------------------------------------------------------------------
 *
 * rebuild.c
 *	  evlog_rebuild(view) and evlog_verify(view): replaying the log through
 *	  the derive rules (derive.c), and reporting progress while doing so.
 *
 * Built-in tables (probe_failures, rollouts, host_states, 'all') are rebuilt
 * without stopping appenders for the replay:
 *
 *	  1. replay: with a snapshot S, read the log in seq order (primary key
 *		 index) and derive into session-private staging tables
 *		 (pg_temp.evlog_stage_*).  Only AccessShareLock on the log: appends
 *		 go on and their trigger keeps maintaining the real tables.  The seqs
 *		 S did not show (gaps: rolled-back appends, or transactions still in
 *		 flight) and the highest seq seen are remembered.
 *	  2. catch-up: with a new snapshot, derive the events in the gaps and
 *		 above the highest seq: exactly the events committed since S; repeat
 *		 while appends go on, until a pass finds few (catch_up_pass).  Then
 *		 lock evlog.event_log in SHARE ROW EXCLUSIVE mode, which waits for
 *		 in-flight appenders to commit and makes new ones wait (and
 *		 serialises concurrent rebuilds; the wait is a series of short
 *		 attempts, locks.c: behind an idle appending transaction the rebuild
 *		 waits, other appenders do not), and make the last pass.
 *	  3. swap: make the real table equal the staging rows by writing only
 *		 the difference (EXCEPT ALL both ways, then delete the surplus rows
 *		 and insert the missing ones).  Readers see the old rows until
 *		 commit; unchanged rows keep their ids.
 *
 * The lock is held until the caller's transaction ends, so appenders wait for
 * the last catch-up pass and the swap: proportional to the events appended
 * during the pass before it plus one hash comparison of staging and table
 * (and the rows that actually differ), never for the replay itself.  The derive rules give the
 * seq-order result whatever order events are applied in (derive.c, "Seq
 * order"), so applying late-committed events after the rest is exact; the
 * rollouts' registers (evlog.rollout_state, 1.2) are staged and swapped
 * with the rollouts.
 *
 * User views cannot be redirected into staging (their handler writes where it
 * likes), so their rebuild holds the same lock for the whole replay.
 *
 * evlog_verify replays into staging under one snapshot (in seq order, or in
 * descending seq order with replay_order 'reverse') and compares with the
 * real tables under that same snapshot (derived rows commit with their event,
 * so both sides describe the same log): it never blocks appenders.  For a
 * user view it rebuilds inside a subtransaction (holding the lock as a user
 * view rebuild does), compares, and rolls back.
 *
 * Progress: each phase, and every 1000 events, goes to this backend's
 * slot of evlog's progress array (progress.c), which evlog.progress and
 * evlog.rebuild_progress show to other sessions when evlog is preloaded;
 * pg_stat_activity.query keeps the caller's own query.  NOTICEs go to the
 * caller at each phase and every 100000 events, preloaded or not.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "as_user.h"
#include "catcache.h"
#include "derive.h"
#include "locks.h"
#include "logscan.h"
#include "progress.h"
#include "util.h"

PG_FUNCTION_INFO_V1(evlog_rebuild);
PG_FUNCTION_INFO_V1(evlog_verify);

#define NOTICE_EVERY	100000
#define REPORT_EVERY	1000

typedef struct Progress
{
	const char *view;
	const char *phase;
	int64		done;
	int64		total;
	TimestampTz started;
} Progress;

typedef struct SeqRange
{
	int64		lo;
	int64		hi;
} SeqRange;

typedef struct RangeList
{
	SeqRange   *r;
	int			n;
	int			cap;
} RangeList;

static void
report(Progress *p)
{
	evlog_progress_update(p->view, p->started, p->phase, p->done, p->total);
}

static void
set_phase(Progress *p, const char *phase)
{
	p->phase = phase;
	p->done = 0;
	report(p);
}


static void
add_range(RangeList *l, int64 lo, int64 hi)
{
	if (l->n == l->cap)
	{
		l->cap = l->cap ? l->cap * 2 : 16;
		l->r = l->r ? repalloc(l->r, sizeof(SeqRange) * l->cap)
			: palloc(sizeof(SeqRange) * l->cap);
	}
	l->r[l->n].lo = lo;
	l->r[l->n].hi = hi;
	l->n++;
}

/* Upper bound on the number of events: the log's seq span. */
static int64
estimate_events(void)
{
	bool		isnull;
	int64		lo,
				hi;

	if (SPI_execute("SELECT pg_catalog.min(seq), pg_catalog.max(seq) FROM evlog.event_log",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "evlog: reading the seq span failed");
	lo = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		return 0;
	hi = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return hi - lo + 1;
}

/*
 * Derive every event with lo <= seq <= hi that snap shows, in seq order
 * (descending for BackwardScanDirection).
 * With gaps != NULL, records the seq ranges inside [lo, hi] that snap did
 * not show and sets *maxseq to the highest seq seen (unchanged if none).
 * Returns the number of events read.
 */
static int64
replay_range(Snapshot snap, int64 lo, int64 hi, ScanDirection dir,
			 const EvlogDeriveTarget *target, Progress *p, RangeList *gaps, int64 *maxseq)
{
	Relation	rel = table_open(evlog_relid("event_log"), AccessShareLock);
	TupleTableSlot *slot;
	EvlogLogScan *scan;
	MemoryContext percxt,
				oldcxt;
	int64		n = 0;
	int64		next_expected = lo;
	bool		at_min = true;	/* nothing seen yet: lo itself may be missing */

	Assert(gaps == NULL || ScanDirectionIsForward(dir));
	scan = evlog_logscan_begin(rel, snap, lo, hi, dir);

	percxt = AllocSetContextCreate(CurrentMemoryContext, "evlog replay per event",
								   ALLOCSET_DEFAULT_SIZES);
	while ((slot = evlog_logscan_next(scan)) != NULL)
	{
		EvlogEventRow ev;
		bool		shouldfree;
		HeapTuple	tup;

		CHECK_FOR_INTERRUPTS();
		oldcxt = MemoryContextSwitchTo(percxt);
		tup = ExecFetchSlotHeapTuple(slot, false, &shouldfree);
		evlog_event_from_tuple(tup, RelationGetDescr(rel), &ev);

		if (gaps != NULL)
		{
			/* the list outlives this event: not in the per-event context */
			if (ev.seq > next_expected || (at_min && ev.seq > lo))
			{
				MemoryContextSwitchTo(oldcxt);
				add_range(gaps, next_expected, ev.seq - 1);
				MemoryContextSwitchTo(percxt);
			}
			at_min = false;
			next_expected = ev.seq + 1;
			*maxseq = ev.seq;
		}

		evlog_derive_event(&ev, target);

		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(percxt);
		n++;
		p->done++;
		if (p->done % REPORT_EVERY == 0)
			report(p);
		if (p->done % NOTICE_EVERY == 0)
			ereport(NOTICE,
					(errmsg("evlog_rebuild(%s): " INT64_FORMAT " of at most " INT64_FORMAT " events replayed",
							p->view, p->done, p->total)));
	}
	MemoryContextDelete(percxt);
	evlog_logscan_end(scan);
	table_close(rel, NoLock);
	return n;
}

static void
drop_if_exists(const char *relname)
{
	Oid			nsp = LookupExplicitNamespace("pg_temp", true);

	if (OidIsValid(nsp) && OidIsValid(get_relname_relid(relname, nsp)))
		evlog_spi_exec(psprintf("DROP TABLE pg_temp.%s", relname), EVLOG_SPI_ANY);
}

/* evlog.rollout_state exists from 1.2 on; derive.c falls back without it */
static bool
has_rollout_state(void)
{
	Oid			nsp = get_namespace_oid("evlog", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("rollout_state", nsp));
}

/* Fresh, empty staging tables for the built-in views in bits. */
static void
create_staging(int bits)
{
	drop_if_exists("evlog_stage_derived_skips");
	evlog_spi_exec("CREATE TEMP TABLE evlog_stage_derived_skips (LIKE evlog.derived_skips) ON COMMIT DROP", EVLOG_SPI_ANY);
	if (bits & EVLOG_VIEW_PROBE_FAILURES)
	{
		drop_if_exists("evlog_stage_probe_failures");
		evlog_spi_exec("CREATE TEMP TABLE evlog_stage_probe_failures (event_log_seq bigint, rollout_id text,"
					   " host_id text, probe_name text, control_id text, framework text,"
					   " observed_at timestamptz) ON COMMIT DROP", EVLOG_SPI_ANY);
	}
	if (bits & EVLOG_VIEW_ROLLOUTS)
	{
		drop_if_exists("evlog_stage_rollouts");
		evlog_spi_exec("CREATE TEMP TABLE evlog_stage_rollouts (LIKE evlog.rollouts INCLUDING INDEXES) ON COMMIT DROP", EVLOG_SPI_ANY);
		if (has_rollout_state())
		{
			drop_if_exists("evlog_stage_rollout_state");
			evlog_spi_exec("CREATE TEMP TABLE evlog_stage_rollout_state (LIKE evlog.rollout_state INCLUDING INDEXES) ON COMMIT DROP", EVLOG_SPI_ANY);
		}
	}
	if (bits & EVLOG_VIEW_HOST_STATES)
	{
		drop_if_exists("evlog_stage_host_states");
		evlog_spi_exec("CREATE TEMP TABLE evlog_stage_host_states (LIKE evlog.host_states INCLUDING INDEXES) ON COMMIT DROP", EVLOG_SPI_ANY);
	}
}

/* Column list compared/copied for a view; probe_failures leaves out id. */
static const char *
view_columns(int view)
{
	if (view == EVLOG_VIEW_PROBE_FAILURES)
		return "event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at";
	if (view == EVLOG_VIEW_ROLLOUTS)
		return "rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq,"
			" last_transition_event_log_seq, opened_at, terminal_at, superseded_at";
	if (view == EVLOG_VIEW_HOST_STATES)
		return "rollout_id, host_id, state, since, event_log_seq";
	if (view == EVLOG_TABLE_ROLLOUT_STATE)
		return "rollout_id, open_seq, channel, target_ref, opened_at, wave_seq, wave, state_seq,"
			" state, terminal_seq, terminal_at, superseded_seq, superseded_at, early_seqs";
	return "event_log_seq, view, reason";
}

/*
 * 0A000 (feature_not_supported), as PostgreSQL refuses SET TRANSACTION
 * SNAPSHOT in the wrong isolation level, and as evlog_prune refuses
 * REPEATABLE READ: the call is valid, only not in this isolation level.
 */
static void
check_isolation(void)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("evlog_rebuild and evlog_verify must run in a READ COMMITTED transaction"),
				 errdetail("The catch-up phase needs a snapshot taken after the log is locked."),
				 errhint("Call it outside an explicit transaction, or in one started with BEGIN ISOLATION LEVEL READ COMMITTED.")));
}

/*
 * Make the real table hold exactly the staging rows (as multisets over the
 * compared columns), writing only the difference: rows the replay does not
 * produce are deleted, rows it produces that are missing are inserted, the
 * rest (normally all of them) are left alone and keep their ids.  That keeps
 * the swap, during which appenders wait, proportional to the damage rather
 * than to the table.  Returns the number of rows the rebuilt table holds.
 */
static int64
swap_view(int view, const char *where)
{
	const char *real = evlog_builtin_table(view, false);
	const char *stage = evlog_builtin_table(view, true);
	const char *cols = view_columns(view);
	char	   *rec = psprintf("ROW(%s)::%s", cols, stage);
	uint64		ndel;
	bool		isnull;
	int			nest;

	drop_if_exists("evlog_swap_del");
	drop_if_exists("evlog_swap_ins");
	ndel = evlog_spi_exec(psprintf("CREATE TEMP TABLE evlog_swap_del ON COMMIT DROP AS"
								   " SELECT %s FROM %s %s EXCEPT ALL SELECT %s FROM %s %s",
								   cols, real, where, cols, stage, where), EVLOG_SPI_ANY);
	evlog_spi_exec(psprintf("CREATE TEMP TABLE evlog_swap_ins ON COMMIT DROP AS"
							" SELECT %s FROM %s %s EXCEPT ALL SELECT %s FROM %s %s",
							cols, stage, where, cols, real, where), EVLOG_SPI_ANY);
	if (ndel > 0)
	{
		/*
		 * Delete as many copies of each unwanted row as it has surplus.
		 * Whole-row (record) equality treats NULL fields as equal, which is
		 * what a multiset comparison needs.  Every operator is pg_catalog's,
		 * named so (IN would look "=" up along the search_path).
		 */
		char	   *delrec = psprintf("(SELECT %s AS rec FROM pg_temp.evlog_swap_del)", rec);

		evlog_spi_exec(psprintf("DELETE FROM %s r USING"
								" (SELECT x.tid FROM"
								"   (SELECT y.tid, y.rec, pg_catalog.row_number() OVER (PARTITION BY y.rec) AS rn"
								"      FROM (SELECT t.ctid AS tid, %s AS rec FROM %s t %s) y"
								"     WHERE y.rec OPERATOR(pg_catalog.=) ANY (SELECT d.rec FROM %s d)) x"
								"   JOIN (SELECT d.rec, pg_catalog.count(*) AS n FROM %s d GROUP BY 1) d2"
								"     ON x.rec OPERATOR(pg_catalog.=) d2.rec"
								"  WHERE x.rn OPERATOR(pg_catalog.<=) d2.n) k"
								" WHERE r.ctid OPERATOR(pg_catalog.=) k.tid",
								real, rec, real, where, delrec, delrec), EVLOG_SPI_ANY);
	}
	/*
	 * Insert with session_replication_role = replica for this statement
	 * only: that skips the foreign-key checks against evlog.event_log, one
	 * index probe and row lock per row and most of a cold rebuild's time.
	 * They are redundant here: every row was derived from a log row, and
	 * log rows can never be deleted (ENABLE ALWAYS refusal triggers).  The
	 * derived tables have no other triggers.
	 */
	nest = NewGUCNestLevel();
	(void) set_config_option("session_replication_role", "replica", PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	evlog_spi_exec(psprintf("INSERT INTO %s (%s) SELECT %s FROM pg_temp.evlog_swap_ins", real, cols, cols), EVLOG_SPI_ANY);
	AtEOXact_GUC(true, nest);

	/* not read-only: the statement's own snapshot predates the staging rows */
	if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s %s", stage, where), false, 1) != SPI_OK_SELECT)
		elog(ERROR, "evlog: counting staging rows failed");
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * SHARE ROW EXCLUSIVE on the log, which waits for in-flight appenders: an
 * appending transaction left idle would otherwise hold every later appender
 * in the lock queue behind this request.  Taken with a short lock_timeout,
 * retried with backoff (locks.c).
 */
static void
lock_log_for_rebuild(const char *what)
{
	EvlogLockRequest req = {evlog_relid("event_log"), ShareRowExclusiveLock};

	evlog_lock_strong(&req, 1, what, 0);
}

/*
 * Derive what the last pass did not show: the gaps it left (seqs in flight
 * or rolled back then) and everything above the highest seq it saw, with a
 * new snapshot.  The ranges this snapshot does not show either become the
 * new gaps.  Each event is derived exactly once over the passes: a pass
 * reads only ranges no earlier pass saw an event in.  Returns the events
 * derived.
 */
static int64
catch_up_pass(const EvlogDeriveTarget *target, Progress *p, RangeList *gaps,
			  int64 *maxseq, bool *any)
{
	Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());
	RangeList	next = {NULL, 0, 0};
	int64		n = 0;

	for (int i = 0; i < gaps->n; i++)
	{
		int64		seen = PG_INT64_MIN;
		int64		got = replay_range(snap, gaps->r[i].lo, gaps->r[i].hi,
									   ForwardScanDirection, target, p, &next, &seen);

		if (got == 0)
			add_range(&next, gaps->r[i].lo, gaps->r[i].hi);
		else if (seen < gaps->r[i].hi)
			add_range(&next, seen + 1, gaps->r[i].hi);
		n += got;
	}
	if (!*any || *maxseq < PG_INT64_MAX)
	{
		int64		seen = *maxseq;
		int64		got = replay_range(snap, *any ? *maxseq + 1 : PG_INT64_MIN, PG_INT64_MAX,
									   ForwardScanDirection, target, p, &next, &seen);

		if (got > 0)
		{
			*maxseq = seen;
			*any = true;
		}
		n += got;
	}
	UnregisterSnapshot(snap);
	if (gaps->r != NULL)
		pfree(gaps->r);
	*gaps = next;
	return n;
}

/*
 * Catch-up passes without the lock before the one under it: while appends
 * go on, each pass derives what committed during the previous one, so the
 * pass appenders wait for is about as short as one pass over the appends
 * of a few milliseconds.  Stop when a pass found at most this many events,
 * or after this many passes (appends outrunning the passes).
 */
#define CATCH_UP_QUIET		1000
#define CATCH_UP_PASSES		5

/* Replay the whole log (phase 1), then catch up and swap (phases 2, 3). */
static int64
rebuild_builtin(int bits, const char *label)
{
	Progress	p = {label, "replay", 0, 0, GetCurrentTimestamp()};
	EvlogDeriveTarget target = {bits, true, 0, NULL};
	RangeList	gaps = {NULL, 0, 0};
	Snapshot	snap;
	int64		maxseq = PG_INT64_MIN;
	bool		any = false;
	int64		delta = 0;
	int64		written = 0;

	create_staging(bits);
	evlog_derive_staging_begin(bits);
	p.total = estimate_events();
	report(&p);
	ereport(NOTICE,
			(errmsg("evlog_rebuild(%s): replaying at most " INT64_FORMAT " events", label, p.total)));

	snap = RegisterSnapshot(GetLatestSnapshot());
	replay_range(snap, PG_INT64_MIN, PG_INT64_MAX, ForwardScanDirection, &target, &p, &gaps, &maxseq);
	UnregisterSnapshot(snap);
	any = p.done > 0;

	/*
	 * phase 2: derive what committed since the snapshot, in passes while
	 * appends go on, then once more with appenders blocked
	 */
	set_phase(&p, "catch-up");
	for (int pass = 0; pass < CATCH_UP_PASSES; pass++)
	{
		int64		got = catch_up_pass(&target, &p, &gaps, &maxseq, &any);

		delta += got;
		if (got <= CATCH_UP_QUIET)
			break;
	}
	lock_log_for_rebuild("evlog_rebuild()");
	delta += catch_up_pass(&target, &p, &gaps, &maxseq, &any);
	ereport(NOTICE,
			(errmsg("evlog_rebuild(%s): " INT64_FORMAT " events committed during the replay applied; swapping",
					label, delta)));

	evlog_derive_staging_end();

	/* phase 3: swap contents */
	set_phase(&p, "swap");
	for (int view = EVLOG_VIEW_PROBE_FAILURES; view <= EVLOG_VIEW_HOST_STATES; view <<= 1)
	{
		char	   *where;

		if (!(bits & view))
			continue;
		written += swap_view(view, "");
		if (view == EVLOG_VIEW_ROLLOUTS && has_rollout_state())
			(void) swap_view(EVLOG_TABLE_ROLLOUT_STATE, "");
		where = psprintf("WHERE view OPERATOR(pg_catalog.=) %s",
						 quote_literal_cstr(evlog_builtin_view_name(view)));
		(void) swap_view(0, where);
	}
	ereport(NOTICE,
			(errmsg("evlog_rebuild(%s): " INT64_FORMAT " rows written", label, written)));
	return written;
}

/*
 * A user view's target as it is now: its qualified name and owner, and an
 * error unless it is still a table (the owner of an empty table can turn it
 * into a view with a _RETURN rule after registering it).
 */
static char *
user_target(EvlogUserView *uv, Oid *owner)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(uv->target));
	Form_pg_class cls;
	char	   *name;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the table of evlog view \"%s\" no longer exists", uv->name),
				 errhint("Unregister the view with evlog_unregister_view().")));
	cls = (Form_pg_class) GETSTRUCT(tup);
	if (cls->relkind != RELKIND_RELATION && cls->relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the target of evlog view \"%s\" is no longer a table", uv->name),
				 errhint("Unregister the view with evlog_unregister_view(), or make its target a table again.")));
	name = quote_qualified_identifier(get_namespace_name(cls->relnamespace),
									  NameStr(cls->relname));
	*owner = cls->relowner;
	ReleaseSysCache(tup);
	return name;
}

/* count(*) of a user view's target, as its owner (restricted) */
static int64
count_target(const char *rel, Oid owner)
{
	EvlogAsUser as;
	bool		isnull;
	int64		n;

	evlog_as_user_begin(owner, EVLOG_AS_SPI, &as);
	/* not read-only: the statement's own snapshot predates the replay */
	if (SPI_execute(psprintf("SELECT pg_catalog.count(*) FROM %s", rel), false, 1) != SPI_OK_SELECT)
		elog(ERROR, "evlog: counting %s failed", rel);
	n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	evlog_as_user_end(&as);
	return n;
}

/*
 * Empty a user view's table and replay the whole log through its handler.
 * The table is emptied and counted by its owner, restricted, never by the
 * log's owner: its triggers and rules are that role's code.
 */
static int64
replay_user_view(EvlogUserView *uv, Progress *p, ScanDirection dir)
{
	EvlogDeriveTarget target = {0, false, 1, uv};
	Snapshot	snap;
	Oid			owner;
	char	   *rel = user_target(uv, &owner);
	EvlogAsUser as;

	evlog_as_user_begin(owner, EVLOG_AS_SPI, &as);
	evlog_spi_exec(psprintf("DELETE FROM %s", rel), EVLOG_SPI_ANY);
	evlog_as_user_end(&as);

	snap = RegisterSnapshot(GetLatestSnapshot());
	replay_range(snap, PG_INT64_MIN, PG_INT64_MAX, dir, &target, p, NULL, NULL);
	UnregisterSnapshot(snap);

	CommandCounterIncrement();
	return count_target(rel, owner);
}

static int64
rebuild_user(EvlogUserView *uv)
{
	Progress	p = {uv->name, "replay", 0, 0, GetCurrentTimestamp()};
	int64		written;

	/* the handler writes the real table: appenders wait for the whole replay */
	lock_log_for_rebuild("evlog_rebuild()");
	p.total = estimate_events();
	report(&p);
	ereport(NOTICE,
			(errmsg("evlog_rebuild(%s): replaying at most " INT64_FORMAT " events (appends wait until commit)",
					uv->name, p.total)));
	written = replay_user_view(uv, &p, ForwardScanDirection);
	ereport(NOTICE,
			(errmsg("evlog_rebuild(%s): " INT64_FORMAT " rows written", uv->name, written)));
	return written;
}

static EvlogUserView *
lookup_user_view_or_error(const char *name)
{
	EvlogUserView *uv = evlog_user_view_lookup(name);

	if (uv == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unknown evlog view \"%s\"", name),
				 errhint("Use probe_failures, rollouts, host_states, all, or a view registered with evlog_register_view().")));
	return uv;
}

Datum
evlog_rebuild(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			bits = evlog_builtin_view_from_name(name);
	Relation	log;
	EvlogAsUser as;
	int64		written = 0;

	check_isolation();
	evlog_progress_start("evlog_rebuild");

	/*
	 * Derived tables are written as the log's owner, as by the trigger, with
	 * evlog's own staging tables (as_user.c); user targets as their owners.
	 */
	log = table_open(evlog_relid("event_log"), AccessShareLock);
	evlog_as_user_begin(log->rd_rel->relowner, EVLOG_AS_SPI | EVLOG_AS_TEMP_TABLES, &as);
	table_close(log, NoLock);

	if (strcmp(name, "all") == 0)
	{
		int			n;
		EvlogUserView *uv = evlog_user_views(&n);
		char	  **names = palloc(sizeof(char *) * (n + 1));

		written = rebuild_builtin(EVLOG_VIEW_ALL_BUILTIN, "all");
		/* copy the names: the cache may be reloaded while we replay */
		for (int i = 0; i < n; i++)
			names[i] = pstrdup(uv[i].name);
		for (int i = 0; i < n; i++)
		{
			EvlogUserView *v = evlog_user_view_lookup(names[i]);

			if (v != NULL)
				written += rebuild_user(v);
		}
	}
	else if (bits != 0)
		written = rebuild_builtin(bits, name);
	else
		written = rebuild_user(lookup_user_view_or_error(name));

	evlog_as_user_end(&as);
	evlog_progress_end();
	PG_RETURN_INT64(written);
}

/* Run a (view, difference, row) query and append its rows to the result. */
static void
collect(ReturnSetInfo *rsinfo, const char *sql)
{
	if (SPI_execute(sql, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "evlog: comparison query failed");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[3];
		bool		nulls[3];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_freetuptable(SPI_tuptable);
}

static char *
diff_query(const char *label, const char *cols, const char *expected,
		   const char *actual, const char *where)
{
	return psprintf("SELECT %s::text, 'missing'::text, pg_catalog.to_jsonb(d) FROM"
					" (SELECT %s FROM %s %s EXCEPT ALL SELECT %s FROM %s %s) d"
					" UNION ALL "
					"SELECT %s::text, 'unexpected'::text, pg_catalog.to_jsonb(d) FROM"
					" (SELECT %s FROM %s %s EXCEPT ALL SELECT %s FROM %s %s) d"
					" ORDER BY 2, 3",
					quote_literal_cstr(label),
					cols, expected, where, cols, actual, where,
					quote_literal_cstr(label),
					cols, actual, where, cols, expected, where);
}

static void
verify_builtin(ReturnSetInfo *rsinfo, int bits, const char *label, ScanDirection dir)
{
	Progress	p = {label, "verify", 0, 0, GetCurrentTimestamp()};
	EvlogDeriveTarget target = {bits, true, 0, NULL};

	create_staging(bits);
	p.total = estimate_events();
	report(&p);

	/*
	 * One snapshot for the replay and for reading the real tables: derived
	 * rows commit with their events, so both describe the same log and no
	 * lock is needed.
	 */
	evlog_derive_staging_begin(bits);
	PushActiveSnapshot(GetTransactionSnapshot());
	replay_range(GetActiveSnapshot(), PG_INT64_MIN, PG_INT64_MAX, dir, &target, &p, NULL, NULL);
	evlog_derive_staging_end();
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();	/* see our own staging rows */

	for (int view = EVLOG_VIEW_PROBE_FAILURES; view <= EVLOG_VIEW_HOST_STATES; view <<= 1)
	{
		const char *name;
		char	   *where;

		if (!(bits & view))
			continue;
		name = evlog_builtin_view_name(view);
		collect(rsinfo, diff_query(name, view_columns(view), evlog_builtin_table(view, true),
								   evlog_builtin_table(view, false), ""));
		if (view == EVLOG_VIEW_ROLLOUTS && has_rollout_state())
			collect(rsinfo, diff_query("rollout_state", view_columns(EVLOG_TABLE_ROLLOUT_STATE),
									   evlog_builtin_table(EVLOG_TABLE_ROLLOUT_STATE, true),
									   evlog_builtin_table(EVLOG_TABLE_ROLLOUT_STATE, false), ""));
		where = psprintf("WHERE view OPERATOR(pg_catalog.=) %s", quote_literal_cstr(name));
		collect(rsinfo, diff_query("derived_skips", view_columns(0), evlog_builtin_table(0, true),
								   evlog_builtin_table(0, false), where));
	}
	PopActiveSnapshot();
}

/*
 * A user view's handler writes its own table, so verify rebuilds it inside a
 * subtransaction, compares with a copy of what was there, and rolls back.
 */
static void
verify_user(ReturnSetInfo *rsinfo, EvlogUserView *uv, ScanDirection dir)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Progress	p = {uv->name, "verify", 0, 0, GetCurrentTimestamp()};
	Oid			owner;
	char	   *rel = user_target(uv, &owner);
	char	   *name = pstrdup(uv->name);
	char	   *sql;
	EvlogAsUser as;

	lock_log_for_rebuild("evlog_verify()");
	p.total = estimate_events();
	report(&p);

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);

	/*
	 * The copy, the comparison and its to_jsonb (which may call casts the
	 * target's owner created for its column types) run as the target's
	 * owner.  The copy's empty table is created by that owner without the
	 * restriction, which forbids temporary tables: CREATE TABLE ... LIKE
	 * reads only the catalogs and runs no code of that role.
	 */
	drop_if_exists("evlog_verify_before");
	evlog_as_user_begin(owner, EVLOG_AS_SPI | EVLOG_AS_TEMP_TABLES, &as);
	evlog_spi_exec(psprintf("CREATE TEMP TABLE evlog_verify_before (LIKE %s)", rel), EVLOG_SPI_ANY);
	evlog_as_user_end(&as);
	evlog_as_user_begin(owner, EVLOG_AS_SPI, &as);
	evlog_spi_exec(psprintf("INSERT INTO pg_temp.evlog_verify_before SELECT * FROM %s", rel), EVLOG_SPI_ANY);
	evlog_as_user_end(&as);

	(void) replay_user_view(uv, &p, dir);
	CommandCounterIncrement();
	sql = diff_query(name, "*", rel, "pg_temp.evlog_verify_before", "");
	evlog_as_user_begin(owner, EVLOG_AS_SPI, &as);
	/* read-only SPI uses the active snapshot: one that sees the replay */
	PushActiveSnapshot(GetTransactionSnapshot());
	collect(rsinfo, sql);
	PopActiveSnapshot();
	evlog_as_user_end(&as);

	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcxt);
	CurrentResourceOwner = oldowner;
}

Datum
evlog_verify(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int			bits = evlog_builtin_view_from_name(name);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ScanDirection dir = ForwardScanDirection;
	Relation	log;
	EvlogAsUser as;

	/* evlog_verify(view, replay_order) from 1.2 on */
	if (PG_NARGS() > 1)
	{
		char	   *order = text_to_cstring(PG_GETARG_TEXT_PP(1));

		if (strcmp(order, "reverse") == 0)
			dir = BackwardScanDirection;
		else if (strcmp(order, "seq") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown replay order \"%s\"", order),
					 errhint("Use seq or reverse.")));
	}
	check_isolation();
	InitMaterializedSRF(fcinfo, 0);
	evlog_progress_start("evlog_verify");

	/* as in evlog_rebuild: the log's owner, user targets as their owners */
	log = table_open(evlog_relid("event_log"), AccessShareLock);
	evlog_as_user_begin(log->rd_rel->relowner, EVLOG_AS_SPI | EVLOG_AS_TEMP_TABLES, &as);
	table_close(log, NoLock);

	if (strcmp(name, "all") == 0)
	{
		int			n;
		EvlogUserView *uv;
		char	  **names;

		verify_builtin(rsinfo, EVLOG_VIEW_ALL_BUILTIN, "all", dir);
		uv = evlog_user_views(&n);
		names = palloc(sizeof(char *) * (n + 1));
		for (int i = 0; i < n; i++)
			names[i] = pstrdup(uv[i].name);
		for (int i = 0; i < n; i++)
		{
			EvlogUserView *v = evlog_user_view_lookup(names[i]);

			if (v != NULL)
				verify_user(rsinfo, v, dir);
		}
	}
	else if (bits != 0)
		verify_builtin(rsinfo, bits, name, dir);
	else
		verify_user(rsinfo, lookup_user_view_or_error(name), dir);

	evlog_as_user_end(&as);
	evlog_progress_end();
	return (Datum) 0;
}
