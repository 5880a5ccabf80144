#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks to build and test rkchat.
# Everything comes from Debian's packages and PyPI; nothing else is downloaded.
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev googletest libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libspdlog-dev libfmt-dev
  libpcre2-dev libedit-dev tmux
  clang-14 libclang-rt-14-dev clang-format
  g++-aarch64-linux-gnu qemu-user-static
  python3 python3-pip python3-venv
  # packaging and deployment tests: a Debian root filesystem, the balancer, ssh to namespaces playing boards (one
  # booted with systemd by systemd-nspawn)
  mmdebstrap arch-test haproxy openssh-client iproute2 systemd systemd-container curl
  # the web page: its embedded scripts, and the browser its tests drive
  libjs-marked libjs-highlight.js chromium
)
# requests: the reference system's console client (console_chat.py) speaks through it; its protocol is tested with it.
PIP_PACKAGES=(pytest pexpect jinja2 numpy gguf openai ollama anthropic requests)

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "rkchat: installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The web page's browser tests run Playwright from npm; a machine with its own Node.js (with npm) keeps it.
if ! command -v npm >/dev/null; then
  echo "rkchat: installing Node.js and npm"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends nodejs npm
fi

# Python test tools live in a venv inside the checkout so the system Python stays untouched.
venv="$(dirname "$0")/../.venv"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! "$venv/bin/python" -c "import pytest, pexpect, jinja2, numpy, gguf, openai, ollama, anthropic, requests" 2>/dev/null; then
  echo "rkchat: installing Python test tools: ${PIP_PACKAGES[*]}"
  "$venv/bin/pip" install -q "${PIP_PACKAGES[@]}"
fi
