/*-------------------------------------------------------------------------
 *
 * evlog.c
 *	  Module load: the magic block and the evlog.* settings.
 *
 * Everything here works with or without shared_preload_libraries: the
 * settings are defined whenever the library is loaded, which happens at the
 * first call of any evlog C function.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "evlog.h"

PG_MODULE_MAGIC;

int			evlog_max_payload_bytes = 1024 * 1024;
int			evlog_max_batch_entries = 100000;
bool		evlog_track_inflight = true;
bool		evlog_notify = true;

void		_PG_init(void);

void
_PG_init(void)
{
	/*
	 * SUSET: the limit protects the log from oversized rows; an application
	 * role must not be able to lift it for its own session.
	 */
	DefineCustomIntVariable("evlog.max_payload_bytes",
							"Largest payload, in bytes of JSON text, that an append accepts.",
							"Checked on the payload's text before it is parsed; a jsonb payload is measured in its binary form.",
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

	MarkGUCPrefixReserved("evlog");

	evlog_seqs_init();
}
