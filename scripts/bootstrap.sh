#!/usr/bin/env bash
# Installs the Debian packages that building and testing bp needs. Idempotent: apt runs only when
# something is missing. Run as root (or with sudo available) on Debian 12.
set -euo pipefail

packages=(
  cmake ninja-build g++ python3 python3-numpy python3-pytest git
  llvm-19-dev llvm-19-tools libzstd-dev zlib1g-dev
  antlr4 libantlr4-runtime-dev uuid-dev
  googletest libgtest-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev graphviz libadolc-dev lld
)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
