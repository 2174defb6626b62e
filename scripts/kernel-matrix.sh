#!/usr/bin/env bash
# Kernel matrix: does every probe family load and attach on the kernels GPU
# nodes run? Boots Debian kernel images under qemu (TCG: no KVM on our VMs) with
# a busybox initramfs and runs the project's own loader inside each one
# (scripts/kernel-matrix/loadcheck.cc = native/probe_set.cc LoadFamily over the
# BPF objects embedded from build/bpf) and `xctl doctor` (node, the built tree and
# its runtime node_modules in the initramfs; its text in results/<kernel>/doctor.txt),
# then the loader natively on this kernel, and prints a kernel x family table. Run after `bash scripts/build.sh`, as root:
#
#   bash scripts/kernel-matrix.sh              # 5.10, 6.1, 6.12 and this kernel
#   bash scripts/kernel-matrix.sh 6.1          # one of them
#
# Exits non-zero when a BPF family (net io proc sched syscall cuda: the family table's,
# less the internal bench) is not full on some kernel: every primary program
# attached, or its `__fallback` in its place. Needs apt (Debian host), qemu-system-x86, busybox-static, g++ and
# libbpf-dev; a VM takes 30-80 s under TCG. Not run in CI: see README
# "Supported kernels". Env: XCTL_KMATRIX_CACHE (kernel .debs, default
# /var/cache/xctl-kernels), XCTL_KMATRIX_WORK (default /tmp/xctl-kmatrix),
# TIMEOUT (s per VM, default 420), MEM (default 1024M).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${XCTL_KMATRIX_CACHE:-/var/cache/xctl-kernels}
WORK=${XCTL_KMATRIX_WORK:-/tmp/xctl-kmatrix}
TIMEOUT=${TIMEOUT:-420}
MEM=${MEM:-1024M}

# kernel label -> Debian package and suite (bullseye through a temporary apt source)
declare -A PKG=([5.10]=linux-image-5.10.0-32-cloud-amd64 [6.1]=linux-image-6.1.0-50-cloud-amd64
  [6.12]=linux-image-6.12.100+deb12-amd64)
declare -A SUITE=([5.10]=bullseye [6.1]=bookworm [6.12]=bookworm)
labels=("$@")
[[ ${#labels[@]} -gt 0 ]] || labels=(5.10 6.1 6.12 host)

mkdir -p "$CACHE" "$WORK/results"
for tool in qemu-system-x86_64 busybox modinfo tc xz; do
  command -v "$tool" >/dev/null || apt-get install -y qemu-system-x86 busybox-static kmod iproute2 xz-utils >/dev/null
done

fetch() { # label -> path of the .deb in the cache
  local pkg=${PKG[$1]} suite=${SUITE[$1]} src=/etc/apt/sources.list.d/xctl-kmatrix-$1.sources
  local deb
  deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | head -1 || true)
  if [[ -z $deb ]]; then
    if [[ $suite != bookworm ]]; then # same Debian host, another suite, removed right after
      local uri
      uri=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
      printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "${uri:-http://deb.debian.org/debian}" "$suite" >"$src"
      trap 'rm -f "'"$src"'"; apt-get update >/dev/null 2>&1 || true' EXIT
      apt-get update >/dev/null 2>&1 || true
    fi
    (cd "$CACHE" && apt-get download "$pkg" 2>&1 | grep -v unsandboxed >&2 || true)
    if [[ -f $src ]]; then
      rm -f "$src"
      apt-get update >/dev/null 2>&1 || true
      trap - EXIT
    fi
    deb=$(ls "$CACHE/${pkg}"_*.deb 2>/dev/null | head -1 || true)
  fi
  [[ -n $deb ]] || { echo "kernel-matrix: could not fetch $pkg" >&2; return 1; }
  echo "$deb"
}

# 1. the loader, from this tree (the skeletons embed build/bpf/*.bpf.o)
[[ -f $ROOT/build/bpf/net.skel.h ]] || { echo "kernel-matrix: run bash scripts/build.sh first" >&2; exit 2; }
g++ -O1 -std=c++17 -I"$ROOT/build/bpf" -o "$WORK/loadcheck" \
  "$ROOT/scripts/kernel-matrix/loadcheck.cc" "$ROOT/native/probe_set.cc" -lbpf -lelf -lz
cc -O1 -o "$WORK/syscall-errors" "$ROOT/test/helpers/syscall-errors.c" # the syscall family's workload

# Modules the VM's workload needs (virtio disk, netem), from the kernel's own .deb
VM_MODULES=(virtio_pci virtio_blk sch_netem)
modules_into() { # kdir out: the modules and their dependencies, decompressed, and their load order
  local kdir=$1 out=$2 moddir
  moddir=$(ls -d "$kdir"/lib/modules/*/kernel)
  declare -A seen=()
  mkdir -p "$out"
  : >"$out/order"
  add() {
    local name=$1 f dep
    [[ -z ${seen[$name]:-} ]] || return 0
    seen[$name]=1
    f=$(find "$moddir" \( -name "$name.ko*" -o -name "${name//_/-}.ko*" \) | head -1)
    [[ -n $f ]] || return 0 # built into this kernel
    for dep in $(modinfo -F depends "$f" | tr ',' ' '); do add "$dep"; done
    case $f in *.xz) xz -dc "$f" >"$out/$name.ko" ;; *) cp "$f" "$out/$name.ko" ;; esac
    echo "$name.ko" >>"$out/order" # after its dependencies
  }
  for m in "${VM_MODULES[@]}"; do add "$m"; done
}

boot() { # label deb
  local label=$1 deb=$2 kdir root vmlinuz out qpid t=0
  kdir=$WORK/kernels/$(basename "$deb" .deb)
  if [[ ! -d $kdir/boot ]]; then
    mkdir -p "$kdir"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" ./boot
  fi
  if [[ ! -d $kdir/lib ]]; then
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kdir" --wildcards './lib/modules/*/kernel/drivers/virtio/*' \
      './lib/modules/*/kernel/drivers/block/virtio_blk.ko*' './lib/modules/*/kernel/net/sched/sch_netem.ko*'
  fi
  vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -1)
  out=$WORK/results/$label
  mkdir -p "$out"
  root=$(mktemp -d /tmp/xctl-kmatrix-root.XXXXXX)
  mkdir -p "$root"/{bin,proc,sys,dev,tmp}
  cp "$(command -v busybox)" "$root/bin/busybox"
  cp "$WORK/loadcheck" "$root/bin/loadcheck"
  # the workload: its scripts, the stand-in GPU libraries and app, tc for netem, the modules
  mkdir -p "$root/kx/gpu" "$root/usr/sbin"
  cp "$ROOT"/scripts/kernel-matrix/{workload.sh,net.js} "$root/kx/"
  cp "$ROOT"/build/test-gpu/{gpu-app,libcudart.so.12,libnccl.so.2} "$root/kx/gpu/"
  cp "$WORK/syscall-errors" "$root/kx/"
  cp "$(command -v tc)" "$root/usr/sbin/tc"
  modules_into "$kdir" "$root/kx/modules"
  # node and the built tree, for `xctl doctor` inside (runtime dependencies only)
  mkdir -p "$root/xctl/build/Release" "$root/xctl/node_modules" "$root/usr/bin"
  cp "$(command -v node)" "$root/usr/bin/node"
  cp -r "$ROOT"/{bin,dist,rules,proto,package.json} "$root/xctl/"
  cp "$ROOT/build/Release/xctl.node" "$root/xctl/build/Release/"
  (cd "$ROOT" && npm ls --omit=dev --parseable --all 2>/dev/null | grep -o 'node_modules/.*' | grep -v -e '@types/' -e undici-types) |
    while read -r m; do mkdir -p "$root/xctl/$(dirname "$m")"; cp -rL "$ROOT/$m" "$root/xctl/$m"; done
  for bin in "$WORK/loadcheck" "$WORK/syscall-errors" "$(command -v node)" "$ROOT/build/Release/xctl.node" "$(command -v tc)" "$ROOT/build/test-gpu/gpu-app"; do
    for lib in $(ldd "$bin" | grep -v test-gpu | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
  done
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ulimit -l unlimited
echo "KX|KERNEL|$(uname -r)"
[ -e /sys/kernel/btf/vmlinux ] && echo "KX|BTF|present" || echo "KX|BTF|ABSENT"
/bin/loadcheck
export HOME=/tmp PATH=/bin:/usr/bin
/usr/bin/node /xctl/bin/xctl doctor >/tmp/doctor.txt 2>&1
rc=$?
sed 's/^/KXD|/' /tmp/doctor.txt
echo "KX|DOCTOR|exit $rc"
# evidence: `xctl events` over every family while /kx/workload.sh runs real workloads
for m in $(cat /kx/modules/order); do insmod /kx/modules/$m || echo "KX|MODULE|$m failed"; done
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
mkdir -p /sys/fs/cgroup/xkoom && echo 67108864 >/sys/fs/cgroup/xkoom/memory.max
/usr/bin/node /xctl/bin/xctl events --json --families proc,sched,net,io,cuda,syscall --runq-min-ms 2 </dev/null >/tmp/ev.json 2>/tmp/ev.err &
ev=$!
i=0
while ! grep -q probing /tmp/ev.err && [ $i -lt 90 ]; do sleep 1; i=$((i + 1)); done
sh /kx/workload.sh
kill -INT $ev
wait $ev
echo "KX|EVENTS|exit $?"
sed 's/^/KXE|/' /tmp/ev.json
sed 's/^/KX|EVENTS_STDERR|/' /tmp/ev.err
echo "KX|END"
poweroff -f
EOF
  chmod +x "$root/init"
  (cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$out/initrd.gz")
  rm -rf "$root"
  # the workload's disk: 20 IOPS (each request waits ~50 ms) and an EIO on reading sector 65536
  truncate -s 64M "$out/disk.img"
  printf '[inject-error]\nevent = "read_aio"\nerrno = "5"\nsector = "65536"\nonce = "off"\n' >"$out/blkdebug.conf"
  qemu-system-x86_64 -accel tcg -cpu max -m "$MEM" -smp 2 -nographic -no-reboot -monitor none \
    -kernel "$vmlinuz" -initrd "$out/initrd.gz" \
    -drive "if=none,id=vd0,format=raw,file.driver=blkdebug,file.config=$out/blkdebug.conf,file.image.filename=$out/disk.img,throttling.iops-total=20" \
    -device virtio-blk-pci,drive=vd0 \
    -append "console=ttyS0 panic=-1 loglevel=3 rdinit=/init" </dev/null >"$out/console.log" 2>&1 &
  qpid=$!
  while kill -0 "$qpid" 2>/dev/null && ((t < TIMEOUT)); do sleep 1; t=$((t + 1)); done
  if kill -0 "$qpid" 2>/dev/null; then
    echo "KX|TIMEOUT|after ${TIMEOUT}s" >>"$out/console.log"
    kill "$qpid"; sleep 2; kill -9 "$qpid" 2>/dev/null || true
  fi
  wait "$qpid" || true
  tr -d '\r' <"$out/console.log" | grep -ao 'KX|.*' >"$out/summary.txt" || true
  tr -d '\r' <"$out/console.log" | grep -ao 'KXD|.*' | cut -c5- >"$out/doctor.txt" || true
  tr -d '\r' <"$out/console.log" | grep -ao 'KXE|.*' | cut -c5- >"$out/events.json" || true
  tr -d '\r' <"$out/console.log" | grep -ao 'KXW|.*' | cut -c5- >"$out/workload.txt" || true
  rm -f "$out/disk.img"
  echo "kernel-matrix: $label done in ${t}s ($out)" >&2
}

for label in "${labels[@]}"; do
  if [[ $label == host ]]; then
    out=$WORK/results/host
    mkdir -p "$out"
    { echo "KX|KERNEL|$(uname -r)"; "$WORK/loadcheck" || true; echo "KX|END"; } >"$out/summary.txt" # doctor: run it yourself
    continue
  fi
  [[ -n ${PKG[$label]:-} ]] || { echo "kernel-matrix: unknown kernel '$label' (known: ${!PKG[*]} host)" >&2; exit 2; }
  boot "$label" "$(fetch "$label")"
done

# 2. the table: kernel x family, then every program that did not attach with its reason
python3 - "$WORK/results" "${labels[@]}" <<'EOF'
import json, os, sys
results, labels = sys.argv[1], sys.argv[2:]
# what `xctl events` must have seen in each VM, by family: the workload (workload.sh) marks
# each process it starts (w[name] = [pid, detail]), and a record of that process must show it
def whole(f):  # a check over all the events (a sum over records), not of one event
    f.whole = True
    return f
def syscall_sum(w, key, i):  # the records of the worker summed per syscall and errno == its own count (KXW|syscall|pid|enoent|enospc|refused)
    want = w.get('syscall', ['-1', '-1', '-1', '-1'])
    return whole(lambda evs: int(want[i]) > 0 and sum(e.get('count', 0) for e in evs if e['kind'] == 'syscall_error' and e['pid'] == int(want[0]) and f"{e.get('syscall')} {e.get('errno')}" == key) == int(want[i]))
def EVIDENCE(w):
    pid = lambda n: int(w.get(n, ['-1'])[0])
    return {
        'proc': {
            'exit code 3': lambda e: e['kind'] == 'exit' and e['pid'] == pid('exit3') and e.get('exit_code') == 3,
            'SIGTERM with its sender': lambda e: e['kind'] == 'signal' and e.get('sig') == 15 and e.get('target_pid') == pid('sigterm') and e['pid'] > 0,
            'exit by SIGTERM': lambda e: e['kind'] == 'exit' and e['pid'] == pid('sigterm') and e.get('signal') == 15,
            'OOM kill in a memory cgroup': lambda e: e['kind'] == 'oom_kill' and e['pid'] == pid('oom'),
        },
        'sched': {
            '1 s sleep off-CPU': lambda e: e['kind'] == 'offcpu' and e.get('state') == 'sleep' and e['pid'] == pid('sigterm') and e.get('duration_ns', 0) >= 9e8,
            'pipe wait with its waker': lambda e: e['kind'] == 'offcpu' and e['pid'] == pid('woken') and e.get('duration_ns', 0) >= 9e8 and e.get('waker_pid', 0) not in (0, pid('woken')),
            'run-queue total of CPU-pinned spinners': lambda e: e['kind'] == 'wait_total' and e.get('state') == 'runq' and str(e['pid']) in w.get('spin', [''])[0].split() and e.get('total_ns', 0) >= 2e6,
            'sleep total of the killed sleeper': lambda e: e['kind'] == 'wait_total' and e.get('state') == 'sleep' and e['pid'] == pid('sigterm') and e.get('total_ns', 0) >= 9e8,
        },
        'net': {
            'TCP retransmit owned by its sender': lambda e: e['kind'] == 'tcp_retransmit' and e['pid'] == pid('tcp') and str(e.get('dport')) == w.get('tcp', ['', ''])[1],
        },
        'io': {
            'block IO >= 20 ms on the throttled disk': lambda e: e['kind'] == 'block_io' and e['dev'] == w.get('disk', ['', ''])[1] and e.get('latency_ns', 0) >= 2e7,
            'block IO error (EIO)': lambda e: e['kind'] == 'block_io' and e['dev'] == w.get('disk', ['', ''])[1] and e.get('error', 0) == -5,
        },
        'syscall': {f'{k} counted as the worker observed': syscall_sum(w, k, i) for i, k in
                    enumerate(['openat ENOENT', 'write ENOSPC', 'connect ECONNREFUSED'], start=1)},
        'cuda': {
            'cudaMalloc with its size': lambda e: e['kind'] == 'cuda_alloc' and e['pid'] == pid('cuda_alloc') and e.get('size') == 1048576,
            'ncclAllReduce completed': lambda e: e['kind'] == 'nccl_call' and e['pid'] == pid('nccl') and e.get('fn') == 'ncclAllReduce' and e.get('phase') == 'exit',
        },
    }
fam, progs, rel = {}, {}, {}
for k in labels:
    fam[k], progs[k] = {}, []
    path = os.path.join(results, k, 'summary.txt')
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    for l in lines:
        f = l.split('|')
        if f[1] == 'KERNEL': rel[k] = f[2]
        elif f[1] == 'FAMILY': fam[k][f[2]] = f[3]
        elif f[1] == 'DOCTOR': fam[k]['`xctl doctor`'] = f[2]
        elif f[1] == 'PROG' and f[4] not in ('attached', 'loaded (attach on demand)'):
            progs[k].append(f)
    if 'KX|END' not in lines: fam[k].setdefault('(run)', 'INCOMPLETE: no end marker, see console.log')
    evp = os.path.join(results, k, 'events.json')
    if k != 'host' and os.path.exists(evp):
        evs, w = [], {}
        for l in open(evp):
            try: evs.append(json.loads(l))
            except ValueError: pass
        wp = os.path.join(results, k, 'workload.txt')
        for l in (open(wp).read().splitlines() if os.path.exists(wp) else []):
            f = l.split('|')
            w[f[0]] = f[1:]
        for family, checks in EVIDENCE(w).items():
            # a check of one event, or of all of them (a sum over records: `whole`)
            missing = [n for n, ok in checks.items() if not (ok(evs) if getattr(ok, 'whole', False) else any(ok(e) for e in evs))]
            fam[k][f'evidence: {family}'] = 'all seen' if not missing else 'missing: ' + ', '.join(missing)
        if 'error' in w: fam[k]['workload'] = 'error: ' + '|'.join(w['error'])
names = []
for k in labels:
    for n in fam[k]:
        if n not in names: names.append(n)
cols = [f"{k} ({rel.get(k, '?')})" for k in labels]
print('| family | ' + ' | '.join(cols) + ' |')
print('|---|' + '---|' * len(cols))
bad = 0
for n in names:
    cells = []
    for k in labels:
        v = fam[k].get(n, 'not run')
        cells.append(v)
        if v not in ('full', 'exit 0', 'all seen') and not (k == 'host' and v == 'not run'): bad += 1
    print(f'| {n} | ' + ' | '.join(cells) + ' |')
for k in labels:
    for f in progs[k]:
        print(f'{k}: {f[2]}/{f[3]}: {f[4]}: {f[5][:400]}')
sys.exit(1 if bad else 0)
EOF
