-- The registry's search reads one lower-cased text per set (name, description, categories and
-- tags, one per line) instead of lower-casing four columns of every set on every search: on
-- 10,000 sets that was most of a common word's search time. Written by the storage on create
-- and edit; existing rows are filled here. Slug and owner are lower case already and are
-- matched in their own columns.
ALTER TABLE model_sets ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
UPDATE model_sets SET search_text = lower(name || chr(10) || description || chr(10) || categories || chr(10) || tags);

-- The set a clone was made from, as its address at the time (`@owner/slug`): the clone's
-- page names it. Not a foreign key: the source may be deleted and its slug reused.
ALTER TABLE model_sets ADD COLUMN cloned_from TEXT;
