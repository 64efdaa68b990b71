//! The demo (`serve --demo`): a week of history per demo set, made by the real router over a
//! simulated clock and stored as rollups, with its outage and price cut visible; seeding
//! twice adds nothing; and the running server's live traffic flows through the gateway.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{fresh_db, Backend, Server};
use server::config::{Config, Overrides};
use server::demo::{self, history};
use server::metrics::rollup::EvalSums;
use server::storage::{self, Grain, RollupRow, SetFilter, SetPage, SharedStorage};

on_both_backends!(seeds_a_week_that_tells_a_story, seeding_again_adds_nothing);

const HOUR_MS: i64 = 3_600_000;

async fn setup(backend: Backend) -> (common::TestDb, SharedStorage, server::catalog::Catalog) {
    let db = fresh_db(backend).await;
    let storage = storage::connect(&db.url).await.expect("connect");
    let config = Config::load(None, &Overrides::default()).expect("default config");
    let (_, served) =
        server::providers::build(&config.providers, &config.catalog, config.gateway.timeouts).expect("providers");
    server::catalog::sync(&storage, &served).await.expect("catalog");
    (db, storage, server::catalog::index(&served))
}

async fn all_rows(storage: &SharedStorage, grain: Grain) -> Vec<RollupRow> {
    storage.all_rollups(grain.into(), 0, i64::MAX).await.expect("rollups")
}

fn successes(rows: &[&RollupRow]) -> (f64, i64) {
    rows.iter()
        .fold((0.0, 0), |(cost, n), r| (cost + r.cost_usd, n + r.count - r.errors))
}

async fn seeds_a_week_that_tells_a_story(backend: Backend) {
    let (_db, storage, catalog) = setup(backend).await;
    let started = std::time::Instant::now();
    let seeded = demo::seed(&storage, &catalog).await.expect("seed");
    eprintln!("{backend:?}: seeding took {:?}", started.elapsed());
    // The history runs up to the moment the seeding began, which on a slow machine is a
    // minute or more before this line.
    let now = seeded.now_ms;
    let start = history::start_of(now);

    let sets = storage
        .search_model_sets(
            &SetFilter {
                owner: Some(demo::DEMO_ACCOUNT.into()),
                ..SetFilter::default()
            },
            SetPage::default(),
        )
        .await
        .expect("sets");
    assert!(sets.len() >= 6, "{} demo sets", sets.len());
    assert_eq!(seeded.sets_created, sets.len());
    assert_eq!(seeded.histories, sets.len());
    assert!(!seeded.recent.is_empty(), "recent records to warm the routing with");
    let requirements: BTreeSet<String> = sets.iter().map(|s| format!("{:?}", s.spec.requirements)).collect();
    assert_eq!(requirements.len(), sets.len(), "every set asks for something else");

    for set in &sets {
        let hours: BTreeSet<i64> = storage
            .rollups(Grain::Hour.into(), set.id, 0, i64::MAX)
            .await
            .expect("hourly")
            .into_iter()
            .filter(|r| r.writer == history::WRITER && r.count > 0)
            .map(|r| r.minute)
            .collect();
        let first = *hours.first().expect("hourly rows");
        let last = *hours.last().expect("hourly rows");
        // The history starts at a minute, so its first hour may hold only a minute or two of
        // it, and a quiet set may have sent nothing in them: the next whole hour must have traffic.
        let first_whole_hour = start - start.rem_euclid(HOUR_MS) + HOUR_MS;
        assert!(
            first <= first_whole_hour,
            "{}: history starts at {first}, not by {first_whole_hour}",
            set.slug
        );
        assert!(last >= now - 2 * HOUR_MS, "{}: history ends at {last}", set.slug);
        assert!(
            hours.len() >= 7 * 24,
            "{}: {} hours with traffic",
            set.slug,
            hours.len()
        );

        let minutes: Vec<RollupRow> = storage
            .rollups(Grain::Minute.into(), set.id, 0, i64::MAX)
            .await
            .expect("minutes");
        let recent = minutes.iter().filter(|r| r.minute >= now - 3 * HOUR_MS).count();
        assert!(recent >= 60, "{}: {recent} minute rows in the last 3 hours", set.slug);
        let oldest = minutes.iter().map(|r| r.minute).min().unwrap_or(now);
        assert!(
            oldest >= now - (history::MINUTE_ROWS_HOURS + 1) * HOUR_MS,
            "{}: minute rows only for the last hours",
            set.slug
        );
    }

    // The outage: in the hours wholly inside it, the provider's calls mostly fail, by class,
    // and routing sends it a fraction of the day before's traffic; outside, errors are rare.
    let hourly = all_rows(&storage, Grain::Hour).await;
    let outage_from = start + history::OUTAGE_FROM_H * HOUR_MS;
    let outage_to = outage_from + history::OUTAGE_HOURS * HOUR_MS;
    let inside = |hour: i64| hour >= outage_from && hour + HOUR_MS <= outage_to;
    // Failures end when they time out, so an outage's last records fall in the next hour.
    let near = |hour: i64| hour + HOUR_MS > outage_from && hour <= outage_to;
    let provider = format!("{}/", history::OUTAGE_PROVIDER);
    let (mut during, mut day_before, mut other) = ((0, 0), (0, 0), (0, 0));
    let mut classes: BTreeMap<String, i64> = BTreeMap::new();
    for r in hourly.iter().filter(|r| r.model_id.starts_with(&provider)) {
        if inside(r.minute) {
            during = (during.0 + r.errors, during.1 + r.count);
            let by_class: BTreeMap<String, i64> = serde_json::from_str(&r.error_classes).expect("classes");
            for (class, n) in by_class {
                *classes.entry(class).or_default() += n;
            }
        } else if !near(r.minute) {
            other = (other.0 + r.errors, other.1 + r.count);
        }
        if inside(r.minute + 24 * HOUR_MS) {
            day_before = (day_before.0 + r.errors, day_before.1 + r.count);
        }
    }
    let rate = |(errors, count): (i64, i64)| errors as f64 / count.max(1) as f64;
    eprintln!("{backend:?}: outage {during:?} (errors, calls); same hours the day before {day_before:?}");
    assert!(during.1 > 0, "the outage's provider got requests during the outage");
    assert!(rate(during) > 0.5, "error rate during the outage: {}", rate(during));
    assert!(rate(other) < 0.05, "error rate outside the outage: {}", rate(other));
    // The calls it still gets are mostly the breaker's: a probe after each cool-down (15 s
    // doubling to 5 min), and a closed breaker after each probe that succeeds (15 % do) lets a
    // few more through until it trips again. That is a count per hour, not a share of the
    // traffic, so against a quiet hour the day before it weighs more: 6 to 63 calls against
    // 275 to 506 over twelve end times on 2026-12-07, and 96 against 240 in one CI run.
    // Fewer than the day before leaves twice the room of the worst seen; routing that drops
    // the model sooner is issue 23's.
    assert!(
        during.1 < day_before.1,
        "traffic moved away: {during:?} vs {day_before:?}"
    );
    assert!(classes.get("upstream_5xx").is_some_and(|n| *n > 0), "{classes:?}");
    assert!(classes.get("timeout").is_some_and(|n| *n > 0), "{classes:?}");

    // The price cut: what the model's requests cost against its list price (prompt and
    // completion tokens at today's catalog price) drops by the factor at the cut, across the
    // sets that used it; the cost-minimising support bot is reported, its shift is up to the
    // planner.
    let cut = start + history::PRICE_CUT_H * HOUR_MS;
    let listed = catalog.get(history::PRICE_CUT_MODEL).expect("model");
    let side_rows = |after: bool, set: Option<i64>| -> Vec<&RollupRow> {
        hourly
            .iter()
            .filter(|r| r.model_id == history::PRICE_CUT_MODEL && set.is_none_or(|id| r.set_id == id))
            // Whole hours on either side: the cut falls within an hour, and a request is
            // priced when it starts but counted in the hour it ends.
            .filter(|r| match after {
                false => r.minute + HOUR_MS <= cut,
                true => r.minute >= cut + HOUR_MS,
            })
            .collect()
    };
    let charged = |after: bool| {
        let rows = side_rows(after, None);
        let cost: f64 = rows.iter().map(|r| r.cost_usd).sum();
        let list: f64 = rows
            .iter()
            .map(|r| {
                (r.prompt_tokens as f64 * listed.input_price_per_mtok
                    + r.completion_tokens as f64 * listed.output_price_per_mtok)
                    / 1e6
            })
            .sum();
        let (_, n) = successes(&rows);
        (cost / list, cost / n.max(1) as f64, n)
    };
    let (before, after) = (charged(false), charged(true));
    assert!(
        before.2 > 0 && after.2 > 0,
        "requests before {before:?}, after {after:?}"
    );
    assert!((before.0 - history::PRICE_BEFORE_CUT).abs() < 1e-9, "{before:?}");
    assert!((after.0 - 1.0).abs() < 1e-9, "{after:?}");
    // Cost per request drops: set by set, weighed by the sets' requests before the cut. The
    // plain cost per request over all sets moves with their mix as well (a cost-minimising set
    // may move to the model, another leave it, and a set of long prompts costs more a request
    // than one of short ones): without a set moving to it, the mix alone kept it at 0.4–0.5
    // of before at some times of day, and the check failed now and then.
    let (mut before_cost, mut after_cost) = (0.0, 0.0);
    for set in &sets {
        let ((cost_before, n_before), (cost_after, n_after)) = (
            successes(&side_rows(false, Some(set.id))),
            successes(&side_rows(true, Some(set.id))),
        );
        if n_before >= 10 && n_after >= 10 {
            before_cost += cost_before;
            after_cost += n_before as f64 * cost_after / n_after as f64;
        }
    }
    assert!(before_cost > 0.0, "a set used the model on both sides of the cut");
    assert!(
        after_cost * 2.0 < before_cost,
        "cost per request, set by set: {before_cost} -> {after_cost} ({before:?} -> {after:?} over all sets)"
    );
    let support = sets.iter().find(|s| s.slug == "support-bot").expect("support-bot");
    let side = |after: bool, model: Option<&str>| -> (f64, i64) {
        let rows: Vec<&RollupRow> = hourly
            .iter()
            .filter(|r| r.set_id == support.id && (r.minute >= cut) == after)
            .filter(|r| model.is_none_or(|m| r.model_id == m))
            .collect();
        successes(&rows)
    };
    let model = Some(history::PRICE_CUT_MODEL);
    let share = |after: bool| side(after, model).1 as f64 / side(after, None).1.max(1) as f64;
    let per_request = |(cost, n): (f64, i64)| cost / n.max(1) as f64;
    eprintln!(
        "{backend:?}: {}: cost per request {:.6} ({} requests) -> {:.6} ({}); in {}: share {:.2} -> {:.2}, \
         the set's cost per request {:.6} -> {:.6}",
        history::PRICE_CUT_MODEL,
        before.1,
        before.2,
        after.1,
        after.2,
        support.slug,
        share(false),
        share(true),
        per_request(side(false, None)),
        per_request(side(true, None)),
    );

    evals_tell_their_part(backend, &storage, &catalog, &sets, &seeded, &hourly, now).await;
}

/// The evals of the week: the relevancy set's hourly scores across it, each model scoring by
/// its profile's quality through the judge, the judge's cost apart from the gateway's, and
/// the owner's latest evaluated requests stored for the last hours.
async fn evals_tell_their_part(
    backend: Backend,
    storage: &SharedStorage,
    catalog: &server::catalog::Catalog,
    sets: &[app::model_set::ModelSet],
    seeded: &demo::Seeded,
    hourly: &[RollupRow],
    now: i64,
) {
    const METRIC: &str = "answer_relevancy";
    let set = sets
        .iter()
        .find(|s| s.spec.evals.metrics.iter().any(|m| m == METRIC))
        .expect("a set scored on answer relevancy");
    let rows: Vec<&RollupRow> = hourly
        .iter()
        .filter(|r| r.set_id == set.id && r.writer == history::WRITER)
        .collect();
    let sums = |r: &RollupRow| -> Option<EvalSums> {
        let evals: BTreeMap<String, EvalSums> = serde_json::from_str(&r.evals).expect("evals JSON");
        evals.get(METRIC).copied().filter(|e| e.n + e.failed > 0)
    };

    // Hourly scores across the week: most hours (a night hour may draw none at a tenth of a
    // few dozen requests), from the first day to the last hours.
    let hours: BTreeSet<i64> = rows.iter().filter(|r| sums(r).is_some()).map(|r| r.minute).collect();
    let first = *hours.first().expect("hours with evals");
    let last = *hours.last().expect("hours with evals");
    assert!(hours.len() >= 6 * 24, "{} hours with evals", hours.len());
    assert!(first < history::start_of(now) + 24 * HOUR_MS, "evals start at {first}");
    assert!(last >= now - 2 * HOUR_MS, "evals end at {last}");

    // By model: the mean score follows the profile's quality (the judge reads only the
    // answers), and the models that answered more than a few drawn requests are ordered as
    // their qualities are.
    let mut by_model: BTreeMap<&str, (i64, f64, i64)> = BTreeMap::new();
    for r in &rows {
        if let Some(e) = sums(r) {
            let entry = by_model.entry(r.model_id.as_str()).or_default();
            *entry = (entry.0 + e.n, entry.1 + e.sum, entry.2 + e.failed);
        }
    }
    let quality = |model: &str| {
        catalog
            .get(model)
            .and_then(|m| m.simulation)
            .map(|p| p.quality)
            .expect("a simulated model")
    };
    let mut measured: Vec<(f64, f64, i64)> = by_model
        .iter()
        .map(|(model, (n, sum, _))| (quality(model), sum / (*n).max(1) as f64, *n))
        .collect();
    eprintln!("{backend:?}: {METRIC} by model (quality, mean score, evals): {by_model:?} -> {measured:?}");
    let failed: i64 = by_model.values().map(|(_, _, f)| f).sum();
    let scored: i64 = by_model.values().map(|(n, _, _)| n).sum();
    assert!(scored > 1000, "{scored} evals in the week");
    assert!(failed * 100 <= scored, "{failed} failed of {scored}");
    measured.retain(|(_, _, n)| *n >= 30);
    measured.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(
        measured.len() >= 2,
        "two models with evals enough to compare: {measured:?}"
    );
    for (q, mean, _) in &measured {
        // Hedges count as relevant: about 0.05 + 0.95 × quality.
        assert!((mean - (0.05 + 0.95 * q)).abs() < 0.05, "quality {q}: {mean}");
    }
    let (low, high) = (measured[0], measured[measured.len() - 1]);
    assert!(high.0 - low.0 >= 0.05 && high.1 > low.1, "{measured:?}");

    // The judge's cost: on the evaluated set's rows only, and apart from what the requests
    // cost (their tokens at list price, no model of the set having had a price cut).
    let eval_cost: f64 = rows.iter().map(|r| r.eval_cost_usd).sum();
    assert!(eval_cost > 0.0, "the judge charged");
    for r in &rows {
        let listed = catalog.get(&r.model_id).expect("model");
        let list = (r.prompt_tokens as f64 * listed.input_price_per_mtok
            + r.completion_tokens as f64 * listed.output_price_per_mtok)
            / 1e6;
        assert!((r.cost_usd - list).abs() <= 1e-12 + 1e-9 * list, "{r:?}");
    }
    let gateway_cost: f64 = rows.iter().map(|r| r.cost_usd).sum();
    eprintln!(
        "{backend:?}: {}: gateway ${gateway_cost:.4}, judge ${eval_cost:.4}",
        set.slug
    );
    assert!(
        eval_cost < gateway_cost,
        "a tenth sampled on a mini judge costs less than the answers"
    );
    let others = hourly.iter().filter(|r| r.set_id != set.id);
    for r in others {
        assert_eq!((r.eval_cost_usd, r.evals.as_str()), (0.0, "{}"), "{r:?}");
    }

    // The owner's latest evaluated requests: the last hours', with the metric's reason and
    // no texts, and the same ones handed to the live routing.
    let latest = storage.latest_eval_results(set.id, 1000).await.expect("latest");
    assert!(!latest.is_empty(), "eval results for the last hours");
    let horizon = now - 2 * HOUR_MS - 60_000;
    for r in &latest {
        assert!(r.request_id.starts_with("demo-"), "{}", r.request_id);
        assert!(r.request_at >= horizon && r.scored_at > r.request_at, "{r:?}");
        assert_eq!(
            (r.metric.as_str(), r.judge_model.as_str()),
            (METRIC, app::evals::JUDGE_MODEL)
        );
        assert!(r.input.is_none() && r.output.is_none(), "no judged texts kept");
        assert!(r.cost_usd > 0.0 && r.judge_calls >= 2, "{r:?}");
        match r.score {
            Some(score) => {
                assert!((0.0..=1.0).contains(&score));
                assert!(r.reason.contains("statements address the input"), "{}", r.reason);
            }
            None => assert!(r.error.is_some()),
        }
    }
    assert_eq!(seeded.recent_evals.len(), latest.len());
    let recent_ids: BTreeSet<&str> = seeded.recent.iter().map(|r| r.request_id.as_str()).collect();
    assert!(
        seeded
            .recent_evals
            .iter()
            .all(|r| recent_ids.contains(r.request_id.as_str())),
        "the results are those of the recent records"
    );
    let sampled = seeded.recent.iter().filter(|r| r.eval_sampled).count();
    assert_eq!(sampled, latest.len(), "one metric per sampled record");
    assert!(seeded.recent.iter().all(|r| r.eval_sampled == (r.eval_cost_usd > 0.0)));
}

async fn seeding_again_adds_nothing(backend: Backend) {
    let (_db, storage, catalog) = setup(backend).await;
    demo::seed(&storage, &catalog).await.expect("seed");
    let (minutes, hours) = (
        all_rows(&storage, Grain::Minute).await,
        all_rows(&storage, Grain::Hour).await,
    );

    let results = |storage: SharedStorage| async move {
        let mut all = Vec::new();
        for set in storage
            .search_model_sets(&SetFilter::default(), SetPage::default())
            .await
            .expect("sets")
        {
            all.extend(storage.latest_eval_results(set.id, 10_000).await.expect("results"));
        }
        all
    };
    let evaluated = results(storage.clone()).await;
    assert!(!evaluated.is_empty());

    let again = demo::seed(&storage, &catalog).await.expect("seed again");
    assert_eq!((again.sets_created, again.histories), (0, 0));
    assert!(again.recent.is_empty() && again.recent_evals.is_empty());
    assert_eq!(results(storage.clone()).await, evaluated);
    assert_eq!(all_rows(&storage, Grain::Minute).await, minutes);
    assert_eq!(all_rows(&storage, Grain::Hour).await, hours);

    // A set missing from the database (as one added to the list later would be) is created
    // with its history; the others' rows stay as they were.
    let gone = storage
        .model_set_by_slug(demo::DEMO_ACCOUNT, "voice-agent")
        .await
        .expect("read")
        .expect("voice-agent");
    storage.delete_model_set(gone.id).await.expect("delete");
    let added = demo::seed(&storage, &catalog).await.expect("seed a new set");
    assert_eq!((added.sets_created, added.histories), (1, 1));
    let back = storage
        .model_set_by_slug(demo::DEMO_ACCOUNT, "voice-agent")
        .await
        .expect("read")
        .expect("voice-agent again");
    let others =
        |rows: Vec<RollupRow>| -> Vec<RollupRow> { rows.into_iter().filter(|r| r.set_id != back.id).collect() };
    assert_eq!(others(all_rows(&storage, Grain::Hour).await), hours);
    assert_eq!(others(all_rows(&storage, Grain::Minute).await), minutes);
    let new_rows = storage
        .rollups(Grain::Hour.into(), back.id, 0, i64::MAX)
        .await
        .expect("rows");
    assert!(
        new_rows.len() >= 7 * 24,
        "the added set has its week: {} rows",
        new_rows.len()
    );
}

/// `serve --demo` on a fresh database: the demo sets are listed, and the live traffic's
/// requests keep arriving; SIGTERM stops it all cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_sends_live_traffic() {
    let db = fresh_db(Backend::Sqlite).await;
    // Seeding a week takes a while in a debug build.
    let server = Server::start_args(&db.url, &["serve", "--demo"], &[], Duration::from_secs(300)).await;
    let sets: serde_json::Value = common::http()
        .get(server.url("/api/v1/model-sets?owner=demo"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed = sets.to_string();
    for slug in ["budget-chat", "batch-summaries", "support-bot"] {
        assert!(listed.contains(slug), "{slug} not listed: {listed}");
    }
    // The history's eval scores reached the live routing at start: the set that requires a
    // relevancy of 0.8 knows its realised relevancy before the live traffic's first eval
    // (about one a minute for this set) could be scored.
    let routing: serde_json::Value = common::http()
        .get(server.url("/api/v1/model-sets/demo/quality-assistant/routing"))
        .send()
        .await
        .expect("routing")
        .json()
        .await
        .expect("json");
    let realised = routing["routing"]["realised"][1].as_f64();
    assert!(realised.is_some_and(|r| r > 0.8), "{routing}");
    assert_eq!(routing["routing"]["feasible"], true, "{routing}");

    let storage = storage::connect(&db.url).await.expect("connect");
    let count = || async { storage.count_request_records().await.expect("count") };
    let mut seen = Vec::new();
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen.push(count().await);
        if seen.len() > 4 && seen[seen.len() - 1] > seen[seen.len() - 5] && seen[seen.len() - 5] > 0 {
            break;
        }
    }
    let n = seen.len();
    assert!(
        n > 4 && seen[n - 1] > seen[n - 5] && seen[n - 5] > 0,
        "request records over time: {seen:?}"
    );
    let records = storage.list_request_records(100).await.expect("records");
    let demo_sets: BTreeSet<Option<i64>> = records.iter().map(|r| r.model_set_id).collect();
    assert!(records.iter().all(|r| r.api_key_id.is_some()), "sent with the demo key");
    assert!(!demo_sets.contains(&None), "every request names a demo set");
    assert!(server.stop().success(), "clean exit on SIGTERM");
}
