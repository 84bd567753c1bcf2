# evlog — PGXS build.  `make && sudo make install`, then `scripts/test.sh`
# runs every suite (pg_regress, isolation, TAP) against throwaway servers.

EXTENSION = evlog
MODULE_big = evlog
OBJS = \
	src/evlog.o \
	src/event.o \
	src/log_writer.o \
	src/bulk_insert.o \
	src/append.o \
	src/seqs.o \
	src/notify.o \
	src/catcache.o \
	src/read.o \
	src/derive.o \
	src/derive_trigger.o \
	src/rebuild.o \
	src/chain.o \
	src/partition.o \
	src/prune.o \
	src/retention.o \
	src/watermark.o \
	src/batch.o \
	src/queue.o \
	src/enqueue.o \
	src/worker.o \
	src/as_user.o \
	src/stream.o \
	src/locks.o \
	src/progress.o \
	src/util.o \
	src/logscan.o \
	src/guard.o \
	src/summaries.o \
	src/append_expected.o \
	src/watermark_publish.o \
	src/copy_load.o \
	src/rfc3339.o

# A fresh install runs one script, evlog--$(EXTVERSION).sql, copied from the
# hand-maintained src/sql/evlog.sql (the whole schema at the current
# version; not in git).  evlog--1.0.sql and the update scripts serve
# databases created at an earlier version; t/017_fresh_install.pl checks
# that both ways end with the same extension.
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" $(EXTENSION).control)
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = evlog--1.0.sql evlog--1.0--1.1.sql evlog--1.1--1.2.sql evlog--1.2--1.3.sql \
	evlog--1.3--1.4.sql evlog--1.4--1.5.sql evlog--1.5--1.6.sql

# pg_regress suites live in sql/ + expected/, isolation specs in specs/,
# TAP tests in t/.  scripts/test.sh drives all three and totals them.
REGRESS = core_append core_validation core_query core_privileges read_consumers derived \
	derived_rebuild chain batch hardening_search_path prune hardening_objects input_limits derived_order \
	conditional_append hot_path_caches copy_load hot_path_derive batch_ts partition_routing
REGRESS_OPTS = --temp-config=$(srcdir)/test/evlog.conf
# suites that need evlog in shared_preload_libraries: scripts/test.sh runs
# them in a second pg_regress with test/evlog_preload.conf
REGRESS_PRELOAD = queue_enqueue hardening_queue enqueue_limits derived_check
ISOLATION = read_late_commit stream_read_late_commit stream_read_prune batch_concurrent rebuild_concurrent derived_concurrent conditional_concurrent chain_concurrent event_id_upgrade \
	copy_load_concurrent derive_view_midxact batch_seq_cache
TAP_TESTS = 1

# Our own files are held to -Wall -Wextra; `make WERROR=1` turns warnings
# into errors (CI does).  The -Wno-* flags silence what PostgreSQL's own
# headers and the fmgr calling convention trigger under -Wextra.
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-clobbered
ifdef WERROR
PG_CFLAGS += -Werror
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object is rebuilt when any of
# evlog's headers changes (a stale object with an old struct layout crashes
# the server)
$(OBJS): $(wildcard src/*.h)

$(EXTENSION)--$(EXTVERSION).sql: src/sql/evlog.sql $(EXTENSION).control
	cp $< $@

# `make print-REGRESS` etc.: lets scripts/test.sh read the test lists
print-%:
	@echo $($*)
