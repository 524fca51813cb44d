//! `meshroute import -f` end to end, a format at a time: the fixture imported, the output
//! applied to the test bed and every route made Ready by the operator against the emulator.
//! App Mesh holds none of these routes now, so the emulator starts with only the mesh around
//! them (gateways, services, nodes, routers), created from what the same input says, and the
//! operator creates each route with exactly the spec `import` printed.

mod support;

use std::path::PathBuf;

use meshroute::api::GatewayRoute;
use meshroute::migrate::input::{self, Inventory, Kind};
use serde_json::{Value, json};
use support::{Bed, run_program};

fn fixture(format: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/import/{format}/basic/input"))
}

/// Creates in the emulator what the input says of the mesh around its routes, and a plain
/// virtual service or gateway for any the routes name that the input does not describe.
fn seed(bed: &Bed, inventory: &Inventory) {
    let am = &bed.emulator.emulator;
    let create = |operation: &str, body: Value| {
        if let Err(e) = am.invoke(operation, &body)
            && !format!("{e:?}").contains("Conflict")
        {
            panic!("{operation} {body}: {e:?}");
        }
    };
    let keep = |spec: &Value, fields: &[&str]| {
        let mut out = json!({});
        for field in fields {
            if !spec[field].is_null() {
                out[field] = spec[field].clone();
            }
        }
        out
    };
    let mut meshes: Vec<&str> = inventory
        .resources
        .keys()
        .map(|(_, m, _)| m.as_str())
        .collect();
    meshes.extend(
        inventory
            .routes
            .iter()
            .filter_map(|f| f.route.as_ref().ok())
            .map(|r| r.key.mesh.as_str()),
    );
    for mesh in meshes {
        create("CreateMesh", json!({ "meshName": mesh }));
    }
    // Providers before the services that name them.
    for wanted in [
        Kind::VirtualNode,
        Kind::VirtualRouter,
        Kind::VirtualService,
        Kind::VirtualGateway,
    ] {
        for ((kind, mesh, name), spec) in &inventory.resources {
            if *kind != wanted {
                continue;
            }
            let (operation, field, spec) = match kind {
                Kind::VirtualNode => (
                    "CreateVirtualNode",
                    "virtualNodeName",
                    keep(spec, &["listeners", "serviceDiscovery"]),
                ),
                Kind::VirtualRouter => (
                    "CreateVirtualRouter",
                    "virtualRouterName",
                    keep(spec, &["listeners"]),
                ),
                Kind::VirtualService => (
                    "CreateVirtualService",
                    "virtualServiceName",
                    keep(spec, &["provider"]),
                ),
                Kind::VirtualGateway => (
                    "CreateVirtualGateway",
                    "virtualGatewayName",
                    keep(spec, &["listeners"]),
                ),
            };
            create(
                operation,
                json!({ "meshName": mesh, field: name, "spec": spec }),
            );
        }
    }
    for route in inventory
        .routes
        .iter()
        .filter_map(|f| f.route.as_ref().ok())
    {
        let mesh = &route.key.mesh;
        create(
            "CreateVirtualGateway",
            json!({ "meshName": mesh, "virtualGatewayName": route.key.gateway, "spec": {
                "listeners": [{ "portMapping": { "port": 8080, "protocol": "http" } }] } }),
        );
        for kind in ["httpRoute", "http2Route", "grpcRoute"] {
            if let Some(service) =
                route.spec[kind]["action"]["target"]["virtualService"]["virtualServiceName"]
                    .as_str()
            {
                create(
                    "CreateVirtualService",
                    json!({ "meshName": mesh, "virtualServiceName": service, "spec": {} }),
                );
            }
        }
    }
}

/// Imports `format`'s fixture into this test's namespace, applies it, and checks every route
/// Ready with App Mesh (the emulator) holding the printed spec. Returns the count.
async fn import_and_apply(format: &str, set: &[&str]) -> usize {
    let mut bed = Bed::new(&format!("import-{format}")).await;
    let dir = fixture(format);
    let opts = input::Options {
        format: None,
        set: set
            .iter()
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        namespace: Some(bed.ns.clone()),
    };
    seed(&bed, &input::read(std::slice::from_ref(&dir), &opts));
    let mut args = vec![
        "import".to_string(),
        "-f".into(),
        dir.display().to_string(),
        "-n".into(),
        bed.ns.clone(),
    ];
    for s in set {
        args.extend(["--set".to_string(), s.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = run_program(
        std::path::Path::new(env!("CARGO_BIN_EXE_meshroute")),
        &args,
        &[],
        None,
    );
    assert!(ok, "{format}: import failed: {err}");
    let routes: Vec<GatewayRoute> = serde_saphyr::from_multiple::<Value>(&out)
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .map(|mut v| {
            v["metadata"]["labels"] = json!({ "meshroute-test": bed.ns });
            serde_json::from_value(v).unwrap()
        })
        .collect();
    assert!(!routes.is_empty(), "{format}: nothing imported: {err}");
    for route in &routes {
        bed.create(route).await;
    }
    let operator = bed.operator(&[]);
    for route in &routes {
        let name = route.metadata.name.as_deref().unwrap();
        let ready = bed.wait_ready(name, &operator).await;
        let key = &route.spec;
        let held = bed
            .emulator
            .emulator
            .invoke(
                "DescribeGatewayRoute",
                &json!({ "meshName": key.mesh_name, "virtualGatewayName": key.virtual_gateway_name,
                         "gatewayRouteName": key.gateway_route_name }),
            )
            .unwrap_or_else(|e| panic!("{format}: {name} is not in App Mesh: {e:?}"));
        let printed = serde_json::to_value(&route.spec).unwrap();
        for field in ["priority", "httpRoute", "http2Route", "grpcRoute"] {
            assert_eq!(
                held["spec"][field], printed[field],
                "{format}: {name}'s {field} as App Mesh holds it"
            );
        }
        assert!(
            ready.status.unwrap().arn.is_some(),
            "{format}: {name} has an ARN"
        );
    }
    routes.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_imports_applies_and_is_ready() {
    let mut counts = Vec::new();
    for (format, set) in [
        ("appmesh-k8s", vec![]),
        ("cloudformation", vec!["AWS::Region=eu-west-1"]),
        ("terraform", vec![]),
        ("cli-json", vec![]),
    ] {
        counts.push((format, import_and_apply(format, &set).await));
    }
    eprintln!("Ready after import: {counts:?}");
    assert_eq!(
        counts,
        [
            ("appmesh-k8s", 2),
            ("cloudformation", 2),
            ("terraform", 4),
            ("cli-json", 2)
        ]
    );
}
