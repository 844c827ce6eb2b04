#!/usr/bin/env bash
# Checks that scripts/install_football.sh works in a brand-new virtualenv with pip's cache off: it runs the
# script's Python preparation steps there and prepares gfootball's metadata as the real --no-build-isolation
# build does, without the 10-17 minute compile (install_football.sh --metadata-only).  pip's wheel cache
# hides a missing build step on a machine that once built gfootball; this check cannot be fooled by it.
# Needs the package registry; the virtualenv is removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
VENV=$(mktemp -d "${TMPDIR:-/tmp}/meharl-fresh-venv.XXXXXX")
trap 'rm -rf "$VENV"' EXIT
"$PYTHON" -m venv "$VENV" || { echo "check_fresh_venv.sh: $PYTHON -m venv failed" >&2; exit 1; }
PIP_NO_CACHE_DIR=1 PYTHON="$VENV/bin/python" bash scripts/install_football.sh --metadata-only
echo "check_fresh_venv.sh: install_football.sh prepares gfootball in a new virtualenv"
