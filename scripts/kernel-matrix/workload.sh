#!/bin/busybox sh
# Runs inside a kernel-matrix VM while `xctl events` records (started by the VM's
# init): one real workload per piece of evidence each probe family must give.
# Prints "KXW|what|pid[|detail]" lines that the host-side table matches records against.
mark() { (IFS="|"; echo "KXW|$*"); }

# proc: an exit code, a signal with its sender, an exit by that signal, an OOM kill
sh -c 'exit 3' &
p=$!; mark exit3 $p; wait $p
sleep 30 &
s=$!; mark sigterm $s
sleep 1
kill -TERM $s; wait $s
sh -c 'echo $$ >/sys/fs/cgroup/xkoom/cgroup.procs; exec /usr/bin/node -e "const a=[];for(;;)a.push(Buffer.alloc(1<<20,1))"' >/dev/null 2>&1 &
p=$!; mark oom $p; wait $p

# sched: a reader asleep on a pipe until a writer wakes it 1 s later (off-CPU with
# its waker), then spinners pinned to one CPU (run-queue delay)
(sleep 1; echo x) | cat >/dev/null &
p=$!; mark woken $p; wait $p
spin=
for i in 1 2 3 4; do
  taskset 1 sh -c 'while :; do :; done' &
  spin="$spin $!"
done
mark spin "$spin"
sleep 3
kill $spin; wait

# net: TCP over loopback through netem loss (5 %): the sender's retransmits, owned by it
ip link set lo up
ip link set lo mtu 1500
/usr/sbin/tc qdisc add dev lo root netem loss 5% || mark error "tc netem failed"
/usr/bin/node /kx/net.js
/usr/sbin/tc qdisc del dev lo root

# io: a virtio disk that qemu throttles to 20 IOPS and fails reads of sector 65536 (blkdebug)
i=0
while [ ! -e /sys/block/vda/dev ] && [ $i -lt 20 ]; do sleep 1; i=$((i + 1)); done
mark disk 0 "$(cat /sys/block/vda/dev 2>/dev/null)"
dd if=/dev/vda of=/dev/null bs=4k count=512 2>/dev/null &
p=$!; mark io_slow $p; wait $p
dd if=/dev/vda of=/dev/null bs=4k skip=8192 count=1 2>/dev/null &
p=$!; mark io_error $p; wait $p

# cuda: the stand-in CUDA runtime and NCCL (build/test-gpu), found in /proc/PID/maps and
# uprobed while each app waits for its go line
(sleep 12; echo go) | /kx/gpu/gpu-app alloc 2 1048576 >/tmp/alloc.out &
a=$!; mark cuda_alloc $a
(sleep 12; echo go) | /kx/gpu/gpu-app allreduce 2 >/tmp/allreduce.out &
r=$!; mark nccl $r
i=0
while ! { grep -q done /tmp/alloc.out && grep -q done /tmp/allreduce.out; } && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
sleep 2 # the exits' records
kill $a $r

# syscall: a worker that fails opens of missing files (ENOENT), writes to a full 64 KiB
# tmpfs (ENOSPC) and connects to a closed port (ECONNREFUSED), and prints its own counts
mkdir -p /tmp/scdir /tmp/scfull
mount -t tmpfs -o size=64k tmpfs /tmp/scfull
/kx/syscall-errors 20 /tmp/scdir 7 /tmp/scfull/x 3 1 1 >/tmp/sc.out
mark syscall "$(sed -n 's/^pid \([0-9]*\) enoent \([0-9]*\) enospc \([0-9]*\) econnrefused \([0-9]*\).*/\1|\2|\3|\4/p' /tmp/sc.out)"
sleep 2 # the exit flush's records
