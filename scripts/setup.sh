#!/usr/bin/env bash
# Sets rkchat up on a fresh Debian 12 machine: system packages, the release build, and a small real model
# (SmolLM2-135M-Instruct) in the user's cache folder, which `rkchat chat` opens when no model is named.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rkchat
bash scripts/fetch-smollm2.sh >/dev/null
echo "rkchat: ready: build/release/rkchat (default model: $(bash scripts/fetch-smollm2.sh))"
