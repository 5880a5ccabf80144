#!/usr/bin/env bash
# Short libFuzzer runs of every parser (GGUF, tokenizer, chat templates, messages JSON) with clang's ASan+UBSan,
# from the committed seeds and the generated regression seeds of tests/fuzz/seeds.py. A crash, leak or hang
# fails the run. FUZZ_SECONDS sets the time per target (default 30; 4 targets, about 2 minutes in all).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-30}"
shared="$(cd .. && pwd)/shared/fixtures"
build=build/fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DRKCHAT_BUILD_FUZZ=ON -DRKCHAT_BUILD_TESTS=OFF -DRKCHAT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target fuzz_gguf fuzz_tokenizer fuzz_template fuzz_messages -j "$(nproc)"
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 tests/fuzz/seeds.py template "$seeds/template"
python3 tests/fuzz/seeds.py messages "$seeds/messages"

run() {  # target, seed files...
  local target=$1; shift
  local corpus
  corpus=$(mktemp -d)
  for seed in "$@"; do [ -f "$seed" ] && cp "$seed" "$corpus"/; done
  echo "fuzz: $target for ${seconds}s (max_len $max_len)"
  local log="$build/$target.log" rc=0
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 "${extra[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  rm -rf "$corpus"
  grep -E "^stat::number_of_executed_units" "$log" || true
  if [ "$rc" -ne 0 ]; then tail -n 60 "$log"; echo "fuzz: $target FAILED (exit $rc)"; return 1; fi
}

extra=()
max_len=8192
run fuzz_gguf tests/data/gguf/*.gguf
run fuzz_tokenizer "$shared"/tokenizer/*.inp
# The chat seeds include 200 KB chains and nestings (the depth limits' regressions): the length cap admits them.
max_len=262144
run fuzz_messages "$seeds"/messages/*
extra=(-dict=tests/fuzz/jinja.dict)
run fuzz_template "$shared"/templates/*.jinja "$seeds"/template/*
echo "fuzz: 4 passed, 0 failed"
