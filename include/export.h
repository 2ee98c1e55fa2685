/* GET /me/following.csv: a member's found contacts in Mastodon's import format. */
#ifndef PASSERELLE_EXPORT_H
#define PASSERELLE_EXPORT_H

#include <stddef.h>

struct app;
struct evbuffer;
struct evhttp_request;

/* Mastodon refuses an import of more rows than this (Form::Import::ROWS_PROCESSING_LIMIT). */
#define EXPORT_MAX_ROWS 20000

/* The header line of Mastodon's following export, which its importer expects. */
#define EXPORT_FOLLOWING_HEADER "Account address,Show boosts,Notify on new posts,Languages\n"

/*
 * GET /me/following.csv, with the link page's session cookie: 200 text/csv, one line per
 * followee row of the member that is not undone and whose followee is still linked and
 * findable ("user@host,true,false,"), at most EXPORT_MAX_ROWS; 401 without a session.
 */
void export_following(struct app *app, struct evhttp_request *req, const char *path);

/*
 * Pure: appends one CSV field to out as Ruby's CSV writes it (Mastodon's exporter): as it
 * is, or in double quotes (inner quotes doubled) when it holds a comma, a quote, CR or LF.
 */
void export_csv_field(struct evbuffer *out, const char *field);

#endif
