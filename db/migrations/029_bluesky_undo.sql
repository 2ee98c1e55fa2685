-- 029_bluesky_undo: a Bluesky member undoes, from their page, a follow passerelle wrote in their
-- repository (additive).

-- Whether the pair's record_uri is a follow record passerelle wrote (true), or one the member
-- had made themselves, which the follow worker found with listRecords and took for the pair
-- (false). Only passerelle's own is ever deleted: a follow the member made stays theirs. NULL
-- for the rows done before this column: nobody knows whose record it is, so it is never deleted.
ALTER TABLE follow_actions ADD COLUMN record_written boolean;
