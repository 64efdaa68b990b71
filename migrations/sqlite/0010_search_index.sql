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

-- 2. An FTS5 index of the text, categories and tags with the trigram tokenizer, which matches
--    phrases as substrings (case-insensitively). Its content is model_sets' own columns (an
--    external-content table: the text is not stored twice); the triggers keep it in step, and
--    must see the old values exactly, so they are made after the update above.
CREATE VIRTUAL TABLE model_sets_search USING fts5(
    search_text, categories, tags,
    content = 'model_sets', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO model_sets_search (model_sets_search) VALUES ('rebuild');

CREATE TRIGGER model_sets_search_insert AFTER INSERT ON model_sets BEGIN
    INSERT INTO model_sets_search (rowid, search_text, categories, tags)
    VALUES (new.id, new.search_text, new.categories, new.tags);
END;
CREATE TRIGGER model_sets_search_delete AFTER DELETE ON model_sets BEGIN
    INSERT INTO model_sets_search (model_sets_search, rowid, search_text, categories, tags)
    VALUES ('delete', old.id, old.search_text, old.categories, old.tags);
END;
CREATE TRIGGER model_sets_search_update AFTER UPDATE OF search_text, categories, tags ON model_sets BEGIN
    INSERT INTO model_sets_search (model_sets_search, rowid, search_text, categories, tags)
    VALUES ('delete', old.id, old.search_text, old.categories, old.tags);
    INSERT INTO model_sets_search (rowid, search_text, categories, tags)
    VALUES (new.id, new.search_text, new.categories, new.tags);
END;
