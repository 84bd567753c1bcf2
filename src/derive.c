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
 *					  superseded_at) and last_transition_event_log_seq
 *	  host_states	  effect RecordTransition upserts (rollout, host) -> to, at
 *
 * JSON null means the same as an absent key (seed README).  An event that
 * feeds a table but cannot be read for it (probeName missing, observedAt not
 * a timestamp, subResults not an array, ...) raises an ERROR naming the field
 * and the seq, so the append that carries it fails and nothing commits.
 * Events about an unknown rollout change nothing; they are recorded in
 * evlog.derived_skips (counted by evlog.derived_stats), not raised.
 *
 * Order independence: a transition or host state only replaces one with a
 * lower seq, so the result does not depend on the order in which concurrent
 * appenders' triggers run, nor on the order in which a rebuild applies the
 * events committed during its replay.
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
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "evlog.h"

typedef enum DeriveStmt
{
	ST_PF_INSERT,
	ST_RO_OPEN,
	ST_RO_TRANSITION,
	ST_RO_WAVE,
	ST_RO_EXISTS,
	ST_HS_UPSERT,
	ST_SKIP,
	ST_COUNT
} DeriveStmt;

typedef struct StmtDef
{
	int			view;			/* whose table %s names */
	const char *sql;
	int			nargs;
	Oid			argtypes[7];
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
};

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
	}
	elog(ERROR, "unknown evlog view bit %d", view);
	return NULL;				/* keep compiler quiet */
}

static SPIPlanPtr
get_plan(DeriveStmt st, bool staging)
{
	SPIPlanPtr	plan = plans[staging][st];

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

/* Run a kept plan; NULL Datums (PointerGetDatum(NULL)) become SQL NULLs. */
static uint64
run(DeriveStmt st, bool staging, Datum *values, bool *isnull)
{
	char		nulls[7];
	int			nargs = stmt_defs[st].nargs;
	int			rc;

	if (staging && st == ST_PF_INSERT && stage_pf_rel != NULL)
	{
		stage_pf_insert(values, isnull);
		return 1;
	}

	for (int i = 0; i < nargs; i++)
		nulls[i] = isnull[i] ? 'n' : ' ';
	rc = SPI_execute_plan(get_plan(st, staging), values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_tuptable)
		SPI_freetuptable(SPI_tuptable);
	return SPI_processed;
}

static void
record_skip(const EvlogEventRow *ev, int view, const char *reason, bool staging)
{
	Datum		v[3];
	bool		n[3] = {false, false, false};

	v[0] = Int64GetDatum(ev->seq);
	v[1] = CStringGetTextDatum(evlog_builtin_view_name(view));
	v[2] = CStringGetTextDatum(reason);
	run(ST_SKIP, staging, v, n);
}

/* ---- reading the payload ---- */

/* Context for error messages: which event, which table it feeds. */
typedef struct PayloadCtx
{
	const EvlogEventRow *ev;
	const char *what;			/* "ProbeResult event" etc. */
	const char *view;
	JsonbContainer *root;
} PayloadCtx;

#if PG_VERSION_NUM >= 180000
pg_noreturn static void malformed(const PayloadCtx *pc, int sqlstate, const char *field,
								  const char *problem);
#else
static void malformed(const PayloadCtx *pc, int sqlstate, const char *field,
					  const char *problem) pg_attribute_noreturn();
#endif

static void
malformed(const PayloadCtx *pc, int sqlstate, const char *field, const char *problem)
{
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("malformed %s for evlog.%s", pc->what, pc->view),
			 errdetail("Event seq " INT64_FORMAT ": payload field \"%s\" %s.",
					   pc->ev->seq, field, problem),
			 errhint("Derived rows commit with their event, so an event they cannot be derived from is refused.")));
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
	MemoryContext oldcxt = CurrentMemoryContext;
	char	   *str;
	volatile bool ok = true;
	Datum		d = (Datum) 0;

	if (v == NULL)
	{
		if (required)
			malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key, "is missing");
		return false;
	}
	if (v->type != jbvString)
		malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key, "is not a timestamp string");
	str = pnstrdup(v->val.string.val, v->val.string.len);

	/*
	 * timestamptz_in's own error does not say which event or field; catch it
	 * and raise ours.  Safe here: the transaction is aborting either way.
	 */
	PG_TRY();
	{
		d = DirectFunctionCall3(timestamptz_in, CStringGetDatum(str),
								ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	if (!ok)
		malformed(pc, ERRCODE_INVALID_DATETIME_FORMAT, key,
				  psprintf("is not a timestamp: \"%s\"", str));
	*result = DatumGetTimestampTz(d);
	return true;
}

/* ---- the rules ---- */

static void
derive_probe_result(const EvlogEventRow *ev, JsonbContainer *root, bool staging)
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
				run(ST_PF_INSERT, staging, v, n);
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
			run(ST_PF_INSERT, staging, v, n);
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

static void
derive_rollout_opened(const EvlogEventRow *ev, JsonbContainer *root, bool staging)
{
	PayloadCtx	pc = {ev, "RolloutOpened event", "rollouts", root};
	Datum		v[5];
	bool		n[5] = {false, false, false, false, false};
	text	   *channel,
			   *target_ref;
	TimestampTz at;

	v[0] = PointerGetDatum(event_rollout_id(&pc, "rolloutId"));
	channel = get_text(&pc, root, "channel", false, "channel");
	target_ref = get_text(&pc, root, "targetRef", false, "targetRef");
	if (!get_timestamp(&pc, root, "at", false, &at))
		at = ev->ts;
	v[1] = PointerGetDatum(channel);
	n[1] = channel == NULL;
	v[2] = PointerGetDatum(target_ref);
	n[2] = target_ref == NULL;
	v[3] = Int64GetDatum(ev->seq);
	v[4] = TimestampTzGetDatum(at);
	if (run(ST_RO_OPEN, staging, v, n) == 0)
		record_skip(ev, EVLOG_VIEW_ROLLOUTS, "duplicate_open", staging);
}

static void
derive_wave_advanced(const EvlogEventRow *ev, JsonbContainer *root, bool staging)
{
	PayloadCtx	pc = {ev, "WaveAdvanced event", "rollouts", root};
	JsonbValue	buf;
	JsonbValue *wave;
	Datum		v[2];
	bool		n[2] = {false, false};

	v[0] = PointerGetDatum(event_rollout_id(&pc, "rolloutId"));
	wave = json_get(root, "toWave", &buf);
	if (wave == NULL)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is missing");
	if (wave->type != jbvNumeric)
		malformed(&pc, ERRCODE_INVALID_PARAMETER_VALUE, "toWave", "is not a number");
	v[1] = DirectFunctionCall1(numeric_int4, NumericGetDatum(wave->val.numeric));
	if (run(ST_RO_WAVE, staging, v, n) == 0)
		record_skip(ev, EVLOG_VIEW_ROLLOUTS, "unknown_rollout", staging);
}

static void
derive_rollout_transition(const EvlogEventRow *ev, JsonbContainer *root, bool staging)
{
	PayloadCtx	pc = {ev, "RecordRolloutTransition effect", "rollouts", root};
	Datum		v[4];
	bool		n[4] = {false, false, false, false};
	TimestampTz at;

	v[0] = PointerGetDatum(event_rollout_id(&pc, "rolloutId"));
	v[1] = PointerGetDatum(get_text(&pc, root, "to", true, "to"));
	get_timestamp(&pc, root, "at", true, &at);
	v[2] = Int64GetDatum(ev->seq);
	v[3] = TimestampTzGetDatum(at);
	if (run(ST_RO_TRANSITION, staging, v, n) == 0)
	{
		/* either unknown, or a transition with a higher seq already applied */
		if (run(ST_RO_EXISTS, staging, v, n) == 0)
			record_skip(ev, EVLOG_VIEW_ROLLOUTS, "unknown_rollout", staging);
	}
}

static void
derive_host_transition(const EvlogEventRow *ev, JsonbContainer *root, bool staging)
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
	run(ST_HS_UPSERT, staging, v, n);
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
	ev->seq = DatumGetInt64(values[0]);
	ev->ts = DatumGetTimestampTz(values[1]);
	ev->kind = DatumGetTextPP(values[2]);
	ev->host_id = nulls[3] ? NULL : DatumGetTextPP(values[3]);
	ev->rollout_id = nulls[4] ? NULL : DatumGetTextPP(values[4]);
	ev->payload = values[5];
	ev->tuple = tuple;
	ev->tupdesc = desc;
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

void
evlog_derive_event(const EvlogEventRow *ev, const EvlogDeriveTarget *target)
{
	int			feeds = evlog_event_feeds(ev) & target->builtin;

	if (feeds != 0)
	{
		Jsonb	   *payload = DatumGetJsonbP(ev->payload);
		JsonbContainer *root = &payload->root;
		JsonbValue	buf;
		JsonbValue *tag;

		if (!JsonContainerIsObject(root))
			return;				/* append validates this; rows from elsewhere may not */
		if (feeds & EVLOG_VIEW_PROBE_FAILURES)
		{
			tag = json_get(root, "kind", &buf);
			if (jv_str_eq(tag, "ProbeResult"))
				derive_probe_result(ev, root, target->staging);
		}
		else if (text_is(ev->kind, "rollout_event"))
		{
			tag = json_get(root, "kind", &buf);
			if (jv_str_eq(tag, "RolloutOpened"))
				derive_rollout_opened(ev, root, target->staging);
			else if (jv_str_eq(tag, "WaveAdvanced"))
				derive_wave_advanced(ev, root, target->staging);
		}
		else
		{
			tag = json_get(root, "effect", &buf);
			if ((feeds & EVLOG_VIEW_ROLLOUTS) && jv_str_eq(tag, "RecordRolloutTransition"))
				derive_rollout_transition(ev, root, target->staging);
			else if ((feeds & EVLOG_VIEW_HOST_STATES) && jv_str_eq(tag, "RecordTransition"))
				derive_host_transition(ev, root, target->staging);
		}
	}

	for (int i = 0; i < target->nuser; i++)
		call_user_view(ev, &target->user[i]);
}
