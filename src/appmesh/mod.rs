//! The only code that talks to AWS App Mesh: converting specs to and from the SDK's types.

mod convert;

pub use convert::{ConversionError, RouteSpec, from_sdk, tags_from_sdk, tags_to_sdk, to_sdk};
