/*-------------------------------------------------------------------------
 *
 * iso8601.h
 *	  Reading the one timestamp form JSON clients send, without the general
 *	  date/time parser (iso8601.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef EVLOG_ISO8601_H
#define EVLOG_ISO8601_H

#include "datatype/timestamp.h"

extern bool evlog_iso8601_to_timestamptz(const char *s, int len, TimestampTz *result);

#endif							/* EVLOG_ISO8601_H */
