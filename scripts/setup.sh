#!/usr/bin/env bash
# Idempotent machine + project set-up for Debian/Ubuntu as root: installs the
# missing Debian packages, mounts tracefs, installs npm deps, builds what is stale.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "xctl: setup needs root (eBPF, netns, loop devices, cgroups); run with sudo" >&2
  exit 2
fi

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; }
have_cmd clang || need+=(clang)
have_cmd llc || need+=(llvm)
have_cmd bpftool || need+=(bpftool)
have_cmd iptables || need+=(iptables)
have_cmd ip || need+=(iproute2)
have_cmd losetup || need+=(mount)
have_cmd make || need+=(make)
have_cmd g++ || need+=(g++)
have_cmd pkg-config || need+=(pkg-config)
[[ -f /usr/include/bpf/libbpf.h ]] || need+=(libbpf-dev)
[[ -f /usr/include/libelf.h ]] || need+=(libelf-dev)
[[ -f /usr/include/zlib.h ]] || need+=(zlib1g-dev)
# prometheus + promtool: the ops tests scrape the agent with the real server on a
# private loopback port and config; the system service is never started here.
{ have_cmd prometheus && have_cmd promtool; } || need+=(prometheus)
have_cmd openssl || need+=(openssl)
have_cmd setpriv || need+=(util-linux)
if ((${#need[@]})); then
  echo "xctl setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # the prometheus package's postinst may start its system service; the tests run their own
  if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null && systemctl is-active -q prometheus 2>/dev/null; then
    systemctl stop prometheus || true
    systemctl disable -q prometheus 2>/dev/null || true
  fi
fi
command -v node >/dev/null || { echo "xctl: Node.js >= 20 is required" >&2; exit 2; }

# tp/ programs need tracefs; a fresh machine does not mount it.
if ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
bash scripts/build.sh
