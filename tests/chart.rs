//! Shipping: the Helm chart lints clean, renders manifests the real apiserver accepts under the
//! restricted Pod Security Standard, installs; deploy/ equals the chart; and the chart's RBAC is
//! enough for a full lifecycle and nothing more.

mod support;

use std::path::PathBuf;

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, PostParams};
use serde_json::json;
use support::{Bed, http2_spec, run};

fn repo() -> PathBuf {
    meshroute_testbed::repo_root().to_path_buf()
}

fn template(release: &str, ns: &str, sets: &[&str]) -> String {
    let mut args = vec![
        "template",
        release,
        "charts/meshroute",
        "--namespace",
        ns,
        "--kube-version",
        "1.37.2",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let (ok, out, err) = run("helm", &args, None);
    assert!(ok, "helm template {sets:?}: {err}");
    out
}

/// A namespace held to the restricted Pod Security Standard, as deploy/namespace.yaml sets it.
async fn restricted_namespace(client: &kube::Client, prefix: &str) -> String {
    let ns: Namespace = serde_json::from_value(json!({ "metadata": {
        "generateName": format!("{prefix}-"),
        "labels": { "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted" } } }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap()
        .metadata
        .name
        .unwrap()
}

#[test]
fn helm_lint_is_clean() {
    for sets in [
        vec![],
        vec![
            "watch.namespace=team-a",
            "serviceAccount.roleArn=arn:aws:iam::111122223333:role/meshroute",
        ],
        vec![
            "replicaCount=1",
            "leaderElection.enabled=false",
            "metrics.serviceMonitor.enabled=true",
            "metrics.prometheusRule.enabled=true",
        ],
    ] {
        let mut args = vec![
            "lint",
            "--strict",
            "charts/meshroute",
            "--kube-version",
            "1.37.2",
        ];
        for s in &sets {
            args.extend(["--set", s]);
        }
        let (ok, out, err) = run("helm", &args, None);
        assert!(ok, "helm lint {sets:?}:\n{out}\n{err}");
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "{out}"
        );
    }
    let (ok, out, err) = run(
        "helm",
        &[
            "lint",
            "charts/meshroute",
            "--kube-version",
            "1.37.2",
            "--set",
            "clusterId=",
        ],
        None,
    );
    assert!(
        !ok && format!("{out}{err}").contains("clusterId"),
        "values.schema.json refuses an empty clusterId"
    );
    // Two replicas without leader election would both reconcile everything.
    let (ok, out, err) = run(
        "helm",
        &[
            "lint",
            "charts/meshroute",
            "--set",
            "leaderElection.enabled=false",
        ],
        None,
    );
    assert!(
        !ok && format!("{out}{err}").contains("replicaCount"),
        "values.schema.json refuses two unelected replicas:\n{out}\n{err}"
    );
}

#[test]
fn helm_template_renders_with_helms_defaults() {
    // No --kube-version: helm assumes an old cluster when it cannot ask one.
    let (ok, out, err) = run("helm", &["template", "meshroute", "charts/meshroute"], None);
    assert!(ok, "helm template with its defaults: {err}");
    assert!(out.contains("kind: Deployment"), "{out}");
    assert!(!out.contains("kind: PrometheusRule"), "alerts are opt-in");
    let (ok, out, err) = run(
        "helm",
        &[
            "template",
            "meshroute",
            "charts/meshroute",
            "--set",
            "metrics.prometheusRule.enabled=true",
        ],
        None,
    );
    assert!(ok, "{err}");
    let rule = out
        .split("\n---")
        .find(|doc| doc.contains("kind: PrometheusRule"))
        .expect("the PrometheusRule is rendered");
    for alert in [
        "MeshrouteGatewayRoutesStuck",
        "MeshrouteAppMeshErrors",
        "MeshrouteAppMeshPaused",
        "MeshrouteNoLeader",
    ] {
        assert!(rule.contains(alert), "{rule}");
    }
    let parsed: serde_json::Value = serde_saphyr::from_str(rule).expect("valid YAML");
    assert!(
        rule.contains("{{ $labels.reason }}"),
        "Prometheus templates survive helm: {parsed:?}"
    );
}

#[tokio::test]
async fn rendered_manifests_pass_server_side_dry_run_under_restricted_pod_security() {
    let client = meshroute_testbed::shared().client().await.unwrap();
    meshroute_testbed::install_crds(&client).await.unwrap();
    for sets in [vec![], vec!["watch.namespace=default", "replicaCount=3"]] {
        let ns = restricted_namespace(&client, "chart").await;
        let manifests = template("dryrun", &ns, &sets);
        let (ok, out, err) = run(
            "kubectl",
            &[
                "apply",
                "--server-side",
                "--dry-run=server",
                "--field-manager=helm-test",
                "-f",
                "-",
            ],
            Some(&manifests),
        );
        assert!(ok, "server-side dry run {sets:?}:\n{out}\n{err}");
        assert!(
            out.contains("deployment.apps/dryrun-meshroute serverside-applied"),
            "{out}"
        );
        assert!(
            !err.contains("PodSecurity"),
            "the pod spec breaks the restricted standard: {err}"
        );
    }
}

#[tokio::test]
async fn helm_install_succeeds() {
    let client = meshroute_testbed::shared().client().await.unwrap();
    let ns = restricted_namespace(&client, "helm").await;
    let (ok, out, err) = run(
        "helm",
        &[
            "install",
            "meshroute",
            "charts/meshroute",
            "--namespace",
            &ns,
            "--set",
            "clusterId=test-bed",
            // The finalizer policy then applies to this test's objects only.
            "--set",
            &format!("watch.labelSelector=meshroute-test={ns}"),
        ],
        None,
    );
    assert!(ok, "helm install:\n{out}\n{err}");
    assert!(out.contains("STATUS: deployed"), "{out}");
    assert!(
        out.contains("kubectl get gatewayroutes -A"),
        "NOTES.txt is shown: {out}"
    );
    let (ok, out, _) = run(
        "kubectl",
        &[
            "get",
            "deployment,serviceaccount,service,pdb,lease",
            "-n",
            &ns,
            "-o",
            "name",
        ],
        None,
    );
    assert!(ok);
    for kind in [
        "deployment.apps/meshroute",
        "serviceaccount/meshroute",
        "service/meshroute-metrics",
        "poddisruptionbudget.policy/meshroute",
    ] {
        assert!(out.contains(kind), "{kind} missing after install:\n{out}");
    }
    // The cluster serves MutatingAdmissionPolicy, so the chart installed one: a new object of
    // this release's gets meshroute's finalizer at admission (next to its own), others do not.
    let route = |name: &str, labels: &str| {
        format!(
            "apiVersion: meshroute.io/v1alpha1\nkind: GatewayRoute\nmetadata:\n  name: {name}\n  \
             namespace: {ns}\n  labels: {{{labels}}}\n  finalizers: [example.com/keep]\nspec:\n  \
             meshName: apps\n  virtualGatewayName: gw\n  httpRoute:\n    match: {{prefix: /}}\n    \
             action: {{target: {{virtualService: {{virtualServiceName: svc}}}}}}\n"
        )
    };
    let mut finalizers = String::new();
    // The policy takes a moment to be enforced after it is created: fresh objects until it is.
    for i in 0..50 {
        let manifests = format!(
            "{}---\n{}",
            route(&format!("watched-{i}"), &format!("meshroute-test: {ns}")),
            route(&format!("unwatched-{i}"), "team: other")
        );
        // Until the chart's CRD is served (helm installed it a moment ago), apply fails: retry.
        let (ok, out, err) = run("kubectl", &["apply", "-f", "-"], Some(&manifests));
        finalizers = format!("{out}{err}");
        if !ok {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        let get = |name: String| {
            run(
                "kubectl",
                &[
                    "get",
                    "gwr",
                    &name,
                    "-n",
                    &ns,
                    "-o",
                    "jsonpath={.metadata.finalizers}",
                ],
                None,
            )
            .1
        };
        finalizers = format!(
            "watched={} unwatched={}",
            get(format!("watched-{i}")),
            get(format!("unwatched-{i}"))
        );
        if finalizers.contains("meshroute.io/finalizer") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        finalizers.contains(r#"watched=["example.com/keep","meshroute.io/finalizer"]"#)
            && finalizers.contains(r#"unwatched=["example.com/keep"]"#),
        "{finalizers}"
    );
    // No operator runs here: let the objects go.
    let (_, names, _) = run("kubectl", &["get", "gwr", "-n", &ns, "-o", "name"], None);
    for name in names.lines() {
        let (ok, _, err) = run(
            "kubectl",
            &[
                "patch",
                name,
                "-n",
                &ns,
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
            None,
        );
        assert!(ok, "{err}");
    }
    let (ok, _, err) = run("kubectl", &["delete", "gwr", "--all", "-n", &ns], None);
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        "helm",
        &["uninstall", "meshroute", "--namespace", &ns],
        None,
    );
    assert!(ok, "helm uninstall: {err}");
    let (_, crds, _) = run(
        "kubectl",
        &["get", "crd", "gatewayroutes.meshroute.io", "-o", "name"],
        None,
    );
    assert!(
        crds.contains("gatewayroutes.meshroute.io"),
        "uninstall keeps the CRD (and so every GatewayRoute)"
    );
}

#[tokio::test]
async fn deploy_is_the_chart_rendered_and_applies() {
    // Rendered exactly as `make deploy` renders it.
    let (ok, rendered, err) = run(
        "helm",
        &[
            "template",
            "meshroute",
            "charts/meshroute",
            "--namespace",
            "meshroute-system",
            "--include-crds",
            "--kube-version",
            "1.37.2",
            "--api-versions",
            "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(rendered.contains("kind: MutatingAdmissionPolicy\n"));
    let checked_in = std::fs::read_to_string(repo().join("deploy/meshroute.yaml")).unwrap();
    let body = checked_in
        .split_once('\n')
        .map(|(_, b)| b)
        .unwrap_or_default();
    assert!(
        body == rendered,
        "deploy/meshroute.yaml differs from the chart; run `make deploy` and commit it"
    );

    let (ok, kustomized, err) = run("kubectl", &["kustomize", "deploy"], None);
    assert!(ok, "kubectl kustomize deploy: {err}");
    let client = meshroute_testbed::shared().client().await.unwrap();
    // The namespace must exist for a dry run of what goes into it.
    let namespace: Namespace = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("deploy/namespace.yaml")).unwrap(),
    )
    .unwrap();
    let _ = Api::<Namespace>::all(client)
        .create(&PostParams::default(), &namespace)
        .await;
    let (ok, out, err) = run(
        "kubectl",
        &[
            "apply",
            "--server-side",
            "--dry-run=server",
            "--field-manager=deploy-test",
            // helm_install_succeeds may hold the same cluster-scoped RBAC objects at this
            // moment (tests run in parallel); this checks that deploy/ applies, not who owns them.
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(&kustomized),
    );
    assert!(ok, "dry run of kubectl kustomize deploy:\n{out}\n{err}");
    assert!(!err.contains("PodSecurity"), "{err}");
}

/// Applies only the chart's ServiceAccount and RBAC (rendered with `sets`; `documents` of them)
/// for real, and writes a kubeconfig with a token of that ServiceAccount.
async fn chart_identity(
    bed: &Bed,
    release: &str,
    sets: &[&str],
    documents: usize,
) -> (String, std::path::PathBuf) {
    let sa = format!("{release}-meshroute");
    let manifests = template(release, &bed.ns, sets);
    let rbac: Vec<&str> = manifests
        .split("\n---")
        .filter(|doc| {
            ["kind: ServiceAccount", "kind: ClusterRole", "kind: Role"]
                .iter()
                .any(|k| doc.contains(k))
        })
        .collect();
    assert_eq!(
        rbac.len(),
        documents,
        "SA, ClusterRole(+Binding), policies ClusterRole(+Binding), leader Role(+Binding)"
    );
    let (ok, out, err) = run(
        "kubectl",
        &["apply", "--server-side", "-f", "-"],
        Some(&rbac.join("\n---\n")),
    );
    assert!(ok, "{out}{err}");
    let request: TokenRequest =
        serde_json::from_value(json!({ "spec": { "expirationSeconds": 3600 } })).unwrap();
    let issued: TokenRequest = Api::<ServiceAccount>::namespaced(bed.client.clone(), &bed.ns)
        .create_subresource("token", &sa, &PostParams::default(), &request)
        .await
        .unwrap();
    let token = issued.status.and_then(|s| s.token).unwrap();
    let plane = meshroute_testbed::shared();
    let kubeconfig = plane.dir().join(format!("kubeconfig-{sa}"));
    plane.write_kubeconfig(&kubeconfig, &sa, &token).unwrap();
    (sa, kubeconfig)
}

/// Whether the chart's ServiceAccount `sa` of `bed` may `verb` `group`/`resource`/`sub` in the
/// test's namespace, as the apiserver answers a SubjectAccessReview.
async fn can(bed: &Bed, sa: &str, verb: &str, group: &str, resource: &str, sub: &str) -> bool {
    let reviews: Api<SubjectAccessReview> = Api::all(bed.client.clone());
    let user = format!("system:serviceaccount:{}:{sa}", bed.ns);
    let review: SubjectAccessReview = serde_json::from_value(json!({ "spec": {
        "user": user, "groups": ["system:serviceaccounts"],
        "resourceAttributes": { "namespace": bed.ns, "verb": verb, "group": group,
                                "resource": resource, "subresource": sub } } }))
    .unwrap();
    reviews
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

#[tokio::test]
async fn the_charts_rbac_for_the_gateway_api_backend_is_enough_and_no_more() {
    support::install_gateway_api();
    let mut bed = Bed::new("rbac-gwapi").await;
    let release = format!("rbac-{}", bed.ns);
    let serve = format!(
        "{}/{}=gateway-api:{}/gw",
        meshroute_testbed::MESH,
        meshroute_testbed::GATEWAY,
        bed.ns
    );
    let set = format!("gatewayAPI.serve={{{serve}}}");
    let (sa, kubeconfig) = chart_identity(&bed, &release, &[&set], 7).await;
    let ns = bed.ns.clone();
    let op = bed.operator_as(
        &kubeconfig,
        &[
            "--lease-namespace",
            &ns,
            "--lease-name",
            &release,
            "--serve",
            &serve,
        ],
    );
    // No implementation serves this Gateway here: the route is written and waits for one.
    bed.create(&bed.route("scoped", http2_spec("myservicea.svc.cluster.local", "/")))
        .await;
    let pending = bed.wait_reason("scoped", "GatewayPending", &op).await;
    let said = &pending.status.as_ref().unwrap().conditions[0].message;
    assert!(
        said.starts_with(&format!("Gateway {ns}/gw does not exist: create it")),
        "a missing Gateway is named: {said}"
    );
    let (ok, out, err) = run("kubectl", &["get", "httproute", "scoped", "-n", &ns], None);
    assert!(ok, "the route was written: {out}{err}");
    bed.delete("scoped").await;
    bed.wait("scoped", "deleted", &op, |r| r.is_none()).await;
    let (ok, _, _) = run("kubectl", &["get", "httproute", "scoped", "-n", &ns], None);
    assert!(!ok, "its route went with it");
    assert_eq!(bed.calls(), 0, "Gateway API alone: no App Mesh call");
    let log = op.log();
    assert!(
        !log.contains("building the App Mesh client"),
        "Gateway API alone: App Mesh's configuration is never looked up: {log}"
    );
    for (verb, resource, allowed) in [
        ("watch", "httproutes", true),
        ("patch", "grpcroutes", true),
        ("delete", "httproutes", true),
        ("update", "httproutes", false),
        ("patch", "gateways", false),
        ("get", "gateways", true),
        ("create", "referencegrants", false),
    ] {
        let group = "gateway.networking.k8s.io";
        assert_eq!(
            can(&bed, &sa, verb, group, resource, "").await,
            allowed,
            "{verb} {resource}"
        );
    }
}

#[tokio::test]
async fn the_charts_rbac_runs_a_full_lifecycle_and_nothing_more() {
    let mut bed = Bed::new("rbac").await;
    let release = format!("rbac-{}", bed.ns);
    let (sa, kubeconfig) = chart_identity(&bed, &release, &[], 7).await;

    let ns = bed.ns.clone();
    let op = bed.operator_as(
        &kubeconfig,
        &[
            "--leader-election",
            "true",
            "--lease-namespace",
            &ns,
            "--lease-name",
            &release,
            "--resync-period",
            "0",
        ],
    );
    bed.create(&bed.route("scoped", http2_spec("myservicea.svc.cluster.local", "/")))
        .await;
    bed.wait_ready("scoped", &op).await;
    bed.api()
        .patch(
            "scoped",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({ "spec": { "priority": 9 } })),
        )
        .await
        .unwrap();
    bed.wait("scoped", "updated", &op, |r| {
        r.is_some_and(|r| support::is_current(r) && r.status.as_ref().unwrap().version == Some(2))
    })
    .await;
    bed.delete("scoped").await;
    bed.wait("scoped", "deleted", &op, |r| r.is_none()).await;
    assert!(bed.app_mesh_route(&bed.mesh_name("scoped")).is_none());
    assert!(
        bed.event_reasons("scoped")
            .await
            .contains(&"Created".into()),
        "Events were written"
    );

    // What the role allows, asked of the apiserver.
    for (verb, group, resource, sub, allowed) in [
        ("watch", "meshroute.io", "gatewayroutes", "", true),
        ("patch", "meshroute.io", "gatewayroutes", "status", true),
        ("create", "events.k8s.io", "events", "", true),
        ("patch", "events.k8s.io", "events", "", false),
        ("patch", "coordination.k8s.io", "leases", "", true),
        ("get", "", "secrets", "", false),
        ("list", "", "secrets", "", false),
        ("list", "", "pods", "", false),
        ("delete", "meshroute.io", "gatewayroutes", "", false),
        ("update", "meshroute.io", "gatewayroutes", "", false),
        ("create", "meshroute.io", "gatewayroutes", "", false),
        ("get", "", "configmaps", "", false),
        // No Gateway API backend configured: none of its routes.
        (
            "watch",
            "gateway.networking.k8s.io",
            "httproutes",
            "",
            false,
        ),
        // The policies and namespace labels routes are checked against, read-only.
        ("watch", "meshroute.io", "virtualgatewaypolicies", "", true),
        ("list", "", "namespaces", "", true),
        (
            "update",
            "meshroute.io",
            "virtualgatewaypolicies",
            "",
            false,
        ),
        ("patch", "", "namespaces", "", false),
    ] {
        assert_eq!(
            can(&bed, &sa, verb, group, resource, sub).await,
            allowed,
            "{verb} {group}/{resource}/{sub}"
        );
    }
}

/// `helm upgrade --set gatewayAPI.serve=RULE` (the docs' command) gives a string: the chart takes
/// it as well as a list; the service map becomes a mounted ConfigMap the operator reads; a bad
/// rule is refused with a sentence, not a pattern.
#[test]
fn gateway_api_values_as_the_docs_write_them() {
    use serde_json::Value;
    let out = template(
        "m",
        "x",
        &[
            "gatewayAPI.serve=apps/gw=gateway-api:infra/gw",
            "gatewayAPI.serviceMap.web\\.apps\\.local.name=web",
            "gatewayAPI.serviceMap.web\\.apps\\.local.port=8080",
            "gatewayAPI.backendPort=8080",
            "gatewayAPI.accept={prefix-segments,backend-port-assumed}",
        ],
    );
    let documents: Vec<Value> = serde_saphyr::from_multiple::<Value>(&out)
        .unwrap()
        .into_iter()
        .filter(|d| !d.is_null())
        .collect();
    let deployment = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let env = |name: &str| {
        container["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        env("MESHROUTE_SERVE"),
        Some(json!("apps/gw=gateway-api:infra/gw"))
    );
    assert_eq!(env("MESHROUTE_BACKEND_PORT"), Some(json!("8080")));
    assert_eq!(
        env("MESHROUTE_ACCEPT"),
        Some(json!("prefix-segments,backend-port-assumed"))
    );
    let path = env("MESHROUTE_SERVICE_MAP").unwrap();
    assert_eq!(
        container["volumeMounts"][0]["mountPath"],
        json!("/etc/meshroute")
    );
    let map = documents
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "m-meshroute-service-map")
        .unwrap();
    assert!(path.as_str().unwrap().ends_with("service-map.yaml"));
    let entries: Value =
        serde_saphyr::from_str(map["data"]["service-map.yaml"].as_str().unwrap()).unwrap();
    assert_eq!(
        entries,
        json!({ "web.apps.local": { "name": "web", "port": 8080 } })
    );
    // The list form gives the same rule.
    let out = template(
        "m",
        "x",
        &["gatewayAPI.serve={apps/gw=gateway-api:infra/gw}"],
    );
    assert!(
        out.contains("value: \"apps/gw=gateway-api:infra/gw\""),
        "{out}"
    );
    // A bad rule: a sentence that says what a rule is.
    let (ok, _, err) = run(
        "helm",
        &[
            "template",
            "m",
            "charts/meshroute",
            "--set",
            "gatewayAPI.serve=apps/gw=gatewayapi:infra",
        ],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains(
            "\"apps/gw=gatewayapi:infra\" is not a rule: write MESH/VIRTUAL_GATEWAY=BACKEND"
        ),
        "{err}"
    );
}
