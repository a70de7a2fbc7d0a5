#!/usr/bin/env bash
# Portico's candidate launcher for the peer benchmark harness (README, "Benchmarks"), when that
# harness is checked out beside this repository:
#
#   ../shared/bench/bench.sh --candidate "portico=$PWD/scripts/bench-candidate.sh"
#
# PORTICO_BINARY=dist/portico-linux-x64 (absolute path) runs that compiled binary instead of
# Bun on the sources:
#
#   --candidate "portico-binary=PORTICO_BINARY=$PWD/dist/portico-linux-x64 $PWD/scripts/bench-candidate.sh"
#
# PORTICO_ARGS adds arguments to `portico run` (word-split), e.g. PORTICO_ARGS="--admin off" when
# the admin port 15000 is taken on the machine. Portico runs with `--access-log off` by default
# here: the harness runs its peers without access logs (nginx `access_log off`, caddy's log at
# WARN, haproxy without a log target), so that is the like-for-like row. PORTICO_ACCESS_LOG=on
# keeps Portico's default log (JSON lines on stdout).
#
# PORTICO_REQUEST_TARGET=whatwg renders `settings.requestTarget: whatwg` and `websocket: false` on
# the route: the opt-in that lets Bun serve SIMPLE hosts with Bun.serve (`bun-sni`) instead of
# node:http2 (README, "The request target"), to measure what it buys:
#
#   --candidate "portico-whatwg=PORTICO_REQUEST_TARGET=whatwg $PWD/scripts/bench-candidate.sh"
#
# Follows the harness's "Candidate contract": runs in $RUNDIR with env PORT,
# MTLS_PORT, HTTP_PORT, UPSTREAM, CERT (leaf+CA chain), KEY, CA, SERVER_NAME; renders
# $RUNDIR/routes.yaml and execs Portico in the foreground (bench.sh stops it with SIGTERM).
set -euo pipefail
: "${RUNDIR:?}" "${PORT:?}" "${MTLS_PORT:?}" "${HTTP_PORT:?}" "${UPSTREAM:?}" "${CERT:?}" "${KEY:?}" "${CA:?}" "${SERVER_NAME:?}"

REPO="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
BUN="$REPO/node_modules/.bin/bun"
[[ -x "$BUN" ]] || { echo "bench-candidate: $BUN not found (run npm install in $REPO)" >&2; exit 1; }

# The $PORT listener is listed first: the HTTP listener redirects to the first HTTPS listener
# that serves the host, and bench.sh expects 301 -> https://$SERVER_NAME:$PORT$uri.
SETTINGS=""
ROUTE_EXTRA=""
if [[ "${PORTICO_REQUEST_TARGET:-exact}" == whatwg ]]; then
  SETTINGS="settings: { requestTarget: whatwg }"
  ROUTE_EXTRA=", websocket: false"
fi

cat > "$RUNDIR/routes.yaml" <<YAML
# rendered by $REPO/scripts/bench-candidate.sh
$SETTINGS
listeners:
  - name: https
    address: 127.0.0.1
    port: $PORT
    protocol: HTTPS
    servers:
      - hosts: [$SERVER_NAME]
        tls: { mode: SIMPLE, credential: bench }
  - name: https-mtls
    address: 127.0.0.1
    port: $MTLS_PORT
    protocol: HTTPS
    servers:
      - hosts: [$SERVER_NAME]
        tls: { mode: MUTUAL, credential: bench-mtls }
  - name: http
    address: 127.0.0.1
    port: $HTTP_PORT
    protocol: HTTP
    hosts: [$SERVER_NAME]
    httpsRedirect: true

credentials:
  bench: { cert: "$CERT", key: "$KEY" }
  bench-mtls: { cert: "$CERT", key: "$KEY", ca: "$CA" }

services:
  upstream: http://$UPSTREAM

routes:
  - hosts: [$SERVER_NAME]
    http:
      - { route: [{ destination: upstream }]$ROUTE_EXTRA }
YAML

LOG_ARGS="--access-log off"
[[ "${PORTICO_ACCESS_LOG:-off}" == on ]] && LOG_ARGS=""

# shellcheck disable=SC2086 # PORTICO_ARGS and LOG_ARGS are lists of words
if [[ -n "${PORTICO_BINARY:-}" ]]; then
  exec "$PORTICO_BINARY" run -c "$RUNDIR/routes.yaml" $LOG_ARGS ${PORTICO_ARGS:-}
fi
# shellcheck disable=SC2086
exec "$BUN" "$REPO/src/main.ts" run -c "$RUNDIR/routes.yaml" $LOG_ARGS ${PORTICO_ARGS:-}
