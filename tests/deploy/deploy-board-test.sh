#!/usr/bin/env bash
# scripts/deploy-board against a board played by this machine: a Debian 12 root filesystem (mmdebstrap, this
# machine's architecture) running sshd in a network namespace of its own, reached over a veth pair on a private
# /30 that exists only for the test. Checks that a deploy with a key installs the package and the model, starts
# the server (the root has no systemd: the script's start-stop-daemon path), waits for /health, prints doctor and
# a one-prompt figure; and that without a key it fails at once instead of asking for a password. Needs root.
#
#   tests/deploy/deploy-board-test.sh PACKAGE.deb MODEL.gguf
set -uo pipefail

deb="$(realpath "${1:?usage: deploy-board-test.sh PACKAGE.deb MODEL.gguf}")"
model="$(realpath "${2:?usage: deploy-board-test.sh PACKAGE.deb MODEL.gguf}")"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
ns="rkchat-board-$$"
host_if="rkb$$h" board_if="rkb$$b"
host_ip=10.231.77.1 board_ip=10.231.77.2
work="$(mktemp -d /tmp/rkchat-deploy-test.XXXXXX)"
root="$work/root"
passed=0
failed=0

die() { echo "deploy-board-test: $*" >&2; exit 1; }
cleanup() {
  ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
  ip link del "$host_if" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  for m in proc dev/pts dev; do umount -l "$root/$m" 2>/dev/null; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
check() {  # name, command...
  local name=$1; shift
  if "$@" >"$work/check.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$work/check.log" | tail -n 25
  fi
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespace, chroot)"
command -v mmdebstrap >/dev/null || die "no mmdebstrap: run scripts/install-deps.sh"

echo "deploy-board-test: the board's root filesystem"
# The board has no route to the archive here: it gets the package's libraries now, as a board's image would have.
depends="$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/ //g')"
mmdebstrap --quiet --variant=apt --include="openssh-server,curl,$depends" bookworm "$root" \
  >"$work/mmdebstrap.log" 2>&1 || { tail -n 20 "$work/mmdebstrap.log"; die "mmdebstrap failed"; }
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/run/sshd" "$root/root/.ssh"
chroot "$root" ssh-keygen -A >/dev/null

# The deployer's key; the board accepts it for root and nothing else (no passwords at all).
ssh-keygen -q -t ed25519 -N '' -f "$work/id" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/other" >/dev/null
install -m 0600 "$work/id.pub" "$root/root/.ssh/authorized_keys"

ip netns add "$ns" || die "cannot create a network namespace"
ip link add "$host_if" type veth peer name "$board_if" || die "cannot create a veth pair"
ip link set "$board_if" netns "$ns"
ip addr add "$host_ip/30" dev "$host_if" && ip link set "$host_if" up
ip netns exec "$ns" ip addr add "$board_ip/30" dev "$board_if"
ip netns exec "$ns" ip link set "$board_if" up
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" chroot "$root" /usr/sbin/sshd -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
  -o PermitRootLogin=prohibit-password -o ListenAddress="$board_ip" || die "sshd did not start"

ssh_opts=(--ssh-option StrictHostKeyChecking=no --ssh-option UserKnownHostsFile=/dev/null
  --ssh-option LogLevel=ERROR)
deploy() { timeout 600 "$repo/scripts/deploy-board" "root@$board_ip" "${ssh_opts[@]}" "$@"; }

check "a deploy without the board's key fails at once, asking for nothing" sh -c "
  ! timeout 30 '$repo/scripts/deploy-board' root@$board_ip ${ssh_opts[*]} --ssh-option IdentityFile=$work/other \
    --ssh-option IdentitiesOnly=yes --deb '$deb' </dev/null >'$work/nokey.log' 2>&1 &&
  grep -q 'cannot log in' '$work/nokey.log'"

deploy --ssh-option "IdentityFile=$work/id" --ssh-option IdentitiesOnly=yes --deb "$deb" --model "$model" \
  --port 8090 </dev/null >"$work/deploy.log" 2>&1
status=$?
sed 's/^/  | /' "$work/deploy.log"
check "deploy-board exits 0" test "$status" -eq 0
check "the package is installed on the board" chroot "$root" dpkg-query -W rkchat
check "the model is in the board's models folder" test -f "$root/var/lib/rkchat/models/$(basename "$model")"
check "the service answers /health on the board" ip netns exec "$ns" curl -fsS "http://127.0.0.1:8090/health"
board_uid() { awk '/^Uid:/ {print $2}' "/proc/$(cat "$root/run/rkchat.pid")/status"; }
check "the service runs as the rkchat user" test "$(board_uid)" = "$(chroot "$root" id -u rkchat)"
check "doctor and a one-prompt figure are printed" sh -c \
  "grep -q '^deploy-board: doctor' '$work/deploy.log' && grep -qi 'tok/s' '$work/deploy.log'"

echo "deploy-board-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
