//! `meshroute import`: GatewayRoute manifests for the gateway routes App Mesh already holds.
//! Applying them adopts every route in place: the spec printed is the one App Mesh holds, so the
//! operator finds nothing to update and only adds its ownership tags.

use std::collections::{BTreeMap, BTreeSet, btree_map};
use std::io::Write;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::ObjectMeta;

mod files;

pub use files::SOURCE_ANNOTATION;

use super::Error;
use super::input::{self, Format};
use crate::api::ownership::{ADOPT_ANNOTATION, APP_MESH_MAX_TAGS, MAX_USER_TAGS, Owner, TAG_KEYS};
use crate::api::{GatewayRoute, GatewayRouteSpec, Tag, object_name, recorded, short_hash};
use crate::appmesh::{AppMesh, AppMeshArgs, ListedRoute, RouteKey, RouteSpec};
use crate::telemetry::Metrics;

/// `meshroute import`: every flag.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The mesh whose gateway routes to import from App Mesh's API (or an emulator).
    #[arg(long, required_unless_present_any = ["files", "from_cluster"])]
    pub mesh: Option<String>,
    /// Read routes from these files or directories instead (read recursively; `-` is stdin):
    /// the official App Mesh controller's objects, CloudFormation or CDK templates (and
    /// parameters files), Terraform `.tf`/`.tfvars` or `terraform show -json` output, AWS CLI
    /// JSON. No App Mesh and no cluster are needed.
    #[arg(long = "filename", short = 'f', conflicts_with_all = ["mesh", "from_cluster"])]
    pub files: Vec<std::path::PathBuf>,
    /// Read the official App Mesh controller's objects (appmesh.k8s.aws) from the kubeconfig's
    /// cluster: the namespace of -n, or every namespace with -A.
    #[arg(long, conflicts_with = "mesh")]
    pub from_cluster: bool,
    /// With --from-cluster: read every namespace.
    #[arg(long, short = 'A', requires = "from_cluster")]
    pub all_namespaces: bool,
    /// The format of every file (default: detected per file).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// A CloudFormation parameter's or Terraform variable's value (repeatable).
    #[arg(long, value_parser = name_value)]
    pub set: Vec<(String, String)>,
    /// The 12-digit account id that owns the mesh, when another account shares it with this one.
    #[arg(long)]
    pub mesh_owner: Option<String>,
    /// Import only this virtual gateway's routes (default: every virtual gateway of the mesh).
    #[arg(long)]
    pub virtual_gateway: Option<String>,
    /// Namespace of the printed GatewayRoutes (default: none, so `kubectl apply` uses its
    /// context's namespace).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// Print a YAML stream (with a comment for each route not printed) or one JSON List (with a
    /// `notPrinted` entry for each).
    #[arg(long, short = 'o', value_enum, default_value = "yaml")]
    pub output: Output,
    /// App Mesh routes read at the same time (each costs a Describe and a ListTags call).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[command(flatten)]
    pub appmesh: AppMeshArgs,
}

/// `NAME=VALUE`.
pub fn name_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Yaml,
    Json,
}

/// One App Mesh route, as read for import (from App Mesh, or from where it is written).
#[derive(Debug, Clone)]
pub struct Read {
    pub key: RouteKey,
    pub spec: RouteSpec,
    pub tags: Vec<Tag>,
}

/// What `import` does with one App Mesh route.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A manifest that adopts the route.
    Adopt(Box<GatewayRoute>),
    /// A meshroute object owns the route already: listed, not emitted.
    Owned { key: RouteKey, owner: Owner },
    /// The route cannot be expressed as a GatewayRoute: what it is (App Mesh's name, or the
    /// source's and where it is written) and why.
    Skipped { what: String, why: String },
}

fn describe(key: &RouteKey) -> String {
    format!("{}/{}/{}", key.mesh, key.gateway, key.name)
}

/// The GatewayRoute that adopts `read` in place, named `name`.
pub fn manifest(
    read: &Read,
    name: String,
    namespace: Option<&str>,
) -> Result<GatewayRoute, String> {
    let user_tags: Vec<Tag> = read
        .tags
        .iter()
        .filter(|t| !t.is_ownership())
        .cloned()
        .collect();
    if user_tags.len() > MAX_USER_TAGS {
        return Err(format!(
            "it has {} tags and a GatewayRoute holds at most {MAX_USER_TAGS} (meshroute keeps {} \
             of App Mesh's {APP_MESH_MAX_TAGS} for ownership); remove some in App Mesh first",
            user_tags.len(),
            TAG_KEYS.len(),
        ));
    }
    let spec = &read.spec;
    let mut route = GatewayRoute::new(
        &name,
        GatewayRouteSpec {
            mesh_name: read.key.mesh.clone(),
            mesh_owner: read.key.mesh_owner.clone(),
            virtual_gateway_name: read.key.gateway.clone(),
            gateway_route_name: Some(read.key.name.clone()),
            priority: spec.priority,
            grpc_route: spec.grpc_route.clone(),
            http_route: spec.http_route.clone(),
            http2_route: spec.http2_route.clone(),
            tags: Some(user_tags).filter(|t| !t.is_empty()),
            deletion_policy: None,
        },
    );
    if route.spec.route_kind().is_none() {
        return Err("App Mesh returned it without exactly one route kind".into());
    }
    route.metadata = ObjectMeta {
        name: Some(name),
        namespace: namespace.map(String::from),
        annotations: Some(BTreeMap::from([(
            ADOPT_ANNOTATION.to_string(),
            "true".to_string(),
        )])),
        ..Default::default()
    };
    Ok(route)
}

/// The object names a namespace already holds, and the App Mesh route each object stands for.
pub type Taken = BTreeMap<String, RouteKey>;

/// What to print for every route read, in order. The naming rule: an object is named as its App
/// Mesh route (made valid, see `object_name`); routes of the same name on different gateways of
/// the mesh get `<gateway>-<route>`. A name the namespace already uses (`taken`) for another
/// App Mesh route (another mesh's, say) becomes `<mesh>-<name>`, then
/// `<mesh>-<gateway>-<route>`, then that with a hash of the route's place: no printed object
/// ever replaces another route's object. An object that stands for the same route keeps its
/// name, so a second import prints the same manifests.
pub fn entries(reads: &[Read], namespace: Option<&str>, taken: &Taken) -> Vec<Entry> {
    let mut uses: BTreeMap<String, usize> = BTreeMap::new();
    for read in reads {
        *uses.entry(object_name(&read.key.name)).or_default() += 1;
    }
    let mut used = BTreeSet::new();
    reads
        .iter()
        .map(|read| {
            if let Some(owner) = Owner::from_tags(&read.tags) {
                return Entry::Owned {
                    key: read.key.clone(),
                    owner,
                };
            }
            let mut name = object_name(&read.key.name);
            if uses[&name] > 1 {
                name = object_name(&format!("{}-{}", read.key.gateway, read.key.name));
            }
            let name = free_name(&read.key, name, taken, &mut used);
            match manifest(read, name, namespace) {
                Ok(route) => Entry::Adopt(Box::new(route)),
                Err(why) => Entry::Skipped {
                    what: describe(&read.key),
                    why,
                },
            }
        })
        .collect()
}

/// The first of `name`'s candidates that no other route's object holds, in the namespace or in
/// this run (`used`).
fn free_name(key: &RouteKey, name: String, taken: &Taken, used: &mut BTreeSet<String>) -> String {
    let place = format!("{}-{}-{}", key.mesh, key.gateway, key.name);
    let candidates = [
        object_name(&format!("{}-{name}", key.mesh)),
        object_name(&place),
    ];
    let free = |c: &String| !used.contains(c) && taken.get(c).is_none_or(|k| k == key);
    let chosen = std::iter::once(name)
        .chain(candidates)
        .find(free)
        .unwrap_or_else(|| {
            let owner = key.mesh_owner.as_deref().unwrap_or_default();
            object_name(&format!(
                "{place}-{}",
                short_hash(&format!("{owner}/{place}"))
            ))
        });
    used.insert(chosen.clone());
    chosen
}

/// Records on every printed manifest what `export gateway-api` needs from the mesh (see
/// `api::recorded`): the target virtual service's provider and the virtual gateway's
/// listeners. One Describe per distinct virtual service (and its provider) and per gateway.
/// `entries` are those of `reads`, in order.
async fn record(
    appmesh: &AppMesh,
    owner: Option<&str>,
    reads: &[Read],
    entries: &mut [Entry],
) -> Result<(), Error> {
    let mut backends: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut listeners: BTreeMap<(String, String), String> = BTreeMap::new();
    for (read, entry) in reads.iter().zip(entries) {
        let Entry::Adopt(route) = entry else { continue };
        let (mesh, gateway) = (&read.key.mesh, &read.key.gateway);
        let service = read.spec.target().to_string();
        let backend = match backends.entry((mesh.clone(), service)) {
            btree_map::Entry::Occupied(known) => known.into_mut(),
            btree_map::Entry::Vacant(slot) => {
                let backend = appmesh.backend_of(mesh, owner, &slot.key().1).await?;
                slot.insert(serde_json::to_string(&backend).unwrap_or_default())
            }
        };
        let annotations = route.metadata.annotations.get_or_insert_default();
        annotations.insert(recorded::BACKEND_ANNOTATION.into(), backend.clone());
        let found = match listeners.entry((mesh.clone(), gateway.clone())) {
            btree_map::Entry::Occupied(known) => known.into_mut(),
            btree_map::Entry::Vacant(slot) => {
                let found = appmesh.gateway_listeners(mesh, owner, gateway).await?;
                slot.insert(recorded::listeners_annotation(&found))
            }
        };
        if !found.is_empty() {
            annotations.insert(recorded::LISTENERS_ANNOTATION.into(), found.clone());
        }
    }
    Ok(())
}

/// Turns every manifest the cluster's GatewayRoute CRD (schema and CEL rules) or its admission
/// refuses into a skipped entry with the apiserver's reason, so what is printed applies: each is
/// server-side applied as a dry run (which also refuses an object that would change another
/// route's immutable fields). An error only when the cluster cannot be asked at all.
async fn refused_by_the_crd(
    entries: &mut [Entry],
    namespace: Option<&str>,
) -> Result<(), kube::Error> {
    use kube::api::{Patch, PatchParams};
    let client = kube::Client::try_default().await?;
    let api: kube::Api<GatewayRoute> = match namespace {
        Some(ns) => kube::Api::namespaced(client, ns),
        None => kube::Api::default_namespaced(client),
    };
    let params = PatchParams {
        dry_run: true,
        ..PatchParams::apply("meshroute-import")
    };
    let answers: Vec<Option<kube::Error>> = stream::iter(entries.iter())
        .map(|entry| {
            let (api, params) = (&api, &params);
            async move {
                let Entry::Adopt(route) = entry else {
                    return Ok(None);
                };
                let name = route.metadata.name.clone().unwrap_or_default();
                match api
                    .patch(&name, params, &Patch::Apply(route.as_ref()))
                    .await
                {
                    Ok(_) => Ok(None),
                    // The object is refused: the check answered.
                    Err(kube::Error::Api(s)) if s.code == 422 || s.code == 409 => {
                        Ok(Some(kube::Error::Api(s)))
                    }
                    Err(e) => Err(e),
                }
            }
        })
        .buffered(8)
        .try_collect()
        .await?;
    for (entry, refused) in entries.iter_mut().zip(answers) {
        if let (Entry::Adopt(route), Some(kube::Error::Api(status))) = (&*entry, refused) {
            *entry = Entry::Skipped {
                what: describe(&RouteKey::of(route)),
                why: format!(
                    "the GatewayRoute CRD or the cluster's admission refuses it as App Mesh holds it: {}",
                    status.message
                ),
            };
        }
    }
    Ok(())
}

/// The GatewayRoutes `namespace` (default: the kubeconfig context's) holds, by name.
async fn taken_in(namespace: Option<&str>) -> Result<Taken, kube::Error> {
    let client = kube::Client::try_default().await?;
    let api: kube::Api<GatewayRoute> = match namespace {
        Some(ns) => kube::Api::namespaced(client, ns),
        None => kube::Api::default_namespaced(client),
    };
    let list = api.list(&Default::default()).await?;
    Ok(list
        .items
        .into_iter()
        .map(|r| {
            let key = RouteKey::of(&r);
            (r.metadata.name.unwrap_or_default(), key)
        })
        .collect())
}

/// Runs `meshroute import`: reads App Mesh, files or the cluster, prints manifests on stdout
/// and progress on stderr.
pub async fn run(args: ImportArgs) -> Result<(), Error> {
    match &args.mesh {
        Some(mesh) => from_app_mesh(mesh, &args).await,
        None => from_sources(&args).await,
    }
}

/// The input's routes, printed like App Mesh's; a file that could not be read fails the
/// command after everything else is printed.
async fn from_sources(args: &ImportArgs) -> Result<(), Error> {
    let opts = input::Options {
        format: args.format,
        set: args.set.iter().cloned().collect(),
        namespace: args.namespace.clone(),
    };
    let inventory = if args.from_cluster {
        input::cluster(args.namespace.as_deref(), args.all_namespaces).await?
    } else {
        input::read(&args.files, &opts)
    };
    let taken = taken_or_warn(args.namespace.as_deref()).await;
    let entries = files::entries(&inventory, args.namespace.as_deref(), &taken);
    finish(entries, args).await?;
    for error in &inventory.errors {
        eprintln!("meshroute import: error: {error}");
    }
    Error::unless_unreadable(inventory.errors.len())
}

/// The GatewayRoutes `import -f` would print for `inventory`'s routes (names unique within
/// them), for `export gateway-api -f`; what cannot be imported is listed on stderr.
pub fn imported(inventory: &input::Inventory) -> Vec<GatewayRoute> {
    files::entries(inventory, None, &Taken::new())
        .into_iter()
        .filter_map(|e| match e {
            Entry::Adopt(route) => Some(*route),
            Entry::Skipped { what, why } => {
                eprintln!("meshroute export: {what}: skipped: {why}");
                None
            }
            Entry::Owned { .. } => None,
        })
        .collect()
}

/// The GatewayRoutes the namespace holds, or none (with a warning) without a cluster.
async fn taken_or_warn(namespace: Option<&str>) -> Taken {
    match taken_in(namespace).await {
        Ok(taken) => taken,
        Err(e) => {
            eprintln!(
                "meshroute import: could not read the GatewayRoutes the namespace holds ({e}); \
                 names are unique within this import only, and an object of the same name \
                 (another mesh's route) would be replaced by kubectl apply"
            );
            Taken::new()
        }
    }
}

/// Checks the manifests against the cluster's CRD when there is one, prints them and counts.
async fn finish(mut entries: Vec<Entry>, args: &ImportArgs) -> Result<(), Error> {
    if let Err(e) = refused_by_the_crd(&mut entries, args.namespace.as_deref()).await {
        eprintln!(
            "meshroute import: could not check the manifests against the GatewayRoute CRD ({e}); \
             kubectl apply may refuse some of them"
        );
    }
    print(&entries, args.output).map_err(|e| Error::Input {
        path: "stdout".into(),
        message: e.to_string(),
    })?;
    let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count();
    eprintln!(
        "meshroute import: {} to adopt, {} owned by meshroute objects already (not printed), \
         {} skipped",
        count(|e| matches!(e, Entry::Adopt(_))),
        count(|e| matches!(e, Entry::Owned { .. })),
        count(|e| matches!(e, Entry::Skipped { .. })),
    );
    Ok(())
}

async fn from_app_mesh(mesh: &str, args: &ImportArgs) -> Result<(), Error> {
    let appmesh = AppMesh::new(&args.appmesh.settings(), Arc::new(Metrics::default()));
    let owner = args.mesh_owner.as_deref();
    let gateways = match &args.virtual_gateway {
        Some(gateway) => vec![gateway.clone()],
        None => appmesh.list_gateways(mesh, owner).await?,
    };
    let mut listed: Vec<ListedRoute> = Vec::new();
    for gateway in &gateways {
        listed.extend(appmesh.list_routes(mesh, owner, gateway).await?);
    }
    let total = listed.len();
    eprintln!(
        "meshroute import: {total} gateway routes on {} virtual gateways of mesh {}",
        gateways.len(),
        mesh
    );
    let mut done = 0;
    let reads: Vec<Option<Read>> = stream::iter(listed)
        .map(|listed| {
            let appmesh = &appmesh;
            async move {
                // Gone between the list and now: nothing to import.
                let Some(route) = appmesh.describe_route(&listed.key).await? else {
                    return Ok::<_, Error>(None);
                };
                let tags = appmesh.tags_of(&route.arn).await?.unwrap_or_default();
                Ok(Some(Read {
                    key: listed.key,
                    spec: route.spec,
                    tags,
                }))
            }
        })
        .buffered(args.concurrency.max(1))
        .inspect_ok(|_| {
            done += 1;
            if done % 100 == 0 && done < total {
                eprintln!("meshroute import: {done}/{total} routes read");
            }
        })
        .try_collect()
        .await?;
    let reads: Vec<Read> = reads.into_iter().flatten().collect();
    let taken = taken_or_warn(args.namespace.as_deref()).await;
    let mut entries = entries(&reads, args.namespace.as_deref(), &taken);
    record(&appmesh, owner, &reads, &mut entries).await?;
    finish(entries, args).await
}

fn print(entries: &[Entry], output: Output) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let note = |entry: &Entry| match entry {
        Entry::Adopt(_) => None,
        Entry::Owned { key, owner } => {
            Some(format!("{}: owned by {owner}; not printed", describe(key)))
        }
        Entry::Skipped { what, why } => Some(format!("{what}: skipped: {why}")),
    };
    match output {
        Output::Yaml => {
            for entry in entries {
                match entry {
                    Entry::Adopt(route) => {
                        let value = serde_json::to_value(route).map_err(std::io::Error::other)?;
                        write!(out, "---\n{}", super::yaml::document(&value))?;
                    }
                    other => writeln!(out, "# {}", note(other).unwrap_or_default())?,
                }
            }
        }
        Output::Json => {
            let items: Vec<&GatewayRoute> = entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Adopt(route) => Some(route.as_ref()),
                    _ => None,
                })
                .collect();
            // What is not printed, an entry each beside the items (kubectl apply reads only
            // `items` of a List), and on stderr.
            let not_printed: Vec<serde_json::Value> = entries
                .iter()
                .filter_map(|e| match e {
                    Entry::Adopt(_) => None,
                    Entry::Owned { key, owner } => Some(serde_json::json!({
                        "route": describe(key), "owned": owner.to_string() })),
                    Entry::Skipped { what, why } => {
                        Some(serde_json::json!({ "route": what, "skipped": why }))
                    }
                })
                .collect();
            let mut list =
                serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
            if !not_printed.is_empty() {
                list["notPrinted"] = serde_json::Value::Array(not_printed);
            }
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
            for line in entries.iter().filter_map(note) {
                eprintln!("meshroute import: {line}");
            }
        }
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(gateway: &str, name: &str, tags: &[(&str, &str)]) -> Read {
        let spec: GatewayRouteSpec = serde_json::from_value(serde_json::json!({
            "meshName": "m", "virtualGatewayName": gateway, "priority": 3,
            "httpRoute": {
                "match": { "prefix": "/a", "headers": [{ "name": "x", "invert": false }] },
                "action": { "target": { "virtualService": { "virtualServiceName": "s" } } }
            }
        }))
        .unwrap();
        Read {
            key: RouteKey {
                mesh: "m".into(),
                mesh_owner: None,
                gateway: gateway.into(),
                name: name.into(),
            },
            spec: RouteSpec::of(&spec),
            tags: tags
                .iter()
                .map(|(k, v)| Tag {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn unowned_routes_become_adopting_manifests_with_the_spec_as_app_mesh_holds_it() {
        let r = read("gw", "Web_Route", &[("team", "a")]);
        let entries = entries(std::slice::from_ref(&r), Some("apps"), &Taken::new());
        let Entry::Adopt(route) = &entries[0] else {
            panic!("{entries:?}")
        };
        assert_eq!(
            route.metadata.name.as_deref(),
            Some(&*object_name("Web_Route"))
        );
        assert_eq!(route.metadata.namespace.as_deref(), Some("apps"));
        assert_eq!(
            route.metadata.annotations.as_ref().unwrap()[ADOPT_ANNOTATION],
            "true"
        );
        assert_eq!(route.spec.gateway_route_name.as_deref(), Some("Web_Route"));
        assert_eq!(route.spec.virtual_gateway_name, "gw");
        assert_eq!(RouteSpec::of(&route.spec), r.spec);
        assert_eq!(route.spec.tags.as_ref().unwrap().len(), 1);
        assert!(route.status.is_none());
    }

    #[test]
    fn owned_routes_are_listed_and_ownership_tags_never_copied() {
        let owned = read(
            "gw",
            "a",
            &[
                ("meshroute.io/uid", "1"),
                ("meshroute.io/cluster", "c"),
                ("meshroute.io/namespace", "n"),
                ("meshroute.io/name", "x"),
            ],
        );
        // Ownership tags without the uid are not an owner, and are not copied either.
        let stray = read("gw", "b", &[("meshroute.io/cluster", "c"), ("k", "v")]);
        let entries = entries(&[owned, stray], None, &Taken::new());
        assert!(matches!(&entries[0], Entry::Owned { owner, .. } if owner.name == "x"));
        let Entry::Adopt(route) = &entries[1] else {
            panic!("{entries:?}")
        };
        let keys: Vec<&str> = route.spec.tags.iter().flatten().map(|t| &*t.key).collect();
        assert_eq!(keys, ["k"]);
    }

    /// The object names of the manifests that adopt a route.
    fn adopted_names(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Adopt(r) => r.metadata.name.clone(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn same_names_on_two_gateways_get_distinct_objects_and_too_many_tags_are_skipped() {
        let many: Vec<(String, String)> = (0..47).map(|i| (format!("k{i}"), "v".into())).collect();
        let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (&**k, &**v)).collect();
        let entries = entries(
            &[
                read("gw-a", "web", &[]),
                read("gw-b", "web", &[]),
                read("gw-a", "big", &many),
            ],
            None,
            &Taken::new(),
        );
        let names = adopted_names(&entries);
        assert_eq!(names, ["gw-a-web", "gw-b-web"]);
        assert!(matches!(&entries[2], Entry::Skipped { why, .. } if why.contains("47 tags")));
    }

    #[test]
    fn names_another_route_holds_in_the_namespace_are_never_printed() {
        let key = |mesh: &str, gateway: &str, name: &str| RouteKey {
            mesh: mesh.into(),
            mesh_owner: None,
            gateway: gateway.into(),
            name: name.into(),
        };
        // The namespace holds `web` (mesh other's route), `m-web` (yet another), and `api`
        // for this very route (an earlier import of mesh m).
        let taken = Taken::from([
            ("web".to_string(), key("other", "gw", "web")),
            ("m-web".to_string(), key("third", "gw", "web")),
            ("api".to_string(), key("m", "gw", "api")),
        ]);
        let entries = entries(
            &[read("gw", "web", &[]), read("gw", "api", &[])],
            None,
            &taken,
        );
        let names = adopted_names(&entries);
        assert_eq!(names, ["m-gw-web", "api"]);
    }
}
