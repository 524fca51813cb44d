#!/usr/bin/env bash
# make demo: meshroute's main job end to end on this machine. Brings up a real kube-apiserver and
# the App Mesh emulator (seeded with mesh apps, gateway myVirtualGateway and the examples' virtual
# services), runs the operator, applies examples/, waits until every GatewayRoute is Ready, and
# shows both sides. Tears everything down at the end; KEEP=1 keeps it running.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo
mkdir -p "$dir"

# The operator's /metrics, /healthz and /readyz, on a fixed port so it can be kept open.
http_port=${DEMO_HTTP_PORT:-9464}
# `make demo` builds these first (make plane bed); run alone, this says what is missing.
bin=$(hack/testbin.sh --check etcd kube-apiserver kubectl) || { echo "run 'make demo'" >&2; exit 1; }
for built in target/debug/meshroute target/debug/testbed; do
  [ -x "$built" ] || { echo "$built is not built; run 'make demo'" >&2; exit 1; }
done
export PATH="$bin:$PATH"

testbed_pid="" operator_pid=""
cleanup() {
  [ -n "$operator_pid" ] && kill "$operator_pid" 2>/dev/null && wait "$operator_pid" 2>/dev/null || true
  [ -n "$testbed_pid" ] && kill "$testbed_pid" 2>/dev/null && wait "$testbed_pid" 2>/dev/null || true
  rm -f "$dir/env"
}
if [ "${KEEP:-0}" != 1 ]; then trap cleanup EXIT; fi

echo "==> starting kube-apiserver, etcd and the App Mesh emulator"
# shellcheck source=hack/bed.sh
source hack/bed.sh
bed_up "$dir"
head -1 "$dir/testbed.log"

echo "==> starting meshroute (log: $dir/operator.log)"
target/debug/meshroute run --appmesh-endpoint "$APPMESH_ENDPOINT" --leader-election=false \
  --http-addr "127.0.0.1:$http_port" --log-format pretty --cluster-id demo > "$dir/operator.log" 2>&1 &
operator_pid=$!
echo "export MESHROUTE_METRICS=http://127.0.0.1:$http_port/metrics" >> "$dir/env"

echo "==> kubectl apply -f examples/"
kubectl apply -f examples/
if ! kubectl wait gatewayroutes --all --for=condition=Ready --timeout=90s; then
  echo "not every GatewayRoute became Ready; operator log:"; tail -30 "$dir/operator.log"; exit 1
fi

echo; echo "==> kubectl get gatewayroutes -o wide"
kubectl get gatewayroutes -o wide
echo; echo "==> App Mesh side (DescribeGatewayRoute on the emulator)"
for arn in $(kubectl get gatewayroutes -o jsonpath='{range .items[*]}{.status.arn}{"\n"}{end}'); do
  route=${arn##*/gatewayRoute/}
  echo "--- $route"
  curl -sS "$APPMESH_ENDPOINT/v20190125/meshes/apps/virtualGateway/myVirtualGateway/gatewayRoutes/$route" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["metadata"]; print(json.dumps({"arn": m["arn"], "version": m["version"], "status": d["status"]["status"], "spec": {k: v for k, v in d["spec"].items() if v is not None}}, indent=2))'
done

echo; echo "==> requests through the gateway (the emulator's App Mesh data plane, to echo backends)"
# through ROUTE_DESCRIPTION EXPECTED_PATH EXPECTED_HOST CURL_ARGS...: one request, and what the
# backend saw; the demo fails if it is not where App Mesh would have sent it.
through() {
  echo "--- $1"; shift
  hack/through.sh "$@"
}
through "health-check: exact /healthz on *.example.com, path rewritten to /status, Host to the virtual service" \
  /status myservicea.svc.cluster.local -H 'Host: shop.example.com' "http://$GATEWAY_HTTP/healthz"
through "chapters: prefix /chapter, the default rewrite removes it and the / after it, Host to the virtual service" \
  /1 myservicea.svc.cluster.local "http://$GATEWAY_HTTP/chapter/1"
through "payments-api-canary: /v1/ rewritten to /v2/, the client's Host kept" \
  '/v2/pay?tenant=gold' api.example.com -H 'Host: api.example.com' -H 'x-canary: true' \
  "http://$GATEWAY_HTTP/v1/pay?tenant=gold"
through "my-gateway-route over h2c: prefix / kept as /, Host to the virtual service" \
  /orders myservicea.svc.cluster.local --http2-prior-knowledge "http://$GATEWAY_HTTP2/orders"

if [ "${KEEP:-0}" = 1 ]; then
  cat <<EOF

Still running (KEEP=1). Everything below works after: source $dir/env
  kubectl get gwr -o wide                       # KUBECONFIG points at the demo's apiserver
  kubectl apply -f examples/                    # edit, delete, re-apply: meshroute follows
  curl -s http://127.0.0.1:$http_port/metrics | grep ^meshroute_
  curl -s http://127.0.0.1:$http_port/readyz
  curl -s -H 'Host: shop.example.com' http://$GATEWAY_HTTP/healthz   # through the gateway
  aws appmesh list-gateway-routes --mesh-name apps --virtual-gateway-name myVirtualGateway
  python3 -c 'import boto3; print(boto3.client("appmesh").list_gateway_routes(meshName="apps", virtualGatewayName="myVirtualGateway")["gatewayRoutes"])'
  (the AWS CLI v2 and boto3 reach the emulator through AWS_ENDPOINT_URL_APP_MESH=$APPMESH_ENDPOINT)
  target/debug/meshroute import --mesh apps     # manifests that adopt routes made outside meshroute
  target/debug/meshroute export gateway-api --gateway-class example   # the same routes as Gateway API
Operator log: $dir/operator.log
Stop everything: kill $operator_pid $testbed_pid
EOF
else
  echo; echo "==> tearing down (KEEP=1 keeps everything running)"
fi
