#!/usr/bin/env bash
# Installs Google Research Football (gfootball, the `football` extra of setup.cfg) into the active Python.
#
# gfootball ships only a source distribution whose build compiles a C++ engine (10-17 minutes on 2 cores,
# see docs/simulators/football.md), so: (1) the Debian packages it links against are installed (apt-get, as root
# or through sudo), (2) its build/run-time Python needs are installed from the extra, (3) gfootball is built
# with `--no-build-isolation` (its build runs `python3 -c 'import psutil'` in this environment). pip keeps the
# built wheel in its wheel cache, so the build happens once per machine; later runs take seconds.
# Any failure stops with a message naming what to install; a build that fails installs nothing, and an engine
# that does not start after installing is uninstalled again.
#
# With --metadata-only it runs the Python preparation steps and prepares gfootball's metadata the way the build
# does (pip install --dry-run --no-build-isolation: seconds, no compiling, no Debian packages, nothing of
# gfootball installed): scripts/check_fresh_venv.sh runs it in a new virtualenv to catch a missing build step.
set -euo pipefail
METADATA_ONLY=0
case "${1:-}" in
  "") ;;
  --metadata-only) METADATA_ONLY=1 ;;
  *) echo "install_football.sh: unknown argument $1 (valid: --metadata-only)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"

fail() { echo "install_football.sh: $*" >&2; exit 1; }

# The Debian packages GRF's build needs (docs/simulators/football.md; GRF's README lists the same for Debian).
DEBS=(libgl1-mesa-dev libegl1-mesa-dev libsdl2-dev libsdl2-image-dev libsdl2-ttf-dev libsdl2-gfx-dev
      libboost-python-dev libboost-thread-dev libboost-system-dev libboost-filesystem-dev cmake g++)

missing_debs() {
  local p
  for p in "${DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

if [ "$METADATA_ONLY" -eq 0 ]; then  # the Debian packages (not needed to prepare metadata)
  command -v dpkg-query >/dev/null || fail "needs a Debian/Ubuntu system (dpkg-query not found); install by hand: ${DEBS[*]}"
  MISSING=$(missing_debs | xargs)
  if [ -n "$MISSING" ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
      fail "missing Debian packages and not root (no sudo): apt-get install $MISSING"; fi
    echo "install_football.sh: installing Debian packages: $MISSING"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q || fail "apt-get update failed; install by hand: apt-get install $MISSING"
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $MISSING \
      || fail "apt-get install failed; install by hand: apt-get install $MISSING"
    STILL=$(missing_debs | xargs)
    [ -z "$STILL" ] || fail "Debian packages still missing after apt-get: $STILL"
  fi
fi

# The extra's requirements, read from setup.cfg so the pins live in one place.
mapfile -t REQS < <("$PYTHON" - <<'PY'
import configparser
cfg = configparser.ConfigParser()
cfg.read("setup.cfg")
for line in cfg["options.extras_require"]["football"].splitlines():
    if line.strip():
        print(line.strip())
PY
)
GFOOTBALL=""; OTHERS=()
for r in "${REQS[@]}"; do
  case "$r" in gfootball*) GFOOTBALL="$r" ;; *) OTHERS+=("$r") ;; esac
done
[ -n "$GFOOTBALL" ] || fail "setup.cfg's football extra names no gfootball requirement"

# --no-build-isolation builds in this environment, so its build tools must be here too (a new venv has no wheel)
"$PYTHON" -m pip install "setuptools>=64" wheel "${OTHERS[@]}" || fail "pip could not install setuptools, wheel, ${OTHERS[*]}"
if [ "$METADATA_ONLY" -eq 1 ]; then
  "$PYTHON" -m pip install --dry-run --no-build-isolation "$GFOOTBALL" \
    || fail "preparing $GFOOTBALL's metadata failed: a build step is missing (see above)"
  echo "install_football.sh: $GFOOTBALL's metadata prepared (--metadata-only: nothing built)"
  exit 0
fi
echo "install_football.sh: building/installing $GFOOTBALL (first build on a machine: 10-17 min on 2 cores)"
"$PYTHON" -m pip install --no-build-isolation "$GFOOTBALL" \
  || fail "building $GFOOTBALL failed (see the compiler output above); the Debian packages are: ${DEBS[*]}"

# Smoke check: one engine starts and steps; otherwise take gfootball out again.
if ! "$PYTHON" - <<'PY'
import gfootball.env as football_env
env = football_env.create_environment(env_name="academy_run_pass_and_shoot_with_keeper",
                                      representation="simple115v2", number_of_left_players_agent_controls=2)
env.reset()
env.step([0, 0])
env.close()
PY
then
  "$PYTHON" -m pip uninstall -y gfootball >/dev/null 2>&1 || true
  fail "gfootball installed but its engine did not start (output above); it has been uninstalled"
fi
echo "install_football.sh: gfootball ready"
