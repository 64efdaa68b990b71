//! JSON correctness, as DeepEval's `JsonCorrectnessMetric`: 1 when the answer is JSON (and
//! satisfies the owner's JSON Schema, when there is one), else 0. No judge call: DeepEval asks
//! its judge only to word the reason for a failure, which we name ourselves from the parser
//! or the validator.
//!
//! Strict, as DeepEval parses the actual output as it is (`model_validate_json`): surrounding
//! whitespace is allowed, as JSON allows it, but an answer wrapped in a Markdown code fence, or
//! with prose around the JSON, is not JSON, and the reason says so. An application that asks
//! for JSON reads the answer whole, and that is what the metric measures.
//!
//! Without a schema any JSON value counts, a bare number or string too (RFC 8259); an owner
//! who wants an object says so in the schema (`{"type": "object"}`).

use super::ask::shorten;
use super::{EvalError, Measured};

/// How much of a parser's or validator's message a reason carries (the validator's quotes the
/// offending value, which may be the whole answer).
const PROBLEM_MAX_CHARS: usize = 240;

pub(super) fn measure(output: &str, schema: Option<&serde_json::Value>) -> Result<Measured, EvalError> {
    // The schema first: an unusable schema is the configuration's fault, whatever the answer.
    // No remote `$ref` can be fetched (the crate is built without its HTTP and file
    // resolvers), so such a schema is a configuration error too.
    let validator = schema
        .map(|schema| {
            jsonschema::validator_for(schema).map_err(|e| {
                EvalError::Config(format!(
                    "the JSON Schema is not usable: {}",
                    shorten(&e.to_string(), PROBLEM_MAX_CHARS)
                ))
            })
        })
        .transpose()?;

    let value: serde_json::Value = match serde_json::from_str(output) {
        Ok(value) => value,
        Err(e) => {
            let fenced = output.trim_start().starts_with("```");
            let reason = if fenced {
                format!(
                    "The answer is not JSON: it is wrapped in a Markdown code fence ({e}); the \
                     metric reads the answer as it is, as an application would."
                )
            } else {
                format!("The answer is not JSON: {e}.")
            };
            return Ok(Measured { score: 0.0, reason });
        }
    };
    let Some(validator) = validator else {
        return Ok(Measured {
            score: 1.0,
            reason: "The answer is valid JSON.".into(),
        });
    };
    match validator.validate(&value) {
        Ok(()) => Ok(Measured {
            score: 1.0,
            reason: "The answer is valid JSON and satisfies the schema.".into(),
        }),
        Err(error) => {
            let path = error.instance_path().to_string();
            let at = if path.is_empty() {
                "the top level".to_string()
            } else {
                path
            };
            Ok(Measured {
                score: 0.0,
                reason: format!(
                    "The answer is JSON but does not satisfy the schema at {at}: {}.",
                    shorten(&error.to_string(), PROBLEM_MAX_CHARS)
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::Scripted;
    use super::super::{score, Case, EvalError, MetricSpec};
    use crate::evals::judge::JudgeUsage;

    async fn judged(output: &str, schema: Option<&serde_json::Value>) -> Result<(f64, String), EvalError> {
        // No reply scripted: a judge call would panic the test.
        let judge = Scripted::new(vec![]);
        let case = Case {
            input: "Give me a user as JSON.".into(),
            output: output.into(),
        };
        let result = score(&MetricSpec::JsonCorrectness { schema }, &case, &judge).await;
        assert!(judge.prompts().is_empty());
        match result {
            Ok(scored) => {
                assert_eq!(scored.usage, JudgeUsage::default());
                Ok((scored.score, scored.reason))
            }
            Err(failed) => {
                assert_eq!(failed.usage, JudgeUsage::default());
                Err(failed.error)
            }
        }
    }

    fn schema() -> serde_json::Value {
        json!({
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
            "required": ["name", "age"]
        })
    }

    #[tokio::test]
    async fn valid_json_scores_one() {
        let (score, reason) = judged(" {\"name\": \"Ada\", \"age\": 36}\n", None)
            .await
            .expect("scored");
        assert_eq!(score, 1.0);
        assert_eq!(reason, "The answer is valid JSON.");
        assert_eq!(judged("[1, 2]", None).await.expect("scored").0, 1.0);
    }

    #[tokio::test]
    async fn invalid_json_scores_zero_with_the_parser_problem() {
        let (score, reason) = judged("{\"name\": \"Ada\",}", None).await.expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.starts_with("The answer is not JSON: trailing comma"), "{reason}");
        let (score, reason) = judged("Sure: {\"name\": \"Ada\"}", None).await.expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.contains("line 1 column 1"), "{reason}");
    }

    /// Strict, as DeepEval: a fenced answer is not JSON, and the reason says why.
    #[tokio::test]
    async fn fenced_json_is_not_json() {
        let (score, reason) = judged("```json\n{\"name\": \"Ada\", \"age\": 36}\n```", None)
            .await
            .expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.contains("Markdown code fence"), "{reason}");
    }

    #[tokio::test]
    async fn schema_pass_and_fail() {
        let schema = schema();
        let (score, reason) = judged(r#"{"name": "Ada", "age": 36}"#, Some(&schema))
            .await
            .expect("scored");
        assert_eq!(score, 1.0);
        assert_eq!(reason, "The answer is valid JSON and satisfies the schema.");

        let (score, reason) = judged(r#"{"name": "Ada", "age": -1}"#, Some(&schema))
            .await
            .expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.contains("at /age"), "{reason}");
        assert!(reason.contains("minimum"), "{reason}");

        let (score, reason) = judged(r#"{"name": "Ada"}"#, Some(&schema)).await.expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.contains("at the top level"), "{reason}");
        assert!(reason.contains("\"age\" is a required property"), "{reason}");

        // Not JSON at all: the parser's problem, before the schema.
        let (score, reason) = judged("Ada, 36", Some(&schema)).await.expect("scored");
        assert_eq!(score, 0.0);
        assert!(reason.starts_with("The answer is not JSON"), "{reason}");
    }

    #[tokio::test]
    async fn bad_schema_is_a_config_error() {
        let bad = json!({"type": "objekt"});
        let error = judged(r#"{"name": "Ada"}"#, Some(&bad)).await.expect_err("config");
        assert!(
            matches!(&error, EvalError::Config(m) if m.starts_with("the JSON Schema is not usable")),
            "{error:?}"
        );
        assert_eq!(error.class(), "config");
        // Whatever the answer.
        let error = judged("not json", Some(&bad)).await.expect_err("config");
        assert_eq!(error.class(), "config");
        // A remote reference cannot be fetched: configuration error, no network.
        let remote = json!({"$ref": "https://example.com/user.schema.json"});
        let error = judged("{}", Some(&remote)).await.expect_err("config");
        assert_eq!(error.class(), "config");
        // Nor a file: an owner's schema cannot read the server's disk.
        let file = json!({"$ref": "file:///etc/hostname"});
        let error = judged("{}", Some(&file)).await.expect_err("config");
        assert_eq!(error.class(), "config");
    }
}
