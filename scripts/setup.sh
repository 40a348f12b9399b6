#!/usr/bin/env bash
# Sets up BEND Studio on a fresh Debian/Ubuntu machine: system packages (Qt runtime libraries and
# Debian's Fashion-MNIST), a virtual environment in .venv, and the package in editable mode.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

# The app needs the [gui] extra (Qt); a headless node can `pip install .` for the core and `bend` alone.
extras="[gui]"
[ "${1:-}" = "--test" ] && extras="[gui,test,cluster]"   # the tests start a real local Ray cluster

apt_packages=(dataset-fashion-mnist libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1
              libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
              libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1)
missing=()
for p in "${apt_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        echo "setup: installing ${missing[*]}"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: no apt-get; install the Qt runtime libraries and Fashion-MNIST yourself: ${missing[*]}" >&2
    fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
# torch and torchvision resolve to a matched pair from the registry (CUDA builds; they run on the CPU too).
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".${extras}"
echo "setup: ready ($(.venv/bin/python -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)'))"
