-- Eval results by the time they were scored, across sets: what a starting server reads to
-- give routing the latest scores back (`recent_eval_scores`), and the evals failed in the
-- last hour that the queue's status counts. Both scanned the whole table without it.
CREATE INDEX eval_results_scored_at ON eval_results (scored_at);
