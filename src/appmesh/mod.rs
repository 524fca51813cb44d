//! The only code that talks to AWS App Mesh: SDK set-up, spec conversion both ways, normalised
//! comparison, and what each App Mesh error means.

mod args;
mod breaker;
mod client;
mod convert;
mod error;

pub use args::AppMeshArgs;
pub use client::{
    AppMesh, CreateOutcome, Fence, ListedRoute, Missing, OPERATIONS, ObservedRoute, PROBE_EVERY,
    RouteKey, Settings, UpdateOutcome,
};
pub use convert::{ConversionError, RouteSpec, from_sdk, tags_to_sdk, to_sdk};
pub use error::{AppMeshError, ErrorKind, Meaning};
