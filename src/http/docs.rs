//! `/docs`: the OpenAPI document rendered by Swagger UI, whose JS and CSS are served from the
//! `swagger-ui-dist` crate (they ship inside its package: nothing is downloaded at build time,
//! and the page loads nothing from another host).

use super::AppState;
use axum::Router;
use axum::extract::OriginalUri;
use axum::response::Html;
use axum::routing::get;

/// The asset files under `/docs/`, served by `swagger-ui-dist`'s own router.
pub(crate) const ASSETS: [&str; 4] = [
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui.css.map",
    "swagger-ui-bundle.js.map",
];

pub(crate) fn router() -> Router<AppState> {
    let assets = swagger_ui_dist::generate_routes(swagger_ui_dist::ApiDefinition {
        uri_prefix: "/docs",
        api_definition: swagger_ui_dist::OpenApiSource::Uri("/openapi.json"),
        title: None,
    });
    let r = Router::new()
        .route("/docs", get(page))
        .route("/docs/", get(page));
    ASSETS.iter().fold(r, |r, file| {
        r.route_service(&format!("/docs/{file}"), assets.clone())
    })
}

/// The Swagger UI page. Its links are absolute paths built from the URL it was requested at, so
/// it works at `/docs`, `/docs/` and under a host application's `nest("/ai", ...)`.
async fn page(OriginalUri(uri): OriginalUri) -> Html<String> {
    let path = uri.path().trim_end_matches('/');
    let prefix = path.strip_suffix("/docs").unwrap_or("");
    let assets = escape(&format!("{prefix}/docs"));
    let spec = escape(&format!("{prefix}/openapi.json"));
    Html(format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agentos API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-spec="{spec}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {{
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({{
    url: node.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null
  }});
}};
</script>
</body>
</html>
"##
    ))
}

/// HTML-escapes text for an attribute value.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
