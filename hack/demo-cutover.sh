#!/usr/bin/env bash
# make demo-cutover: the whole move off App Mesh on this machine. The examples run on App Mesh
# (the emulator's gateway); `meshroute verify` proves offline what Gateway API will do with
# them; the gateway is cut over to Traefik through `both`, where verify sends the same requests
# to both running gateways and a few requests go through each; then Gateway API serves alone.
# Tears everything down at the end; KEEP=1 keeps it running.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.demo-cutover
mkdir -p "$dir"

# `make demo-cutover` builds these first; run alone, this says what is missing.
bin=$(hack/testbin.sh --check etcd kube-apiserver kubectl traefik gateway-api) ||
  { echo "run 'make demo-cutover'" >&2; exit 1; }
for built in target/debug/meshroute target/debug/testbed; do
  [ -x "$built" ] || { echo "$built is not built; run 'make demo-cutover'" >&2; exit 1; }
done
export PATH="$bin:$PATH"
meshroute=target/debug/meshroute

testbed_pid="" operator_pid=""
stop_operator() {
  if [ -n "$operator_pid" ]; then
    kill "$operator_pid" 2>/dev/null || true
    wait "$operator_pid" 2>/dev/null || true
    operator_pid=""
  fi
}
cleanup() {
  stop_operator
  [ -n "$testbed_pid" ] && kill "$testbed_pid" 2>/dev/null && wait "$testbed_pid" 2>/dev/null || true
  rm -f "$dir/env"
}
if [ "${KEEP:-0}" != 1 ]; then trap cleanup EXIT; fi

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "starting kube-apiserver, etcd, the App Mesh emulator and Traefik (Gateway infra/shared)"
# shellcheck source=hack/bed.sh
source hack/bed.sh
TESTBED_GATEWAY_API=true bed_up "$dir"
head -2 "$dir/testbed.log"
echo "App Mesh's gateway (the emulator): http $GATEWAY_HTTP, http2 $GATEWAY_HTTP2, grpc $GATEWAY_GRPC"
echo "Gateway API's (Traefik):           http $GATEWAY_API_HTTP, http2 $GATEWAY_API_HTTP2, grpc $GATEWAY_API_GRPC"

# serve RULE: (re)start meshroute with one serving rule for the virtual gateway, as
# `helm upgrade --set gatewayAPI.serve=...` does on a cluster.
serve() {
  stop_operator
  $meshroute run --serve "apps/myVirtualGateway=$1" --log-format pretty >> "$dir/operator.log" 2>&1 &
  operator_pid=$!
  echo "meshroute run --serve apps/myVirtualGateway=$1 (log: $dir/operator.log)"
}
wait_for() {
  if ! kubectl wait gwr "$@" --timeout=120s >/dev/null; then
    echo "the GatewayRoutes did not get there; operator log:"; tail -30 "$dir/operator.log"; exit 1
  fi
}
through() { hack/through.sh "$@"; }

step "1. App Mesh serves the examples"
serve app-mesh
show kubectl apply -f examples/
wait_for --all --for=condition=Ready
show kubectl get gwr -o wide
through /1 myservicea.svc.cluster.local "http://$GATEWAY_HTTP/chapter/1"
through /status myservicea.svc.cluster.local -H 'Host: shop.example.com' "http://$GATEWAY_HTTP/healthz"

step "2. Before moving a request: what would Gateway API do with each one? (meshroute verify, offline)"
show $meshroute verify -f examples/
echo "(no difference is unannounced; every route that Gateway API cannot serve stays on App Mesh:"
echo " with 'gateway-api' below it keeps its App Mesh route, Stalled, NotExported)"

step "3. Both serve: each route Gateway API can say gets its HTTPRoute or GRPCRoute on infra/shared"
serve both:infra/shared
wait_for chapters health-check my-gateway-route --for='jsonpath={.status.servedBy}=App Mesh, Gateway API'
wait_for chapters health-check my-gateway-route --for=condition=Ready
show kubectl get gwr -o wide
show kubectl get httproutes,grpcroutes
through /1 myservicea.svc.cluster.local "http://$GATEWAY_API_HTTP/chapter/1"
through /status myservicea.svc.cluster.local -H 'Host: shop.example.com' "http://$GATEWAY_API_HTTP/healthz"

step "4. The same requests to both running gateways, listener by listener (meshroute verify --gateway, App Mesh's as the reference)"
for protocol in http http2 grpc; do
  upper=$(echo "$protocol" | tr '[:lower:]' '[:upper:]')
  new="GATEWAY_API_$upper" old="GATEWAY_$upper"
  show $meshroute verify -f examples/ --protocol "$protocol" --gateway "http://${!new}" \
    --reference "http://${!old}" --no-body --rps 50
done
echo "(each live difference is one the offline run of step 2 predicted, with the findings that"
echo " announced it: Traefik's listeners serve every route of the Gateway, App Mesh's each its"
echo " protocol's routes (listener-protocol), and the routes Gateway API cannot say fall to the"
echo " others (header-inverted, header-range) while 'both' serves; see --report json for all)"

step "5. Gateway API alone: the App Mesh routes are deleted, except those Gateway API cannot say"
serve gateway-api:infra/shared
wait_for chapters health-check my-gateway-route --for='jsonpath={.status.servedBy}=Gateway API'
show kubectl get gwr -o wide
through /1 myservicea.svc.cluster.local "http://$GATEWAY_API_HTTP/chapter/1"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://$GATEWAY_HTTP/chapter/1")
echo "App Mesh's gateway on /chapter/1: HTTP $status (its route is gone)"
[ "$status" = 404 ] || { echo "expected 404 from App Mesh for /chapter/1"; exit 1; }
through '/v2/pay?tenant=gold' api.example.com -H 'Host: api.example.com' -H 'x-canary: true' \
  "http://$GATEWAY_HTTP/v1/pay?tenant=gold"
echo "(payments-api-canary, an inverted header match, is still App Mesh's: Gateway API cannot say it)"

if [ "${KEEP:-0}" = 1 ]; then
  cat <<EOF

Still running (KEEP=1). Everything below works after: source $dir/env
  kubectl get gwr -o wide
  $meshroute verify -f examples/ --protocol http --gateway http://$GATEWAY_API_HTTP --reference http://$GATEWAY_HTTP --no-body
  curl -s http://$GATEWAY_API_HTTP/chapter/1 -o /dev/null -D -    # through Traefik
Operator log: $dir/operator.log
Stop everything: kill $operator_pid $testbed_pid
EOF
else
  step "tearing down (KEEP=1 keeps everything running)"
fi
