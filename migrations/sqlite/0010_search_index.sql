-- The registry's search answered from an index of trigrams instead of reading every set's text
-- (on 10,000 sets a substring scan cost 5-10 ms of a 20 ms search).
--
-- 1. The set's address joins its search text, so one indexed text answers what the slug and
--    owner columns were scanned for (and a pasted `@owner/slug` finds its set). The storage
--    writes the same on create and edit (Rust's Unicode lower case; SQLite's lower() here folds
--    ASCII only, as the search did before).
UPDATE model_sets SET search_text = lower(
    '@' || (SELECT username FROM accounts WHERE accounts.id = model_sets.owner_id) || '/' || slug
    || char(10) || name || char(10) || description || char(10) || categories || char(10) || tags);

