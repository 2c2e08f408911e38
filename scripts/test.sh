#!/usr/bin/env bash
# The README's test command (what .ci/run runs after set-up): lint, format check, type check,
# then the whole test suite. Any failure fails the run; arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff check" >&2
.venv/bin/ruff check .
echo "== ruff format --check" >&2
.venv/bin/ruff format --check .
echo "== mypy (strict; config in pyproject.toml [tool.mypy])" >&2
.venv/bin/mypy
echo "== pytest" >&2
exec .venv/bin/python -m pytest -q "$@"
