//! Terraform: `.tf` configuration read with `hcl-rs` (each directory one module), and
//! `terraform show -json` output (state or plan), which holds resolved values. In `.tf` files
//! `var.*` (defaults, `terraform.tfvars`, `*.auto.tfvars`, `.tfvars` files given with `-f`,
//! `--set`), `local.*`, references between `aws_appmesh_*` resources and string templates are
//! resolved statically; `count`, `for_each` and `dynamic` blocks are expanded when their inputs
//! are static. What needs a provider or state (data sources, other providers' resources,
//! functions) is reported with the expression. Argument and block names become the API's
//! (`virtual_service_name` -> `virtualServiceName`, the repeated `header` block -> `headers`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate};
use hcl::{Block, Body, Expression, Structure};
use serde_json::{Map, Value};

use super::node::Node;
use super::{Found, Inventory, Kind, Options, camel_of_snake, route_of_request};

/// Repeated blocks whose API field is a list, by block name.
const LISTS: &[(&str, &str)] = &[
    ("header", "headers"),
    ("query_parameter", "queryParameters"),
    ("metadata", "metadata"),
    ("listener", "listeners"),
    ("weighted_target", "weightedTargets"),
];

const RESOURCES: &[(&str, Option<Kind>)] = &[
    ("aws_appmesh_gateway_route", None),
    ("aws_appmesh_virtual_gateway", Some(Kind::VirtualGateway)),
    ("aws_appmesh_virtual_service", Some(Kind::VirtualService)),
    ("aws_appmesh_virtual_node", Some(Kind::VirtualNode)),
    ("aws_appmesh_virtual_router", Some(Kind::VirtualRouter)),
    ("aws_appmesh_route", None),
    ("aws_appmesh_mesh", None),
];

/// One `resource` block, where it is written.
struct Resource {
    source: String,
    kind: String,
    name: String,
    block: Block,
    repeated: Repeated,
}

/// How many instances a resource block makes, and how other resources refer to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeated {
    /// One: `type.name.attr`.
    Once,
    /// `count`: `type.name[i].attr`.
    Count,
    /// `for_each`: `type.name["key"].attr`.
    ForEach,
}

impl Repeated {
    fn of(body: &Body) -> Repeated {
        if attribute(body, "count").is_some() {
            Repeated::Count
        } else if attribute(body, "for_each").is_some() {
            Repeated::ForEach
        } else {
            Repeated::Once
        }
    }
}

/// Reads `.tf` and `.tfvars` files, a module per directory.
pub fn read(files: &[PathBuf], opts: &Options, inventory: &mut Inventory) {
    let explicit_vars: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tfvars"))
        .collect();
    let mut modules: BTreeMap<&Path, Vec<&PathBuf>> = BTreeMap::new();
    for file in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
    {
        modules
            .entry(file.parent().unwrap_or(Path::new(".")))
            .or_default()
            .push(file);
    }
    for (dir, files) in modules {
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        let mut locals: Vec<(String, Expression)> = Vec::new();
        let mut resources = Vec::new();
        for file in files {
            let shown = file.display().to_string();
            let text = match std::fs::read_to_string(file) {
                Ok(text) => text,
                Err(e) => {
                    inventory.errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let body = match hcl::edit::parser::parse_body(&text) {
                Ok(body) => body,
                Err(e) => {
                    inventory.errors.push(format!(
                        "{shown}:{}: not HCL: {}",
                        e.location().line(),
                        e.message()
                    ));
                    continue;
                }
            };
            for structure in body.into_iter() {
                let Some(block) = structure.as_block() else {
                    continue;
                };
                let line = hcl::edit::Span::span(block)
                    .map(|s| text[..s.start].lines().count() + 1)
                    .unwrap_or(1);
                let block: Block = block.clone().into();
                let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
                match (block.identifier(), labels.as_slice()) {
                    ("variable", [name]) => {
                        if let Some(default) = attribute(block.body(), "default")
                            && let Ok(value) = default.evaluate(&Context::new())
                        {
                            vars.insert(name.to_string(), json(&value));
                        }
                    }
                    ("locals", []) => {
                        for s in block.body().iter() {
                            if let Structure::Attribute(a) = s {
                                locals.push((a.key().to_string(), a.expr().clone()));
                            }
                        }
                    }
                    ("resource", [kind, name]) if kind.starts_with("aws_appmesh_") => {
                        resources.push(Resource {
                            source: format!("{shown}:{line}"),
                            kind: kind.to_string(),
                            name: name.to_string(),
                            repeated: Repeated::of(block.body()),
                            block: block.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        // Variable values, in Terraform's order of precedence (later wins).
        let mut var_files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n == "terraform.tfvars" || n.ends_with(".auto.tfvars")
                })
            })
            .collect();
        var_files.sort();
        var_files.extend(explicit_vars.iter().map(|p| p.to_path_buf()));
        for path in var_files {
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    hcl::eval::from_str::<Body>(&t, &Context::new()).map_err(|e| e.to_string())
                }) {
                Ok(body) => {
                    for s in body.iter() {
                        if let Structure::Attribute(a) = s
                            && let Ok(v) = a.expr().evaluate(&Context::new())
                        {
                            vars.insert(a.key().to_string(), json(&v));
                        }
                    }
                }
                Err(e) => inventory.errors.push(format!("{}: {e}", path.display())),
            }
        }
        for (k, v) in &opts.set {
            vars.insert(k.clone(), Value::String(v.clone()));
        }
        module(vars, &locals, resources, inventory);
    }
}

fn attribute<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn json(value: &hcl::Value) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn hcl_value(value: &Value) -> hcl::Value {
    hcl::to_value(value).unwrap_or(hcl::Value::Null)
}

/// Resolves one module: locals, then resources in as many passes as their references need.
fn module(
    vars: BTreeMap<String, Value>,
    locals: &[(String, Expression)],
    resources: Vec<Resource>,
    inventory: &mut Inventory,
) {
    let mut scope: Map<String, Value> = Map::new();
    scope.insert("var".into(), Value::Object(vars.into_iter().collect()));
    let mut local = Map::new();
    for _ in 0..=locals.len() {
        let mut ctx = context(&scope);
        ctx.declare_var("local", hcl_value(&Value::Object(local.clone())));
        for (name, expr) in locals {
            if let Ok(v) = expr.evaluate(&ctx) {
                local.insert(name.clone(), json(&v));
            }
        }
    }
    scope.insert("local".into(), Value::Object(local));
    // Each pass resolves the resources whose references are known; the rest wait a pass.
    let mut results: Vec<Option<Instances>> = (0..resources.len()).map(|_| None).collect();
    for _ in 0..=resources.len() {
        let mut progress = false;
        // What earlier passes resolved; what this pass resolves is seen by the next one.
        let ctx = context(&scope);
        for (i, resource) in resources.iter().enumerate() {
            if matches!(results[i], Some(Ok(_))) {
                continue;
            }
            let result = instances(resource, &ctx);
            if let Ok(done) = &result {
                let attrs = &mut scope
                    .entry(resource.kind.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                let value = match resource.repeated {
                    Repeated::Count => Value::Array(done.iter().map(|(_, v)| v.clone()).collect()),
                    // Referred to by key (`type.name["key"]`); the suffix is `["key"]`.
                    Repeated::ForEach => Value::Object(
                        done.iter()
                            .map(|(suffix, v)| {
                                let key = suffix.trim_start_matches("[\"").trim_end_matches("\"]");
                                (key.to_string(), v.clone())
                            })
                            .collect(),
                    ),
                    Repeated::Once => done.first().map(|(_, v)| v.clone()).unwrap_or_default(),
                };
                attrs[&resource.name] = value;
                progress = true;
            }
            results[i] = Some(result);
        }
        if !progress {
            break;
        }
    }
    for (resource, result) in resources.iter().zip(results) {
        let kind = RESOURCES.iter().find(|(k, _)| *k == resource.kind);
        match (kind, result.unwrap_or(Err("not resolved".into()))) {
            (Some(("aws_appmesh_gateway_route", _)), Ok(done)) => {
                for (key, value) in done {
                    inventory.routes.push(Found {
                        source: resource.source.clone(),
                        what: format!("{}.{}{key}", resource.kind, resource.name),
                        route: route_of_request(&route_body(&value, "gatewayRouteName")),
                    });
                }
            }
            (Some(("aws_appmesh_gateway_route", _)), Err(e)) => inventory.routes.push(Found {
                source: resource.source.clone(),
                what: format!("{}.{}", resource.kind, resource.name),
                route: Err(e),
            }),
            (Some(("aws_appmesh_route", _)), Ok(done)) => {
                for (_, value) in done {
                    inventory.router_route(&route_body(&value, "routeName"));
                }
            }
            // Where a virtual router's requests go is part of what its gateway routes do: one
            // that cannot be resolved is said, not dropped.
            (Some(("aws_appmesh_route", _)), Err(e)) => inventory.errors.push(format!(
                "{}: {}.{}: {e}",
                resource.source, resource.kind, resource.name
            )),
            (Some((_, Some(kind))), Ok(done)) => {
                for (_, value) in done {
                    add_resource(*kind, &request(&value), inventory);
                }
            }
            _ => {}
        }
    }
}

/// `scope`'s names (`var`, `local`, each resource type) as HCL variables.
fn context(scope: &Map<String, Value>) -> Context<'static> {
    let mut ctx = Context::new();
    for (k, v) in scope {
        ctx.declare_var(k.as_str(), hcl_value(v));
    }
    ctx
}

/// A resource's instances (address suffix, attributes), or why they cannot be resolved.
type Instances = Result<Vec<(String, Value)>, String>;

/// A resource's instances (one, or one per `count` index or `for_each` key), each with its
/// address suffix (`[0]`, `["a"]`) and its attributes as Terraform's JSON gives them.
fn instances(resource: &Resource, base: &Context) -> Instances {
    let body = resource.block.body();
    let eval = |e: &Expression, ctx: &Context| {
        e.evaluate(ctx)
            .map(|v| json(&v))
            .map_err(|err| format!("{err}"))
    };
    let keyed: Vec<(String, Value, Value)> = match resource.repeated {
        Repeated::Once => return Ok(vec![(String::new(), body_json(body, base)?)]),
        Repeated::Count => {
            let count = attribute(body, "count").unwrap_or(&Expression::Null);
            let n = eval(count, base)?
                .as_u64()
                .ok_or("count is not a whole number")?;
            (0..n)
                .map(|i| (format!("[{i}]"), Value::from(i), Value::Null))
                .collect()
        }
        Repeated::ForEach => {
            let each = attribute(body, "for_each").unwrap_or(&Expression::Null);
            match eval(each, base)? {
                Value::Object(map) => map
                    .into_iter()
                    .map(|(k, v)| (format!("[\"{k}\"]"), Value::String(k), v))
                    .collect(),
                Value::Array(items) => items
                    .into_iter()
                    .map(|v| {
                        let k = v.as_str().unwrap_or_default().to_string();
                        (format!("[\"{k}\"]"), Value::String(k), v)
                    })
                    .collect(),
                other => return Err(format!("for_each is {other}, not a map or a set")),
            }
        }
    };
    keyed
        .into_iter()
        .map(|(suffix, key, value)| {
            let mut ctx = base.clone();
            if resource.repeated == Repeated::Count {
                ctx.declare_var("count", hcl_value(&serde_json::json!({ "index": key })));
            } else {
                ctx.declare_var(
                    "each",
                    hcl_value(&serde_json::json!({ "key": key, "value": value })),
                );
            }
            Ok((suffix, body_json(body, &ctx)?))
        })
        .collect()
}

/// A block body evaluated, in `terraform show -json`'s shape: attributes as values, blocks as
/// lists of objects, `dynamic` blocks expanded.
fn body_json(body: &Body, ctx: &Context) -> Result<Value, String> {
    let mut out = Map::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(a) => {
                if ["count", "for_each", "provider", "depends_on", "lifecycle"].contains(&a.key()) {
                    continue;
                }
                let v = a.expr().evaluate(ctx).map_err(|e| {
                    let expr = a.expr().to_string();
                    if expr.starts_with("data.") || expr.contains("${data.") {
                        format!(
                            "{} = {expr}: a data source, which Terraform reads only when it plans; \
                             import `terraform show -json` of a plan or state instead",
                            a.key()
                        )
                    } else {
                        format!("{} = {expr}: {e}", a.key())
                    }
                })?;
                out.insert(a.key().to_string(), json(&v));
            }
            Structure::Block(b) if b.identifier() == "dynamic" => {
                let name = b.labels().first().map(|l| l.as_str()).unwrap_or_default();
                let iterator = attribute(b.body(), "iterator")
                    .and_then(|e| match e {
                        Expression::Variable(v) => Some(v.as_str().to_string()),
                        _ => None,
                    })
                    .unwrap_or_else(|| name.to_string());
                let each = attribute(b.body(), "for_each")
                    .ok_or_else(|| format!("dynamic \"{name}\" has no for_each"))?
                    .evaluate(ctx)
                    .map_err(|e| format!("dynamic \"{name}\" for_each: {e}"))?;
                let content = b
                    .body()
                    .blocks()
                    .find(|c| c.identifier() == "content")
                    .ok_or_else(|| format!("dynamic \"{name}\" has no content"))?;
                let items: Vec<(Value, Value)> = match json(&each) {
                    Value::Object(map) => map
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v))
                        .collect(),
                    Value::Array(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::from(i), v))
                        .collect(),
                    other => return Err(format!("dynamic \"{name}\" for_each is {other}")),
                };
                let list = out
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                for (key, value) in items {
                    let mut inner = ctx.clone();
                    inner.declare_var(
                        iterator.as_str(),
                        hcl_value(&serde_json::json!({ "key": key, "value": value })),
                    );
                    let item = body_json(content.body(), &inner)?;
                    if let Value::Array(list) = list {
                        list.push(item);
                    }
                }
            }
            Structure::Block(b) => {
                let item = body_json(b.body(), ctx)?;
                let list = out
                    .entry(b.identifier().to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(item);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Terraform's attributes (of `.tf` or of `terraform show -json`) as an API request body:
/// `name` becomes the resource's name field, `tags` a list of `{key, value}`, names camelCase,
/// blocks objects (or lists, for the repeated ones), empty values dropped.
fn request(attributes: &Value) -> Value {
    let mut body = match api_shape("", attributes) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if let Some(Value::Object(tags)) = body.remove("tags") {
        let tags: Vec<Value> = tags
            .into_iter()
            .map(|(key, value)| serde_json::json!({ "key": key, "value": value }))
            .collect();
        body.insert("tags".into(), Value::Array(tags));
    }
    for drop in [
        "id",
        "arn",
        "createdDate",
        "lastUpdatedDate",
        "resourceOwner",
        "tagsAll",
    ] {
        body.remove(drop);
    }
    Value::Object(body)
}

/// A route's request body, its `name` the field `name_field` (`gatewayRouteName` of a gateway
/// route, `routeName` of a virtual router's route).
fn route_body(attributes: &Value, name_field: &str) -> Value {
    let mut body = request(attributes);
    if let Some(name) = body.as_object_mut().and_then(|b| b.remove("name")) {
        body[name_field] = name;
    }
    body
}

fn api_shape(name: &str, value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(items) => {
            let items: Vec<Value> = items.iter().filter_map(|i| api_shape(name, i)).collect();
            if items.is_empty() {
                None
            } else if LISTS.iter().any(|(block, _)| *block == name)
                || !items.iter().all(Value::is_object)
            {
                Some(Value::Array(items))
            } else {
                items.into_iter().next()
            }
        }
        Value::Object(map) => {
            let out: Map<String, Value> = map
                .iter()
                .filter_map(|(k, v)| {
                    let key = LISTS
                        .iter()
                        .find(|(block, _)| block == k)
                        .map(|(_, field)| field.to_string())
                        .unwrap_or_else(|| camel_of_snake(k));
                    let key = if name.is_empty() && k == "tags" {
                        "tags".into()
                    } else {
                        key
                    };
                    // Tag maps keep their keys as written.
                    let v = if k == "tags" {
                        Some(v.clone())
                    } else {
                        api_shape(k, v)
                    };
                    v.map(|v| (key, v))
                })
                .collect();
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

fn add_resource(kind: Kind, body: &Value, inventory: &mut Inventory) {
    if let (Some(mesh), Some(name)) = (body["meshName"].as_str(), body["name"].as_str()) {
        inventory.resource(kind, mesh, name, body["spec"].clone());
    }
}

/// `terraform show -json` of a state (`values`) or a plan (`planned_values`): every
/// `aws_appmesh_*` resource of the root module and its child modules.
pub fn read_json(path: &str, document: &Node, inventory: &mut Inventory) {
    let values = document
        .get("values")
        .or_else(|| document.get("planned_values"));
    let mut modules: Vec<&Node> = values
        .and_then(|v| v.get("root_module"))
        .into_iter()
        .collect();
    while let Some(module) = modules.pop() {
        modules.extend(module.get("child_modules").map_or(&[][..], Node::items));
        for node in module.get("resources").map_or(&[][..], Node::items) {
            let resource = node.to_json();
            let kind = resource["type"].as_str().unwrap_or_default();
            let Some((_, target)) = RESOURCES.iter().find(|(k, _)| *k == kind) else {
                continue;
            };
            if resource["mode"].as_str() == Some("data") {
                continue;
            }
            let mut values = resource["values"].clone();
            state_defaults(&mut values);
            if kind == "aws_appmesh_gateway_route" {
                inventory.routes.push(Found {
                    source: format!("{path}:{}", node.line),
                    what: resource["address"].as_str().unwrap_or(kind).to_string(),
                    route: route_of_request(&route_body(&values, "gatewayRouteName")),
                });
            } else if kind == "aws_appmesh_route" {
                inventory.router_route(&route_body(&values, "routeName"));
            } else if let Some(kind) = target {
                add_resource(*kind, &request(&values), inventory);
            }
        }
    }
}

/// What the AWS provider stores for arguments that were never set, taken back out: a `port` of
/// 0 (App Mesh's ports are 1 to 65535), and `mesh_owner` when it is the resource's own account
/// (the provider records it for every mesh; a GatewayRoute names it only for a shared mesh).
fn state_defaults(values: &mut Value) {
    if values["mesh_owner"] == values["resource_owner"]
        && let Some(map) = values.as_object_mut()
    {
        map.remove("mesh_owner");
    }
    fn zero_ports(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if map.get("port").and_then(Value::as_i64) == Some(0) {
                    map.remove("port");
                }
                map.values_mut().for_each(zero_ports);
            }
            Value::Array(items) => items.iter_mut().for_each(zero_ports),
            _ => {}
        }
    }
    zero_ports(values);
}
