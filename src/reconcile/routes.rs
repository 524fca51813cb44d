//! The Gateway API backend's executor: the HTTPRoute or GRPCRoute of a GatewayRoute, written by
//! server-side apply with meshroute's field manager, owner-referenced and labelled, in the
//! GatewayRoute's namespace and of its name; read back with the implementation's status; deleted
//! when the object goes or its gateway stops being served by Gateway API. A route of that name
//! meshroute did not write is never touched unless the object asks to adopt it. What the route's
//! status means is `served` (pure).

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::plan::Problem;
use super::serving::Parent;
use super::status::FIELD_MANAGER;
use crate::Error;
use crate::api::ownership::wants_adoption;
use crate::api::{GatewayApiRoute, GatewayRoute, Reason};
use crate::backoff::Retry;
use crate::gatewayapi::{self, Finding};

/// The label on every Gateway API route meshroute writes: what its watch selects.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "meshroute");

/// The kinds meshroute writes.
pub const KINDS: [&str; 2] = ["HTTPRoute", "GRPCRoute"];

fn api(client: &kube::Client, kind: &str, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &gatewayapi::api_resource(kind))
}

/// Whether `existing` is the route meshroute wrote for a GatewayRoute of `route`'s name (this
/// object, or an earlier one of its name that GitOps re-created).
fn written_for(existing: &DynamicObject, route: &GatewayRoute) -> bool {
    existing.labels().get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1)
        && existing
            .owner_references()
            .iter()
            .any(|o| o.kind == "GatewayRoute" && Some(&o.name) == route.metadata.name.as_ref())
}

/// What the Gateway API side of a reconcile did.
pub struct Applied {
    /// The route as the apiserver holds it after the apply, status included.
    pub object: DynamicObject,
    pub record: GatewayApiRoute,
}

/// Writes `route`'s Gateway API route, `mapped` as `export gateway-api` maps it
/// (`gatewayapi::route_object` under its parent). `Err(Ok(problem))` says why it is not there;
/// `Err(Err(e))` is a Kubernetes failure to retry.
pub async fn apply(
    client: &kube::Client,
    route: &GatewayRoute,
    parent: &Parent,
    (object, findings): gatewayapi::Mapped,
) -> Result<(Applied, Vec<Finding>), Result<Problem, Error>> {
    let Some(mut object) = object else {
        return Err(Ok(not_exported(&findings)));
    };
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    let namespace = route.namespace().unwrap_or_default();
    let name = route.name_any();
    let api = api(client, &kind, &namespace);
    let shown = format!("{kind} {namespace}/{name}");
    if let Some(existing) = api.get_opt(&name).await.map_err(|e| Err(e.into()))?
        && !written_for(&existing, route)
        && !wants_adoption(route.annotations())
    {
        return Err(Ok(Problem {
            reason: Reason::NameInUse,
            message: format!(
                "{shown} exists and meshroute did not write it: meshroute leaves it alone; \
                 delete or rename it, or annotate this GatewayRoute meshroute.io/adopt=true to \
                 take it over"
            ),
            retry: Retry::Slow,
        }));
    }
    object["metadata"]["labels"] = json!({ MANAGED_BY.0: MANAGED_BY.1 });
    object["metadata"]["ownerReferences"] = json!([{
        "apiVersion": GatewayRoute::api_version(&()), "kind": "GatewayRoute",
        "name": name, "uid": route.uid(), "controller": true,
    }]);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let object = api
        .patch(&name, &params, &Patch::Apply(&object))
        .await
        .map_err(|e| kubernetes_problem(e, &shown))?;
    // A route whose kind changed (an httpRoute made a grpcRoute) leaves the other kind behind.
    for other in KINDS.iter().filter(|k| **k != kind) {
        delete(client, route, other).await.map_err(Err)?;
    }
    let record = GatewayApiRoute {
        kind,
        parent: match &parent.section {
            Some(s) => format!("{}/{}/{s}", parent.namespace, parent.name),
            None => format!("{}/{}", parent.namespace, parent.name),
        },
    };
    Ok((Applied { object, record }, findings))
}

/// Deletes `route`'s Gateway API route of `kind` if meshroute wrote it; whether one was there.
pub async fn delete(
    client: &kube::Client,
    route: &GatewayRoute,
    kind: &str,
) -> Result<bool, Error> {
    let api = api(client, kind, &route.namespace().unwrap_or_default());
    let existing = match api.get_opt(&route.name_any()).await {
        Ok(Some(existing)) if written_for(&existing, route) => existing,
        Ok(_) => return Ok(false),
        // Gateway API is not installed: nothing of it to delete.
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: existing.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&route.name_any(), &params).await {
        Ok(deleted) if deleted.is_right() => Ok(true),
        // Finalizers of its own hold it: the GatewayRoute waits until it is gone.
        Ok(_) => Err(Error::DeleteFailed {
            message: format!(
                "{kind} {}/{} is being deleted and waits for its finalizers",
                route.namespace().unwrap_or_default(),
                route.name_any()
            ),
            retry_in: Some(std::time::Duration::from_secs(2)),
        }),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Deletes every Gateway API route meshroute wrote for `route`; whether any was there.
pub async fn delete_all(client: &kube::Client, route: &GatewayRoute) -> Result<bool, Error> {
    let mut any = false;
    for kind in KINDS {
        any |= delete(client, route, kind).await?;
    }
    Ok(any)
}

/// The problem of a route a `notExported` finding drops.
fn not_exported(findings: &[Finding]) -> Problem {
    let dropped: Vec<String> = findings
        .iter()
        .filter(|f| f.impact == gatewayapi::Impact::NotExported)
        .map(|f| {
            format!(
                "{} ({}): {}; {}",
                f.field,
                f.code.as_str(),
                f.problem,
                f.advice
            )
        })
        .collect();
    Problem {
        reason: Reason::NotExported,
        message: format!(
            "Gateway API cannot route this as App Mesh does, so no Gateway API route was \
             written: {}",
            dropped.join("; ")
        ),
        retry: Retry::AwaitChange,
    }
}

/// What a refused write means for the user; other failures are retried.
fn kubernetes_problem(e: kube::Error, shown: &str) -> Result<Problem, Error> {
    let kube::Error::Api(status) = &e else {
        return Err(e.into());
    };
    let (reason, retry, what) = match status.code {
        404 => (
            Reason::DependencyNotFound,
            Retry::Dependency,
            "the cluster does not serve Gateway API routes: install the Gateway API CRDs \
             (standard channel)",
        ),
        403 => (
            Reason::AccessDenied,
            Retry::Slow,
            "meshroute's RBAC does not let it write Gateway API routes: install the chart with \
             gatewayAPI.serve set (it adds them)",
        ),
        400 | 422 => (
            Reason::InvalidSpec,
            Retry::AwaitChange,
            "the apiserver refused it; fix the field it names",
        ),
        _ => return Err(e.into()),
    };
    Ok(Problem {
        reason,
        message: format!("{shown}: {what}: {}", status.message),
        retry,
    })
}

/// The route's status, as its implementation wrote it (empty when none has yet).
pub fn status_of(object: &DynamicObject) -> &Value {
    static NONE: Value = Value::Null;
    object.data.get("status").unwrap_or(&NONE)
}

/// The generation the route's status must describe.
pub fn generation_of(object: &DynamicObject) -> Option<i64> {
    object.meta().generation
}

/// Whether the Gateways that routes wait on exist, asked of the apiserver at most every ten
/// seconds per Gateway (thousands of routes may wait on one at once).
#[derive(Debug, Default)]
pub struct Parents {
    seen: std::sync::Mutex<std::collections::HashMap<(String, String), (bool, std::time::Instant)>>,
}

impl Parents {
    /// Whether `parent` is known not to exist. A Gateway that cannot be read (no RBAC to get
    /// Gateways, an apiserver error) is not called missing.
    pub async fn missing(&self, client: &kube::Client, parent: &Parent) -> bool {
        let key = (parent.namespace.clone(), parent.name.clone());
        let fresh = std::time::Duration::from_secs(10);
        if let Some((exists, at)) = self.seen.lock().ok().and_then(|s| s.get(&key).copied())
            && at.elapsed() < fresh
        {
            return !exists;
        }
        let api = api(client, "Gateway", &parent.namespace);
        let exists = !matches!(api.get_opt(&parent.name).await, Ok(None));
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(key, (exists, std::time::Instant::now()));
        }
        !exists
    }
}
