#!/usr/bin/env bash
# The whole test suite, as CI runs it: clang-format check, -Werror build, unit tests, end-to-end tests, the web page in
# chromium, the ASan+UBSan build of the unit tests, fuzz smoke runs, and the aarch64 build under qemu. Stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export RKCHAT_FIXTURES_DIR="${RKCHAT_FIXTURES_DIR:-$(cd .. && pwd)/shared/fixtures}"
jobs=$(nproc)
stages=0
stage() { stages=$((stages + 1)); echo; echo "=== rkchat tests: $* ($(date +%H:%M:%S))"; }

stage "dependencies"
bash scripts/install-deps.sh
bash scripts/install-aarch64-deps.sh

stage "format (clang-format)"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run -Werror

stage "build (-Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"

stage "unit tests"
ctest --preset ci

stage "end-to-end tests"
model=$(bash scripts/fetch-smollm2.sh) || { echo "SmolLM2 unavailable: its tests will skip"; model=""; }
RKCHAT_BIN="$PWD/build/ci/rkchat" RKCHAT_BUILD_DIR="$PWD/build/ci" RKCHAT_SMOLLM2="$model" \
  .venv/bin/python -m pytest -q tests/e2e

stage "web page in chromium (Playwright)"
if [ -n "$model" ]; then
  (cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  RKCHAT_BIN="$PWD/build/ci/rkchat" RKCHAT_SMOLLM2="$model" RKCHAT_WEB_ARTIFACTS="$PWD/build/web-artifacts" \
    tests/web/node_modules/.bin/playwright test -c tests/web/playwright.config.js
else
  echo "SmolLM2 unavailable: the browser tests need it, skipped"
fi

stage "hostile inputs (tests/hostile)"
RKCHAT_BIN="$PWD/build/ci/rkchat" .venv/bin/python tests/hostile/replay.py --jobs "$jobs"

stage "ASan + UBSan unit tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan

stage "ThreadSanitizer: engine and backend tests"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs"
TSAN_OPTIONS=halt_on_error=1 ctest --preset tsan

if [ -x scripts/fuzz-smoke.sh ]; then
  stage "fuzzers (short runs)"
  bash scripts/fuzz-smoke.sh
fi

if [ -x scripts/test-aarch64.sh ]; then
  stage "aarch64 under qemu"
  bash scripts/test-aarch64.sh
fi
stage "packages (.deb for amd64 and arm64) and the install test in a Debian 12 arm64 root under qemu"
(cd build/ci && cpack -G DEB >/dev/null)
cmake --preset aarch64 >/dev/null
cmake --build --preset aarch64 -j "$jobs" --target rkchat
(cd build/aarch64 && cpack -G DEB >/dev/null)
bash tests/packaging/install-test.sh build/aarch64/rkchat_*_arm64.deb \
  "${model:-$RKCHAT_FIXTURES_DIR/tiny-qwen3-q8_0.gguf}"

stage "deployment: deploy-board over ssh to two namespaces playing boards (a chroot, and a systemd-nspawn boot)"
bash tests/deploy/deploy-board-test.sh build/ci/rkchat_*_amd64.deb "$RKCHAT_FIXTURES_DIR/tiny-qwen3-q8_0.gguf"

stage "deployment: three boards (network namespaces) behind HAProxy, one killed mid-run"
.venv/bin/python tests/deploy/fleet_test.py build/ci/rkchat "$RKCHAT_FIXTURES_DIR/tiny-qwen3-q8_0.gguf"

echo
echo "=== rkchat tests: every stage passed"
echo "stages: $stages passed, 0 failed"
