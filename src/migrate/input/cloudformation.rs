//! CloudFormation templates, JSON or YAML (CDK's `cdk.out/*.template.json`, Copilot addons):
//! every `AWS::AppMesh::*` resource, with the intrinsic functions resolved inside the template
//! (CloudFormation User Guide, "Intrinsic function reference"): `Ref`, `Fn::GetAtt`, `Fn::Sub`
//! (both forms), `Fn::Join`, `Fn::Select`, `Fn::If` with `Conditions` (`Fn::Equals`, `Fn::And`,
//! `Fn::Or`, `Fn::Not`, `Condition`), `Fn::FindInMap`, and `AWS::NoValue`. Parameters come from
//! `--set`, a parameters file (`[{"ParameterKey", "ParameterValue"}]`, as `aws cloudformation
//! create-stack --parameters file://` takes it), else their `Default`. What cannot be known
//! before deployment (`Fn::ImportValue`, pseudo-parameters such as `AWS::Region` unless set,
//! generated names, ARNs) is reported with the expression. PascalCase properties become the
//! API's camelCase names.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::node::{Node, Tree};
use super::{Found, Inventory, Kind, camel_of_pascal, route_of_request};

/// Templates read so far, resolved once every parameters file is read.
#[derive(Debug, Default)]
pub struct Templates {
    templates: Vec<(String, Value, BTreeMap<String, usize>)>,
    /// Parameter values from parameters files, by name.
    pub parameters: BTreeMap<String, String>,
}

impl Templates {
    /// A template (tags turned into their long forms), or a parameters file.
    pub fn add(&mut self, path: &str, document: &Node) {
        if let Tree::Seq(items) = &document.value {
            for item in items {
                if let (Some(k), Some(v)) = (
                    item.get("ParameterKey").and_then(Node::as_str),
                    item.get("ParameterValue").and_then(Node::as_str),
                ) {
                    self.parameters.insert(k.into(), v.into());
                }
            }
            return;
        }
        let lines = document
            .get("Resources")
            .map(|r| {
                r.entries()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.line))
                    .collect()
            })
            .unwrap_or_default();
        self.templates
            .push((path.to_string(), long_form(document), lines));
    }

    pub fn resolve(&self, set: &BTreeMap<String, String>, inventory: &mut Inventory) {
        for (path, template, lines) in &self.templates {
            let mut values = self.parameters.clone();
            values.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
            let scope = Scope { template, values };
            for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
                let source = format!("{path}:{}", lines.get(id).copied().unwrap_or(1));
                scope.resource(source, id, resource, inventory);
            }
        }
    }
}

/// A document as JSON with every short form tag in its long form (`!Ref X` as `{"Ref": "X"}`,
/// `!GetAtt A.B` as `{"Fn::GetAtt": ["A", "B"]}`).
fn long_form(node: &Node) -> Value {
    let value = match &node.value {
        Tree::Seq(items) => Value::Array(items.iter().map(long_form).collect()),
        Tree::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), long_form(v)))
                .collect(),
        ),
        _ => node.to_json(),
    };
    match node.tag.as_deref().and_then(|t| t.strip_prefix('!')) {
        Some("Ref") => json_map("Ref", value),
        Some("GetAtt") => {
            let value = match value {
                Value::String(s) => match s.split_once('.') {
                    Some((a, b)) => Value::from(vec![a, b]),
                    None => Value::String(s),
                },
                other => other,
            };
            json_map("Fn::GetAtt", value)
        }
        Some("Condition") => json_map("Condition", value),
        Some(name) if !name.starts_with('!') && !name.is_empty() => {
            json_map(&format!("Fn::{name}"), value)
        }
        _ => value,
    }
}

fn json_map(key: &str, value: Value) -> Value {
    Value::Object(Map::from_iter([(key.to_string(), value)]))
}

struct Scope<'a> {
    template: &'a Value,
    values: BTreeMap<String, String>,
}

/// A resolved value, or the expression that could not be resolved; `None` is `AWS::NoValue`.
type Resolved = Result<Option<Value>, String>;

impl Scope<'_> {
    fn resource(&self, source: String, id: &str, resource: &Value, inventory: &mut Inventory) {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some(kind) = kind.strip_prefix("AWS::AppMesh::") else {
            return;
        };
        let properties = self.deployed(resource).and_then(|_| {
            self.value(&resource["Properties"])
                .map(|p| camel_keys(p.unwrap_or_default()))
        });
        let (name_field, kind) = match kind {
            "GatewayRoute" => {
                let route = properties.and_then(|body| {
                    if body["gatewayRouteName"].is_null() {
                        return Err("it has no GatewayRouteName: CloudFormation generated \
                                    the name at deployment; pass it with --set or add it"
                            .into());
                    }
                    route_of_request(&body)
                });
                inventory.routes.push(Found {
                    source,
                    what: format!("AWS::AppMesh::GatewayRoute {id}"),
                    route,
                });
                return;
            }
            "Route" => {
                // A virtual router's route; CloudFormation names one it generated after the
                // logical id.
                if let Ok(mut body) = properties {
                    if body["routeName"].is_null() {
                        body["routeName"] = Value::String(id.to_string());
                    }
                    inventory.router_route(&body);
                }
                return;
            }
            "VirtualGateway" => ("virtualGatewayName", Kind::VirtualGateway),
            "VirtualService" => ("virtualServiceName", Kind::VirtualService),
            "VirtualNode" => ("virtualNodeName", Kind::VirtualNode),
            "VirtualRouter" => ("virtualRouterName", Kind::VirtualRouter),
            _ => return,
        };
        // Other resources only add what routes need; one that cannot be resolved adds nothing.
        if let Ok(body) = properties
            && let (Some(mesh), Some(name)) = (body["meshName"].as_str(), body[name_field].as_str())
        {
            inventory.resource(kind, mesh, name, body["spec"].clone());
        }
    }

    /// Whether the resource is deployed: its `Condition`, if any, holds.
    fn deployed(&self, resource: &Value) -> Result<(), String> {
        match resource["Condition"].as_str() {
            Some(name) if !self.condition(name)? => Err(format!(
                "its Condition {name} is false, so it is not deployed"
            )),
            _ => Ok(()),
        }
    }

    fn condition(&self, name: &str) -> Result<bool, String> {
        let condition = &self.template["Conditions"][name];
        if condition.is_null() {
            return Err(format!(
                "condition {name} is not in the template's Conditions"
            ));
        }
        self.truth(condition)
    }

    fn truth(&self, value: &Value) -> Result<bool, String> {
        let (function, args) = function_of(value).ok_or_else(|| format!("condition {value}"))?;
        let list = |n: usize| -> Result<Vec<Value>, String> {
            args.as_array()
                .filter(|a| n == 0 || a.len() == n)
                .cloned()
                .ok_or_else(|| format!("{function} {args}"))
        };
        match function {
            "Condition" => self.condition(args.as_str().unwrap_or_default()),
            "Fn::Equals" => {
                let args = list(2)?;
                Ok(self.value(&args[0])? == self.value(&args[1])?)
            }
            "Fn::Not" => Ok(!self.truth(&list(1)?[0])?),
            "Fn::And" => list(0)?
                .iter()
                .try_fold(true, |a, c| Ok(a && self.truth(c)?)),
            "Fn::Or" => list(0)?
                .iter()
                .try_fold(false, |a, c| Ok(a || self.truth(c)?)),
            _ => Err(format!("{function} is not a condition function")),
        }
    }

    /// `value` with every intrinsic function resolved.
    fn value(&self, value: &Value) -> Resolved {
        if let Some((function, args)) = function_of(value) {
            return self.function(function, args);
        }
        Ok(Some(match value {
            Value::Array(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.value(item)?);
                }
                Value::Array(out)
            }
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(v) = self.value(v)? {
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }))
    }

    fn string(&self, value: &Value) -> Result<String, String> {
        match self.value(value)? {
            Some(Value::String(s)) => Ok(s),
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::Bool(b)) => Ok(b.to_string()),
            other => Err(format!("{value} is {other:?}, not a string")),
        }
    }

    fn function(&self, function: &str, args: &Value) -> Resolved {
        let list = || {
            args.as_array()
                .ok_or_else(|| format!("{function} takes a list, not {args}"))
        };
        match function {
            "Ref" => self.reference(args.as_str().unwrap_or_default()),
            "Fn::GetAtt" => {
                let parts: Vec<&str> = list()?.iter().filter_map(Value::as_str).collect();
                match parts.as_slice() {
                    [id, attribute] => self.attribute(id, attribute).map(Some),
                    _ => Err(format!("Fn::GetAtt {args}")),
                }
            }
            "Fn::Sub" => {
                let (text, vars) = match args {
                    Value::String(s) => (s.clone(), Map::new()),
                    Value::Array(a) if a.len() == 2 => (
                        a[0].as_str().unwrap_or_default().to_string(),
                        a[1].as_object().cloned().unwrap_or_default(),
                    ),
                    _ => return Err(format!("Fn::Sub {args}")),
                };
                self.substitute(&text, &vars)
                    .map(|s| Some(Value::String(s)))
            }
            "Fn::Join" => {
                let args = list()?;
                let (Some(delimiter), Some(items)) =
                    (args.first().and_then(Value::as_str), args.get(1))
                else {
                    return Err(format!("Fn::Join {args:?}"));
                };
                let items = match self.value(items)? {
                    Some(Value::Array(items)) => items,
                    other => return Err(format!("Fn::Join of {other:?}")),
                };
                let parts: Result<Vec<String>, String> =
                    items.iter().map(|i| self.string(i)).collect();
                Ok(Some(Value::String(parts?.join(delimiter))))
            }
            "Fn::Select" => {
                let args = list()?;
                let index: usize = self
                    .string(args.first().unwrap_or(&Value::Null))?
                    .parse()
                    .map_err(|_| format!("Fn::Select index {args:?}"))?;
                match self.value(args.get(1).unwrap_or(&Value::Null))? {
                    Some(Value::Array(items)) => items
                        .get(index)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| format!("Fn::Select {index} of {} items", items.len())),
                    other => Err(format!("Fn::Select of {other:?}")),
                }
            }
            "Fn::If" => {
                let args = list()?;
                let [name, yes, no] = args.as_slice() else {
                    return Err(format!("Fn::If {args:?}"));
                };
                let chosen = if self.condition(name.as_str().unwrap_or_default())? {
                    yes
                } else {
                    no
                };
                self.value(chosen)
            }
            "Fn::FindInMap" => {
                let args = list()?;
                let keys: Result<Vec<String>, String> =
                    args.iter().map(|a| self.string(a)).collect();
                let keys = keys?;
                let [map, top, second] = keys.as_slice() else {
                    return Err(format!("Fn::FindInMap {args:?}"));
                };
                let found = &self.template["Mappings"][map][top][second];
                if found.is_null() {
                    return Err(format!(
                        "Fn::FindInMap [{map}, {top}, {second}]: not in Mappings"
                    ));
                }
                Ok(Some(found.clone()))
            }
            other => Err(format!(
                "{other} {args}: not resolvable before deployment (only Ref, Fn::GetAtt, Fn::Sub, \
                 Fn::Join, Fn::Select, Fn::If and Fn::FindInMap are)"
            )),
        }
    }

    fn reference(&self, name: &str) -> Resolved {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.values.get(name) {
            return Ok(Some(self.parameter_value(name, value)));
        }
        if name.starts_with("AWS::") {
            return Err(format!(
                "Ref {name}: a pseudo-parameter, known at deployment only; pass it with --set {name}=VALUE"
            ));
        }
        let parameter = &self.template["Parameters"][name];
        if !parameter.is_null() {
            return match &parameter["Default"] {
                Value::Null => Err(format!(
                    "Ref {name}: parameter {name} has no Default; pass it with --set {name}=VALUE \
                     or a parameters file"
                )),
                Value::String(s) => Ok(Some(self.parameter_value(name, s))),
                other => Ok(Some(self.parameter_value(name, &other.to_string()))),
            };
        }
        if !self.template["Resources"][name].is_null() {
            return Err(format!(
                "Ref {name}: gives the resource's ARN, known at deployment only"
            ));
        }
        Err(format!(
            "Ref {name}: no such parameter or resource in the template"
        ))
    }

    /// A parameter's value; a list type (`CommaDelimitedList`, `List<...>`) is a list.
    fn parameter_value(&self, name: &str, value: &str) -> Value {
        let kind = self.template["Parameters"][name]["Type"]
            .as_str()
            .unwrap_or_default();
        if kind == "CommaDelimitedList" || kind.starts_with("List<") {
            Value::from(value.split(',').map(str::trim).collect::<Vec<_>>())
        } else if kind == "Number"
            && let Ok(number) = serde_json::from_str::<serde_json::Number>(value.trim())
        {
            // A weight, port or priority from a `Number` parameter is a number in the API.
            Value::Number(number)
        } else {
            Value::String(value.to_string())
        }
    }

    /// `Fn::GetAtt id.attribute` of an App Mesh resource: its name attributes are its
    /// properties; the rest (Arn, Uid, owners) are known at deployment only.
    fn attribute(&self, id: &str, attribute: &str) -> Result<Value, String> {
        let resource = &self.template["Resources"][id];
        let properties = &resource["Properties"];
        let names = [
            "MeshName",
            "VirtualGatewayName",
            "VirtualServiceName",
            "VirtualNodeName",
            "VirtualRouterName",
            "GatewayRouteName",
            "MeshOwner",
        ];
        if resource.is_null() {
            return Err(format!(
                "Fn::GetAtt {id}.{attribute}: no resource {id} in the template"
            ));
        }
        if names.contains(&attribute) {
            if !properties[attribute].is_null() {
                return self
                    .value(&properties[attribute])?
                    .ok_or_else(|| format!("Fn::GetAtt {id}.{attribute}: AWS::NoValue"));
            }
            return Err(format!(
                "Fn::GetAtt {id}.{attribute}: {id} has no {attribute}, so CloudFormation \
                 generated it at deployment"
            ));
        }
        Err(format!(
            "Fn::GetAtt {id}.{attribute}: known at deployment only"
        ))
    }

    /// `Fn::Sub`'s `${Name}`, `${Resource.Attribute}` and `${!Literal}`.
    fn substitute(&self, text: &str, vars: &Map<String, Value>) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub {text}: an unclosed ${{"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = vars.get(name) {
                out.push_str(&self.string(value)?);
            } else if let Some((id, attribute)) = name.split_once('.') {
                out.push_str(&plain(&self.attribute(id, attribute)?));
            } else {
                let value = self
                    .reference(name)?
                    .ok_or_else(|| format!("Fn::Sub {text}: ${{{name}}} is AWS::NoValue"))?;
                out.push_str(&plain(&value));
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The intrinsic function a one-key object calls, and its argument.
fn function_of(value: &Value) -> Option<(&str, &Value)> {
    let map = value.as_object().filter(|m| m.len() == 1)?;
    let (key, args) = map.iter().next()?;
    (key == "Ref" || key == "Condition" || key.starts_with("Fn::")).then_some((key.as_str(), args))
}

/// Every object key from CloudFormation's PascalCase to the API's camelCase.
fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (camel_of_pascal(&k), camel_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}
