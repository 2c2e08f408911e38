#!/usr/bin/env bash
# Run the whole test suite (what .ci/run runs after set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q "$@"
