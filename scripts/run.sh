#!/usr/bin/env bash
# The README's quick start: `bash scripts/run.sh dev` or `bash scripts/run.sh test`.
# Installs whatever is missing (scripts/setup.sh), then runs the npm script with Node 22 on PATH.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
exec npm run --silent "$@"
