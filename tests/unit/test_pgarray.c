/* Tests of pgarray: the literal's form, and that PostgreSQL reads back exactly the strings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgarray.h"
#include "pgtest.h"
#include "tap.h"

/* Sends the literal as $1::text[] and reads the elements back, joined by '|'. */
static const char *
roundtrip(const char *lit, char *out, size_t outlen)
{
    const char *params[1] = { lit };
    PGresult *res =
        PQexecParams(pgt_pg,
                     "SELECT coalesce(string_agg(coalesce(x, '<NULL>'), '|' ORDER BY n), "
                     "'<empty>'), count(*) FROM unnest($1::text[]) WITH ORDINALITY "
                     "AS t(x, n)",
                     1, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        snprintf(out, outlen, "error: %s", PQresultErrorMessage(res));
    else
        snprintf(out, outlen, "%s #%s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    PQclear(res);
    return out;
}

int
main(void)
{
    char *none[1] = { NULL };
    char a[] = "a", b[] = "b", quote[] = "say \"hi\"", bslash[] = "back\\slash", comma[] = "a,b",
         brace[] = "{x}", null[] = "NULL", empty[] = "", sp[] = " sp ", accent[] = "é";
    char *plain[] = { a, b };
    char *hard[] = { quote, bslash, comma, brace, null, empty, sp, accent };
    const char *env = getenv("PASSERELLE_TEST_PG");
    char *s, got[512];

    /* Only the server's array parser is needed: no database of our own. */
    if (env == NULL || *env == '\0')
        pgt_bail("PASSERELLE_TEST_PG not set (run through tests/run.sh)");
    pgt_pg = PQconnectdb(env);
    if (PQstatus(pgt_pg) != CONNECTION_OK)
        pgt_bail("connect: %s", PQerrorMessage(pgt_pg));
    s = pgarray_text(none, 0);
    is_str(s, "{}", "no items: {}");
    is_str(roundtrip(s, got, sizeof(got)), "<empty> #0", "no items: an empty array");
    free(s);

    s = pgarray_text(plain, 2);
    is_str(s, "{\"a\",\"b\"}", "items are quoted and separated by commas");
    is_str(roundtrip(s, got, sizeof(got)), "a|b #2", "two items read back");
    free(s);

    s = pgarray_text(hard, sizeof(hard) / sizeof(hard[0]));
    is_str(s, "{\"say \\\"hi\\\"\",\"back\\\\slash\",\"a,b\",\"{x}\",\"NULL\",\"\",\" sp \",\"é\"}",
           "quotes and backslashes escaped");
    is_str(
        roundtrip(s, got, sizeof(got)), "say \"hi\"|back\\slash|a,b|{x}|NULL|| sp |é #8",
        "quotes, backslashes, commas, braces, the word NULL, empty and spaces read back as sent");
    free(s);

    PQfinish(pgt_pg);
    return done_testing();
}
