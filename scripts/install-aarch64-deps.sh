#!/usr/bin/env bash
# Installs what the aarch64 cross build needs on Debian 12 (preset "aarch64", scripts/test-aarch64.sh): the cross
# compiler, qemu, and Debian's arm64 multiarch dev packages of the libraries the tree links (fmt, PCRE2,
# GoogleTest, cpp-httplib and OpenSSL, libedit for the console); header-only ones (nlohmann-json, CLI11) are shared
# with the host. Everything comes from Debian's archive.
set -euo pipefail

HOST_PACKAGES=(cmake ninja-build pkg-config g++-aarch64-linux-gnu qemu-user-static nlohmann-json3-dev libcli11-dev)
ARM64_PACKAGES=(libc6-dev:arm64 libstdc++6:arm64 libfmt-dev:arm64 libpcre2-dev:arm64 libgtest-dev:arm64
  libcpp-httplib-dev:arm64 libssl-dev:arm64 libedit-dev:arm64)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

update=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "rkchat: enabling the arm64 architecture for multiarch packages"
  sudo_if_needed dpkg --add-architecture arm64
  update=1
fi
missing=()
for p in "${HOST_PACKAGES[@]}" "${ARM64_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "rkchat: installing Debian packages: ${missing[*]}"
  update=1
fi
if [ "$update" -eq 1 ]; then sudo_if_needed apt-get update -qq; fi
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
