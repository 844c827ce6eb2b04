#!/usr/bin/env bash
# Prepare PKU-MARL/HARL (commit d539bad) for side_by_side.py: a checkout with compat.patch applied and a
# virtual environment of its own (requirements-harl.txt, then HARL from the checkout).  Safe to run again.
#
# Usage: benchmarks/harl/setup_harl.sh [HARL_DIR [HARL_VENV]]
#   HARL_DIR   the checkout (default: $HARL_DIR, else ./HARL); cloned there if it does not exist
#   HARL_VENV  the virtual environment (default: $HARL_VENV, else ./harl-venv); created if it does not exist
#   HARL_REPO  (environment) what to clone from (default: https://github.com/PKU-MARL/HARL.git)
#   PYTHON     (environment) the interpreter that creates the venv (default: python3)
set -euo pipefail

fail() { echo "setup_harl.sh: $*" >&2; exit 2; }

[ $# -le 2 ] || fail "at most two arguments (HARL_DIR HARL_VENV), got $#"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:-${HARL_DIR:-HARL}}
venv=${2:-${HARL_VENV:-harl-venv}}
repo=${HARL_REPO:-https://github.com/PKU-MARL/HARL.git}
python=${PYTHON:-python3}
commit=d539bad

command -v git >/dev/null || fail "git is not installed"
command -v "$python" >/dev/null || fail "no interpreter $python (set PYTHON)"

if [ ! -e "$src" ]; then
    echo "cloning $repo into $src"
    git clone --quiet --no-checkout "$repo" "$src"
    # Bi-DexHands' meshes are large and unused here: leave them out of the work tree
    git -C "$src" sparse-checkout set --no-cone '/*' '!harl/envs/dexhands/DexterousHands/assets/'
    git -C "$src" checkout --quiet "$commit"
fi
[ -f "$src/examples/train.py" ] || fail "$src exists but is not a HARL checkout (no examples/train.py)"
head=$(git -C "$src" rev-parse HEAD 2>/dev/null) || fail "$src is not a git checkout"
case $head in
    "$commit"*) ;;
    *) fail "$src is at commit ${head:0:7}, not $commit (compat.patch is made for $commit)" ;;
esac

if git -C "$src" apply --reverse --check "$here/compat.patch" 2>/dev/null; then
    echo "compat.patch is already applied in $src"
else
    git -C "$src" apply --check "$here/compat.patch" 2>/dev/null \
        || fail "compat.patch does not apply to $src (local changes?)"
    git -C "$src" apply "$here/compat.patch"
    echo "applied compat.patch to $src"
fi

if [ ! -x "$venv/bin/python" ]; then
    [ ! -e "$venv" ] || fail "$venv exists but is not a virtual environment"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet -r "$here/requirements-harl.txt"
"$venv/bin/python" -m pip install --quiet --no-deps -e "$src"
"$venv/bin/python" -c "import harl, mpe2, supersuit, torch" || fail "the venv $venv cannot import HARL's packages"

echo "ready; for side_by_side.py:"
echo "  export HARL_DIR=$(cd "$src" && pwd) HARL_PYTHON=$(cd "$venv" && pwd)/bin/python"
