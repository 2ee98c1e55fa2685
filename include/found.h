/* Found contacts: each member's former X contacts who are members, kept by the matcher. */
#ifndef PASSERELLE_FOUND_H
#define PASSERELLE_FOUND_H

/*
 * The statement that brings the contacts table up to date around one member M, run in M's
 * matching transaction right after match_sql. Parameters, as text:
 *   $1  M's members.id
 *   $2  milliseconds before M is matched again when another member was locked (match_poll_ms)
 * The rows it wants: M's own archive's pairs with members, both ways (M followed them on X:
 * 'following'; they followed M: 'followers'), and the rows of the members whose own archive
 * names M (they followed M: their 'following'; M followed them: their 'followers'). Rows of M
 * that M's archive no longer gives are deleted. Rows already there are left alone; the other
 * member of each new row is key-share
 * locked first, SKIP LOCKED: one held FOR UPDATE (being matched, or notified) is left for
 * later and M is due again in $2 ms, as match_sql does, so two matchers never wait on each
 * other. Members with notify on who get a new 'followers' row (a former follower arrived,
 * or their own upload found some) are added to notice_due.
 * Returns one row: inserted, deleted, members added to notice_due, pairs left for later.
 * Reads x_edges by its primary key and its (followee_x_id, ...) index, members by the unique
 * x_id: the same reads as match_sql, no scan.
 */
extern const char found_sql[];

#endif
