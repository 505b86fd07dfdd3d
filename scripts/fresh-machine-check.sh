#!/usr/bin/env bash
# The README's two commands on a truly fresh Debian 12, every CI run:
#  1. builds a minimal Debian 12 (bookworm) root with debootstrap in a scratch
#     folder (Debian's debootstrap package, installed here when missing);
#  2. carries in only what every machine of this kind has and a bare root
#     lacks: the certificate bundle (/etc/ssl/certs/ca-certificates.crt, also
#     kept as a local CA so that the root's own ca-certificates package, which
#     rewrites the bundle, keeps it) and pip's settings (/etc/pip.conf), plus
#     /etc/resolv.conf to reach the package registries;
#  3. copies a clean clone of this repository (the committed HEAD) and the
#     ../shared beside it into the root;
#  4. runs, inside it (chroot, with /proc, /sys and /dev mounted):
#       bash scripts/setup.sh  (README command 1)
#       bash scripts/test.sh   (README command 2: Release tests, then the sanitizer pass)
# Any failure stops it with a non-zero exit; each step's wall time is printed.
# Must run as root. SQSIM_FRESH_DIR=DIR uses DIR as the scratch folder (kept
# afterwards); otherwise a temporary folder is made and removed at the end.
# SQSIM_DEBIAN_MIRROR overrides the mirror (default: this machine's first
# Debian source, else http://deb.debian.org/debian).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared"

fail() { echo "fresh-machine-check: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "must run as root (debootstrap, chroot and mount need it)"
[ -d "$shared/data" ] || fail "$shared/data not found: the check copies ../shared beside the repository into the root"
[ -f /etc/ssl/certs/ca-certificates.crt ] || fail "/etc/ssl/certs/ca-certificates.crt not found on this machine"

declare -a step_names=() step_secs=()
step() {  # step NAME COMMAND...: runs it, records and prints its wall time
  local name="$1" t0 t1
  shift
  echo "== fresh-machine-check: $name" >&2
  t0=$(date +%s)
  "$@"
  t1=$(date +%s)
  step_names+=("$name")
  step_secs+=($((t1 - t0)))
  echo "== fresh-machine-check: $name: $((t1 - t0)) s" >&2
}

if [ -n "${SQSIM_FRESH_DIR:-}" ]; then
  scratch="$SQSIM_FRESH_DIR"
  mkdir -p "$scratch"
  keep=1
else
  scratch="$(mktemp -d /var/tmp/sqsim-fresh.XXXXXX)"
  keep=0
fi
target="$scratch/root"
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[$i]}" 2>/dev/null || umount -l "${mounted[$i]}" 2>/dev/null || true
  done
  # Never delete through a mount that is still there (it could be this
  # machine's /dev): leave the scratch folder and say so.
  if grep -q " $target/" /proc/mounts; then
    echo "fresh-machine-check: mounts remain under $target; not removing $scratch" >&2
    return
  fi
  if [ "$keep" = 0 ]; then rm -rf --one-file-system "$scratch"; fi
}
trap cleanup EXIT

mirror="${SQSIM_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi

install_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

make_root() {
  if [ -x "$target/bin/bash" ] && [ -f "$target/.sqsim-debootstrap-done" ]; then
    echo "fresh-machine-check: $target already holds a finished root; removing it for a fresh one" >&2
  fi
  rm -rf "$target"
  mkdir -p "$target"
  debootstrap --variant=minbase bookworm "$target" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
    { tail -n 20 "$scratch/debootstrap.log" >&2; fail "debootstrap failed (log: $scratch/debootstrap.log)"; }
  touch "$target/.sqsim-debootstrap-done"
}

carry_in() {
  mkdir -p "$target/etc/ssl/certs" "$target/usr/local/share/ca-certificates"
  cp /etc/ssl/certs/ca-certificates.crt "$target/etc/ssl/certs/ca-certificates.crt"
  # update-ca-certificates (run when the root installs ca-certificates)
  # rebuilds the bundle from its sources; a copy here is one of them.
  cp /etc/ssl/certs/ca-certificates.crt "$target/usr/local/share/ca-certificates/machine-bundle.crt"
  if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$target/etc/pip.conf"; fi
  cp -L /etc/resolv.conf "$target/etc/resolv.conf"
}

copy_sources() {
  mkdir -p "$target/work"
  git clone --quiet --no-hardlinks "$root" "$target/work/sqsim"
  cp -a "$shared" "$target/work/shared"
  chmod -R a-w "$target/work/shared"
}

mount_system() {  # each mount on its own (no recursive binds), undone in reverse order
  mkdir -p "$target/proc" "$target/sys" "$target/dev"
  mount -t proc proc "$target/proc" || fail "cannot mount /proc in $target"
  mounted+=("$target/proc")
  mount --bind /sys "$target/sys" || fail "cannot bind /sys into $target"
  mounted+=("$target/sys")
  mount --bind /dev "$target/dev" || fail "cannot bind /dev into $target"
  mounted+=("$target/dev")
  local m
  for m in dev/pts dev/shm; do
    if [ -d "/$m" ] && mountpoint -q "/$m"; then
      mkdir -p "$target/$m"
      mount --bind "/$m" "$target/$m" || fail "cannot bind /$m into $target"
      mounted+=("$target/$m")
    fi
  done
}

in_root() {  # a login-like environment, nothing of this machine's but PATH and locale
  chroot "$target" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /work/sqsim && $1"
}

readme_setup() { in_root "bash scripts/setup.sh"; }
readme_tests() { in_root "bash scripts/test.sh"; }

t_start=$(date +%s)
step "install debootstrap (host)" install_debootstrap
step "debootstrap bookworm minbase ($mirror)" make_root
step "carry in certificates, pip.conf, resolv.conf" carry_in
step "clean clone + ../shared into the root" copy_sources
step "mount /proc /sys /dev" mount_system
step "README command 1: bash scripts/setup.sh" readme_setup
step "README command 2: bash scripts/test.sh" readme_tests

echo "fresh-machine-check: passed; wall time per step:"
for i in "${!step_names[@]}"; do printf '  %5d s  %s\n' "${step_secs[$i]}" "${step_names[$i]}"; done
printf '  %5d s  total\n' $(($(date +%s) - t_start))
