/*-------------------------------------------------------------------------
 *
 * rfc3339.h
 *	  RFC 3339 timestamps, read without PostgreSQL's general date/time
 *	  parser (rfc3339.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_RFC3339_H
#define EVLOG_RFC3339_H

#include "datatype/timestamp.h"

/*
 * Accept only strings whose value is exactly what timestamptz_in gives
 * them, so that the caller can hand everything else to timestamptz_in.
 */
#define EVLOG_RFC3339_AS_TIMESTAMPTZ_IN	0x01

extern bool evlog_parse_rfc3339(const char *s, int len, int flags, TimestampTz *result);

#endif							/* EVLOG_RFC3339_H */
