/*-------------------------------------------------------------------------
 *
 * batch_client.c
 *	  Benchmark driver for bench/20_batch.sh: runs one prepared statement
 *	  per input line over libpq's extended protocol, the way an application
 *	  driver sends a batch -- parameters bound in text format, no SQL text
 *	  lexed or parsed per call.
 *
 *	  batch_client [-1] SQL NPARAMS < lines
 *
 *	  Each input line holds NPARAMS tab-separated parameter values (no
 *	  value may contain a tab or newline).  Every execution is its own
 *	  transaction, or all of them one transaction with -1.  The connection
 *	  comes from the PG* environment.  Exits non-zero on the first error.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libpq-fe.h"

#define MAX_PARAMS 16

static void
run(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "batch_client: %s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

int
main(int argc, char **argv)
{
	int			one_xact = 0;
	int			nparams;
	const char *sql;
	PGconn	   *conn;
	PGresult   *res;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	long		lineno = 0;

	if (argc > 1 && strcmp(argv[1], "-1") == 0)
	{
		one_xact = 1;
		argv++;
		argc--;
	}
	if (argc != 3 || (nparams = atoi(argv[2])) < 1 || nparams > MAX_PARAMS)
	{
		fprintf(stderr, "usage: batch_client [-1] SQL NPARAMS < lines\n");
		return 2;
	}
	sql = argv[1];

	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "batch_client: %s", PQerrorMessage(conn));
		return 1;
	}
	res = PQprepare(conn, "s", sql, nparams, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "batch_client: prepare: %s", PQerrorMessage(conn));
		return 1;
	}
	PQclear(res);

	if (one_xact)
		run(conn, "BEGIN");
	while ((len = getline(&line, &cap, stdin)) > 0)
	{
		const char *values[MAX_PARAMS];
		char	   *p = line;
		int			n = 0;

		lineno++;
		if (line[len - 1] == '\n')
			line[len - 1] = '\0';
		while (n < nparams)
		{
			char	   *tab = strchr(p, '\t');

			values[n++] = p;
			if (tab == NULL)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (n != nparams)
		{
			fprintf(stderr, "batch_client: line %ld has %d values, expected %d\n",
					lineno, n, nparams);
			return 1;
		}
		res = PQexecPrepared(conn, "s", nparams, values, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK &&
			PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "batch_client: line %ld: %s", lineno, PQerrorMessage(conn));
			return 1;
		}
		PQclear(res);
	}
	if (one_xact)
		run(conn, "COMMIT");
	free(line);
	PQfinish(conn);
	return 0;
}
