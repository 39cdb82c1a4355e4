//! [`Api`]: a resource's routes with their OpenAPI documentation, built only when the document
//! is asked for.
//!
//! Each handler carries a `#[utoipa::path]` annotation; [`routes!`](crate::http::routes)
//! registers handlers by it (so a route cannot be served undocumented) and keeps, for each, a
//! plain function that adds its operation and schemas to a document. The document is built
//! the first time `/openapi.json` is requested (`openapi.rs`): building it allocates a few MB
//! of schema trees, which a server that nobody asks for its docs never pays, and which would
//! otherwise stay in the allocator's pages from startup on.

use super::AppState;
use axum::Router;
use axum::routing::MethodRouter;
use utoipa::openapi::path::{HttpMethod, Operation, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{Components, OpenApi, RefOr};

/// Adds one handler's operation and the schemas it references to a document.
pub(crate) type DocFn = fn(&mut OpenApi);

/// Handlers registered by `routes!` for one path: the path, their documentation functions and
/// the method router.
pub(crate) type DocRoutes = (String, Vec<DocFn>, MethodRouter<AppState>);

/// Routes and the functions that document them.
#[derive(Default)]
pub(crate) struct Api {
    router: Router<AppState>,
    docs: Vec<DocFn>,
}

impl Api {
    /// Registers `routes` at their path, and, undocumented, at the same path with a trailing
    /// slash (agno strips a trailing slash; a nested router cannot rewrite the path before
    /// routing, so both are registered).
    pub(crate) fn routes(mut self, (path, docs, method_router): DocRoutes) -> Api {
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            path
        };
        if path != "/" {
            self.router = self
                .router
                .route(&format!("{path}/"), method_router.clone());
        }
        self.router = self.router.route(&path, method_router);
        self.docs.extend(docs);
        self
    }

    /// Both sets of routes.
    pub(crate) fn merge(mut self, other: Api) -> Api {
        self.router = self.router.merge(other.router);
        self.docs.extend(other.docs);
        self
    }

    /// The router, and what documents it.
    pub(crate) fn split(self) -> (Router<AppState>, Vec<DocFn>) {
        (self.router, self.docs)
    }
}

/// Adds one operation, as `#[utoipa::path]` describes it, to `doc` (what utoipa-axum's
/// `OpenApiRouter::routes` does with it).
pub(crate) fn add_operation(
    doc: &mut OpenApi,
    path: String,
    methods: Vec<HttpMethod>,
    mut operation: Operation,
    tags: Vec<&str>,
    schemas: Vec<(String, RefOr<Schema>)>,
) {
    if !tags.is_empty() {
        let operation_tags = operation.tags.get_or_insert(Vec::new());
        operation_tags.extend(tags.iter().map(ToString::to_string));
    }
    let mut paths = Paths::new();
    paths.add_path_operation(&path, methods, operation);
    for (path, item) in paths.paths {
        match doc.paths.paths.get_mut(&path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                doc.paths.paths.insert(path, item);
            }
        }
    }
    doc.components
        .get_or_insert(Components::new())
        .schemas
        .extend(schemas);
}

/// Registers handlers annotated with `#[utoipa::path]` that share one path: `routes!(get_x,
/// post_x)` or with module paths (`routes!(read::get_run)`). Gives a [`DocRoutes`] for
/// [`Api::routes`]: the method router is built now, the documentation only on demand.
macro_rules! routes {
    ( $( $( $seg:ident )::+ ),+ $(,)? ) => {{
        #[allow(unused_imports)]
        use utoipa_axum::PathItemExt as _;
        // Every handler of one `routes!` shares the path.
        let mut paths: Vec<String> = Vec::new();
        let mut docs: Vec<$crate::http::api::DocFn> = Vec::new();
        let mut method_router = axum::routing::MethodRouter::new();
        $(
            paths.push(utoipa_axum::routes!(@path [path()] of $( $seg )::+));
            let methods = utoipa_axum::routes!(@path [methods()] of $( $seg )::+);
            method_router = methods.iter().fold(method_router, |router, method| {
                router.on(method.to_method_filter(), $( $seg )::+)
            });
            docs.push(|doc: &mut utoipa::openapi::OpenApi| {
                let mut schemas = Vec::new();
                utoipa_axum::routes!(@path [schemas(&mut schemas)] of $( $seg )::+);
                $crate::http::api::add_operation(
                    doc,
                    utoipa_axum::routes!(@path [path()] of $( $seg )::+),
                    utoipa_axum::routes!(@path [methods()] of $( $seg )::+),
                    utoipa_axum::routes!(@path [operation()] of $( $seg )::+),
                    utoipa_axum::routes!(@path [tags()] of $( $seg )::+),
                    schemas,
                );
            });
        )+
        (paths.into_iter().next().unwrap_or_default(), docs, method_router)
    }};
}
pub(crate) use routes;
