//! Shared by the operator's integration tests: a namespace on the test bed's apiserver, an App
//! Mesh emulator of the test's own (so its call counters are the test's), and the operator binary
//! run as a separate process that watches only this test's objects.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

pub mod golden;
pub mod traffic;

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, PostParams};
use meshroute::api::GatewayRoute;
pub use meshroute_testbed::Operator;
use serde_json::{Value, json};

pub struct Bed {
    pub client: kube::Client,
    pub ns: String,
    pub emulator: appmesh_emulator::Handle,
    operators: usize,
}

impl Bed {
    pub async fn new(prefix: &str) -> Bed {
        let plane = meshroute_testbed::shared();
        let client = plane.client().await.expect("admin client");
        meshroute_testbed::install_crds(&client)
            .await
            .expect("install crds/");
        let ns = meshroute_testbed::namespace(&client, prefix).await.unwrap();
        let emulator = appmesh_emulator::spawn(meshroute_testbed::emulator_settings(), 0).unwrap();
        meshroute_testbed::seed(&emulator.emulator).unwrap();
        Bed {
            client,
            ns,
            emulator,
            operators: 0,
        }
    }

    pub fn api(&self) -> Api<GatewayRoute> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The label that marks this test's objects; its operators watch only those.
    pub fn label(&self) -> String {
        format!("meshroute-test={}", self.ns)
    }

    /// Starts the operator binary against this test's emulator, watching this test's label.
    pub fn operator(&mut self, extra: &[&str]) -> Operator {
        let admin = meshroute_testbed::shared().kubeconfig.clone();
        self.operator_as(&admin, extra)
    }

    /// The same, authenticated by `kubeconfig` (a service account's, for RBAC tests).
    pub fn operator_as(&mut self, kubeconfig: &std::path::Path, extra: &[&str]) -> Operator {
        self.operators += 1;
        let log = meshroute_testbed::shared()
            .dir()
            .join(format!("operator-{}-{}.log", self.ns, self.operators));
        // Quick retries, no rate limit to speak of, and no leader election unless asked for.
        let mut flags = Vec::new();
        for (flag, value) in [
            ("--retry-base", "200ms"),
            ("--retry-max", "5s"),
            ("--appmesh-rps", "1000"),
            ("--appmesh-burst", "1000"),
        ] {
            if !extra.contains(&flag) {
                flags.extend([flag, value]);
            }
        }
        if !extra.contains(&"--leader-election") {
            flags.extend(["--leader-election", "false"]);
        }
        flags.extend(extra);
        Operator::start(
            std::path::Path::new(env!("CARGO_BIN_EXE_meshroute")),
            kubeconfig,
            &self.emulator.endpoint(),
            &self.label(),
            &flags,
            log,
        )
        .expect("start meshroute")
    }

    /// A GatewayRoute of this test from a spec (JSON), labelled for its operator.
    pub fn route(&self, name: &str, spec: Value) -> GatewayRoute {
        serde_json::from_value(json!({
            "apiVersion": "meshroute.io/v1alpha1", "kind": "GatewayRoute",
            "metadata": { "name": name, "namespace": self.ns, "labels": { "meshroute-test": self.ns } },
            "spec": spec,
        }))
        .unwrap()
    }

    pub async fn create(&self, route: &GatewayRoute) -> GatewayRoute {
        self.api()
            .create(&PostParams::default(), route)
            .await
            .expect("create GatewayRoute")
    }

    pub async fn delete(&self, name: &str) {
        self.api()
            .delete(name, &DeleteParams::default())
            .await
            .expect("delete GatewayRoute");
    }

    /// Polls until `done` holds for the object (or, with `None`, until it is gone).
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        operator: &Operator,
        done: impl Fn(Option<&GatewayRoute>) -> bool,
    ) -> Option<GatewayRoute> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let current = self.api().get_opt(name).await.expect("get GatewayRoute");
            if done(current.as_ref()) {
                return current;
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} did not become {what} within 60 s; last seen:\n{}\noperator log tail:\n{}",
                    serde_json::to_string_pretty(&current).unwrap(),
                    operator.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_ready(&self, name: &str, operator: &Operator) -> GatewayRoute {
        self.wait(name, "Ready", operator, |r| {
            r.is_some_and(|r| reason(r) == Some("Synced") && is_current(r))
        })
        .await
        .unwrap()
    }

    pub async fn wait_reason(&self, name: &str, wanted: &str, operator: &Operator) -> GatewayRoute {
        self.wait(name, wanted, operator, |r| {
            r.is_some_and(|r| reason(r) == Some(wanted) && is_current(r))
        })
        .await
        .unwrap()
    }

    /// The App Mesh name of this test's object `name` without a gatewayRouteName.
    pub fn mesh_name(&self, name: &str) -> String {
        meshroute::api::default_app_mesh_name(name, &self.ns)
    }

    /// The route as the emulator holds it (mesh apps, gateway myVirtualGateway), by its App
    /// Mesh name.
    pub fn app_mesh_route(&self, name: &str) -> Option<Value> {
        self.emulator
            .emulator
            .invoke(
                "DescribeGatewayRoute",
                &json!({ "meshName": meshroute_testbed::MESH,
                         "virtualGatewayName": meshroute_testbed::GATEWAY,
                         "gatewayRouteName": name }),
            )
            .ok()
    }

    /// Names of every gateway route in the emulator's seeded gateway.
    pub fn app_mesh_route_names(&self) -> Vec<String> {
        let out = self
            .emulator
            .emulator
            .invoke(
                "ListGatewayRoutes",
                &json!({ "meshName": meshroute_testbed::MESH,
                         "virtualGatewayName": meshroute_testbed::GATEWAY, "limit": 100 }),
            )
            .unwrap();
        out["gatewayRoutes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["gatewayRouteName"].as_str().unwrap().to_string())
            .collect()
    }

    /// Calls of `operation` the emulator has answered (any outcome).
    pub fn calls_of(&self, operation: &str) -> u64 {
        self.emulator.emulator.counters()["operations"][operation]
            .as_object()
            .map_or(0, |outcomes| {
                outcomes.values().filter_map(Value::as_u64).sum()
            })
    }

    /// Calls of `operation` that App Mesh carried out (`ok`).
    pub fn ok_calls_of(&self, operation: &str) -> u64 {
        self.emulator.emulator.counters()["operations"][operation]["ok"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Calls that change App Mesh (create, update, delete, tag, untag) carried out so far.
    pub fn writes(&self) -> u64 {
        [
            "CreateGatewayRoute",
            "UpdateGatewayRoute",
            "DeleteGatewayRoute",
            "TagResource",
            "UntagResource",
        ]
        .iter()
        .map(|op| self.ok_calls_of(op))
        .sum()
    }

    /// The tags of an App Mesh route (by its JSON from `app_mesh_route`), as key -> value.
    pub fn tags_of(&self, route: &Value) -> std::collections::BTreeMap<String, String> {
        let out = self
            .emulator
            .emulator
            .invoke(
                "ListTagsForResource",
                &json!({ "resourceArn": route["metadata"]["arn"] }),
            )
            .unwrap();
        out["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["key"].as_str().unwrap().to_string(),
                    t["value"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Merge-patches this test's object `name`.
    pub async fn merge(&self, name: &str, patch: Value) {
        self.api()
            .patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .expect("patch GatewayRoute");
    }

    /// Total App Mesh calls the emulator has answered (or dropped) so far.
    pub fn calls(&self) -> u64 {
        self.emulator.emulator.counters()["total"].as_u64().unwrap()
    }

    /// Waits (up to 30 s) until an Event with `reason` about the object `name` exists: Events
    /// are written after the status they explain.
    pub async fn wait_event(&self, name: &str, reason: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let reasons = self.event_reasons(name).await;
            if reasons.iter().any(|r| r == reason) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {reason} Event about {name}; its Events: {reasons:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Event reasons recorded for an object, oldest first.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        use k8s_openapi::api::events::v1::Event;
        let events: Api<Event> = Api::namespaced(self.client.clone(), &self.ns);
        let mut list: Vec<Event> = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect();
        list.sort_by_key(|e| e.event_time.as_ref().map(|t| t.0));
        list.into_iter().filter_map(|e| e.reason).collect()
    }
}

/// The Ready condition's reason.
pub fn reason(r: &GatewayRoute) -> Option<&str> {
    r.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.reason.as_str())
}

/// Whether the status describes the object's current generation.
pub fn is_current(r: &GatewayRoute) -> bool {
    r.status.as_ref().and_then(|s| s.observed_generation) == r.metadata.generation
}

/// An HTTP/2 route spec to `target` on the seeded mesh and gateway.
pub fn http2_spec(target: &str, prefix: &str) -> Value {
    json!({
        "meshName": meshroute_testbed::MESH,
        "virtualGatewayName": meshroute_testbed::GATEWAY,
        "http2Route": {
            "match": { "prefix": prefix },
            "action": { "target": { "virtualService": { "virtualServiceName": target } } }
        }
    })
}

/// The keys that occur twice in one JSON object anywhere in `text` (serde_json and jq keep the
/// last silently; strict parsers refuse the whole line).
pub fn duplicate_keys(text: &str) -> Vec<String> {
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    struct Check(Vec<String>);
    impl<'de> DeserializeSeed<'de> for &mut Check {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> Visitor<'de> for &mut Check {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    self.0.push(key);
                }
                map.next_value_seed(&mut *self)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(&mut *self)?.is_some() {}
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    let mut check = Check(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    (&mut check)
        .deserialize(&mut de)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    check.0
}

/// The value of the series `series` (name and labels, as /metrics prints them) in `metrics`.
pub fn series_value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The JSON lines an operator logged at info level.
pub fn info_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["level"] == "INFO")
        .collect()
}

/// Runs a test-bed tool (kubectl, helm, gitops-check) from the repository root with the admin
/// kubeconfig and `stdin`; returns (success, stdout, stderr).
pub fn run(name: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let tool = meshroute_testbed::testbin_tool(name).unwrap_or_else(|e| panic!("{e}"));
    run_program(&tool, args, &[], stdin)
}

/// Runs any program as [`run`] does, with `env` added.
pub fn run_program(
    tool: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> (bool, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let plane = meshroute_testbed::shared();
    let mut child = Command::new(tool)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(meshroute_testbed::repo_root())
        .env("KUBECONFIG", &plane.kubeconfig)
        .env("HELM_CACHE_HOME", plane.dir().join("helm/cache"))
        .env("HELM_CONFIG_HOME", plane.dir().join("helm/config"))
        .env("HELM_DATA_HOME", plane.dir().join("helm/data"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}; build it with `make testbin`", tool.display()));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// The Gateway API CRDs fetched by hack/testbin.sh, installed once per test binary.
pub fn install_gateway_api() {
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let kubeconfig = &meshroute_testbed::shared().kubeconfig;
        meshroute_testbed::install_gateway_api(kubeconfig).unwrap_or_else(|e| panic!("{e}"));
    });
}

/// name -> (kstatus status, Argo CD health) of every GatewayRoute in the test's namespace.
pub async fn gitops_judged(bed: &Bed) -> std::collections::BTreeMap<String, (String, String)> {
    let request = http::Request::get(format!(
        "/apis/meshroute.io/v1alpha1/namespaces/{}/gatewayroutes",
        bed.ns
    ))
    .body(Vec::new())
    .unwrap();
    let list = bed.client.request_text(request).await.unwrap();
    let judge = |args: &[&str]| -> std::collections::BTreeMap<String, String> {
        let (ok, out, err) = run("gitops-check", args, Some(&list));
        assert!(ok, "{err}");
        out.lines()
            .map(|l| {
                let mut parts = l.splitn(3, '\t');
                (
                    parts.next().unwrap().to_string(),
                    parts.next().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let script = meshroute_testbed::repo_root().join("docs/gatewayroute-health.lua");
    let kstatus = judge(&["kstatus"]);
    let argocd = judge(&["argocd", script.to_str().unwrap()]);
    kstatus
        .into_iter()
        .map(|(name, k)| {
            let a = argocd.get(&name).cloned().unwrap_or_default();
            (name, (k, a))
        })
        .collect()
}
