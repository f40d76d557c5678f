//! Docker's image routes: `GET /images/json` (`docker images`), from the
//! engine's image list.

use std::collections::HashMap;

use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::containers::{blocking, filters};
use crate::api::error::ApiError;
use crate::api::prefix::ApiVersion;
use crate::api::server::Shared;
use crate::engine::image::{self, list};

/// `GET /images/json?filters=`: one entry per image with all its names.
/// `all` (intermediate images) has nothing to add: there are none.
pub async fn list(
    State(shared): State<Shared>,
    Extension(flavor): Extension<ApiVersion>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let req = list::ListRequest {
        filters: filters(&q, flavor)?,
        name: None,
    };
    // With `reference`, dockerd lists only an image's matching names.
    let references: Vec<String> = req
        .filters
        .iter()
        .filter_map(|f| f.strip_prefix("reference="))
        .map(str::to_owned)
        .collect();
    let ctx = shared.ctx.clone();
    let images = blocking(flavor, move || {
        let store = image::open_store(&ctx)?;
        let mut rows = list::list(&store, &req)?;
        if !references.is_empty() {
            for r in &mut rows {
                r.record
                    .names
                    .retain(|n| references.iter().any(|p| list::reference_matches(p, n)));
            }
        }
        Ok(rows.iter().map(docker_view).collect::<Vec<Value>>())
    })
    .await?;
    Ok(axum::Json(images).into_response())
}

pub(super) fn docker_view(l: &list::Listed) -> Value {
    let names = &l.record.names;
    let tags: Vec<String> = if names.is_empty() {
        vec!["<none>:<none>".to_owned()]
    } else {
        names.clone()
    };
    let digests: Vec<String> = names
        .iter()
        .map(|n| format!("{}@{}", list::repo_tag(n).0, l.record.digest))
        .collect();
    json!({
        "Id": format!("sha256:{}", l.record.id.hex()),
        "ParentId": "",
        "RepoTags": tags,
        "RepoDigests": digests,
        "Created": l.created,
        "Size": l.record.size,
        "SharedSize": -1,
        "VirtualSize": l.record.size,
        "Labels": if l.labels.is_object() { l.labels.clone() } else { json!({}) },
        "Containers": -1,
    })
}
