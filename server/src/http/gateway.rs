//! The OpenAI-compatible surface under `/v1`. For now: the model list, authenticated by
//! API key, which is what makes keys usable end to end before chat completions land.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::GatewayError;
use super::AppState;

/// `GET /v1/models`: the catalog, in OpenAI's list format, with Setpoint's extra facts
/// (prices, capabilities, whether it is simulated) under `setpoint`.
pub async fn list_models(
    State(state): State<AppState>,
    ApiCaller(_caller): ApiCaller,
) -> Result<Json<Value>, GatewayError> {
    let models = state.storage.list_catalog_models().await.map_err(|e| {
        tracing::error!(error = %e, "catalog read failed");
        GatewayError::Internal
    })?;
    let data: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "object": "model",
                "created": 0,
                "owned_by": m.id.split('/').next().unwrap_or_default(),
                "setpoint": {
                    "provider": m.provider,
                    "simulated": m.simulated,
                    "input_price_per_mtok": m.input_price_per_mtok,
                    "output_price_per_mtok": m.output_price_per_mtok,
                    "context_window": m.context_window,
                    "capabilities": m.capabilities,
                }
            })
        })
        .collect();
    Ok(Json(json!({ "object": "list", "data": data })))
}
