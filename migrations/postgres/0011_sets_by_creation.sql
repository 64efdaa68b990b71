-- The registry reads every set's id newest first (then orders by traffic and pages itself): with
-- the id in the index on created_at, PostgreSQL gives them by an index-only scan in order, where
-- it read all of every set's row and sorted them (SQLite's index holds the rowid already).
CREATE INDEX model_sets_created_at_id ON model_sets (created_at, id);
DROP INDEX model_sets_created_at;
