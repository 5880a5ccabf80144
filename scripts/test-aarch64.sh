#!/usr/bin/env bash
# Cross-builds the tests and the rkchat binary for aarch64 (preset "aarch64") and runs the tests under qemu-user as
# two CPUs: a Cortex-A76 (dot product: the neon-dot kernels) and a Cortex-A53 (no dot product: the plain NEON path);
# then the binary a board runs, as a Cortex-A76 on SmolLM2 (scripts/fetch-smollm2.sh): `run`, a short `bench`, the
# console `chat` fed from a pipe, and `serve` on a free loopback port (/health, an answer plain and streamed over
# /v1/chat/completions, then SIGTERM). Fails if a build or a test fails, if the two CPUs do not pick neon-dot and
# neon, if a command fails or prints nothing, or if serve does not stop with status 0 on SIGTERM.
# Needs scripts/install-aarch64-deps.sh.
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

# The whole binary on a real model, as a board runs it. qemu is slow: short answers, a small context, two threads.
smollm2="$(bash "$root/scripts/fetch-smollm2.sh" | tail -n 1)"
a76=(qemu-aarch64-static -cpu cortex-a76 "$build/rkchat")
small=(-m "$smollm2" -t 2 -c 512)
question="What is the capital of France?"
record() {  # status, name, detail
  if [ "$1" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  summary+=("$(printf '%-4s %-11s %-14s %s' "$1" cortex-a76 "$2" "$(cut -c1-70 <<<"$3")")")
}
check_binary() {  # name, pattern stdout must match, rkchat arguments... (stdin is the command's)
  local name=$1 want=$2 out="$logdir/rkchat-$1.cortex-a76.out" status=FAIL
  shift 2
  if "${a76[@]}" "$@" >"$out" 2>"$out.err" && grep -Eq "$want" "$out"; then status=PASS; else cat "$out" "$out.err"; fi
  record "$status" "rkchat $name" "$(tail -n 1 "$out")"
}
# run: a greedy answer (stdout must hold words); bench: one short repetition (its table must give a decode figure);
# chat: the console without a terminal reads one message a line and leaves at /exit with status 0.
check_binary run '[[:alpha:]]{2}' run "${small[@]}" --temp 0 -n 12 -p "$question" </dev/null
check_binary bench 'gguf +2 +[0-9.]+ +[0-9.]+' bench -m "$smollm2" -t 2 -r 1 --prompt-tokens 16 --gen-tokens 4 \
  </dev/null
check_binary chat '[[:alpha:]]{2}' chat "${small[@]}" --temp 0 -n 12 <<<"$question"$'\n/exit'

# serve: the server as the service starts it, on a port the kernel picks (printed in its log).
serve_log="$logdir/rkchat-serve.cortex-a76.log"
serve_pid=""
stop_serve() { if [ -n "$serve_pid" ]; then kill -9 "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; fi; }
trap stop_serve EXIT
trap 'exit 130' INT TERM
"${a76[@]}" serve "${small[@]}" --host 127.0.0.1 --port 0 </dev/null >"$serve_log" 2>&1 &
serve_pid=$!
serve_gone() {  # exited (a zombie until waited for: kill -0 would still succeed)
  local state
  state="$(cut -d' ' -f3 "/proc/$serve_pid/stat" 2>/dev/null)"
  [ -z "$state" ] || [ "$state" = Z ]
}
wait_for() {  # seconds, command...: runs the command each second while it returns 1; 0 is success, else give up
  local left=$1 status
  shift
  for (( ; left > 0; left--)); do
    "$@"
    status=$?
    [ "$status" -eq 1 ] || return "$status"
    sleep 1
  done
  return 1
}
port=""
health=""  # the last /health reply, or curl's error
serve_ok() {  # while serve runs: learns its port from the log, then asks /health
  ! serve_gone || return 2
  [ -n "$port" ] || port="$(sed -n 's|^rkchat: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$serve_log")"
  [ -n "$port" ] || return 1
  health="$(curl -sS --max-time 5 "http://127.0.0.1:$port/health" 2>&1)"
  [[ "$health" == *'"status":"ok"'* ]]
}
up=false
if wait_for 300 serve_ok; then
  up=true
  record PASS "serve /health" "ok on port $port"
else
  record FAIL "serve /health" "not ok within 300 s (port ${port:-unknown}): $health"
  cat "$serve_log"
fi
completion() {  # stream (true/false), output file
  curl -sS --max-time 300 -H 'Content-Type: application/json' -o "$2" "http://127.0.0.1:$port/v1/chat/completions" \
    -d '{"model":"smollm2","max_tokens":12,"temperature":0,"stream":'"$1"',
         "messages":[{"role":"user","content":"'"$question"'"}]}'
}
# The plain answer's content, and the streamed one's deltas joined ("" when the reply does not parse).
answer_of() {
  python3 - "$@" <<'PY'
import json, sys
path, streamed = sys.argv[1], sys.argv[2] == "true"
try:
    text = open(path).read()
    if not streamed:
        print(json.loads(text)["choices"][0]["message"]["content"].strip())
    else:
        chunks = [json.loads(l[6:]) for l in text.splitlines() if l.startswith("data: {")]
        print("".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]).strip())
except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
    print(f"unparsed reply: {e}", file=sys.stderr)
PY
}
for stream in false true; do
  out="$logdir/rkchat-serve-stream-$stream.out"
  name="serve chat"
  [ "$stream" = false ] || name="serve stream"
  text=""
  rm -f "$out"
  ! $up || { completion "$stream" "$out" && text="$(answer_of "$out" "$stream")"; }
  # A stream must end with the [DONE] line; an answer (either way) must hold words.
  if grep -Eq '[[:alpha:]]{2}' <<<"$text" &&
    { [ "$stream" = false ] || [ "$(grep -v '^\s*$' "$out" | tail -n 1 | tr -d '\r')" = "data: [DONE]" ]; }; then
    record PASS "$name" "${text//$'\n'/ }"
  else
    record FAIL "$name" "empty answer or no [DONE]"
    cat "$out" 2>/dev/null
  fi
done
# SIGTERM: the server stops and exits with status 0 (what systemd's stop expects).
kill -TERM "$serve_pid" 2>/dev/null
if wait_for 60 serve_gone; then
  wait "$serve_pid"
  status=$?
  serve_pid=""
  if [ "$status" -eq 0 ]; then record PASS "serve SIGTERM" "exit status 0"; else
    record FAIL "serve SIGTERM" "exit status $status"
    tail -n 20 "$serve_log"
  fi
else
  record FAIL "serve SIGTERM" "still running 60 s after SIGTERM (killed)"
  stop_serve
fi

echo "test-aarch64: summary (logs in $logdir)"
printf '  %s\n' "${summary[@]}"
echo "aarch64: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
