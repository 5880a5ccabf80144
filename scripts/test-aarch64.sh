#!/usr/bin/env bash
# Cross-builds the tests and the rkchat binary for aarch64 (preset "aarch64") and runs the tests under qemu-user as
# two CPUs: a Cortex-A76 (dot product: the neon-dot kernels) and a Cortex-A53 (no dot product: the plain NEON path);
# then the binary a board runs, as a Cortex-A76 on SmolLM2 (scripts/fetch-smollm2.sh): `run` and a short `bench`.
# Fails if a build or a test fails, if the two CPUs do not pick neon-dot and neon, or if run/bench fail or print
# nothing. Needs scripts/install-aarch64-deps.sh.
# RKCHAT_JOBS sets the build parallelism (default 2).
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build/aarch64"
cpus=(cortex-a76 cortex-a53)
declare -A expected_isa=([cortex-a76]=neon-dot [cortex-a53]=neon)

die() {
  echo "test-aarch64: $*" >&2
  exit 1
}

command -v aarch64-linux-gnu-g++ >/dev/null || die "no aarch64-linux-gnu-g++: run scripts/install-aarch64-deps.sh"
command -v qemu-aarch64-static >/dev/null || die "no qemu-aarch64-static: run scripts/install-aarch64-deps.sh"

mkdir -p "$build"
(cd "$root" && cmake --preset aarch64 >"$build/configure.log" 2>&1) ||
  { cat "$build/configure.log"; die "configure failed (log above)"; }

# Only the test binaries that exist in this tree (test_kernels always).
# (The list is captured first: with pipefail, `ninja | grep -q` fails when grep stops reading early.)
targets=(test_kernels)
all_targets="$(ninja -C "$build" -t targets all 2>/dev/null)"
for t in test_model test_backends; do
  if grep -q "^$t:" <<<"$all_targets"; then targets+=("$t"); fi
done
echo "test-aarch64: building ${targets[*]}"
nice ninja -C "$build" -j"${RKCHAT_JOBS:-2}" "${targets[@]}" rkchat || die "build failed"

passed=0
failed=0
summary=()
logdir="$build/qemu-logs"
mkdir -p "$logdir"
for cpu in "${cpus[@]}"; do
  for t in "${targets[@]}"; do
    log="$logdir/$t.$cpu.log"
    if qemu-aarch64-static -cpu "$cpu" "$build/tests/$t" --gtest_brief=1 >"$log" 2>&1; then
      status=PASS
    else
      status=FAIL
      cat "$log"
    fi
    detail="$(grep -Eo '\[  PASSED  \] [0-9]+ tests?' "$log" | grep -Eo '[0-9]+' || true) tests passed"
    if [ "$t" = test_kernels ]; then
      isa="$(sed -n 's/^kquants: active ISA \([^;]*\);.*/\1/p' "$log")"
      detail="$detail, ISA ${isa:-unknown}"
      if [ "$isa" != "${expected_isa[$cpu]}" ]; then
        status=FAIL
        detail="$detail (expected ${expected_isa[$cpu]})"
      fi
    fi
    if [ "$status" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    summary+=("$(printf '%-4s %-11s %-14s %s' "$status" "$cpu" "$t" "$detail")")
  done
done

# The whole binary on a real model, as a board runs it: a greedy answer (stdout must hold words), then one short
# bench repetition (its table must give a decode figure).
smollm2="$(bash "$root/scripts/fetch-smollm2.sh" | tail -n 1)"
a76=(qemu-aarch64-static -cpu cortex-a76 "$build/rkchat")
check_binary() {  # name, pattern stdout must match, rkchat arguments...
  local name=$1 want=$2 out="$logdir/rkchat-$1.cortex-a76.out" status=FAIL
  shift 2
  if "${a76[@]}" "$@" >"$out" 2>"$out.err" && grep -Eq "$want" "$out"; then status=PASS; fi
  if [ "$status" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)) && cat "$out" "$out.err"; fi
  summary+=("$(printf '%-4s %-11s %-14s %s' "$status" cortex-a76 "rkchat $name" "$(tail -n 1 "$out" | cut -c1-70)")")
}
check_binary run '[[:alpha:]]{2}' run -m "$smollm2" -t 2 --temp 0 -n 12 -p "What is the capital of France?"
check_binary bench 'gguf +2 +[0-9.]+ +[0-9.]+' bench -m "$smollm2" -t 2 -r 1 --prompt-tokens 16 --gen-tokens 4

echo "test-aarch64: summary (logs in $logdir)"
printf '  %s\n' "${summary[@]}"
echo "aarch64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
