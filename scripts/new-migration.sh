#!/usr/bin/env bash
# Generate an alembic revision from the difference between hub/store/tables.py and the
# newest migration: ./scripts/new-migration.sh "what changed" [rev_id]
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
.venv/bin/python - "$tmp/gen.db" "$1" "${2:-}" <<'PY'
import sys
from alembic import command
from sqlalchemy import create_engine
from hub.store.db import alembic_config, migrate
url = f"sqlite:///{sys.argv[1]}"
migrate(create_engine(url))
command.revision(alembic_config(url), message=sys.argv[2], autogenerate=True, rev_id=sys.argv[3] or None)
PY
