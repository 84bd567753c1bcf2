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
bool		evlog_track_inflight = true;
bool		evlog_notify = true;
int			evlog_partition_size = 1000000;

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

	MarkGUCPrefixReserved("evlog");

	evlog_seqs_init();
}
