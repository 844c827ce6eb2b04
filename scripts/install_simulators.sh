#!/usr/bin/env bash
# The system side of the README's test command: what pip cannot install.
#  - libosmesa6: headless MuJoCo rendering (OSMesa) for `meharl eval --video` and its test;
#  - Google Research Football: Debian packages and a one-time C++ build (scripts/install_football.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg-query -W -f='${Status}' libosmesa6 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install_simulators.sh: not root and no sudo: apt-get install libosmesa6" >&2; exit 1; fi
  $SUDO apt-get install -y -q libosmesa6 || { $SUDO apt-get update -q && $SUDO apt-get install -y -q libosmesa6; } \
    || { echo "install_simulators.sh: apt-get could not install libosmesa6 (headless MuJoCo rendering)" >&2; exit 1; }
fi
bash scripts/install_football.sh
