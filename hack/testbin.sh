#!/usr/bin/env bash
# Builds the test bed's binaries (kube-apiserver, kubectl, etcd, helm, gitops-check, traefik) from the pinned
# Go modules under hack/tools/, and fetches the Gateway API CRDs, once, into a cache outside the
# tracked tree, and prints the directory.
#
#   hack/testbin.sh [TOOL...]          build what is missing, print the bin directory on stdout
#   hack/testbin.sh --check [TOOL...]  build nothing; print the directory if the tools are there,
#                                      else fail naming the command that builds them
#   MESHROUTE_TESTBIN=DIR              cache root (default: ~/.cache/meshroute/testbin)
#
# TOOL is etcd, kube-apiserver, kubectl, helm, gitops-check, traefik or gateway-api (the CRDs); none means
# all of them. `make demo` needs only the control plane (etcd kube-apiserver kubectl); `make test`
# needs everything.
#
# The directory name carries every pinned version, so changing a pin builds a fresh set and an old
# cache can never be picked up by mistake. Build logs go to stderr.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/hack/tools"

version_of() { # module go.mod -> pinned version
  awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "$2"
}
k8s=$(version_of k8s.io/kubernetes "$tools/kube/go.mod")
etcd=$(version_of go.etcd.io/etcd/server/v3 "$tools/etcd/go.mod")
helm=$(version_of helm.sh/helm/v3 "$tools/helm/go.mod")
for v in "$k8s" "$etcd" "$helm"; do
  [ -n "$v" ] || { echo "testbin: cannot read a pinned version from hack/tools/*/go.mod" >&2; exit 1; }
done

check=0
[ "${1:-}" = --check ] && { check=1; shift; }
all_tools="etcd kube-apiserver kubectl helm gitops-check traefik gateway-api"
wanted=" ${*:-$all_tools} "
for tool in $wanted; do
  case " $all_tools " in
    *" $tool "*) ;;
    *) echo "testbin: unknown tool '$tool'; known: $all_tools" >&2; exit 2 ;;
  esac
done
wants() { [[ "$wanted" == *" $1 "* ]]; }
missing=0

# Bump when the build recipe changes (flags, ldflags), so every cache is rebuilt.
recipe=2
cache="${MESHROUTE_TESTBIN:-$HOME/.cache/meshroute/testbin}"
bin="$cache/k8s-$k8s-etcd-$etcd-helm-$helm-r$recipe"
mkdir -p "$bin"

# Kubernetes reports its version from ldflags set by its own build scripts; without them the
# apiserver says v0.0.0-master and tools that check versions (helm's kubeVersion) refuse it.
minor=${k8s#v1.}; minor=${minor%%.*}
k8s_ldflags="-X k8s.io/component-base/version.gitVersion=$k8s -X k8s.io/component-base/version.gitMajor=1"
k8s_ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
k8s_ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s -X k8s.io/client-go/pkg/version.gitMajor=1"
k8s_ldflags+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm"

build() { # tool-module package output [extra ldflags]
  local module=$1 pkg=$2 out=$3 ldflags=${4:-}
  wants "$out" || return 0
  [ -x "$bin/$out" ] && return 0
  if [ "$check" = 1 ]; then
    echo "testbin: $bin/$out is missing; build it with 'hack/testbin.sh $out' (or 'make testbin' for all)" >&2
    missing=1
    return 0
  fi
  command -v go >/dev/null || {
    echo "testbin: Go >= 1.26 is needed to build $out from source; install it, then run 'make testbin'" >&2
    exit 1
  }
  echo "testbin: building $out from $pkg (one time; cached in $bin; cold on 2 cores: ${cold[$out]})" >&2
  local start=$SECONDS
  # The go command is silent while it compiles: say every 30 s that it is still at work.
  ( while sleep 30; do echo "testbin: still building $out ($((SECONDS - start)) s)" >&2; done ) &
  local ticker=$!
  # -mod=readonly: go.sum is committed, so a fresh machine downloads exactly the pinned modules and
  # never edits the tracked tree. The output goes to a temporary name first so an interrupted build
  # never leaves a half binary that looks cached.
  local status=0
  (cd "$tools/$module" && GOWORK="${gowork:-off}" GOFLAGS="${GOFLAGS:-} -mod=readonly" CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $ldflags" \
    -o "$bin/.$out.tmp" "$pkg") >&2 || status=$?
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  [ "$status" = 0 ] || { echo "testbin: building $out failed (exit $status)" >&2; exit "$status"; }
  mv "$bin/.$out.tmp" "$bin/$out"
  echo "testbin: built $out in $((SECONDS - start)) s" >&2
}

# Measured cold (empty Go caches) on a 2-core machine, shown while each builds.
declare -A cold=([etcd]="about 1 min" [kube-apiserver]="about 6 min" [kubectl]="under 1 min"
  [helm]="about 1.5 min" [gitops-check]="under 1 min" [traefik]="about 4 min")

build etcd go.etcd.io/etcd/server/v3 etcd
build kube k8s.io/kubernetes/cmd/kube-apiserver kube-apiserver "$k8s_ldflags"
build kube k8s.io/kubernetes/cmd/kubectl kubectl "$k8s_ldflags"
build helm helm.sh/helm/v3/cmd/helm helm "$helm_ldflags"
# The GitOps clients' status readers (kstatus, Argo CD's gopher-lua), rebuilt when their source
# or pins change.
gitops_hash=$(cat "$tools/gitops/main.go" "$tools/gitops/go.sum" | sha256sum | cut -c1-16)
if wants gitops-check; then
  if [ "$(cat "$bin/.gitops-check.hash" 2>/dev/null)" != "$gitops_hash" ] && [ "$check" = 0 ]; then
    rm -f "$bin/gitops-check"
  fi
  build gitops . gitops-check
  [ "$check" = 1 ] || echo "$gitops_hash" > "$bin/.gitops-check.hash"
fi

# Traefik, the Gateway API implementation that carries the test bed's traffic. Its module cannot be
# built as a dependency as it is (hack/tools/traefik/README.md says why and what stands in): the
# wrapper module's replace directives point at our stubs, and lego is built from a copy of the
# pinned module (in the cache, never in the tree) whose DNS-provider list is ours. Rebuilt when
# any of that changes.
traefik_hash=$(cd "$tools/traefik" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
if wants traefik; then
  if [ "$(cat "$bin/.traefik.hash" 2>/dev/null)" != "$traefik_hash" ] && [ "$check" = 0 ]; then
    rm -f "$bin/traefik"
  fi
  if [ ! -x "$bin/traefik" ] && [ "$check" = 0 ]; then
    lego=$(version_of github.com/go-acme/lego/v5 "$tools/traefik/go.mod")
    src=$(cd "$tools/traefik" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go mod download -json "github.com/go-acme/lego/v5@$lego" \
      | awk -F'"' '$2 == "Dir" { print $4 }')
    [ -d "$src/providers/dns" ] || { echo "testbin: lego $lego not found in the module cache ('$src')" >&2; exit 1; }
    work="$bin/traefik-build"
    rm -rf "$work" && mkdir -p "$work"
    cp -R "$src" "$work/lego" && chmod -R u+w "$work/lego"
    cp "$tools/traefik/lego-dns/zz_gen_dns_providers.go" "$work/lego/providers/dns/zz_gen_dns_providers.go"
    printf 'go 1.26.0\n\nuse %s\n\nreplace github.com/go-acme/lego/v5 %s => %s\n' \
      "$tools/traefik" "$lego" "$work/lego" > "$work/go.work"
  fi
  gowork="$bin/traefik-build/go.work" build traefik github.com/traefik/traefik/v3/cmd/traefik traefik
  unset gowork
  [ "$check" = 1 ] || { echo "$traefik_hash" > "$bin/.traefik.hash"; rm -rf "$bin/traefik-build"; }
fi

# The Gateway API CRDs (standard channel) that `meshroute export gateway-api` output is applied
# against: copied from the pinned module, checked against go.sum by the go command.
gwapi=$(version_of sigs.k8s.io/gateway-api "$tools/gatewayapi/go.mod")
gwapi_dir="$bin/gateway-api-$gwapi"
if wants gateway-api && [ ! -f "$gwapi_dir/.complete" ]; then
  if [ "$check" = 1 ]; then
    echo "testbin: $gwapi_dir is missing; fetch it with 'hack/testbin.sh gateway-api' (or 'make testbin')" >&2
    missing=1
  else
    echo "testbin: fetching the Gateway API $gwapi CRDs" >&2
    src=$(cd "$tools/gatewayapi" && GOFLAGS="${GOFLAGS:-} -mod=readonly" go mod download -json sigs.k8s.io/gateway-api \
      | awk -F'"' '$2 == "Dir" { print $4 }')
    [ -d "$src/config/crd/standard" ] || { echo "testbin: no CRDs in the gateway-api module at '$src'" >&2; exit 1; }
    rm -rf "$gwapi_dir" && mkdir -p "$gwapi_dir"
    # What meshroute's export writes, and what Traefik's Gateway provider watches besides.
    for kind in gatewayclasses gateways httproutes grpcroutes referencegrants backendtlspolicies tlsroutes; do
      cp "$src/config/crd/standard/gateway.networking.k8s.io_$kind.yaml" "$gwapi_dir/"
    done
    touch "$gwapi_dir/.complete"
  fi
fi

[ "$missing" = 0 ] || exit 1
echo "$bin"
