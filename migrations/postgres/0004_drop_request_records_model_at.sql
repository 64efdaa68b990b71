-- No query reads request records by model: per-model views read request_rollups, keyed by
-- (set, model, minute). The index cost every insert a third b-tree update (about a quarter
-- of SQLite's work per record, measured with 64-row inserts).
DROP INDEX IF EXISTS request_records_model_at;
