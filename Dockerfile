# xctl agent image. Builds the BPF objects (CO-RE, so they run on any kernel
# with BTF) and the N-API addon, then runs the agent.
#
# Run it with the capabilities eBPF needs (not --privileged) and the host's view of processes: exactly
# what deploy/kubernetes/daemonset.yaml gives the agent (test/ops-deploy.test.ts keeps the two equal):
#   docker run -d --name xctl --pid=host --read-only --tmpfs /tmp \
#     --cap-drop ALL --cap-add BPF --cap-add PERFMON --cap-add SYS_ADMIN --cap-add SYS_RESOURCE \
#     --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH --security-opt seccomp=unconfined \
#     -v /sys/kernel/btf:/sys/kernel/btf:ro -v /sys/kernel/tracing:/sys/kernel/tracing \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro -v /run/xctl:/run/xctl -v /var/lib/xctl:/var/lib/xctl \
#     -v /run/containerd/io.containerd.runtime.v2.task:/host/run/containerd/io.containerd.runtime.v2.task:ro \
#     -v /run/containers/storage/overlay-containers:/host/run/containers/storage/overlay-containers:ro \
#     -v /var/lib/containers/storage/overlay-containers:/host/var/lib/containers/storage/overlay-containers:ro \
#     -p 127.0.0.1:9464:9464 -e XCTL_METRICS_ADDR=0.0.0.0:9464 xctl
# podman (as root) takes the same flags; `bash scripts/image-test.sh` builds this file and runs it so on a
# machine without a registry or a Docker engine.
# --pid=host: pids in events and answers are the host's; /sys/kernel/btf: CO-RE
# relocation; tracefs: tracepoint discovery; /sys/fs/cgroup: cgroup paths;
# /run/xctl: the CLI socket (a host `xctl --socket /run/xctl/xctl.sock` talks to the
# agent in here); /var/lib/xctl: crash reports; --read-only + /tmp: nothing in the
# image is written; /host/...: the container runtimes' own files that name
# containers and pods (containerd, CRI-O, podman; XCTL_HOST_ROOT=/host below; docker
# creates an absent one empty, podman wants it made first). BPF + PERFMON load and
# attach the probes; SYS_ADMIN: libbpf's CO-RE relocation walks the kernel's BTF
# objects (BPF_BTF_GET_NEXT_ID), without it the io and proc families lose programs.
# A container's /proc/sys is read-only, so for probes.bpf_stats set
# kernel.bpf_stats_enabled=1 on the host (sysctl).
# SYS_RESOURCE locked memory on old kernels, SYS_PTRACE + DAC_READ_SEARCH read other
# users' /proc/PID. Inside the container's own network namespace 0.0.0.0 is the
# container's interface only; with --network=host keep the default 127.0.0.1:9464.
# `docker run ... xctl doctor` checks all of this. Kubernetes: deploy/kubernetes/.
FROM node:20-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool make g++ pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/xctl
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# vmlinux.h comes from the build host's BTF; CO-RE relocates at load time on the target.
RUN bash scripts/build.sh && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libbpf1 libelf1 zlib1g iproute2 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/xctl
COPY --from=build /opt/xctl/package.json ./
COPY --from=build /opt/xctl/bin ./bin
COPY --from=build /opt/xctl/dist ./dist
COPY --from=build /opt/xctl/build/Release/xctl.node ./build/Release/xctl.node
COPY --from=build /opt/xctl/node_modules ./node_modules
COPY --from=build /opt/xctl/rules ./rules
COPY --from=build /opt/xctl/proto ./proto
COPY --from=build /opt/xctl/src/faults/programs ./src/faults/programs
ENV XCTL_SOCKET=/run/xctl/xctl.sock XCTL_STATE_DIR=/var/lib/xctl XCTL_HOST_ROOT=/host
EXPOSE 9464
ENTRYPOINT ["node", "/opt/xctl/bin/xctl"]
CMD ["agent"]
