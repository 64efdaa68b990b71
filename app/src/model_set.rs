//! Model Sets as data: candidate models plus the behaviour their owner asks for.
//!
//! The routing engine (a later piece of work) reads [`ModelSetSpec`]; storage keeps it
//! as one JSON document so that adding a dimension needs no migration.

use serde::{Deserialize, Serialize};

/// A behaviour dimension the gateway measures for every request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "metric")]
pub enum Dimension {
    /// US dollars per request.
    Cost,
    /// Whole-request latency, milliseconds.
    Latency,
    /// Time to first token, milliseconds.
    Ttft,
    /// Output tokens per second.
    Throughput,
    /// Share of requests that failed, 0..1.
    ErrorRate,
    /// An LLM-judge eval score, 0..1, named by its metric.
    Eval(String),
}

/// Which statistic of a dimension a requirement constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    Mean,
    P50,
    P90,
    P99,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Comparator {
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = ">=")]
    AtLeast,
}

/// "The set's `statistic` of `dimension` must be `comparator` `target`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub dimension: Dimension,
    pub statistic: Statistic,
    pub comparator: Comparator,
    pub target: f64,
}

impl Requirement {
    pub fn new(dimension: Dimension, statistic: Statistic, comparator: Comparator, target: f64) -> Requirement {
        Requirement {
            dimension,
            statistic,
            comparator,
            target,
        }
    }
}

/// What to optimise once every requirement holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "goal", content = "dimension")]
pub enum Objective {
    Minimize(Dimension),
    Maximize(Dimension),
}

impl Default for Objective {
    fn default() -> Self {
        Objective::Minimize(Dimension::Cost)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSettings {
    /// Judge metrics to run, e.g. "answer_relevancy".
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Probability that a request is evaluated.
    #[serde(default = "default_sampling")]
    pub sampling: f64,
    /// G-Eval's criteria, in the owner's words (needed when `metrics` has `g_eval`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub criteria: String,
    /// A JSON Schema the answer must satisfy for `json_correctness` (empty: any valid JSON).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_schema: String,
}

fn default_sampling() -> f64 {
    0.1
}

impl Default for EvalSettings {
    fn default() -> Self {
        EvalSettings {
            metrics: Vec::new(),
            sampling: default_sampling(),
            criteria: String::new(),
            json_schema: String::new(),
        }
    }
}

/// The editable configuration of a set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelSetSpec {
    /// Catalog ids (`provider/model`).
    pub models: Vec<String>,
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub objective: Objective,
    #[serde(default)]
    pub evals: EvalSettings,
}

/// A deployed set, addressed as `@owner/slug`. Name and slug never change; everything
/// else is editable, and each edit is kept as a [`ModelSetRevision`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSet {
    pub id: i64,
    pub owner: String,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub spec: ModelSetSpec,
    /// 1 at creation, +1 per edit.
    pub revision: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// `@owner/slug` of the set this one was cloned from (which may since have gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloned_from: Option<String>,
}

/// The editable part of a set as it stood after one edit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSetRevision {
    pub revision: i64,
    pub edited_at: i64,
    pub description: String,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub spec: ModelSetSpec,
}

pub const NAME_MAX: usize = 80;
pub const SLUG_MIN: usize = 3;
pub const SLUG_MAX: usize = 48;
pub const DESCRIPTION_MAX: usize = 2000;
pub const LABELS_MAX: usize = 10;
pub const LABEL_MAX: usize = 32;
pub const MODELS_MAX: usize = 50;
pub const REQUIREMENTS_MAX: usize = 20;

/// What a client sends to create a set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSetDraft {
    pub name: String,
    /// Derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub models: Vec<String>,
    #[serde(default)]
    pub requirements: Vec<Requirement>,
    #[serde(default)]
    pub objective: Objective,
    #[serde(default)]
    pub evals: EvalSettings,
}

/// An edit: every field is optional; name and slug are not editable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSetPatch {
    pub description: Option<String>,
    pub categories: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub models: Option<Vec<String>>,
    pub requirements: Option<Vec<Requirement>>,
    pub objective: Option<Objective>,
    pub evals: Option<EvalSettings>,
}

/// Lower-case, '-'-joined words of `name`, cut to the slug limit: "Cheap Chat!" → "cheap-chat".
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(SLUG_MAX);
    slug.trim_end_matches('-').to_string()
}

/// A field of a Model Set's form or body, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Slug,
    Description,
    Categories,
    Tags,
    Models,
    Requirements,
    Objective,
    EvalsMetrics,
    EvalsSampling,
    EvalsCriteria,
    EvalsSchema,
}

impl Field {
    /// The field's name in the JSON API (OpenAI's `param`) and in the forms.
    pub fn param(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Slug => "slug",
            Field::Description => "description",
            Field::Categories => "categories",
            Field::Tags => "tags",
            Field::Models => "models",
            Field::Requirements => "requirements",
            Field::Objective => "objective",
            Field::EvalsMetrics => "evals.metrics",
            Field::EvalsSampling => "evals.sampling",
            Field::EvalsCriteria => "evals.criteria",
            Field::EvalsSchema => "evals.json_schema",
        }
    }
}

/// Why a value was refused: which field (and, for a list, which entry) and a message for the
/// person who typed it. Forms show `message` beside the field; the API names `param`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", self.param())]
pub struct FieldError {
    pub field: Field,
    /// The entry of a list field (a requirement, a model) that is wrong, counted from 0.
    pub index: Option<usize>,
    pub message: String,
}

impl FieldError {
    pub fn new(field: Field, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            index: None,
            message: message.into(),
        }
    }

    pub fn at(field: Field, index: usize, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            index: Some(index),
            message: message.into(),
        }
    }

    /// `requirements[1]`, `slug`: where in a JSON body the error is.
    pub fn param(&self) -> String {
        match self.index {
            Some(i) => format!("{}[{i}]", self.field.param()),
            None => self.field.param().to_string(),
        }
    }
}

pub fn validate_slug(slug: &str) -> Result<(), FieldError> {
    let len = slug.chars().count();
    let ok_chars = slug
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(SLUG_MIN..=SLUG_MAX).contains(&len) || !ok_chars || slug.starts_with('-') || slug.ends_with('-') {
        return Err(FieldError::new(
            Field::Slug,
            format!("{SLUG_MIN}-{SLUG_MAX} lowercase letters, digits and inner '-' (got {slug:?})"),
        ));
    }
    Ok(())
}

/// Checks the descriptive fields; returns them normalised (trimmed, labels lower-cased and deduplicated).
pub fn normalise_details(
    description: &str,
    categories: &[String],
    tags: &[String],
) -> Result<(String, Vec<String>, Vec<String>), FieldError> {
    let description = description.trim().to_string();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(FieldError::new(
            Field::Description,
            format!("at most {DESCRIPTION_MAX} characters"),
        ));
    }
    let labels = |field: Field, list: &[String]| -> Result<Vec<String>, FieldError> {
        if list.len() > LABELS_MAX {
            return Err(FieldError::new(field, format!("at most {LABELS_MAX}")));
        }
        let mut out: Vec<String> = Vec::new();
        for (i, label) in list.iter().enumerate() {
            let label = label.trim().to_lowercase();
            if label.is_empty() || label.chars().count() > LABEL_MAX || label.chars().any(char::is_control) {
                return Err(FieldError::at(
                    field,
                    i,
                    format!("each must be 1-{LABEL_MAX} printable characters"),
                ));
            }
            if !out.contains(&label) {
                out.push(label);
            }
        }
        Ok(out)
    };
    Ok((
        description,
        labels(Field::Categories, categories)?,
        labels(Field::Tags, tags)?,
    ))
}

pub fn validate_name(name: &str) -> Result<String, FieldError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(FieldError::new(
            Field::Name,
            format!("1-{NAME_MAX} printable characters"),
        ));
    }
    Ok(name.to_string())
}

/// Checks a spec against the catalog (`known` says whether a model id exists).
pub fn validate_spec(spec: &ModelSetSpec, known: impl Fn(&str) -> bool) -> Result<(), FieldError> {
    if spec.models.is_empty() {
        return Err(FieldError::new(Field::Models, "choose at least one model"));
    }
    if spec.models.len() > MODELS_MAX {
        return Err(FieldError::new(Field::Models, format!("at most {MODELS_MAX}")));
    }
    for (i, model) in spec.models.iter().enumerate() {
        if !known(model) {
            return Err(FieldError::at(
                Field::Models,
                i,
                format!("{model:?} is not in the catalog"),
            ));
        }
        if spec.models[..i].contains(model) {
            return Err(FieldError::at(Field::Models, i, format!("{model:?} is listed twice")));
        }
    }
    if spec.requirements.len() > REQUIREMENTS_MAX {
        return Err(FieldError::new(
            Field::Requirements,
            format!("at most {REQUIREMENTS_MAX}"),
        ));
    }
    for (i, r) in spec.requirements.iter().enumerate() {
        if !r.target.is_finite() || r.target < 0.0 {
            return Err(FieldError::at(
                Field::Requirements,
                i,
                format!("target {} must be a finite number >= 0", r.target),
            ));
        }
        let unit_range = matches!(r.dimension, Dimension::ErrorRate | Dimension::Eval(_));
        if unit_range && r.target > 1.0 {
            return Err(FieldError::at(
                Field::Requirements,
                i,
                "error rate and eval targets are between 0 and 1",
            ));
        }
    }
    if !(0.0..=1.0).contains(&spec.evals.sampling) {
        return Err(FieldError::new(Field::EvalsSampling, "a probability between 0 and 1"));
    }
    validate_evals(&spec.evals)
}

/// The longest G-Eval criteria and JSON Schema accepted, in characters.
pub const CRITERIA_MAX: usize = 2_000;
pub const JSON_SCHEMA_MAX: usize = 20_000;

/// The eval settings alone: known metrics, each once; criteria for G-Eval; a schema that is a
/// JSON object.
pub fn validate_evals(evals: &EvalSettings) -> Result<(), FieldError> {
    for (i, name) in evals.metrics.iter().enumerate() {
        if crate::evals::metric(name).is_none() {
            let known: Vec<&str> = crate::evals::METRICS.iter().map(|m| m.name).collect();
            return Err(FieldError::at(
                Field::EvalsMetrics,
                i,
                format!("unknown metric {name:?} (one of {})", known.join(", ")),
            ));
        }
        if evals.metrics[..i].contains(name) {
            return Err(FieldError::at(
                Field::EvalsMetrics,
                i,
                format!("{name:?} is listed twice"),
            ));
        }
    }
    let criteria = evals.criteria.trim();
    if evals.metrics.iter().any(|m| m == crate::evals::G_EVAL) && criteria.is_empty() {
        return Err(FieldError::new(
            Field::EvalsCriteria,
            "G-Eval needs criteria: what makes an answer good, in a sentence or two",
        ));
    }
    if criteria.chars().count() > CRITERIA_MAX {
        return Err(FieldError::new(
            Field::EvalsCriteria,
            format!("at most {CRITERIA_MAX} characters"),
        ));
    }
    let schema = evals.json_schema.trim();
    if schema.chars().count() > JSON_SCHEMA_MAX {
        return Err(FieldError::new(
            Field::EvalsSchema,
            format!("at most {JSON_SCHEMA_MAX} characters"),
        ));
    }
    if !schema.is_empty() {
        match serde_json::from_str::<serde_json::Value>(schema) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => return Err(FieldError::new(Field::EvalsSchema, "a JSON Schema is a JSON object")),
            Err(e) => return Err(FieldError::new(Field::EvalsSchema, format!("not JSON: {e}"))),
        }
    }
    Ok(())
}

impl ModelSet {
    /// The name applications put in `"model"`.
    pub fn address(&self) -> String {
        format!("@{}/{}", self.owner, self.slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_json() {
        let spec = ModelSetSpec {
            models: vec!["openai/gpt-4o-mini".into()],
            requirements: vec![Requirement {
                dimension: Dimension::Latency,
                statistic: Statistic::P90,
                comparator: Comparator::AtMost,
                target: 1500.0,
            }],
            objective: Objective::Maximize(Dimension::Eval("answer_relevancy".into())),
            evals: EvalSettings::default(),
        };
        let json = serde_json::to_string(&spec).expect("serialize");
        assert!(json.contains(r#""comparator":"<=""#), "{json}");
        let back: ModelSetSpec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, spec);
    }

    #[test]
    fn slugs_come_from_names() {
        assert_eq!(slugify("Cheap Chat!"), "cheap-chat");
        assert_eq!(slugify("  RAG -- v2  "), "rag-v2");
        assert!(validate_slug(&slugify("Cheap Chat!")).is_ok());
        assert!(validate_slug("ab").is_err());
        assert!(validate_slug("-abc").is_err());
        assert!(validate_slug("Abc").is_err());
    }

    #[test]
    fn specs_are_checked_against_the_catalog() {
        let known = |m: &str| m.starts_with("openai/");
        let mut spec = ModelSetSpec {
            models: vec!["openai/a".into()],
            ..ModelSetSpec::default()
        };
        assert!(validate_spec(&spec, known).is_ok());
        spec.models.push("nope/b".into());
        assert!(validate_spec(&spec, known).unwrap_err().to_string().contains("nope/b"));
        spec.models = vec!["openai/a".into(), "openai/a".into()];
        let twice = validate_spec(&spec, known).unwrap_err();
        assert_eq!((twice.field, twice.index), (Field::Models, Some(1)));
        assert!(twice.to_string().contains("twice"));
        spec.models = vec![];
        assert!(validate_spec(&spec, known).is_err());
        spec.models = vec!["openai/a".into()];
        spec.evals.sampling = 1.5;
        assert!(validate_spec(&spec, known).is_err());
    }

    #[test]
    fn labels_are_normalised() {
        let (d, c, t) = normalise_details(" hi ", &["Chat".into(), "chat".into()], &["Fast".into()]).expect("ok");
        assert_eq!(
            (d.as_str(), c, t),
            ("hi", vec!["chat".to_string()], vec!["fast".to_string()])
        );
        assert!(normalise_details("", &vec!["x".to_string(); LABELS_MAX + 1], &[]).is_err());
        assert!(normalise_details(&"d".repeat(DESCRIPTION_MAX + 1), &[], &[]).is_err());
    }

    #[test]
    fn eval_sampling_defaults_to_one_in_ten() {
        let spec: ModelSetSpec = serde_json::from_str(r#"{"models":[]}"#).expect("parse");
        assert_eq!(spec.evals.sampling, 0.1);
        assert_eq!(spec.objective, Objective::Minimize(Dimension::Cost));
    }
}
