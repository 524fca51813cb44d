//! The only code that talks to AWS App Mesh: SDK set-up, spec conversion both ways, normalised
//! comparison, and what each App Mesh error means.

/// Sends one request through `AppMesh::call` (rate limit, retries, metrics, the fence): `$op`
/// names the operation once, for its metrics and its errors; `$request` builds the request from
/// the SDK client `$c`.
macro_rules! send {
    ($self:ident, $op:literal, |$c:ident| $request:expr) => {
        $self.call($op, || async {
            let $c = $self.sdk().await;
            $request
                .send()
                .await
                .map_err(|e| AppMeshError::from_sdk($op, e))
        })
    };
}

mod args;
mod breaker;
mod client;
mod convert;
mod error;
mod lookups;
mod route_spec;

pub use args::AppMeshArgs;
pub use client::{
    AppMesh, CreateOutcome, ListedRoute, OPERATIONS, ObservedRoute, PROBE_EVERY, RouteKey,
    Settings, UpdateOutcome,
};
pub use convert::{ConversionError, RouteSpec, from_sdk, tags_to_sdk, to_sdk};
pub use error::{AppMeshError, ErrorKind, Meaning};
pub use lookups::Missing;
