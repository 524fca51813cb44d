#!/usr/bin/env bash
# hack/through.sh WANT_PATH WANT_HOST CURL_ARGS...: one request through a gateway to the bed's echo
# backends, and the virtual service, path and Host the backend saw. Fails unless the backend saw
# WANT_PATH for WANT_HOST; a gateway that is still loading its configuration (Traefik applies it a
# moment after it reports a route Accepted) is asked again for up to 30 s.
set -euo pipefail
want_path=$1 want_host=$2; shift 2
for _ in $(seq 1 60); do
  seen=$(curl -sS --max-time 5 "$@" 2>&1 || true)
  if got=$(python3 - "$seen" "$want_path" "$want_host" <<'PY'
import json, sys
seen, path, host = sys.argv[1:4]
try:
    d = json.loads(seen)
except ValueError:
    sys.exit(f"not an echo backend's answer: {seen[:200]}")
print(f"{d['virtualService']} {d['path']} Host {d['host']}")
sys.exit(0 if (d["path"], d["host"]) == (path, host) else 1)
PY
  ); then
    echo "    curl $* -> $got"
    exit 0
  fi
  sleep 0.5
done
echo "curl $*: the backend saw ${got:-nothing} after 30 s; App Mesh would send $want_path for $want_host" >&2
exit 1
