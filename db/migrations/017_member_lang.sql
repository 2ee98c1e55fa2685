-- 017_member_lang: a member's language is any catalogue's code (server/core/texts/<lang>.txt),
-- not only en or fr: adding a language is adding a file, so the schema checks only the form.
ALTER TABLE members DROP CONSTRAINT members_lang_check;
ALTER TABLE members ADD CONSTRAINT members_lang_check CHECK (lang ~ '^[a-z]{2,3}$');
