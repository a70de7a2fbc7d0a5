#!/usr/bin/env bash
# The runtime floor (scripts/bench-floor.ts) as a candidate of the peer benchmark harness:
#
#   ../shared/bench/bench.sh --candidate "floor=FLOOR=node-http2-fetch $PWD/scripts/bench-floor-candidate.sh"
#
# FLOOR: node-http2-fetch (default), node-http2-hello or bun-serve-fetch.
set -euo pipefail
: "${PORT:?}" "${UPSTREAM:?}" "${CERT:?}" "${KEY:?}" "${CA:?}"
REPO="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"
exec "$REPO/node_modules/.bin/bun" "$REPO/scripts/bench-floor.ts"
