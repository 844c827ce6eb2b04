#!/usr/bin/env bash
# The system side of the README's test command: what pip cannot install.
#  - libosmesa6: headless MuJoCo rendering (OSMesa) for `meharl eval --video` and its test;
#  - chromium, chromium-driver: the headless browser in which the tests open `meharl report`'s index.html;
#  - Google Research Football: Debian packages and a one-time C++ build (scripts/install_football.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(libosmesa6 chromium chromium-driver)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install_simulators.sh: not root and no sudo: apt-get install ${missing[*]}" >&2; exit 1; fi
  $SUDO apt-get install -y -q "${missing[@]}" || { $SUDO apt-get update -q && $SUDO apt-get install -y -q "${missing[@]}"; } \
    || { echo "install_simulators.sh: apt-get could not install ${missing[*]}" >&2; exit 1; }
fi
bash scripts/install_football.sh
