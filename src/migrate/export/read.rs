//! Where `export` reads from: GatewayRoutes in files or in the cluster, and the service map.

use std::path::PathBuf;

use kube::api::{Api, ListParams};

use super::{Error, Source};
use crate::api::GatewayRoute;
use crate::migrate::{import, input};

/// GatewayRoutes from files and directories: meshroute's own (YAML or JSON, streams or Lists),
/// and the routes of every other format `import -f` reads, imported on the way; and how many
/// errors there were. A file that cannot be read, or an object with a field the GatewayRoute
/// does not have, is an error, reported on stderr with its file and line.
pub fn files(
    paths: &[PathBuf],
    namespace: &str,
    set: &[(String, String)],
) -> (Vec<GatewayRoute>, usize) {
    let opts = input::Options {
        format: None,
        set: set.iter().cloned().collect(),
        namespace: Some(namespace.to_string()),
    };
    let inventory = input::read(paths, &opts);
    for error in &inventory.errors {
        eprintln!("meshroute: error: {error}");
    }
    let mut routes = inventory.gateway_routes.clone();
    routes.extend(import::imported(&inventory));
    for route in &mut routes {
        if route.metadata.namespace.is_none() {
            route.metadata.namespace = Some(namespace.to_string());
        }
    }
    (routes, inventory.errors.len())
}

/// Every GatewayRoute of a namespace (or of all), a page at a time.
pub async fn cluster(args: &Source) -> Result<Vec<GatewayRoute>, Error> {
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
        let (routes, unreadable) = files(&[path], "default", &[]);
        assert_eq!(unreadable, 0);
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = routes
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(routes[0].metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn a_directory_is_read_recursively_like_kubectl_apply_r_reads_it() {
        let dir = std::env::temp_dir().join(format!("meshroute-export-dir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nested")).unwrap();
        std::fs::write(dir.join("b.yaml"), route("b")).unwrap();
        std::fs::write(dir.join("a.json"), route("a")).unwrap();
        std::fs::write(dir.join("notes.txt"), route("ignored")).unwrap();
        std::fs::write(dir.join("nested/c.yaml"), route("nested")).unwrap();
        let (routes, unreadable) = files(std::slice::from_ref(&dir), "default", &[]);
        assert_eq!(unreadable, 0);
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<_> = routes
            .iter()
            .map(|r| r.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["a", "b", "nested"]);
    }
}
