#!/usr/bin/env bash
# Installs the Debian packages ConvZoo builds against, when any is missing.
# Run by `make` before every build; does nothing when everything is present.
set -euo pipefail
packages=(pkg-config libopenblas-dev libhdf5-dev libjpeg62-turbo-dev libpng-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing missing system packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
