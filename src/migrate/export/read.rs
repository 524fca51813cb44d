//! Where `export` reads from: GatewayRoutes in files or in the cluster, and the service map.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;

use kube::api::{Api, ListParams};
use serde::Deserialize;
use serde_json::Value;

use super::{Error, ExportArgs};
use crate::api::GatewayRoute;
use crate::gatewayapi::Service;

/// The files `-f` names, as `kubectl apply -f` reads them: a file as it is, `-` for stdin, and
/// a directory's `.yaml`, `.yml` and `.json` files (not its subdirectories), in name order.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let input = |e: std::io::Error| Error::Input {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut found: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(input)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(input)?;
        found.retain(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        });
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// GatewayRoutes from files and directories: YAML streams or JSON, single objects or Lists.
pub fn files(paths: &[PathBuf], namespace: &str) -> Result<Vec<GatewayRoute>, Error> {
    let mut routes = Vec::new();
    for path in &expand(paths)? {
        let shown = path.display().to_string();
        let input = |message: String| Error::Input {
            path: shown.clone(),
            message,
        };
        let text = if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| input(e.to_string()))?;
            text
        } else {
            std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?
        };
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(document).map_err(|e| input(e.to_string()))?;
            let items = match value.get("kind").and_then(Value::as_str) {
                Some("List") => value["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![value],
            };
            for item in items {
                let is_route = item["kind"] == "GatewayRoute"
                    && item["apiVersion"]
                        .as_str()
                        .is_some_and(|v| v.starts_with("meshroute.io/"));
                if !is_route {
                    continue;
                }
                let mut route: GatewayRoute = serde_json::from_value(item)
                    .map_err(|e| input(format!("not a valid GatewayRoute: {e}")))?;
                if route.metadata.namespace.is_none() {
                    route.metadata.namespace = Some(namespace.to_string());
                }
                routes.push(route);
            }
        }
    }
    Ok(routes)
}

/// Every GatewayRoute of a namespace (or of all), a page at a time.
pub async fn cluster(args: &ExportArgs) -> Result<Vec<GatewayRoute>, Error> {
    let client = kube::Client::try_default().await?;
    let api: Api<GatewayRoute> = match (&args.namespace, args.all_namespaces) {
        (_, true) => Api::all(client),
        (Some(ns), false) => Api::namespaced(client, ns),
        (None, false) => Api::default_namespaced(client),
    };
    let mut routes = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        routes.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(routes),
        }
    }
}

pub fn service_map(path: &PathBuf) -> Result<BTreeMap<String, Service>, Error> {
    let input = |message: String| Error::Input {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(e.to_string()))?;
    serde_yaml::from_str(&text).map_err(|e| {
        input(format!(
            "{e}; expected `<virtual service name>: {{name: <service>, namespace: <ns>, port: <port>}}` entries"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::files;
    use serde_json::json;

    fn route(name: &str) -> String {
        json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name },
            "spec": { "meshName": "m", "virtualGatewayName": "g", "httpRoute": {
                "match": { "prefix": "/" },
                "action": { "target": { "virtualService": { "virtualServiceName": "s" } } } } },
        })
        .to_string()
    }

    #[test]
    fn files_hold_streams_lists_and_other_kinds() {
        let dir = std::env::temp_dir().join(format!("meshroute-export-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.yaml");
        let r = route;
        std::fs::write(
            &path,
            format!(
                "{}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{}]}}\n",
                r("a"),
                r("b")
            ),
        )
        .unwrap();
        let routes = files(&[path], "default").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = routes
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(routes[0].metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn a_directory_is_read_like_kubectl_apply_reads_it() {
        let dir = std::env::temp_dir().join(format!("meshroute-export-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        std::fs::write(dir.join("b.yaml"), route("b")).unwrap();
        std::fs::write(dir.join("a.json"), route("a")).unwrap();
        std::fs::write(dir.join("notes.txt"), route("ignored")).unwrap();
        std::fs::write(dir.join("nested/c.yaml"), route("nested")).unwrap();
        let routes = files(std::slice::from_ref(&dir), "default").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = routes
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
