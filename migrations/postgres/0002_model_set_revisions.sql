-- Model Sets keep every edit: the current revision number on the set, and one row per revision.
ALTER TABLE model_sets ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;

CREATE TABLE model_set_revisions (
    set_id      BIGINT NOT NULL REFERENCES model_sets (id) ON DELETE CASCADE,
    revision    BIGINT NOT NULL,
    edited_at   BIGINT NOT NULL,
    description TEXT    NOT NULL,
    categories  TEXT    NOT NULL,
    tags        TEXT    NOT NULL,
    spec        TEXT    NOT NULL,
    PRIMARY KEY (set_id, revision)
);
