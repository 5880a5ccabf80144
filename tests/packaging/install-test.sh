#!/usr/bin/env bash
# Installs an rkchat .deb into a fresh Debian 12 root filesystem of the package's architecture (mmdebstrap from
# this machine's own apt sources; an arm64 root runs under qemu-user through binfmt_misc), then checks what a board
# owner would see: the package installs with its dependencies from the archive, makes its user, folders and key,
# `doctor` and `run` work, an edited config and the key survive a reinstall, systemd accepts the unit, and removal
# keeps the models. Needs root. Prints one line per check and "N passed, N failed".
#
#   tests/packaging/install-test.sh PACKAGE.deb MODEL.gguf
set -uo pipefail

deb="$(realpath "${1:?usage: install-test.sh PACKAGE.deb MODEL.gguf}")"
model="$(realpath "${2:?usage: install-test.sh PACKAGE.deb MODEL.gguf}")"
arch="$(dpkg-deb -f "$deb" Architecture)"
root="$(mktemp -d /tmp/rkchat-install-root.XXXXXX)"
passed=0
failed=0

die() { echo "install-test: $*" >&2; exit 1; }
cleanup() {
  for m in proc dev; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$root" "$root.log" "$root.mmdebstrap.log"
}
trap cleanup EXIT
check() {  # name, command...
  local name=$1; shift
  if "$@" >"$root.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$root.log" | tail -n 15
  fi
}
in_root() { chroot "$root" "$@"; }

[ "$(id -u)" -eq 0 ] || die "needs root (chroot, binfmt_misc)"
command -v mmdebstrap >/dev/null || die "no mmdebstrap: run scripts/install-deps.sh"

# A foreign root runs through qemu-user: register it with binfmt_misc (the F flag keeps the interpreter open, so
# it works inside the chroot too).
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  binfmt=/proc/sys/fs/binfmt_misc
  [ -e "$binfmt/register" ] || mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount binfmt_misc"
  case "$arch" in arm64) qemu=aarch64 ;; *) die "no qemu mapping for $arch" ;; esac
  [ -e "$binfmt/qemu-$qemu" ] || cat "/usr/lib/binfmt.d/qemu-$qemu.conf" >"$binfmt/register" ||
    die "cannot register qemu-$qemu with binfmt_misc"
fi

echo "install-test: Debian 12 $arch root in $root"
mmdebstrap --quiet --arch="$arch" --variant=apt --include=systemd --skip=cleanup/apt/lists bookworm "$root" >"$root.mmdebstrap.log" 2>&1 ||
  { tail -n 20 "$root.mmdebstrap.log"; die "mmdebstrap failed"; }
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
cp "$deb" "$root/tmp/rkchat.deb"
cp "$model" "$root/tmp/model.gguf"

check "apt installs the package and its dependencies" \
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends /tmp/rkchat.deb
check "a rkchat system user" sh -c "chroot '$root' id -u rkchat | awk '\$1 < 1000 {ok=1} END {exit !ok}'"
# (Names of the root's own users: stat runs inside it.)
check "models folder owned by rkchat" sh -c "[ \"\$(chroot '$root' stat -c %U /var/lib/rkchat/models)\" = rkchat ]"
check "API key readable by root and rkchat only" \
  sh -c "[ \"\$(chroot '$root' stat -c %a:%G /etc/rkchat/api-key)\" = 640:rkchat ]"
check "the man page is installed" test -s "$root/usr/share/man/man1/rkchat.1"
check "default config is a conffile" sh -c "chroot '$root' dpkg-query -W -f='\${Conffiles}' rkchat | grep -q /etc/default/rkchat"
check "rkchat doctor" in_root rkchat doctor
check "rkchat run answers" sh -c "chroot '$root' rkchat run -m /tmp/model.gguf -p 'What is the capital of France?' -n 8 --temp 0 | grep -q ."
check "synth finds its tokenizer" in_root rkchat synth --arch qwen3 --size tiny --type q8_0 -o /tmp/synth.gguf
check "systemd accepts the unit" \
  systemd-analyze verify --man=no --root="$root" "$root/usr/lib/systemd/system/rkchat.service"

key="$(cat "$root/etc/rkchat/api-key")"
echo '# edited by the owner' >>"$root/etc/default/rkchat"
check "reinstall keeps an edited config" sh -c "chroot '$root' dpkg -i /tmp/rkchat.deb && grep -q 'edited by the owner' '$root/etc/default/rkchat'"
check "reinstall keeps the API key" sh -c "[ \"\$(cat '$root/etc/rkchat/api-key')\" = '$key' ]"
cp "$model" "$root/var/lib/rkchat/models/kept.gguf"
check "purge removes the program, keeps the models" sh -c \
  "chroot '$root' dpkg --purge rkchat && [ ! -e '$root/usr/bin/rkchat' ] && [ -f '$root/var/lib/rkchat/models/kept.gguf' ]"

echo "install-test ($arch): $passed passed, $failed failed"
[ "$failed" -eq 0 ]
