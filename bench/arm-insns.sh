#!/usr/bin/env bash
# Instructions per prefill token and per decode token on a modelled Arm core, for rkchat's arm64 build and
# (optionally) llama.cpp's aarch64 build, on the same GGUF files. Arm speed cannot be timed here, only counted.
#
#   bench/arm-insns.sh [-c cortex-a76] [-l LLAMA_BIN_DIR] MODEL.gguf...
#
# - Counts guest instructions with the insn plugin of Debian's qemu source package (tests/plugin/insn.c), built
#   once into build/arm-insns/ against the package's include/qemu/qemu-plugin.h; runs the binaries under Debian's
#   dynamic qemu-aarch64 (qemu-user: the static one cannot load plugins). Needs libglib2.0-dev and a deb-src entry
#   for the system's Debian archive (added if missing, as sources.list.d/rkchat-src.sources).
# - rkchat: build/aarch64/rkchat (preset aarch64), `bench` with 1 thread and 1 repetition. llama.cpp: LLAMA_BIN_DIR
#   holds an aarch64 llama-bench (built by you; nothing here builds it), run with 1 thread, no warm-up.
# - Loading cancels out by differences of runs: prefill = (48-token prompt - 16-token prompt) / 32; decode =
#   (9 decoded tokens - 1) / 8 (rkchat: --gen-tokens 10 vs 2, the first token comes from the prefill; llama.cpp:
#   -n 9 vs -n 1). Both sides count every thread, so both run single-threaded.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$root/build/arm-insns"
cpu=cortex-a76
llama=""
rkchat="${RKCHAT_AARCH64:-$root/build/aarch64/rkchat}"  # the arm64 binary to count
while getopts "c:l:" o; do
  case "$o" in
    c) cpu="$OPTARG" ;;
    l) llama="$OPTARG" ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || {
  sed -n '2,8p' "$0"
  exit 2
}

die() {
  echo "arm-insns: $*" >&2
  exit 1
}
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The plugin: Debian's own qemu source, the version of the installed qemu-user.
build_plugin() {
  local so="$work/libinsn.so"
  [ -f "$so" ] && return
  command -v qemu-aarch64 >/dev/null || die "no qemu-aarch64: apt-get install qemu-user"
  pkg-config --exists glib-2.0 || die "no glib headers: apt-get install libglib2.0-dev"
  if ! apt-cache showsrc qemu >/dev/null 2>&1; then
    local src=/etc/apt/sources.list.d/rkchat-src.sources
    echo "arm-insns: adding deb-src entries ($src) for Debian's archive"
    sed -n '/^Types: deb$/,/^$/p' /etc/apt/sources.list.d/debian.sources | sed 's/^Types: deb$/Types: deb-src/' |
      sudo_if_needed tee "$src" >/dev/null
    sudo_if_needed apt-get update -qq
  fi
  mkdir -p "$work/src"
  (cd "$work/src" && apt-get source --download-only -qq qemu >/dev/null)
  local orig
  orig="$(ls "$work"/src/qemu_*.orig.tar.* | head -1)"
  tar -xf "$orig" -C "$work/src" --wildcards '*/tests/plugin/insn.c' '*/include/qemu/qemu-plugin.h'
  local dir
  dir="$(find "$work/src" -path '*/tests/plugin/insn.c' | head -1)"
  dir="${dir%/tests/plugin/insn.c}"
  # shellcheck disable=SC2046
  gcc -shared -fPIC -O2 -o "$so" "$dir/tests/plugin/insn.c" -I"$dir/include/qemu" $(pkg-config --cflags glib-2.0)
}

# Total guest instructions of one run: the plugin prints "insns: N" at exit (inline counting: exact, fast).
count() {
  qemu-aarch64 -cpu "$cpu" -plugin "$work/libinsn.so,inline=on" -d plugin -D "$work/plugin.log" "$@" >/dev/null 2>&1 ||
    die "failed: $*"
  sed -n 's/^insns: \([0-9]*\).*/\1/p' "$work/plugin.log" | tail -1
}

rkchat_run() { count "$rkchat" bench -m "$1" -t 1 -r 1 --prompt-tokens "$2" --gen-tokens "$3"; }
llama_run() { count "$llama/llama-bench" -m "$1" -t 1 -r 1 --no-warmup -p "$2" -n "$3" -fa 0; }

# "prefill decode" in millions of instructions per token, from runs (prompt, generated) of one runner.
per_token() {
  local runner=$1 model=$2 p16 p48 g9
  p16=$($runner "$model" 16 "$3")
  p48=$($runner "$model" 48 "$3")
  g9=$($runner "$model" 16 "$4")
  awk -v a="$p16" -v b="$p48" -v d="$g9" 'BEGIN { printf "%.1f %.1f", (b - a) / 32e6, (d - a) / 8e6 }'
}

mkdir -p "$work"
build_plugin
[ -x "$rkchat" ] || die "no $rkchat: cmake --preset aarch64 && ninja -C build/aarch64 rkchat"

printf '| model (%s, 1 thread) | prefill M insns/token rkchat | llama.cpp | ratio | decode M insns/token rkchat | llama.cpp | ratio |\n' "$cpu"
printf '|---|---|---|---|---|---|---|\n'
for m in "$@"; do
  read -r rp rd <<<"$(per_token rkchat_run "$m" 2 10)"
  if [ -n "$llama" ]; then
    read -r lp ld <<<"$(per_token llama_run "$m" 1 9)"
    awk -v n="$(basename "$m")" -v rp="$rp" -v rd="$rd" -v lp="$lp" -v ld="$ld" \
      'BEGIN { printf "| %s | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx |\n", n, rp, lp, rp / lp, rd, ld, rd / ld }'
  else
    printf '| %s | %s | - | - | %s | - | - |\n' "$(basename "$m")" "$rp" "$rd"
  fi
done
