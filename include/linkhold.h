/* POST /link/archive from its head: the session is looked up before a byte of the body is read. */
#ifndef PASSERELLE_LINKHOLD_H
#define PASSERELLE_LINKHOLD_H

#include <stddef.h>

struct connguard_hold;

/*
 * The upload hold (httpd_set_upload_hold, arg the app): the Cookie and X-CSRF-Token of the
 * head must name a live session (one lookup of sessions.member_id), or the upload is answered
 * at once, its body never read: 401 without a session (as the page's other endpoints: the
 * bridge account to write to), 403 for a wrong CSRF token, 503 without the database.
 */
void linkhold_check(void *arg, struct connguard_hold *hold, const char *headers, size_t len);

#endif
