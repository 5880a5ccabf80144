#!/usr/bin/env bash
# scripts/deploy-board against two boards played by this machine, each a Debian 12 root filesystem (mmdebstrap, this
# machine's architecture) running sshd in a network namespace of its own, reached over a veth pair on a private
# /30 that exists only for the test:
#  - a plain board: sshd in a chroot, no systemd (the script's start-stop-daemon path);
#  - a systemd board: the same root booted by systemd-nspawn (systemd as its PID 1, sshd as a unit), so the
#    script's systemd path runs and the shipped unit starts under systemd with its sandboxing.
# Checks that a deploy with a key installs the package and the model, starts the server as the rkchat user, waits
# for /health, prints doctor and a one-prompt figure; that without a key it fails at once instead of asking for a
# password; and on the systemd board that the unit is active and enabled and comes back after a kill -9
# (Restart=on-failure). Needs root.
#
#   tests/deploy/deploy-board-test.sh PACKAGE.deb MODEL.gguf
set -uo pipefail

deb="$(realpath "${1:?usage: deploy-board-test.sh PACKAGE.deb MODEL.gguf}")"
model="$(realpath "${2:?usage: deploy-board-test.sh PACKAGE.deb MODEL.gguf}")"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/rkchat-deploy-test.XXXXXX)"
root="$work/root"                # the plain board's root
systemd_root="$work/root-systemd" # the systemd board's root: a copy made before the plain board changes its own
port=8090
nspawn_pid=""
passed=0
failed=0

# Board i (0: plain, 1: systemd) lives in namespace ns_i, with the board at 10.231.77.(4i+2) and the host at .(4i+1).
ns_of() { echo "rkchat-board-$$-$1"; }
ip_of() { echo "10.231.77.$((4 * $1 + 2))"; }
host_if_of() { echo "rkb$1$$h"; }

die() { echo "deploy-board-test: $*" >&2; exit 1; }
cleanup() {
  if [ -n "$nspawn_pid" ]; then  # the systemd board: SIGTERM powers it off cleanly; 30 s, then no mercy
    kill -TERM "$nspawn_pid" 2>/dev/null
    for _ in $(seq 1 30); do
      case "$(cut -d' ' -f3 "/proc/$nspawn_pid/stat" 2>/dev/null)" in '' | Z) break ;; esac  # gone, or a zombie
      sleep 1
    done
    kill -9 "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
  fi
  for i in 0 1; do
    ip netns pids "$(ns_of "$i")" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip link del "$(host_if_of "$i")" 2>/dev/null
    ip netns del "$(ns_of "$i")" 2>/dev/null
  done
  for m in proc dev/pts dev; do umount -l "$root/$m" 2>/dev/null; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
check() {  # name, command...
  local name=$1; shift
  if "$@" >"$work/check.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name"; sed 's/^/     /' "$work/check.log" | tail -n 25
  fi
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, chroot, systemd-nspawn)"
command -v mmdebstrap >/dev/null || die "no mmdebstrap: run scripts/install-deps.sh"
command -v systemd-nspawn >/dev/null || die "no systemd-nspawn: run scripts/install-deps.sh"

echo "deploy-board-test: the boards' root filesystem"
# The boards have no route to the archive here: they get the package's libraries now, as a board's image would.
depends="$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/ //g')"
mmdebstrap --quiet --variant=apt --include="systemd,systemd-sysv,dbus,openssh-server,curl,$depends" bookworm \
  "$root" >"$work/mmdebstrap.log" 2>&1 || { tail -n 20 "$work/mmdebstrap.log"; die "mmdebstrap failed"; }
chroot "$root" ssh-keygen -A >/dev/null

# The deployer's key; the boards accept it for root and nothing else (no passwords at all).
ssh-keygen -q -t ed25519 -N '' -f "$work/id" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$work/other" >/dev/null
mkdir -p "$root/root/.ssh"
install -m 0600 "$work/id.pub" "$root/root/.ssh/authorized_keys"
printf '%s\n' "PasswordAuthentication no" "KbdInteractiveAuthentication no" "PermitRootLogin prohibit-password" \
  >"$root/etc/ssh/sshd_config.d/board.conf"
cp -a "$root" "$systemd_root"

for i in 0 1; do
  ns="$(ns_of "$i")" host_if="$(host_if_of "$i")" board_if="rkb$i$$b"
  ip netns add "$ns" || die "cannot create a network namespace"
  ip link add "$host_if" type veth peer name "$board_if" || die "cannot create a veth pair"
  ip link set "$board_if" netns "$ns"
  ip addr add "10.231.77.$((4 * i + 1))/30" dev "$host_if" && ip link set "$host_if" up
  ip netns exec "$ns" ip addr add "$(ip_of "$i")/30" dev "$board_if"
  ip netns exec "$ns" ip link set "$board_if" up
  ip netns exec "$ns" ip link set lo up
done

# The plain board: sshd in a chroot.
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/run/sshd"
ip netns exec "$(ns_of 0)" chroot "$root" /usr/sbin/sshd || die "sshd did not start on the plain board"

# The systemd board: booted in its network namespace. --keep-unit --register=no: nspawn would otherwise ask the
# host's systemd (over D-Bus) for a scope and a machine registration, and a CI machine may be a container without
# systemd running.
systemd-nspawn --quiet --directory="$systemd_root" --machine="rkchat-board-$$" --keep-unit --register=no \
  --network-namespace-path="/run/netns/$(ns_of 1)" --boot </dev/null >"$work/boot.log" 2>&1 &
nspawn_pid=$!

ssh_opts=(StrictHostKeyChecking=no UserKnownHostsFile=/dev/null LogLevel=ERROR IdentityFile="$work/id"
  IdentitiesOnly=yes)
deploy_opts=()
for o in "${ssh_opts[@]}"; do deploy_opts+=(--ssh-option "$o"); done
on_board() {  # index, command...: runs the command as root on the board over ssh
  local i=$1; shift
  ssh -o BatchMode=yes "${ssh_opts[@]/#/-o}" "root@$(ip_of "$i")" "$@"
}
deploy() {  # index: deploys the package and the model to the board; its output goes to $work/deploy-INDEX.log
  timeout 600 "$repo/scripts/deploy-board" "root@$(ip_of "$1")" "${deploy_opts[@]}" --deb "$deb" \
    --model "$model" --port "$port" </dev/null >"$work/deploy-$1.log" 2>&1
  local status=$?
  sed 's/^/  | /' "$work/deploy-$1.log"
  return "$status"
}
health() { ip netns exec "$(ns_of "$1")" curl -fsS --max-time 5 "http://127.0.0.1:$port/health"; }
printed_doctor_and_figure() {
  grep -q '^deploy-board: doctor' "$work/deploy-$1.log" && grep -qi 'tok/s' "$work/deploy-$1.log"
}
deployed() {  # index: the package installed and the model in the board's models folder
  on_board "$1" "dpkg-query -W rkchat && test -f /var/lib/rkchat/models/$(basename "$model")"
}

echo "deploy-board-test: the plain board (no systemd)"
check "a deploy without the board's key fails at once, asking for nothing" sh -c "
  ! timeout 30 '$repo/scripts/deploy-board' root@$(ip_of 0) --ssh-option StrictHostKeyChecking=no \
    --ssh-option UserKnownHostsFile=/dev/null --ssh-option IdentityFile=$work/other --ssh-option IdentitiesOnly=yes \
    --deb '$deb' </dev/null >'$work/nokey.log' 2>&1 && grep -q 'cannot log in' '$work/nokey.log'"
deploy 0
status=$?
check "deploy-board exits 0" test "$status" -eq 0
check "the package is installed and the model in the board's models folder" deployed 0
check "the service answers /health on the board" health 0
board_uid() { awk '/^Uid:/ {print $2}' "/proc/$(cat "$root/run/rkchat.pid")/status"; }
check "the service runs as the rkchat user" test "$(board_uid)" = "$(chroot "$root" id -u rkchat)"
check "doctor and a one-prompt figure are printed" printed_doctor_and_figure 0

echo "deploy-board-test: the systemd board (systemd-nspawn --boot)"
ssh_up() {  # sshd answers once the board's boot reaches it (60 s at most)
  for _ in $(seq 1 60); do on_board 1 true 2>/dev/null && return 0; sleep 1; done
  tail -n 30 "$work/boot.log"
  return 1
}
check "the board boots with systemd and answers ssh" ssh_up
deploy 1
status=$?
check "deploy-board exits 0" test "$status" -eq 0
check "the package is installed and the model in the board's models folder" deployed 1
check "systemd runs the unit: active, and enabled for the next boot" \
  on_board 1 'systemctl is-active rkchat && systemctl is-enabled rkchat'
check "the service answers /health on the board" health 1
# The main process's user, and the video group postinst gave that user (the NPU's device nodes belong to it).
check "the service runs as the rkchat user, in the video group" on_board 1 '
  status="/proc/$(systemctl show -P MainPID rkchat)/status"; grep -E "^(Uid|Groups):" "$status"
  awk "/^Uid:/ {exit \$2 != $(id -u rkchat)}" "$status" && grep "^Groups:" "$status" | grep -qw "$(getent group video | cut -d: -f3)"'
check "doctor and a one-prompt figure are printed" printed_doctor_and_figure 1
restarted_after_kill() {  # kill -9 the server: systemd starts a new one (RestartSec=5), which answers /health
  local old new
  old="$(on_board 1 systemctl show -P MainPID rkchat)"
  on_board 1 kill -9 "$old" || return 1
  for _ in $(seq 1 60); do
    sleep 1
    new="$(on_board 1 systemctl show -P MainPID rkchat)"
    if [ "$new" != 0 ] && [ "$new" != "$old" ] && health 1 >/dev/null 2>&1; then
      echo "main pid $old killed, $new answers /health; restarts: $(on_board 1 systemctl show -P NRestarts rkchat)"
      return 0
    fi
  done
  on_board 1 journalctl -u rkchat -n 20 --no-pager
  return 1
}
check "after a kill -9 systemd restarts the service" restarted_after_kill

echo "deploy-board-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
