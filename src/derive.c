/*-------------------------------------------------------------------------
 *
 * derive.c
 *	  The per-event rules of the derived tables: the one code path that both
 *	  the AFTER INSERT trigger (derive_trigger.c) and evlog_rebuild /
 *	  evlog_verify (rebuild.c) run for each event.
 *
 * evlog_derive_event(ev, target) applies seed 003's rules to one event_log
 * row and writes the result into the real derived tables (trigger) or into
 * the session's staging copies pg_temp.evlog_stage_* (rebuild), and calls the
 * handlers of user-registered views.  The caller has connected to SPI and,
 * for the built-in tables, switched to the log owner's user id.
 *
 *	  probe_failures  agent_event, payload kind ProbeResult: one row per
 *					  sub-result with status fail and effectiveMode enforce;
 *					  without sub-results (absent, null or []), one row with
 *					  NULL control_id/framework if mode enforce and status fail
 *	  rollouts		  rollout_event RolloutOpened creates (state Opening, wave
 *					  0); rollout_event WaveAdvanced sets current_wave; effect
 *					  RecordRolloutTransition sets state (+ terminal_at /
 *					  superseded_at) and last_transition_event_log_seq; in
 *					  seq order, see below
 *	  host_states	  effect RecordTransition upserts (rollout, host) -> to, at
 *
 * JSON null means the same as an absent key (seed README).  An event that
 * feeds a table but cannot be read for it (probeName missing, observedAt not
 * a timestamp, subResults not an array, ...) raises an ERROR naming the field
 * and the seq, so the append that carries it fails and nothing commits.
 * Events about an unknown rollout change nothing; they are recorded in
 * evlog.derived_skips (counted by evlog.derived_stats), not raised.
 *
 * Payload timestamps are RFC 3339 with an explicit offset or Z, parsed here
 * (rfc3339.c), never by timestamptz_in: that one reads the session's
 * TimeZone and DateStyle and accepts now/today/infinity, so the row it gave
 * would not be a function of the event.  Integral fields take integers only.
 * evlog_derive_check() runs the same reading without writing, for
 * evlog_enqueue and the batch functions, so what an append would refuse is
 * refused at the call (a batch's before any seq is taken, naming the entry).
 *
 * Seq order.  Every table must equal a replay of the log in seq order,
 * whatever order concurrent transactions, batches (whose seqs are all taken
 * before their rows reach the trigger), rollbacks and a rebuild's catch-up
 * apply events in.  Per table:
 *
 *	  probe_failures  rows are per event: no order to get wrong.
 *	  host_states	  one row per (rollout, host) holding its highest-seq
 *					  writer: the upsert only replaces a lower seq.
 *	  rollouts		  in seq order, the lowest-seq RolloutOpened creates the
 *					  row, a later one is a duplicate_open skip, a wave or
 *					  transition below the opening meets no rollout (an
 *					  unknown_rollout skip), and each field then holds its
 *					  highest-seq writer above the opening.  That is a function
 *					  of: the lowest-seq opening, each field's highest-seq
 *					  writer whatever its seq, and the set of waves and
 *					  transitions below the opening.  Those are kept per
 *					  rollout in evlog.rollout_state (1.2): a min register, max
 *					  registers and a set, each merged by a commutative,
 *					  associative, idempotent operation, so the registers after
 *					  any order of application of a set of events are the
 *					  registers of that set.  The rollouts row and the
 *					  rollout's skip rows are recomputed from the registers by
 *					  the event that changed them (a field counts only if its
 *					  writer is above the opening; when a lower opening takes
 *					  over, the old one becomes a duplicate_open and the early
 *					  events above the new one stop being skips).
 *
 * What makes the merge see every committed event: each rollout event first
 * locks its rollout's register row with INSERT ... ON CONFLICT DO UPDATE,
 * which creates it if absent (a missing row cannot be locked; two
 * transactions creating it conflict on the primary key instead) and, under
 * READ COMMITTED, waits for a transaction holding it and then proceeds on
 * its committed version (or on nothing, if it rolled back).  So transactions
 * touching one rollout merge in turn, each into the registers of every
 * event committed before it, and the last to commit writes the function of
 * all of them.  Under REPEATABLE READ or SERIALIZABLE the same conflict
 * raises a serialization failure (40001) instead: retry.  The rebuild's
 * staging copies use the same code, so its catch-up may apply the events
 * committed during the replay after higher ones.  A database still at 1.1
 * has no evlog.rollout_state: there the 1.1 rules apply (first committed
 * opening wins) until ALTER EXTENSION evlog UPDATE.
 *
 * Writes go through SPI plans prepared once per backend and kept
 * (SPI_keepplan).  Every name in them is schema-qualified and every operator
 * spelled OPERATOR(pg_catalog.x): they are parsed with the appender's
 * search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/regproc.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "as_user.h"
#include "derive.h"
#include "logscan.h"
#include "rfc3339.h"

typedef enum DeriveStmt
{
	ST_PF_INSERT,
	ST_RO_OPEN,
	ST_RO_TRANSITION,
	ST_RO_WAVE,
	ST_RO_EXISTS,
	ST_HS_UPSERT,
	ST_SKIP,
	ST_RS_LOCK,
	ST_RS_WRITE,
	ST_RO_UPSERT,
	ST_SKIP_UNDO,
	ST_COUNT
} DeriveStmt;

#define MAX_ARGS 14

typedef struct StmtDef
{
	int			view;			/* whose table %s names */
	const char *sql;
	int			nargs;
	Oid			argtypes[MAX_ARGS];
} StmtDef;

static const StmtDef stmt_defs[ST_COUNT] = {
	[ST_PF_INSERT] = {EVLOG_VIEW_PROBE_FAILURES,
		"INSERT INTO %s (event_log_seq, rollout_id, host_id, probe_name, control_id, framework, observed_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}},
	[ST_RO_OPEN] = {EVLOG_VIEW_ROLLOUTS,
		"INSERT INTO %s (rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq, opened_at)"
		" VALUES ($1, $2, $3, 'Opening', 0, $4, $5) ON CONFLICT (rollout_id) DO NOTHING",
	5, {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID}},
	[ST_RO_TRANSITION] = {EVLOG_VIEW_ROLLOUTS,
		"UPDATE %s r SET state = $2, last_transition_event_log_seq = $3,"
		" terminal_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'Terminal' THEN $4 ELSE r.terminal_at END,"
		" superseded_at = CASE WHEN $2 OPERATOR(pg_catalog.=) 'Superseded' THEN $4 ELSE r.superseded_at END"
		" WHERE r.rollout_id OPERATOR(pg_catalog.=) $1"
		" AND (r.last_transition_event_log_seq IS NULL OR r.last_transition_event_log_seq OPERATOR(pg_catalog.<) $3)",
	4, {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID}},
	[ST_RO_WAVE] = {EVLOG_VIEW_ROLLOUTS,
		"UPDATE %s r SET current_wave = $2 WHERE r.rollout_id OPERATOR(pg_catalog.=) $1",
	2, {TEXTOID, INT4OID}},
	[ST_RO_EXISTS] = {EVLOG_VIEW_ROLLOUTS,
		"SELECT 1 FROM %s r WHERE r.rollout_id OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}},
	[ST_HS_UPSERT] = {EVLOG_VIEW_HOST_STATES,
		"INSERT INTO %s AS h (rollout_id, host_id, state, since, event_log_seq) VALUES ($1, $2, $3, $4, $5)"
		" ON CONFLICT (rollout_id, host_id) DO UPDATE SET state = EXCLUDED.state, since = EXCLUDED.since,"
		" event_log_seq = EXCLUDED.event_log_seq"
		" WHERE h.event_log_seq OPERATOR(pg_catalog.<) EXCLUDED.event_log_seq",
	5, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}},
	[ST_SKIP] = {0,
		"INSERT INTO %s (event_log_seq, view, reason) VALUES ($1, $2, $3)",
	3, {INT8OID, TEXTOID, TEXTOID}},
	/* lock (creating if need be) a rollout's registers; see the header */
	[ST_RS_LOCK] = {EVLOG_TABLE_ROLLOUT_STATE,
		"INSERT INTO %s AS s (rollout_id) VALUES ($1)"
		" ON CONFLICT (rollout_id) DO UPDATE SET rollout_id = EXCLUDED.rollout_id"
		" RETURNING s.open_seq, s.channel, s.target_ref, s.opened_at, s.wave_seq, s.wave,"
		" s.state_seq, s.state, s.terminal_seq, s.terminal_at, s.superseded_seq, s.superseded_at,"
		" s.early_seqs",
	1, {TEXTOID}},
	[ST_RS_WRITE] = {EVLOG_TABLE_ROLLOUT_STATE,
		"UPDATE %s s SET open_seq = $2, channel = $3, target_ref = $4, opened_at = $5,"
		" wave_seq = $6, wave = $7, state_seq = $8, state = $9, terminal_seq = $10,"
		" terminal_at = $11, superseded_seq = $12, superseded_at = $13, early_seqs = $14"
		" WHERE s.rollout_id OPERATOR(pg_catalog.=) $1",
		14, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT4OID,
	INT8OID, TEXTOID, INT8OID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID, INT8ARRAYOID}},
	[ST_RO_UPSERT] = {EVLOG_VIEW_ROLLOUTS,
		"INSERT INTO %s AS r (rollout_id, channel, target_ref, state, current_wave, opened_event_log_seq,"
		" last_transition_event_log_seq, opened_at, terminal_at, superseded_at)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
		" ON CONFLICT (rollout_id) DO UPDATE SET channel = EXCLUDED.channel,"
		" target_ref = EXCLUDED.target_ref, state = EXCLUDED.state,"
		" current_wave = EXCLUDED.current_wave, opened_event_log_seq = EXCLUDED.opened_event_log_seq,"
		" last_transition_event_log_seq = EXCLUDED.last_transition_event_log_seq,"
		" opened_at = EXCLUDED.opened_at, terminal_at = EXCLUDED.terminal_at,"
		" superseded_at = EXCLUDED.superseded_at",
		10, {TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, INT8OID, INT8OID,
	TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID}},
	[ST_SKIP_UNDO] = {0,
		"DELETE FROM %s s WHERE s.view OPERATOR(pg_catalog.=) 'rollouts'"
		" AND s.event_log_seq OPERATOR(pg_catalog.=) ANY ($1)",
	1, {INT8ARRAYOID}},
};

/* what a rule does with what it read from the event */
#define DERIVE_LIVE		0		/* write the derived tables */
#define DERIVE_STAGING	1		/* write the rebuild's staging copies */
#define DERIVE_CHECK	2		/* only read and validate the payload */

/* [staging][stmt]; kept plans live as long as the backend */
static SPIPlanPtr plans[2][ST_COUNT];

const char *
evlog_builtin_view_name(int view)
{
	switch (view)
	{
		case EVLOG_VIEW_PROBE_FAILURES:
			return "probe_failures";
		case EVLOG_VIEW_ROLLOUTS:
			return "rollouts";
		case EVLOG_VIEW_HOST_STATES:
			return "host_states";
	}
	elog(ERROR, "unknown evlog view bit %d", view);
	return NULL;				/* keep compiler quiet */
}

int
evlog_builtin_view_from_name(const char *name)
{
	if (strcmp(name, "probe_failures") == 0)
		return EVLOG_VIEW_PROBE_FAILURES;
	if (strcmp(name, "rollouts") == 0)
		return EVLOG_VIEW_ROLLOUTS;
	if (strcmp(name, "host_states") == 0)
		return EVLOG_VIEW_HOST_STATES;
	return 0;
}

/* view 0 is evlog.derived_skips, which every built-in view writes to */
const char *
evlog_builtin_table(int view, bool staging)
{
	switch (view)
	{
		case 0:
			return staging ? "pg_temp.evlog_stage_derived_skips" : "evlog.derived_skips";
		case EVLOG_VIEW_PROBE_FAILURES:
			return staging ? "pg_temp.evlog_stage_probe_failures" : "evlog.probe_failures";
		case EVLOG_VIEW_ROLLOUTS:
			return staging ? "pg_temp.evlog_stage_rollouts" : "evlog.rollouts";
		case EVLOG_VIEW_HOST_STATES:
			return staging ? "pg_temp.evlog_stage_host_states" : "evlog.host_states";
		case EVLOG_TABLE_ROLLOUT_STATE:
			return staging ? "pg_temp.evlog_stage_rollout_state" : "evlog.rollout_state";
	}
	elog(ERROR, "unknown evlog view bit %d", view);
	return NULL;				/* keep compiler quiet */
}

/*
 * The trigger's deferred switch to the log's owner (evlog_derive_event_lazy):
 * most events that feed a built-in table write nothing (a passing probe),
 * and switching the user, opening a GUC nest level with three settings and
 * connecting SPI cost more than the rest of the trigger.  Every statement
 * the rules run goes through get_plan() first, which switches then.
 */
static Oid	lazy_owner = InvalidOid;
static bool lazy_switched = false;
static EvlogAsUser lazy_as;

static SPIPlanPtr
get_plan(DeriveStmt st, bool staging)
{
	SPIPlanPtr	plan;

	if (OidIsValid(lazy_owner) && !lazy_switched)
	{
		evlog_as_user_begin(lazy_owner, EVLOG_AS_SPI, &lazy_as);
		lazy_switched = true;
	}
	plan = plans[staging][st];

	if (plan == NULL)
	{
		const StmtDef *def = &stmt_defs[st];
		char	   *sql = psprintf(def->sql, evlog_builtin_table(def->view, staging));

		plan = SPI_prepare(sql, def->nargs, (Oid *) def->argtypes);
		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		plans[staging][st] = plan;
		pfree(sql);
	}
	return plan;
}

/*
 * During a rebuild, probe_failures rows (the bulk of what a replay writes)
 * go straight into the staging heap: it is a session-private temp table with
 * no index, constraint or trigger, so the executor and SPI would add nothing
 * but per-row overhead.  Opened by evlog_derive_staging_begin().
 */
static Relation stage_pf_rel = NULL;
static TupleTableSlot *stage_pf_slot = NULL;
static BulkInsertState stage_pf_bistate = NULL;

void
evlog_derive_staging_begin(int builtin)
{
	Oid			nsp = LookupExplicitNamespace("pg_temp", false);
	Oid			relid;

	stage_pf_rel = NULL;
	if (!(builtin & EVLOG_VIEW_PROBE_FAILURES))
		return;
	CommandCounterIncrement();	/* see the staging table just created */
	relid = get_relname_relid("evlog_stage_probe_failures", nsp);
	if (!OidIsValid(relid))
		elog(ERROR, "evlog: staging table for probe_failures is missing");
	stage_pf_rel = table_open(relid, RowExclusiveLock);
	stage_pf_slot = table_slot_create(stage_pf_rel, NULL);
	stage_pf_bistate = GetBulkInsertState();
}

void
evlog_derive_staging_end(void)
{
	if (stage_pf_rel == NULL)
		return;
	ExecDropSingleTupleTableSlot(stage_pf_slot);
	table_finish_bulk_insert(stage_pf_rel, 0);
	FreeBulkInsertState(stage_pf_bistate);
	table_close(stage_pf_rel, NoLock);
	stage_pf_rel = NULL;
	stage_pf_slot = NULL;
	stage_pf_bistate = NULL;
}

static void
stage_pf_insert(Datum *values, bool *isnull)
{
	TupleTableSlot *slot = stage_pf_slot;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, 7 * sizeof(Datum));
	memcpy(slot->tts_isnull, isnull, 7 * sizeof(bool));
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(stage_pf_rel, slot, GetCurrentCommandId(true), 0, stage_pf_bistate);
}

/* a rule of the event evlog_derive_check is reading would write */
static bool check_writes = false;

/* Run a kept plan; NULL Datums (PointerGetDatum(NULL)) become SQL NULLs. */
static uint64
run(DeriveStmt st, int mode, Datum *values, bool *isnull)
{
	char		nulls[MAX_ARGS];
	int			nargs = stmt_defs[st].nargs;
	int			rc;

	if (mode == DERIVE_CHECK)
	{
		check_writes = true;
		return 0;
	}
	if (mode == DERIVE_STAGING && st == ST_PF_INSERT && stage_pf_rel != NULL)
	{
		stage_pf_insert(values, isnull);
		return 1;
	}

	for (int i = 0; i < nargs; i++)
		nulls[i] = isnull[i] ? 'n' : ' ';
	rc = SPI_execute_plan(get_plan(st, mode == DERIVE_STAGING), values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);
	return SPI_processed;
}

static void
record_skip(int64 seq, int view, const char *reason, int mode)
{
	Datum		v[3];
	bool		n[3] = {false, false, false};

	v[0] = Int64GetDatum(seq);
	v[1] = CStringGetTextDatum(evlog_builtin_view_name(view));
	v[2] = CStringGetTextDatum(reason);
	run(ST_SKIP, mode, v, n);
}

static bool text_is(const text *t, const char *s);

/* ---- reading the payload ---- */

/* Context for error messages: which event, which table it feeds. */
/* entry of a batch evlog_derive_check is checking, -1 for evlog_enqueue and
 * a row of evlog.append_copy */
static int	check_entry = -1;

typedef struct PayloadCtx
{
	const EvlogEventRow *ev;
	const char *what;			/* "ProbeResult event" etc. */
	const char *view;
	JsonbContainer *root;
} PayloadCtx;

static void malformed(const PayloadCtx *pc, int sqlstate, const char *field,
					  const char *problem) pg_attribute_noreturn();

static void
malformed(const PayloadCtx *pc, int sqlstate, const char *field, const char *problem)
{
	/* an event checked before it has a seq is named by entry or by kind */
	if (pc->ev->seq > 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("malformed %s for evlog.%s", pc->what, pc->view),
				 errdetail("Event seq " INT64_FORMAT ": payload field \"%s\" %s.",
						   pc->ev->seq, field, problem),
				 errhint("Derived rows commit with their event, so an event they cannot be derived from is refused.")));
	if (check_entry >= 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("malformed %s for evlog.%s", pc->what, pc->view),
				 errdetail("entry %d: payload field \"%s\" %s.",
						   check_entry, field, problem),
				 errhint("Derived rows commit with their event, so an event they cannot be derived from is refused; nothing of the batch was written.")));
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("malformed %s for evlog.%s", pc->what, pc->view),
			 errdetail("Event of kind %s (no seq yet): payload field \"%s\" %s.",
					   text_to_cstring(pc->ev->kind), field, problem),
			 errhint("evlog_append would refuse this event, so it is refused now, before it takes a seq.")));
}

/* The value of key in container, or NULL if absent or JSON null. */
static JsonbValue *
json_get(JsonbContainer *c, const char *key, JsonbValue *buf)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), buf);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	return v;
}

static bool
jv_str_eq(const JsonbValue *v, const char *s)
{
	size_t		len = strlen(s);

	return v != NULL && v->type == jbvString && v->val.string.len == len &&
		memcmp(v->val.string.val, s, len) == 0;
}

/* A string field as text; NULL if absent/null (error if required). */
static text *
get_text(const PayloadCtx *pc, JsonbContainer *c, const char *key, bool required,
		 const char *field_label)
{
	JsonbValue	buf;
	JsonbValue *v = json_get(c, key, &buf);

	if (v == NULL)
	{
		if (required)
			malformed(pc, ERRCODE_INVALID_PARAMETER_VALUE, field_label, "is missing");
		return NULL;
	}
	if (v->type != jbvString)
		malformed(pc, ERRCODE_INVALID_PARAMETER_VALUE, field_label, "is not a string");
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/* A timestamp field; false if absent/null and not required. */
static bool
get_timestamp(const PayloadCtx *pc, JsonbContainer *c, const char *key, bool required,
			  TimestampTz *result)
{
	JsonbValue	buf;
	JsonbValue *v = json_get(c, key, &buf);

	if (v == NULL)
	{
		if (required)
			malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key, "is missing");
		return false;
	}
	if (v->type != jbvString)
		malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key, "is not a timestamp string");
	if (!evlog_parse_rfc3339(v->val.string.val, v->val.string.len, 0, result))
		malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key,
				  psprintf("is not an RFC 3339 timestamp with an offset or Z: \"%s\"",
						   pnstrdup(v->val.string.val, v->val.string.len)));
	return true;
}

/* ---- the rules ---- */

static void
derive_probe_result(const EvlogEventRow *ev, JsonbContainer *root, int dmode)
{
	PayloadCtx	pc = {ev, "ProbeResult event", "probe_failures", root};
	JsonbValue	buf,
				mbuf,
				sbuf;
	JsonbValue *subs;
	text	   *probe_name;
	TimestampTz observed_at;
	Datum		v[7];
	bool		n[7] = {false, false, false, false, false, false, false};

	probe_name = get_text(&pc, root, "probeName", true, "probeName");
	get_timestamp(&pc, root, "observedAt", true, &observed_at);

	v[0] = Int64GetDatum(ev->seq);
	v[1] = PointerGetDatum(ev->rollout_id);
	n[1] = ev->rollout_id == NULL;
	v[2] = PointerGetDatum(ev->host_id);
	n[2] = ev->host_id == NULL;
	v[3] = PointerGetDatum(probe_name);
	v[6] = TimestampTzGetDatum(observed_at);

	subs = json_get(root, "subResults", &buf);
	if (subs != NULL &&
		!(subs->type == jbvBinary && JsonContainerIsArray(subs->val.binary.data)))
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "subResults", "is not an array");

	if (subs != NULL && JsonContainerSize(subs->val.binary.data) > 0)
	{
		JsonbContainer *arr = subs->val.binary.data;
		int			count = JsonContainerSize(arr);

		/* evidence probe: each sub-result carries its own effective mode */
		for (int i = 0; i < count; i++)
		{
			JsonbValue *sr = getIthJsonbValueFromContainer(arr, i);
			JsonbContainer *src;
			JsonbValue *status,
					   *mode;
			char	   *label;

			label = psprintf("subResults[%d]", i);
			if (sr->type != jbvBinary || !JsonContainerIsObject(sr->val.binary.data))
				malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, label, "is not an object");
			src = sr->val.binary.data;
			status = json_get(src, "status", &sbuf);
			mode = json_get(src, "effectiveMode", &mbuf);
			if (status != NULL && status->type != jbvString)
				malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("%s.status", label), "is not a string");
			if (mode != NULL && mode->type != jbvString)
				malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE,
						  psprintf("%s.effectiveMode", label), "is not a string");
			if (jv_str_eq(status, "fail") && jv_str_eq(mode, "enforce"))
			{
				text	   *control = get_text(&pc, src, "controlId", true,
											   psprintf("%s.controlId", label));
				text	   *framework = get_text(&pc, src, "framework", false,
												 psprintf("%s.framework", label));

				v[4] = PointerGetDatum(control);
				n[4] = false;
				v[5] = PointerGetDatum(framework);
				n[5] = framework == NULL;
				run(ST_PF_INSERT, dmode, v, n);
			}
		}
	}
	else
	{
		/* non-evidence probe: the probe-level mode is the effective mode */
		JsonbValue *status = json_get(root, "status", &sbuf);
		JsonbValue *mode = json_get(root, "mode", &mbuf);

		if (status != NULL && status->type != jbvString)
			malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "status", "is not a string");
		if (mode != NULL && mode->type != jbvString)
			malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "mode", "is not a string");
		if (jv_str_eq(status, "fail") && jv_str_eq(mode, "enforce"))
		{
			n[4] = n[5] = true;
			v[4] = v[5] = (Datum) 0;
			run(ST_PF_INSERT, dmode, v, n);
		}
	}
}

/* rolloutId from the payload, else the event row's rollout_id */
static text *
event_rollout_id(const PayloadCtx *pc, const char *key)
{
	text	   *id = get_text(pc, pc->root, key, false, key);

	if (id == NULL)
		id = pc->ev->rollout_id;
	if (id == NULL)
		malformed(pc, ERRCODE_INVALID_PARAMETER_VALUE, key,
				  "is missing and the event has no rollout_id");
	return id;
}

/*
 * One rollout event as the rollouts rules read it.
 */
typedef enum RolloutEventType
{
	RO_OPEN,
	RO_WAVE,
	RO_TRANSITION
} RolloutEventType;

typedef struct RolloutEvent
{
	RolloutEventType type;
	int64		seq;
	text	   *rollout_id;
	text	   *channel;		/* RO_OPEN */
	text	   *target_ref;		/* RO_OPEN */
	TimestampTz at;				/* RO_OPEN (opened_at), RO_TRANSITION */
	int32		wave;			/* RO_WAVE */
	text	   *to;				/* RO_TRANSITION */
} RolloutEvent;

/*
 * A rollout's registers, one row of evlog.rollout_state (see the header):
 * the lowest-seq opening, and for each field the seq and value of its
 * highest-seq writer, whether or not that writer is above the opening; early
 * holds, in ascending order, the seqs of waves and transitions below the
 * opening (all of them while there is none), which are derived_skips rows.
 */
typedef struct RolloutRegs
{
	bool		has_open;
	int64		open_seq;
	text	   *channel;
	text	   *target_ref;
	TimestampTz opened_at;
	bool		has_wave;
	int64		wave_seq;
	int32		wave;
	bool		has_state;
	int64		state_seq;
	text	   *state;
	bool		has_terminal;
	int64		terminal_seq;
	TimestampTz terminal_at;
	bool		has_superseded;
	int64		superseded_seq;
	TimestampTz superseded_at;
	int			nearly;
	int64	   *early;
} RolloutRegs;

static bool
rollout_state_exists(void)
{
	Oid			nsp = get_namespace_oid("evlog", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("rollout_state", nsp));
}

/* Lock the rollout's registers (creating an empty row) and read them. */
static void
lock_regs(text *rollout_id, int mode, RolloutRegs *r)
{
	Datum		v[1];
	char		nulls[1] = {' '};
	Datum		d[13];
	bool		n[13];
	int			rc;

	v[0] = PointerGetDatum(rollout_id);
	rc = SPI_execute_plan(get_plan(ST_RS_LOCK, mode == DERIVE_STAGING), v, nulls, false, 0);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "evlog: locking the registers of a rollout failed: %s",
			 SPI_result_code_string(rc));
	for (int i = 0; i < 13; i++)
	{
		Datum		x = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &n[i]);

		/* copy out of the tuple table, freed below */
		d[i] = n[i] ? (Datum) 0 :
			datumCopy(x, TupleDescAttr(SPI_tuptable->tupdesc, i)->attbyval,
					  TupleDescAttr(SPI_tuptable->tupdesc, i)->attlen);
	}
	SPI_freetuptable(SPI_tuptable);

	memset(r, 0, sizeof(*r));
	r->has_open = !n[0];
	r->open_seq = DatumGetInt64(d[0]);
	r->channel = n[1] ? NULL : DatumGetTextPP(d[1]);
	r->target_ref = n[2] ? NULL : DatumGetTextPP(d[2]);
	r->opened_at = DatumGetTimestampTz(d[3]);
	r->has_wave = !n[4];
	r->wave_seq = DatumGetInt64(d[4]);
	r->wave = DatumGetInt32(d[5]);
	r->has_state = !n[6];
	r->state_seq = DatumGetInt64(d[6]);
	r->state = n[7] ? NULL : DatumGetTextPP(d[7]);
	r->has_terminal = !n[8];
	r->terminal_seq = DatumGetInt64(d[8]);
	r->terminal_at = DatumGetTimestampTz(d[9]);
	r->has_superseded = !n[10];
	r->superseded_seq = DatumGetInt64(d[10]);
	r->superseded_at = DatumGetTimestampTz(d[11]);
	if (!n[12])
	{
		Datum	   *elems;
		bool	   *enulls;

		deconstruct_array(DatumGetArrayTypeP(d[12]), INT8OID, sizeof(int64),
						  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &enulls, &r->nearly);
		r->early = palloc(sizeof(int64) * (r->nearly + 1));
		for (int i = 0; i < r->nearly; i++)
			r->early[i] = DatumGetInt64(elems[i]);
	}
	else
		r->early = palloc(sizeof(int64));
}

static Datum
int8_array(int64 *seqs, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(seqs[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

static void
write_regs(text *rollout_id, const RolloutRegs *r, int mode)
{
	Datum		v[14];
	bool		n[14];

	v[0] = PointerGetDatum(rollout_id);
	n[0] = false;
	v[1] = Int64GetDatum(r->open_seq);
	n[1] = !r->has_open;
	v[2] = PointerGetDatum(r->channel);
	n[2] = r->channel == NULL;
	v[3] = PointerGetDatum(r->target_ref);
	n[3] = r->target_ref == NULL;
	v[4] = TimestampTzGetDatum(r->opened_at);
	n[4] = !r->has_open;
	v[5] = Int64GetDatum(r->wave_seq);
	n[5] = !r->has_wave;
	v[6] = Int32GetDatum(r->wave);
	n[6] = !r->has_wave;
	v[7] = Int64GetDatum(r->state_seq);
	n[7] = !r->has_state;
	v[8] = PointerGetDatum(r->state);
	n[8] = !r->has_state;
	v[9] = Int64GetDatum(r->terminal_seq);
	n[9] = !r->has_terminal;
	v[10] = TimestampTzGetDatum(r->terminal_at);
	n[10] = !r->has_terminal;
	v[11] = Int64GetDatum(r->superseded_seq);
	n[11] = !r->has_superseded;
	v[12] = TimestampTzGetDatum(r->superseded_at);
	n[12] = !r->has_superseded;
	v[13] = r->nearly > 0 ? int8_array(r->early, r->nearly) : (Datum) 0;
	n[13] = r->nearly == 0;
	run(ST_RS_WRITE, mode, v, n);
}

/*
 * The evlog.rollouts row the registers stand for: a field's writer counts
 * only if its seq is above the opening's, as in a replay in seq order, where
 * it would have met no rollout (and been skipped) otherwise.
 */
static void
write_rollout(text *rollout_id, const RolloutRegs *r, int mode)
{
	Datum		v[10];
	bool		n[10] = {false, false, false, false, false, false, false, false, false, false};
	bool		transitioned = r->has_state && r->state_seq > r->open_seq;

	v[0] = PointerGetDatum(rollout_id);
	v[1] = PointerGetDatum(r->channel);
	n[1] = r->channel == NULL;
	v[2] = PointerGetDatum(r->target_ref);
	n[2] = r->target_ref == NULL;
	v[3] = transitioned ? PointerGetDatum(r->state) : CStringGetTextDatum("Opening");
	v[4] = Int32GetDatum(r->has_wave && r->wave_seq > r->open_seq ? r->wave : 0);
	v[5] = Int64GetDatum(r->open_seq);
	v[6] = Int64GetDatum(r->state_seq);
	n[6] = !transitioned;
	v[7] = TimestampTzGetDatum(r->opened_at);
	v[8] = TimestampTzGetDatum(r->terminal_at);
	n[8] = !(r->has_terminal && r->terminal_seq > r->open_seq);
	v[9] = TimestampTzGetDatum(r->superseded_at);
	n[9] = !(r->has_superseded && r->superseded_seq > r->open_seq);
	run(ST_RO_UPSERT, mode, v, n);
}

/* A wave or transition below the opening (or with none yet) is skipped. */
static void
note_early(RolloutRegs *r, int64 seq, int mode)
{
	int			i;

	if (r->has_open && seq > r->open_seq)
		return;
	for (i = 0; i < r->nearly && r->early[i] < seq; i++)
		;
	if (i < r->nearly && r->early[i] == seq)
		return;					/* already applied */
	r->early = repalloc(r->early, sizeof(int64) * (r->nearly + 1));
	memmove(&r->early[i + 1], &r->early[i], sizeof(int64) * (r->nearly - i));
	r->early[i] = seq;
	r->nearly++;
	record_skip(seq, EVLOG_VIEW_ROLLOUTS, "unknown_rollout", mode);
}

/*
 * Apply one rollout event to its rollout's registers, then rewrite the
 * rollout's row from them.  Runs holding the register row's lock.
 */
static void
apply_rollout_event(const RolloutEvent *e, int mode)
{
	RolloutRegs r;

	lock_regs(e->rollout_id, mode, &r);
	switch (e->type)
	{
		case RO_OPEN:
			if (r.has_open && e->seq >= r.open_seq)
			{
				if (e->seq > r.open_seq)
					record_skip(e->seq, EVLOG_VIEW_ROLLOUTS, "duplicate_open", mode);
				return;			/* registers and row unchanged */
			}
			/* the lowest-seq opening so far takes over */
			if (r.has_open)
				record_skip(r.open_seq, EVLOG_VIEW_ROLLOUTS, "duplicate_open", mode);
			r.has_open = true;
			r.open_seq = e->seq;
			r.channel = e->channel;
			r.target_ref = e->target_ref;
			r.opened_at = e->at;
			/* early waves and transitions above it now apply: not skips */
			{
				int			keep = 0;

				while (keep < r.nearly && r.early[keep] < e->seq)
					keep++;
				if (keep < r.nearly)
				{
					Datum		v[1];
					bool		n[1] = {false};

					v[0] = int8_array(&r.early[keep], r.nearly - keep);
					run(ST_SKIP_UNDO, mode, v, n);
					r.nearly = keep;
				}
			}
			break;
		case RO_WAVE:
			if (!r.has_wave || e->seq > r.wave_seq)
			{
				r.has_wave = true;
				r.wave_seq = e->seq;
				r.wave = e->wave;
			}
			note_early(&r, e->seq, mode);
			break;
		case RO_TRANSITION:
			if (!r.has_state || e->seq > r.state_seq)
			{
				r.has_state = true;
				r.state_seq = e->seq;
				r.state = e->to;
			}
			if (text_is(e->to, "Terminal") && (!r.has_terminal || e->seq > r.terminal_seq))
			{
				r.has_terminal = true;
				r.terminal_seq = e->seq;
				r.terminal_at = e->at;
			}
			if (text_is(e->to, "Superseded") && (!r.has_superseded || e->seq > r.superseded_seq))
			{
				r.has_superseded = true;
				r.superseded_seq = e->seq;
				r.superseded_at = e->at;
			}
			note_early(&r, e->seq, mode);
			break;
	}
	write_regs(e->rollout_id, &r, mode);
	if (r.has_open)
		write_rollout(e->rollout_id, &r, mode);
}

/*
 * A database still at 1.1 has no evlog.rollout_state: the rules as 1.1 had
 * them (first committed opening wins, transitions guarded by seq, waves
 * not), until ALTER EXTENSION evlog UPDATE.
 */
static void
apply_rollout_event_11(const RolloutEvent *e, int mode)
{
	Datum		v[5];
	bool		n[5] = {false, false, false, false, false};

	v[0] = PointerGetDatum(e->rollout_id);
	switch (e->type)
	{
		case RO_OPEN:
			v[1] = PointerGetDatum(e->channel);
			n[1] = e->channel == NULL;
			v[2] = PointerGetDatum(e->target_ref);
			n[2] = e->target_ref == NULL;
			v[3] = Int64GetDatum(e->seq);
			v[4] = TimestampTzGetDatum(e->at);
			if (run(ST_RO_OPEN, mode, v, n) == 0)
				record_skip(e->seq, EVLOG_VIEW_ROLLOUTS, "duplicate_open", mode);
			break;
		case RO_WAVE:
			v[1] = Int32GetDatum(e->wave);
			if (run(ST_RO_WAVE, mode, v, n) == 0)
				record_skip(e->seq, EVLOG_VIEW_ROLLOUTS, "unknown_rollout", mode);
			break;
		case RO_TRANSITION:
			v[1] = PointerGetDatum(e->to);
			v[2] = Int64GetDatum(e->seq);
			v[3] = TimestampTzGetDatum(e->at);
			if (run(ST_RO_TRANSITION, mode, v, n) == 0 &&
				run(ST_RO_EXISTS, mode, v, n) == 0)
				record_skip(e->seq, EVLOG_VIEW_ROLLOUTS, "unknown_rollout", mode);
			break;
	}
}

static void
derive_rollout(const RolloutEvent *e, int mode)
{
	/* what it writes depends on the rollout's registers: it writes */
	if (mode == DERIVE_CHECK)
	{
		check_writes = true;
		return;
	}
	if (rollout_state_exists())
		apply_rollout_event(e, mode);
	else
		apply_rollout_event_11(e, mode);
}

static void
derive_rollout_opened(const EvlogEventRow *ev, JsonbContainer *root, int mode)
{
	PayloadCtx	pc = {ev, "RolloutOpened event", "rollouts", root};
	RolloutEvent e = {RO_OPEN, ev->seq};

	e.rollout_id = event_rollout_id(&pc, "rolloutId");
	e.channel = get_text(&pc, root, "channel", false, "channel");
	e.target_ref = get_text(&pc, root, "targetRef", false, "targetRef");
	if (!get_timestamp(&pc, root, "at", false, &e.at))
		e.at = ev->ts;
	derive_rollout(&e, mode);
}

static void
derive_wave_advanced(const EvlogEventRow *ev, JsonbContainer *root, int mode)
{
	PayloadCtx	pc = {ev, "WaveAdvanced event", "rollouts", root};
	RolloutEvent e = {RO_WAVE, ev->seq};
	JsonbValue	buf;
	JsonbValue *wave;
	bool		overflow = false;
	Numeric		num;

	e.rollout_id = event_rollout_id(&pc, "rolloutId");
	wave = json_get(root, "toWave", &buf);
	if (wave == NULL)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is missing");
	if (wave->type != jbvNumeric)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is not a number");
	num = wave->val.numeric;
	/* numeric_int4 would round 1.5 to 2: an integral field takes integers only */
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num),
										  DirectFunctionCall2(numeric_trunc, NumericGetDatum(num),
															  Int32GetDatum(0)))))
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is not an integer");
	e.wave = numeric_int4_opt_error(num, &overflow);
	if (overflow)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is out of range for an integer");
	derive_rollout(&e, mode);
}

static void
derive_rollout_transition(const EvlogEventRow *ev, JsonbContainer *root, int mode)
{
	PayloadCtx	pc = {ev, "RecordRolloutTransition effect", "rollouts", root};
	RolloutEvent e = {RO_TRANSITION, ev->seq};

	e.rollout_id = event_rollout_id(&pc, "rolloutId");
	e.to = get_text(&pc, root, "to", true, "to");
	get_timestamp(&pc, root, "at", true, &e.at);
	derive_rollout(&e, mode);
}

static void
derive_host_transition(const EvlogEventRow *ev, JsonbContainer *root, int mode)
{
	PayloadCtx	pc = {ev, "RecordTransition effect", "host_states", root};
	Datum		v[5];
	bool		n[5] = {false, false, false, false, false};
	text	   *host;
	TimestampTz at;

	v[0] = PointerGetDatum(event_rollout_id(&pc, "rollout_id"));
	host = get_text(&pc, root, "host", false, "host");
	if (host == NULL)
		host = ev->host_id;
	if (host == NULL)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "host",
				  "is missing and the event has no host_id");
	v[1] = PointerGetDatum(host);
	v[2] = PointerGetDatum(get_text(&pc, root, "to", true, "to"));
	get_timestamp(&pc, root, "at", true, &at);
	v[3] = TimestampTzGetDatum(at);
	v[4] = Int64GetDatum(ev->seq);
	run(ST_HS_UPSERT, mode, v, n);
}

static bool
text_is(const text *t, const char *s)
{
	size_t		len = strlen(s);

	return t != NULL && VARSIZE_ANY_EXHDR(t) == len &&
		memcmp(VARDATA_ANY(t), s, len) == 0;
}

/*
 * Call one user view's handler with the event row, as the handler's owner,
 * restricted and with a search_path that an appender cannot plant objects
 * in (as_user.c).  handler_owner is current: the cache is reloaded when
 * pg_proc changes (derive_trigger.c).
 */
static void
call_user_view(const EvlogEventRow *ev, EvlogUserView *uv)
{
	LOCAL_FCINFO(fcinfo, 1);
	EvlogAsUser as;

	if (uv->unsafe_path)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("handler %s of evlog view \"%s\" sets a search_path that does not end with pg_temp",
						format_procedure(uv->handler), uv->name),
				 errdetail("The handler runs in the appending session, whose temporary tables such a search_path finds first."),
				 errhint("ALTER FUNCTION %s SET search_path = ..., pg_temp; or drop the SET clause and name tables with their schema.",
						 format_procedure(uv->handler))));
	evlog_as_user_begin(uv->handler_owner, 0, &as);
	InitFunctionCallInfoData(*fcinfo, &uv->flinfo, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = heap_copy_tuple_as_datum(ev->tuple, ev->tupdesc);
	fcinfo->args[0].isnull = false;
	(void) FunctionCallInvoke(fcinfo);	/* returns void */
	evlog_as_user_end(&as);
}

void
evlog_event_from_tuple(HeapTuple tuple, TupleDesc desc, EvlogEventRow *ev)
{
	Datum		values[EVLOG_LOG_NATTS];
	bool		nulls[EVLOG_LOG_NATTS];

	/*
	 * Each column by itself, not heap_deform_tuple: a descriptor with more
	 * columns (dropped ones after evlog's) must not write past the arrays.
	 * The caller checked the layout (evlog_check_log_layout).
	 */
	if (desc->natts < EVLOG_LOG_NATTS)
		elog(ERROR, "evlog.event_log row with %d columns", desc->natts);
	for (int a = 0; a < EVLOG_LOG_NATTS; a++)
		values[a] = heap_getattr(tuple, a + 1, desc, &nulls[a]);
	evlog_event_row_from_values(values, nulls, ev);
	ev->tuple = tuple;
	ev->tupdesc = desc;
}

/* The same from a row's column values (no tuple: ev->tuple is NULL). */
void
evlog_event_row_from_values(const Datum *values, const bool *nulls, EvlogEventRow *ev)
{
	ev->seq = DatumGetInt64(values[EVLOG_COL_SEQ]);
	ev->ts = DatumGetTimestampTz(values[EVLOG_COL_TS]);
	ev->kind = DatumGetTextPP(values[EVLOG_COL_KIND]);
	ev->host_id = nulls[EVLOG_COL_HOST_ID] ? NULL : DatumGetTextPP(values[EVLOG_COL_HOST_ID]);
	ev->rollout_id = nulls[EVLOG_COL_ROLLOUT_ID] ? NULL : DatumGetTextPP(values[EVLOG_COL_ROLLOUT_ID]);
	ev->payload = values[EVLOG_COL_PAYLOAD];
	ev->tuple = NULL;
	ev->tupdesc = NULL;
}

/*
 * Which built-in views an event of this row kind can feed: a cheap test on
 * the row's kind, before the payload is even detoasted.
 */
int
evlog_event_feeds(const EvlogEventRow *ev)
{
	if (text_is(ev->kind, "agent_event"))
		return EVLOG_VIEW_PROBE_FAILURES;
	if (text_is(ev->kind, "rollout_event"))
		return EVLOG_VIEW_ROLLOUTS;
	if (text_is(ev->kind, "effect"))
		return EVLOG_VIEW_ROLLOUTS | EVLOG_VIEW_HOST_STATES;
	return 0;
}

bool
evlog_kind_feeds_builtin(const text *kind)
{
	return text_is(kind, "agent_event") || text_is(kind, "rollout_event") ||
		text_is(kind, "effect");
}

/* Apply the built-in rules of the views in feeds to one event. */
static void
derive_builtin(const EvlogEventRow *ev, int feeds, int mode)
{
	Jsonb	   *payload = DatumGetJsonbP(ev->payload);
	JsonbContainer *root = &payload->root;
	JsonbValue	buf;
	JsonbValue *tag;

	if (!JsonContainerIsObject(root))
		return;					/* append validates this; rows from elsewhere may not */
	if (feeds & EVLOG_VIEW_PROBE_FAILURES)
	{
		tag = json_get(root, "kind", &buf);
		if (jv_str_eq(tag, "ProbeResult"))
			derive_probe_result(ev, root, mode);
	}
	else if (text_is(ev->kind, "rollout_event"))
	{
		tag = json_get(root, "kind", &buf);
		if (jv_str_eq(tag, "RolloutOpened"))
			derive_rollout_opened(ev, root, mode);
		else if (jv_str_eq(tag, "WaveAdvanced"))
			derive_wave_advanced(ev, root, mode);
	}
	else
	{
		tag = json_get(root, "effect", &buf);
		if ((feeds & EVLOG_VIEW_ROLLOUTS) && jv_str_eq(tag, "RecordRolloutTransition"))
			derive_rollout_transition(ev, root, mode);
		else if ((feeds & EVLOG_VIEW_HOST_STATES) && jv_str_eq(tag, "RecordTransition"))
			derive_host_transition(ev, root, mode);
	}
}

/*
 * The seq of the event whose built-in derived rows are being written right
 * now (0: none).  The derived tables' evlog.derived_seq_check triggers take
 * a row naming it as naming an existing event without looking: it is the
 * event being appended, or one being derived again from the log.
 */
int64		evlog_derived_from_seq = 0;

void
evlog_derive_event(const EvlogEventRow *ev, const EvlogDeriveTarget *target)
{
	int			feeds = evlog_event_feeds(ev) & target->builtin;

	if (feeds != 0 && target->staging)
		derive_builtin(ev, feeds, DERIVE_STAGING);
	else if (feeds != 0)
	{
		int64		save = evlog_derived_from_seq;

		/* reset on error too, or a later statement could skip its check */
		PG_TRY();
		{
			evlog_derived_from_seq = ev->seq;
			derive_builtin(ev, feeds, DERIVE_LIVE);
		}
		PG_FINALLY();
		{
			evlog_derived_from_seq = save;
		}
		PG_END_TRY();
	}
	for (int i = 0; i < target->nuser; i++)
		call_user_view(ev, &target->user[i]);
}

/*
 * evlog_derive_event() for the built-in tables only, with the switch to
 * owner (restricted, settings pinned, SPI connected: as_user.c) made only
 * if a rule runs a statement.  On error the (sub)transaction's abort undoes
 * the switch, as it does for evlog_as_user_begin() everywhere.
 */
void
evlog_derive_event_lazy(const EvlogEventRow *ev, const EvlogDeriveTarget *target, Oid owner)
{
	Oid			save_owner = lazy_owner;
	bool		save_switched = lazy_switched;
	EvlogAsUser save_as = lazy_as;
	bool		switched;

	Assert(target->nuser == 0);
	lazy_owner = owner;
	lazy_switched = false;
	PG_TRY();
	{
		evlog_derive_event(ev, target);
	}
	PG_FINALLY();
	{
		switched = lazy_switched;
		lazy_owner = save_owner;
		lazy_switched = save_switched;
	}
	PG_END_TRY();
	if (switched)
		evlog_as_user_end(&lazy_as);
	lazy_as = save_as;
}

/*
 * Read an event that is not in the log yet as the built-in rules would, and
 * raise the error its append would raise for its payload; write nothing.
 * For entry points that accept an event now and write it later
 * (evlog_enqueue), or that validate every entry before taking any seq (the
 * batch functions: entry is the entry's 0-based index, which the error's
 * detail names; -1 otherwise), so that what the log would refuse is refused
 * at the call.
 *
 * Returns whether a rule would write for it.  When not, the event's derive
 * writes nothing either, whenever it runs: the rules are a function of the
 * event's row, and the one path that decides differently, a rollout's,
 * counts as writing.
 */
bool
evlog_derive_check(const EvlogEvent *event, int entry)
{
	EvlogEventRow ev;

	if (!evlog_kind_feeds_builtin(event->kind))
		return false;
	memset(&ev, 0, sizeof(ev));
	ev.seq = 0;					/* none yet: errors name the entry or kind */
	ev.ts = event->ts;
	ev.kind = event->kind;
	ev.host_id = event->host_id;
	ev.rollout_id = event->rollout_id;
	ev.payload = JsonbPGetDatum(event->payload);
	/* an error leaves check_entry set: the next call sets it again */
	check_entry = entry;
	check_writes = false;
	derive_builtin(&ev, evlog_event_feeds(&ev), DERIVE_CHECK);
	check_entry = -1;
	return check_writes;
}
