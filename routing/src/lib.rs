//! How App Mesh routes a request, as pure functions over routes' specs (App Mesh's JSON): which
//! gateway route of a virtual gateway takes it and what the gateway rewrites (`gateway`), and
//! which route of a virtual router takes it on to which virtual nodes (`router`). The emulator
//! serves requests with it and `meshroute verify` predicts App Mesh's answers with it: one
//! model, so that what verify predicts is what the emulator does. docs/testing.md ("The gateway
//! data plane", "Virtual routers") cites what each rule rests on.

pub mod gateway;
pub mod pattern;
pub mod router;
