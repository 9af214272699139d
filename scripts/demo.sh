#!/usr/bin/env bash
# Anbu's demo command for a fresh machine: sets up .venv with the hub's dependencies, then
# runs `anbu demo` (embedded broker, hub on SQLite, three simulated households, dashboard).
# Arguments go to `anbu demo`, e.g. ./scripts/demo.sh --http 127.0.0.1:9090
set -euo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.."

STAGE="start"
stage() {
    STAGE="$1"
    printf '==> %s\n' "$1" >&2
}
die() {
    echo "demo.sh: ${STAGE}: $*" >&2
    exit 1
}

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_venv hub >&2

exec .venv/bin/anbu demo "$@"
