//! The editor's form as typed, apart from the page: a [`Draft`] keeps every entry as text (so
//! nothing typed is lost, even when it does not parse), turns it into the [`ModelSetSpec`] the
//! engine projects, and lists every field's error at once, with the same rules the server
//! applies (the server's check is the one that counts).

use serde::{Deserialize, Serialize};

use crate::evals::{G_EVAL, JSON_CORRECTNESS};
use crate::model_set::{
    normalise_details, slugify, validate_evals, validate_name, validate_slug, Comparator, Dimension, EvalSettings,
    Field, FieldError, ModelSet, ModelSetSpec, Objective, Requirement, Statistic, CRITERIA_MAX, DESCRIPTION_MAX,
    JSON_SCHEMA_MAX, LABELS_MAX, LABEL_MAX, MODELS_MAX, REQUIREMENTS_MAX,
};
use crate::views::{SaveTarget, SetForm};

/// One requirement row as typed; `key` stays with the row as rows are added and removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementRow {
    pub key: u32,
    pub dimension: Dimension,
    pub statistic: Statistic,
    pub comparator: Comparator,
    /// In the dimension's display unit ([`unit`]): milliseconds, dollars, percent.
    pub target: String,
}

/// Everything the editor holds, as typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draft {
    pub name: String,
    pub slug: String,
    /// The slug was typed rather than proposed from the name: renaming no longer changes it.
    pub slug_edited: bool,
    pub description: String,
    /// Comma-separated, as typed.
    pub categories: String,
    pub tags: String,
    pub models: Vec<String>,
    pub requirements: Vec<RequirementRow>,
    pub objective: Objective,
    pub metrics: Vec<String>,
    /// Sampling probability as a percentage, as typed ("10").
    pub sampling: String,
    /// G-Eval's criteria, as typed (kept while G-Eval is unticked; saved only while ticked).
    #[serde(default)]
    pub criteria: String,
    /// JSON correctness's schema, as typed (likewise); empty: any valid JSON.
    #[serde(default)]
    pub json_schema: String,
    pub next_key: u32,
}

/// Where a draft names an eval metric it does not run: a requirement row (its key) or the
/// objective.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmeasured {
    Requirement { key: u32, metric: String },
    Objective { metric: String },
}

impl Unmeasured {
    pub fn metric(&self) -> &str {
        match self {
            Unmeasured::Requirement { metric, .. } | Unmeasured::Objective { metric } => metric,
        }
    }

    /// "Answer relevancy is not measured: tick it in Evals."
    pub fn message(&self) -> String {
        let words = crate::evals::words(self.metric());
        let mut chars = words.chars();
        let sentence: String = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => words,
        };
        format!("{sentence} is not measured: tick it in Evals.")
    }
}

/// A dimension's unit in the form: the typed number times `scale` is the stored value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    pub suffix: &'static str,
    pub scale: f64,
}

pub fn unit(dimension: &Dimension) -> Unit {
    match dimension {
        Dimension::Cost => Unit {
            suffix: "$ / req",
            scale: 1.0,
        },
        Dimension::Latency | Dimension::Ttft => Unit {
            suffix: "ms",
            scale: 1.0,
        },
        Dimension::Throughput => Unit {
            suffix: "tok/s",
            scale: 1.0,
        },
        Dimension::ErrorRate => Unit {
            suffix: "%",
            scale: 0.01,
        },
        Dimension::Eval(_) => Unit {
            suffix: "score 0–1",
            scale: 1.0,
        },
    }
}

/// The statistics a dimension offers: percentiles where it has a distribution. Eval scores
/// are monitored as means only.
pub fn statistics(dimension: &Dimension) -> &'static [Statistic] {
    match dimension {
        Dimension::ErrorRate | Dimension::Eval(_) => &[Statistic::Mean],
        _ => &[Statistic::Mean, Statistic::P50, Statistic::P90, Statistic::P99],
    }
}

/// A metric's one-line meaning, without the "(lower is better)" its description ends with
/// (the editor marks that apart).
pub fn metric_meaning(m: &crate::evals::EvalMetric) -> String {
    m.description.replace(" (lower is better)", "")
}

/// What judging one request on a metric takes: "2 judge calls · about $0.00045 a judged
/// request", "no judge call: free".
pub fn judge_calls_text(m: &crate::evals::EvalMetric, judge: Option<&crate::catalog::CatalogModel>) -> String {
    let calls = match m.judge_calls {
        0 => return "no judge call: free".to_string(),
        1 => "1 judge call".to_string(),
        n => format!("{n} judge calls"),
    };
    match judge {
        Some(judge) => format!(
            "{calls} · about {} a judged request",
            crate::format::usd(crate::evals::judge_cost_per_request(judge, &[m.name.to_string()]))
        ),
        None => calls,
    }
}

/// Whether a bound on the dimension is naturally an upper one (≤) or a lower one (≥).
pub fn natural_comparator(dimension: &Dimension) -> Comparator {
    match dimension {
        Dimension::Throughput => Comparator::AtLeast,
        Dimension::Eval(metric) => match crate::evals::metric(metric) {
            Some(m) if !m.higher_is_better => Comparator::AtMost,
            _ => Comparator::AtLeast,
        },
        _ => Comparator::AtMost,
    }
}

/// A stored value as the form shows it: at most 10 significant digits, no trailing zeros.
pub fn target_text(dimension: &Dimension, value: f64) -> String {
    let shown = value / unit(dimension).scale;
    if !shown.is_finite() {
        return String::new();
    }
    let digits = if shown == 0.0 {
        0
    } else {
        (9 - shown.abs().log10().floor() as i32).clamp(0, 15) as usize
    };
    let text = format!("{shown:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// The stored value of a typed target, or why it is not one.
pub fn parse_target(dimension: &Dimension, text: &str) -> Result<f64, String> {
    let cleaned: String = text.trim().replace([',', '_', ' '], "");
    let cleaned = cleaned.trim_start_matches('$').trim_end_matches('%');
    if cleaned.is_empty() {
        return Err("Enter a target.".into());
    }
    let shown: f64 = cleaned
        .parse()
        .map_err(|_| format!("“{}” is not a number.", text.trim()))?;
    let value = shown * unit(dimension).scale;
    if !value.is_finite() || value < 0.0 {
        return Err("The target must be a number of 0 or more.".into());
    }
    if matches!(dimension, Dimension::ErrorRate) && value > 1.0 {
        return Err("An error rate is between 0 and 100 %.".into());
    }
    if matches!(dimension, Dimension::Eval(_)) && value > 1.0 {
        return Err("An eval score is between 0 and 1.".into());
    }
    Ok(value)
}

/// A target rounded to two significant digits on the side that keeps it achievable (up for
/// an upper bound, down for a lower one): what the verdict suggests, in numbers people type.
pub fn round_outward(target: f64, comparator: Comparator) -> f64 {
    if target.is_nan() || target <= 0.0 || !target.is_finite() {
        return target;
    }
    let step = 10f64.powi(target.log10().floor() as i32 - 1);
    let steps = target / step;
    // A hair of tolerance, so that 2400.0000001 stays 2400 rather than becoming 2500.
    let rounded = match comparator {
        Comparator::AtMost => (steps - 1e-9).ceil(),
        Comparator::AtLeast => (steps + 1e-9).floor(),
    };
    rounded * step
}

/// The result of reading a draft's behaviour: the spec to project, which row each of its
/// requirements came from, and the rows that do not parse (left out of the projection).
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub spec: ModelSetSpec,
    /// `rows[i]` is the index in [`Draft::requirements`] of `spec.requirements[i]`.
    pub rows: Vec<usize>,
    pub errors: Vec<FieldError>,
}

/// Splits "chat, Coding ,," into ["chat", "Coding"].
pub fn split_labels(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Draft {
    /// A new set's starting point: a latency bound and an error-rate bound, the cheapest mix
    /// that meets them, over `models`.
    pub fn blank(models: Vec<String>) -> Draft {
        let mut draft = Draft {
            name: String::new(),
            slug: String::new(),
            slug_edited: false,
            description: String::new(),
            categories: String::new(),
            tags: String::new(),
            models,
            requirements: Vec::new(),
            objective: Objective::Minimize(Dimension::Cost),
            metrics: Vec::new(),
            sampling: "10".into(),
            criteria: String::new(),
            json_schema: String::new(),
            next_key: 0,
        };
        draft.push(Requirement::new(
            Dimension::Latency,
            Statistic::P90,
            Comparator::AtMost,
            3000.0,
        ));
        draft.push(Requirement::new(
            Dimension::ErrorRate,
            Statistic::Mean,
            Comparator::AtMost,
            0.02,
        ));
        draft
    }

    /// The draft of an existing set: for an edit as it stands, for a clone under a new name
    /// (the owner changes it in Details).
    pub fn from_set(set: &ModelSet, target: &SaveTarget) -> Draft {
        let (name, slug) = match target {
            SaveTarget::Edit { .. } => (set.name.clone(), set.slug.clone()),
            _ => {
                let name = format!("{} (copy)", set.name);
                let slug = slugify(&name);
                (name, slug)
            }
        };
        let mut draft = Draft {
            name,
            slug,
            slug_edited: false,
            description: set.description.clone(),
            categories: set.categories.join(", "),
            tags: set.tags.join(", "),
            models: set.spec.models.clone(),
            requirements: Vec::new(),
            objective: set.spec.objective.clone(),
            metrics: set.spec.evals.metrics.clone(),
            sampling: target_text(&Dimension::ErrorRate, set.spec.evals.sampling),
            criteria: set.spec.evals.criteria.clone(),
            json_schema: set.spec.evals.json_schema.clone(),
            next_key: 0,
        };
        for r in &set.spec.requirements {
            draft.push(r.clone());
        }
        draft
    }

    /// Appends a requirement row.
    pub fn push(&mut self, r: Requirement) {
        self.requirements.push(RequirementRow {
            key: self.next_key,
            target: target_text(&r.dimension, r.target),
            dimension: r.dimension,
            statistic: r.statistic,
            comparator: r.comparator,
        });
        self.next_key += 1;
    }

    /// Renames, and proposes the slug from the name until the slug is typed.
    pub fn rename(&mut self, name: String) {
        if !self.slug_edited {
            self.slug = slugify(&name);
        }
        self.name = name;
    }

    /// Changes a row's dimension, keeping its statistic when the dimension offers it and
    /// turning the comparator to the dimension's natural side.
    pub fn set_dimension(&mut self, key: u32, dimension: Dimension) {
        if let Some(row) = self.requirements.iter_mut().find(|r| r.key == key) {
            if !statistics(&dimension).contains(&row.statistic) {
                row.statistic = Statistic::Mean;
            }
            if row.dimension != dimension {
                row.comparator = natural_comparator(&dimension);
            }
            row.dimension = dimension;
        }
    }

    /// The sampling probability, or why the text is not one.
    pub fn sampling_value(&self) -> Result<f64, String> {
        let text = self.sampling.trim().trim_end_matches('%').trim();
        let percent: f64 = text
            .parse()
            .map_err(|_| format!("“{}” is not a number.", self.sampling.trim()))?;
        if !(0.0..=100.0).contains(&percent) {
            return Err("A share between 0 and 100 %.".into());
        }
        Ok(percent / 100.0)
    }

    /// Whether an eval metric is ticked.
    pub fn measures(&self, metric: &str) -> bool {
        self.metrics.iter().any(|m| m == metric)
    }

    /// Requirements (and the objective) on an eval metric that is not ticked: nothing would
    /// ever measure them.
    pub fn unmeasured(&self) -> Vec<Unmeasured> {
        let mut out: Vec<Unmeasured> = self
            .requirements
            .iter()
            .filter_map(|r| match &r.dimension {
                Dimension::Eval(metric) if !self.measures(metric) => Some(Unmeasured::Requirement {
                    key: r.key,
                    metric: metric.clone(),
                }),
                _ => None,
            })
            .collect();
        if let Objective::Minimize(Dimension::Eval(metric)) | Objective::Maximize(Dimension::Eval(metric)) =
            &self.objective
        {
            if !self.measures(metric) {
                out.push(Unmeasured::Objective { metric: metric.clone() });
            }
        }
        out
    }

    /// The eval settings to save: G-Eval's criteria and the schema only while their metric
    /// is ticked (the draft keeps them either way).
    fn eval_settings(&self, sampling: f64) -> EvalSettings {
        EvalSettings {
            metrics: self.metrics.clone(),
            sampling,
            criteria: if self.measures(G_EVAL) {
                self.criteria.trim().to_string()
            } else {
                String::new()
            },
            json_schema: if self.measures(JSON_CORRECTNESS) {
                self.json_schema.trim().to_string()
            } else {
                String::new()
            },
        }
    }

    /// The behaviour the engine projects: rows that parse, in order.
    pub fn reading(&self) -> Reading {
        let mut errors = Vec::new();
        let mut requirements = Vec::new();
        let mut rows = Vec::new();
        for (i, row) in self.requirements.iter().enumerate() {
            match parse_target(&row.dimension, &row.target) {
                Ok(target) => {
                    requirements.push(Requirement::new(
                        row.dimension.clone(),
                        row.statistic,
                        row.comparator,
                        target,
                    ));
                    rows.push(i);
                }
                Err(message) => errors.push(FieldError::at(Field::Requirements, i, message)),
            }
        }
        let sampling = match self.sampling_value() {
            Ok(s) => s,
            Err(message) => {
                errors.push(FieldError::new(Field::EvalsSampling, message));
                EvalSettings::default().sampling
            }
        };
        Reading {
            spec: ModelSetSpec {
                models: self.models.clone(),
                requirements,
                objective: self.objective.clone(),
                evals: self.eval_settings(sampling),
            },
            rows,
            errors,
        }
    }

    /// Every field's error at once (empty when the draft can be saved). `naming`: the name
    /// and slug are being chosen (New and Clone; an edit keeps them).
    pub fn check(&self, naming: bool) -> Vec<FieldError> {
        let mut errors = self.reading().errors;
        if naming {
            // The rules' own messages are written for the API; the form says it in full.
            if validate_name(&self.name).is_err() {
                errors.push(FieldError::new(Field::Name, "A name of 1–80 printable characters."));
            }
            if validate_slug(self.slug.trim()).is_err() {
                errors.push(FieldError::new(
                    Field::Slug,
                    "3–48 lowercase letters, digits and inner hyphens, e.g. cheap-chat.",
                ));
            }
        }
        // One field at a time, so that each gets its own message, in full.
        let length = self.description.trim().chars().count();
        if normalise_details(&self.description, &[], &[]).is_err() {
            errors.push(FieldError::new(
                Field::Description,
                format!("At most {DESCRIPTION_MAX} characters (this has {length})."),
            ));
        }
        if normalise_details("", &split_labels(&self.categories), &[]).is_err() {
            errors.push(FieldError::new(
                Field::Categories,
                format!("At most {LABELS_MAX} categories, each 1–{LABEL_MAX} printable characters."),
            ));
        }
        if normalise_details("", &[], &split_labels(&self.tags)).is_err() {
            errors.push(FieldError::new(
                Field::Tags,
                format!("At most {LABELS_MAX} tags, each 1–{LABEL_MAX} printable characters."),
            ));
        }
        if self.models.is_empty() {
            errors.push(FieldError::new(Field::Models, "Choose at least one model."));
        } else if self.models.len() > MODELS_MAX {
            errors.push(FieldError::new(Field::Models, format!("At most {MODELS_MAX} models.")));
        }
        if self.requirements.len() > REQUIREMENTS_MAX {
            errors.push(FieldError::new(
                Field::Requirements,
                format!("At most {REQUIREMENTS_MAX} requirements."),
            ));
        }
        errors.extend(self.eval_errors());
        errors
    }

    /// The eval fields' errors, each beside its field: the metrics as the server checks them,
    /// G-Eval's criteria and the JSON Schema in full sentences.
    pub fn eval_errors(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        // Checkboxes cannot produce an unknown or doubled metric, but a restored draft can.
        let metrics = EvalSettings {
            metrics: self.metrics.clone(),
            ..EvalSettings::default()
        };
        if let Err(e) = validate_evals(&metrics) {
            // Criteria and schema are checked below, in full sentences.
            if e.field == Field::EvalsMetrics {
                errors.push(e);
            }
        }
        let settings = self.eval_settings(0.0);
        let criteria = settings.criteria.chars().count();
        if self.measures(G_EVAL) && criteria == 0 {
            errors.push(FieldError::new(
                Field::EvalsCriteria,
                "G-Eval needs criteria: what makes an answer good, in a sentence or two.",
            ));
        } else if criteria > CRITERIA_MAX {
            errors.push(FieldError::new(
                Field::EvalsCriteria,
                format!("At most {CRITERIA_MAX} characters (this has {criteria})."),
            ));
        }
        let schema = settings.json_schema.as_str();
        let length = schema.chars().count();
        if length > JSON_SCHEMA_MAX {
            errors.push(FieldError::new(
                Field::EvalsSchema,
                format!("At most {JSON_SCHEMA_MAX} characters (this has {length})."),
            ));
        } else if !schema.is_empty() {
            match serde_json::from_str::<serde_json::Value>(schema) {
                Ok(serde_json::Value::Object(_)) => {}
                Ok(_) => errors.push(FieldError::new(
                    Field::EvalsSchema,
                    "A JSON Schema is a JSON object, e.g. {\"type\": \"object\"}.",
                )),
                Err(e) => errors.push(FieldError::new(Field::EvalsSchema, format!("Not valid JSON: {e}."))),
            }
        }
        errors
    }

    /// What is sent to the server on Deploy, Clone or Save.
    pub fn form(&self) -> SetForm {
        let reading = self.reading();
        SetForm {
            name: self.name.trim().to_string(),
            slug: self.slug.trim().to_string(),
            description: self.description.clone(),
            categories: split_labels(&self.categories),
            tags: split_labels(&self.tags),
            spec: reading.spec,
        }
    }
}

/// A common intent, as a starting point for the requirements and the objective.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub label: &'static str,
    pub requirements: Vec<Requirement>,
    pub objective: Objective,
}

pub fn presets() -> Vec<Preset> {
    vec![
        Preset {
            label: "Cheapest that answers in time",
            requirements: vec![
                Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, 3000.0),
                Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02),
            ],
            objective: Objective::Minimize(Dimension::Cost),
        },
        Preset {
            label: "Fastest under a budget",
            requirements: vec![
                Requirement::new(Dimension::Cost, Statistic::Mean, Comparator::AtMost, 0.001),
                Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02),
            ],
            objective: Objective::Minimize(Dimension::Latency),
        },
        Preset {
            label: "Quickest first token",
            requirements: vec![
                Requirement::new(Dimension::Ttft, Statistic::P90, Comparator::AtMost, 800.0),
                Requirement::new(Dimension::Cost, Statistic::Mean, Comparator::AtMost, 0.002),
            ],
            objective: Objective::Minimize(Dimension::Ttft),
        },
        Preset {
            label: "Most relevant under a budget",
            requirements: vec![Requirement::new(
                Dimension::Cost,
                Statistic::Mean,
                Comparator::AtMost,
                0.002,
            )],
            objective: Objective::Maximize(Dimension::Eval("answer_relevancy".into())),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_typed_in_display_units() {
        assert_eq!(target_text(&Dimension::ErrorRate, 0.012), "1.2");
        assert_eq!(target_text(&Dimension::Latency, 3000.0), "3000");
        assert_eq!(target_text(&Dimension::Cost, 0.00042), "0.00042");
        assert_eq!(parse_target(&Dimension::ErrorRate, "1.2 %"), Ok(0.012));
        assert_eq!(parse_target(&Dimension::Latency, "2,400"), Ok(2400.0));
        assert_eq!(parse_target(&Dimension::Cost, "$0.001"), Ok(0.001));
        assert!(parse_target(&Dimension::Latency, "fast").is_err());
        assert!(parse_target(&Dimension::Latency, "-1").is_err());
        assert!(parse_target(&Dimension::ErrorRate, "120").is_err());
        assert!(parse_target(&Dimension::Eval("answer_relevancy".into()), "1.5").is_err());
        for (d, v) in [
            (Dimension::Latency, 2412.5),
            (Dimension::ErrorRate, 0.0137),
            (Dimension::Cost, 3.3e-5),
        ] {
            let back = parse_target(&d, &target_text(&d, v)).expect("round trip");
            assert!((back - v).abs() <= 1e-12 * v, "{d:?} {v} -> {back}");
        }
    }

    #[test]
    fn suggestions_round_outward_to_two_digits() {
        assert_eq!(round_outward(2412.0, Comparator::AtMost), 2500.0);
        assert_eq!(round_outward(2400.0000001, Comparator::AtMost), 2400.0);
        assert_eq!(round_outward(0.8137, Comparator::AtLeast), 0.81);
        assert!((round_outward(0.000412, Comparator::AtMost) - 0.00042).abs() < 1e-12);
        assert_eq!(round_outward(0.0, Comparator::AtMost), 0.0);
    }

    #[test]
    fn bad_rows_are_kept_and_named_but_not_projected() {
        let mut draft = Draft::blank(vec!["openai/gpt-4o-mini".into()]);
        draft.requirements[0].target = "soon".into();
        let reading = draft.reading();
        assert_eq!(reading.spec.requirements.len(), 1);
        assert_eq!(reading.rows, vec![1]);
        assert_eq!(reading.errors.len(), 1);
        assert_eq!(
            (reading.errors[0].field, reading.errors[0].index),
            (Field::Requirements, Some(0))
        );
        assert_eq!(draft.requirements[0].target, "soon", "what was typed stays");
    }

    #[test]
    fn every_field_error_is_listed_at_once() {
        let mut draft = Draft::blank(Vec::new());
        draft.rename("  ".into());
        draft.sampling = "200".into();
        draft.requirements[1].target = "x".into();
        draft.metrics = vec!["g_eval".into(), "json_correctness".into()];
        draft.json_schema = "{".into();
        let fields: Vec<Field> = draft.check(true).iter().map(|e| e.field).collect();
        for f in [
            Field::Name,
            Field::Slug,
            Field::Models,
            Field::EvalsSampling,
            Field::Requirements,
            Field::EvalsCriteria,
            Field::EvalsSchema,
        ] {
            assert!(fields.contains(&f), "{f:?} missing from {fields:?}");
        }
        // An edit keeps its name and slug: they are not checked.
        assert!(!draft.check(false).iter().any(|e| e.field == Field::Name));
    }

    #[test]
    fn eval_settings_are_kept_checked_and_saved() {
        let mut draft = Draft::blank(vec!["openai/gpt-4o-mini".into()]);
        draft.metrics = vec!["g_eval".into(), "json_correctness".into()];
        // G-Eval without criteria; a schema that is not JSON.
        draft.json_schema = "{\"type\": ".into();
        let errors = draft.check(false);
        let message = |field| errors.iter().find(|e| e.field == field).map(|e| e.message.clone());
        assert!(message(Field::EvalsCriteria).is_some_and(|m| m.starts_with("G-Eval needs criteria")));
        assert!(message(Field::EvalsSchema).is_some_and(|m| m.starts_with("Not valid JSON")));
        draft.json_schema = "[1]".into();
        assert!(draft
            .eval_errors()
            .iter()
            .any(|e| e.field == Field::EvalsSchema && e.message.contains("JSON object")));
        draft.criteria = "  The answer is correct and cites its sources.  ".into();
        draft.json_schema = r#"{"type": "object"}"#.into();
        assert_eq!(draft.eval_errors(), vec![]);
        let evals = draft.reading().spec.evals;
        assert_eq!(evals.criteria, "The answer is correct and cites its sources.");
        assert_eq!(evals.json_schema, r#"{"type": "object"}"#);
        // What the editor saves passes the server's own check.
        assert_eq!(crate::model_set::validate_evals(&evals), Ok(()));
        // Unticked, they are kept in the draft but neither saved nor checked.
        draft.metrics = vec!["answer_relevancy".into()];
        draft.json_schema = "not json".into();
        assert_eq!(draft.eval_errors(), vec![]);
        let evals = draft.form().spec.evals;
        assert_eq!((evals.criteria.as_str(), evals.json_schema.as_str()), ("", ""));
        assert_eq!(draft.json_schema, "not json");
        // A doubled metric (a restored draft) is named as the server names it.
        draft.metrics = vec!["bias".into(), "bias".into()];
        let doubled = draft.eval_errors();
        assert_eq!((doubled[0].field, doubled[0].index), (Field::EvalsMetrics, Some(1)));
    }

    #[test]
    fn edits_and_clones_start_from_the_sets_eval_settings() {
        let set = ModelSet {
            id: 1,
            owner: "demo".into(),
            slug: "q".into(),
            name: "Q".into(),
            description: String::new(),
            categories: vec![],
            tags: vec![],
            spec: ModelSetSpec {
                models: vec!["openai/gpt-4o".into()],
                evals: EvalSettings {
                    metrics: vec!["g_eval".into(), "json_correctness".into()],
                    sampling: 0.25,
                    criteria: "Cites its sources.".into(),
                    json_schema: r#"{"type":"object"}"#.into(),
                },
                ..ModelSetSpec::default()
            },
            revision: 1,
            created_at: 0,
            updated_at: 0,
            cloned_from: None,
        };
        for target in [
            SaveTarget::Edit {
                owner: "demo".into(),
                slug: "q".into(),
            },
            SaveTarget::Clone {
                source: "@demo/q".into(),
            },
        ] {
            let draft = Draft::from_set(&set, &target);
            assert_eq!(
                (draft.criteria.as_str(), draft.sampling.as_str()),
                ("Cites its sources.", "25")
            );
            assert_eq!(draft.form().spec.evals, set.spec.evals, "{target:?}");
        }
    }

    #[test]
    fn a_draft_saved_before_the_eval_fields_still_restores() {
        let mut json = serde_json::to_value(Draft::blank(vec![])).expect("json");
        let fields = json.as_object_mut().expect("object");
        fields.remove("criteria");
        fields.remove("json_schema");
        let back: Draft = serde_json::from_value(json).expect("restores");
        assert_eq!(back.criteria, "");
    }

    #[test]
    fn metrics_say_what_they_mean_and_cost() {
        let judge = crate::catalog::CatalogModel {
            id: crate::evals::JUDGE_MODEL.into(),
            provider: "openai".into(),
            upstream_name: "gpt-4o-mini".into(),
            input_price_per_mtok: 0.15,
            output_price_per_mtok: 0.60,
            context_window: 128_000,
            capabilities: Default::default(),
            simulated: true,
            simulation: None,
        };
        let metric = |name| crate::evals::metric(name).expect("known");
        assert_eq!(
            judge_calls_text(metric("answer_relevancy"), Some(&judge)),
            "2 judge calls · about $0.00045 a judged request"
        );
        assert_eq!(judge_calls_text(metric("g_eval"), None), "1 judge call");
        assert_eq!(
            judge_calls_text(metric("json_correctness"), Some(&judge)),
            "no judge call: free"
        );
        for m in crate::evals::METRICS {
            assert!(!metric_meaning(m).contains("lower is better"), "{}", m.name);
        }
        assert_eq!(
            metric_meaning(metric("toxicity")),
            "Share of the answer's opinions that are toxic."
        );
    }

    #[test]
    fn evals_not_ticked_are_pointed_out() {
        let mut draft = Draft::blank(Vec::new());
        draft.push(Requirement::new(
            Dimension::Eval("answer_relevancy".into()),
            Statistic::Mean,
            Comparator::AtLeast,
            0.8,
        ));
        draft.objective = Objective::Maximize(Dimension::Eval("g_eval".into()));
        let key = draft.requirements[2].key;
        let found = draft.unmeasured();
        assert_eq!(
            found,
            vec![
                Unmeasured::Requirement {
                    key,
                    metric: "answer_relevancy".into()
                },
                Unmeasured::Objective {
                    metric: "g_eval".into()
                },
            ]
        );
        assert_eq!(
            found[0].message(),
            "Answer relevancy is not measured: tick it in Evals."
        );
        assert_eq!(found[1].message(), "G-Eval is not measured: tick it in Evals.");
        draft.metrics = vec!["answer_relevancy".into(), "g_eval".into()];
        assert_eq!(draft.unmeasured(), vec![]);
        // Scores are monitored as means: no percentile is offered for them.
        assert_eq!(statistics(&Dimension::Eval("bias".into())), &[Statistic::Mean]);
    }

    #[test]
    fn the_slug_follows_the_name_until_typed() {
        let mut draft = Draft::blank(Vec::new());
        draft.rename("Cheap Chat".into());
        assert_eq!(draft.slug, "cheap-chat");
        draft.slug = "mine".into();
        draft.slug_edited = true;
        draft.rename("Cheap Chat 2".into());
        assert_eq!(draft.slug, "mine");
    }

    #[test]
    fn a_new_dimension_takes_its_natural_side() {
        let mut draft = Draft::blank(Vec::new());
        let key = draft.requirements[1].key;
        draft.set_dimension(key, Dimension::Throughput);
        assert_eq!(draft.requirements[1].comparator, Comparator::AtLeast);
        let key = draft.requirements[0].key;
        draft.set_dimension(key, Dimension::ErrorRate);
        assert_eq!(
            draft.requirements[0].statistic,
            Statistic::Mean,
            "error rate has no p90"
        );
    }
}
