#!/usr/bin/env bash
# The container image, built and run on this machine (issue 17):
#   bash scripts/image-test.sh          base (cached) -> build -> run checks
#   bash scripts/image-test.sh base     only the local stand-in base images
#   bash scripts/image-test.sh build    base + the repository Dockerfile
# Needs root and Debian's podman, buildah, runc and debootstrap
# (apt-get install -y podman buildah runc debootstrap). No Docker engine, no registry pulls:
#
# 1. Base. The Dockerfile's FROM lines name docker.io/library/node:20-bookworm (build stage) and
#    node:20-bookworm-slim (runtime). Where those images are not in local storage, this script makes
#    stand-ins under exactly those names, from Debian packages: `debootstrap --variant=minbase bookworm`
#    plus this machine's Node 20 (/usr/bin/node, npm, corepack and the headers, laid out as the official
#    images do under /usr/local). The build-stage stand-in adds what buildpack-deps:bookworm gives the
#    official node:20-bookworm and the Dockerfile relies on (python3 for node-gyp, make, g++, git, curl),
#    and two facts of this machine's network that the official image gets from the internet: node-gyp's
#    headers (nodedir, nodejs.org is not reachable here) and the egress proxy's CA for npm. Only the
#    build stage sees those; the shipped image is FROM the slim stand-in, which has neither.
#    An image under those names that this script did not make (a real pull) is used as it is.
#    Cache: each stand-in carries the label xctl.base-key, a hash of its recipe (and for the slim one the
#    Node binary, for the full one the CA); a matching key skips making it, and the debootstrap's tarball
#    is kept in $XCTL_IMAGE_CACHE (/var/cache/xctl-image). XCTL_IMAGE_REBASE=1 redoes both.
# 2. Build: `podman build --pull=never` of the unchanged Dockerfile (npm ci reaches the npm registry).
# 3. Run: the agent with exactly the capabilities, host pid namespace and mounts that the Dockerfile
#    comment and deploy/kubernetes/daemonset.yaml document (not --privileged); checks that `xctl doctor`
#    passes inside, that `xctl why` inside answers for a faulty process outside the container with its
#    host pid, and that a process in a second container is named by its container id and name.
set -euo pipefail
cd "$(dirname "$0")/.."

STEP=${1:-all}
SUITE=bookworm
MIRROR=${XCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${XCTL_IMAGE_CACHE:-/var/cache/xctl-image}
SLIM=docker.io/library/node:20-bookworm-slim
FULL=docker.io/library/node:20-bookworm
IMAGE=${XCTL_IMAGE:-localhost/xctl:image-test}
# podman here: runc (crun refuses this machine's hybrid cgroup v1 layout); podman's default rlimits are above
# what may be set here, so: this shell's open-files hard limit, and processes 32768 (podman build's default;
# runc was refused this shell's 96364) or the hard limit if lower.
NOFILE=$(ulimit -Hn) NPROC=$(ulimit -Hu)
[[ $NOFILE == unlimited || $NOFILE -gt 65536 ]] && NOFILE=65536
[[ $NPROC == unlimited || $NPROC -gt 32768 ]] && NPROC=32768
ULIMITS=(--ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=$NPROC:$NPROC")
BUILD_PKGS=(python3 make g++ git curl procps)
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_ROOT=$(dirname "$(dirname "$NODE_BIN")") # /usr for Debian/NodeSource packages
HOST_CA=${XCTL_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}

say() { printf '\n== %s\n' "$*"; }
die() {
  echo "image-test: $*" >&2
  exit 1
}

preflight() {
  [[ $(id -u) == 0 ]] || die 'needs root (podman as root with runc, debootstrap)'
  local m=()
  for c in podman buildah runc debootstrap; do command -v "$c" > /dev/null || m+=("$c"); done
  ((${#m[@]} == 0)) || die "missing ${m[*]}: apt-get install -y podman buildah runc debootstrap"
  [[ $(node -p 'process.versions.node.split(".")[0]') == 20 ]] || die "the stand-in base needs Node 20 on this machine, found $(node --version)"
}

# The hashes of what makes each stand-in. Slim: make_slim's text, the suite and mirror, the Node binary and
# npm. Full: the slim key, make_full's text, the package list and the CA bundle given to the build stage.
slim_key() {
  {
    declare -f make_slim
    echo "$SUITE $MIRROR"
    sha256sum "$NODE_BIN" "$NODE_ROOT/lib/node_modules/npm/package.json"
  } | sha256sum | cut -c1-16
}
full_key() {
  {
    slim_key
    declare -f make_full
    echo "${BUILD_PKGS[*]}"
    sha256sum "$HOST_CA"
  } | sha256sum | cut -c1-16
}

ours() { # the image exists and carries this key
  [[ $(podman image inspect --format '{{index .Labels "xctl.base-key"}}' "$1" 2> /dev/null) == "$2" ]]
}
foreign() { # the image exists and this script did not make it (a real pull): use it as it is
  podman image exists "$1" && [[ -z $(podman image inspect --format '{{index .Labels "xctl.base-key"}}' "$1") ]]
}

make_slim() {
  local key=$1
  local root=$CACHE/rootfs-$key tar=$CACHE/slim-$key.tar
  if [[ ! -f $tar ]]; then
    rm -rf "$root" "$root.part"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$root.part" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 ||
      die "debootstrap failed, see $CACHE/debootstrap.log"
    mv "$root.part" "$root"
    # What debian:bookworm ships: deb822 sources with updates and security, no package lists.
    rm -f "$root/etc/apt/sources.list"
    cat > "$root/etc/apt/sources.list.d/debian.sources" << EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/log/* "$root"/tmp/*
    # Node as the official image lays it out: /usr/local/{bin,lib/node_modules,include/node}.
    install -D -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
    mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
    for m in npm corepack; do
      [[ -d $NODE_ROOT/lib/node_modules/$m ]] && cp -a "$NODE_ROOT/lib/node_modules/$m" "$root/usr/local/lib/node_modules/"
    done
    cp -a "$NODE_ROOT/include/node" "$root/usr/local/include/node"
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    ln -sf ../lib/node_modules/corepack/dist/corepack.js "$root/usr/local/bin/corepack"
    chroot "$root" /usr/local/bin/node --version > /dev/null || die 'node does not run in the debootstrap root'
    tar -C "$root" --numeric-owner -cf "$tar.part" . && mv "$tar.part" "$tar"
    rm -rf "$root"
  fi
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_VERSION='"$(node -p process.versions.node)" \
    --change 'CMD ["node"]' \
    --change "LABEL xctl.base-key=$key" \
    --change 'LABEL xctl.base-note="local stand-in for node:20-bookworm-slim, made by scripts/image-test.sh"' \
    "$tar" "$SLIM" > /dev/null
}

make_full() {
  local key=$1 c
  c=$(buildah from --pull=never "$SLIM")
  # The egress proxy's CA and node-gyp's headers: build stage only (see the top of this file).
  buildah copy "$c" "$HOST_CA" /usr/local/share/ca-certificates/xctl-host-bundle.crt > /dev/null
  buildah run --runtime runc "$c" -- sh -c '
    set -e
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends '"${BUILD_PKGS[*]}"' > /dev/null
    rm -rf /var/lib/apt/lists/*
    printf "nodedir=/usr/local\ncafile=/usr/local/share/ca-certificates/xctl-host-bundle.crt\n" > /usr/local/etc/npmrc'
  buildah config --label "xctl.base-key=$key" \
    --label 'xctl.base-note=local stand-in for node:20-bookworm, made by scripts/image-test.sh' "$c"
  buildah commit --quiet --rm "$c" "$FULL" > /dev/null
}

make_base() {
  local sk fk
  sk=$(slim_key) fk=$(full_key)
  if foreign "$SLIM" && foreign "$FULL"; then
    say "base: using $SLIM and $FULL from local storage as they are (not made here)"
    return
  fi
  [[ -n ${XCTL_IMAGE_REBASE:-} ]] && rm -f "$CACHE/slim-$sk.tar"
  if [[ -n ${XCTL_IMAGE_REBASE:-} ]] || ! { foreign "$SLIM" || ours "$SLIM" "$sk"; }; then
    say "base: making the stand-in for $SLIM (key $sk)"
    make_slim "$sk"
  fi
  if [[ -n ${XCTL_IMAGE_REBASE:-} ]] || ! { foreign "$FULL" || ours "$FULL" "$fk"; }; then
    say "base: making the stand-in for $FULL (key $fk)"
    make_full "$fk"
  fi
  say "base: $SLIM $(podman image inspect --format '{{.Id}}' "$SLIM" | cut -c1-12), $FULL $(podman image inspect --format '{{.Id}}' "$FULL" | cut -c1-12)"
}

build_image() {
  say "build: podman build --pull=never -t $IMAGE (the repository Dockerfile, unchanged)"
  # --network host: the build's RUN steps reach apt and the npm registry through this machine's network.
  podman --runtime runc build --pull=never --network host "${ULIMITS[@]}" \
    --layers -t "$IMAGE" -f Dockerfile . || die 'podman build failed'
}

WORK='' AGENT=xctl-image-agent-$$ VICTIM=xctl-image-victim-$$ PIDS=() MADE=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -CONT "$p" 2> /dev/null || true; kill -KILL "$p" 2> /dev/null || true; done
  if [[ -n $WORK ]]; then
    if [[ ${FAILED:-0} == 1 ]]; then podman logs --tail 40 "$AGENT" > "$WORK/agent.log" 2>&1 || true; fi
    podman rm -f -t 0 "$AGENT" "$VICTIM" > /dev/null 2>&1 || true
    [[ ${FAILED:-0} == 1 && -f $WORK/agent.log ]] && { echo '--- agent log (last 40 lines)'; cat "$WORK/agent.log"; } >&2
    rm -rf "$WORK"
  fi
  for d in "${MADE[@]}"; do find "$d" -depth -type d -empty -delete 2> /dev/null || true; done
}

FAILED=0 PENDING=()
check() { # check NAME CONDITION-STATUS DETAIL
  if [[ $2 == 0 ]]; then echo "PASS  $1"; else
    echo "FAIL  $1: $3"
    FAILED=1
  fi
}

# `xctl why` inside the agent container, as JSON (host pid: the container shares the host's pid namespace).
why_in() { podman exec "$AGENT" node /opt/xctl/bin/xctl why "$1" --json; }
jq_() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);const v=(new Function("a","return "+process.argv[1]))(a);process.stdout.write(typeof v==="string"?v:v===undefined?"":JSON.stringify(v))})' "$1"; }

run_checks() {
  WORK=$(mktemp -d /tmp/xctl-image.XXXXXX)
  trap cleanup EXIT
  mkdir -p "$WORK/run" "$WORK/state"
  local port=$((20000 + $$ % 20000))
  # Exactly what deploy/kubernetes/daemonset.yaml gives the agent container (scripts/daemonset-flags.js; the
  # Dockerfile's `docker run` comment is checked against the same flags by test/ops-deploy.test.ts). The host
  # side of /run/xctl and /var/lib/xctl is a scratch directory here, so a host agent's socket is left alone.
  local flags
  mapfile -t flags < <(node scripts/daemonset-flags.js --host "/run/xctl=$WORK/run" --host "/var/lib/xctl=$WORK/state")
  ((${#flags[@]} > 10)) || die 'no flags from deploy/kubernetes/daemonset.yaml'
  flags+=(-p "127.0.0.1:$port:9464")
  # hostPath DirectoryOrCreate, as the kubelet (and docker -v) would: podman wants the source to exist.
  # What is made here for the run (this machine has no containerd) is removed afterwards.
  local f top
  for f in "${flags[@]}"; do
    [[ $f == /*:/host/* ]] || continue
    f=${f%%:*}
    [[ -e $f ]] && continue
    top=$f
    while [[ ! -e $(dirname "$top") ]]; do top=$(dirname "$top"); done
    MADE+=("$top")
    mkdir -p "$f"
  done
  say "run: podman run -d --name $AGENT ${flags[*]} $IMAGE"
  podman --runtime runc run -d --name "$AGENT" "${ULIMITS[@]}" "${flags[@]}" "$IMAGE" > /dev/null
  local i rc
  for i in $(seq 1 120); do # the agent answers `why 1`: 0 (a finding) or 1 (healthy); 2 is no agent yet
    if [[ -S $WORK/run/xctl.sock ]]; then
      rc=0
      podman exec "$AGENT" node /opt/xctl/bin/xctl why 1 --json > /dev/null 2>&1 || rc=$?
      ((rc < 2)) && break
    fi
    [[ $(podman inspect -f '{{.State.Running}}' "$AGENT") == true ]] || break
    sleep 0.5
  done
  [[ -S $WORK/run/xctl.sock ]] || {
    FAILED=1
    die "the agent did not come up: $(podman logs --tail 30 "$AGENT" 2>&1)"
  }
  echo "agent up: socket $WORK/run/xctl.sock (the container's /run/xctl/xctl.sock)"
  podman exec "$AGENT" sh -c 'grep -E "^Cap(Eff|Bnd)" /proc/self/status; echo "uid $(id -u), root fs $(grep " / " /proc/self/mounts | grep -o "\bro\b" || echo rw)"'

  say 'doctor inside the agent container'
  rc=0
  podman exec "$AGENT" node /opt/xctl/bin/xctl doctor || rc=$?
  check 'xctl doctor inside passes (no failed check)' "$rc" "exit $rc"

  say 'readiness: the DaemonSet probe path through the published metrics port'
  rc=0
  curl -fsS "http://127.0.0.1:$port/readyz" || rc=$?
  echo
  check "/readyz on 127.0.0.1:$port" "$rc" "curl exit $rc"

  say 'why for faulty processes outside the container (host pids)'
  cc -O2 -o "$WORK/segv" test/helpers/segv.c
  (exec -a segv "$WORK/segv") &
  local crash=$!
  wait "$crash" || true
  sleep 0.5
  local a
  a=$(why_in "$crash" || true)
  echo "$a" | jq_ '`why ${a.pid}: ${a.scene}: ${a.summary}`' && echo
  rc=1
  [[ $(echo "$a" | jq_ 'a.pid') == "$crash" && $(echo "$a" | jq_ 'a.scene') == process_crash ]] && rc=0
  check "host process $crash (SIGSEGV, outside) -> process_crash with its host pid" "$rc" "$a"

  sleep 300 &
  local stopped=$!
  PIDS+=("$stopped")
  sleep 0.3
  kill -STOP "$stopped"
  sleep 1
  a=$(why_in "$stopped" || true)
  echo "$a" | jq_ '`why ${a.pid}: ${a.scene}: ${a.summary}`' && echo
  rc=1
  [[ $(echo "$a" | jq_ 'a.pid') == "$stopped" && $(echo "$a" | jq_ 'a.summary') == *"($stopped) is stopped"* ]] && rc=0
  check "host process $stopped (SIGSTOP, outside) -> stopped, host pid" "$rc" "$a"
  if [[ -f dist/src/cli/main.js ]]; then
    rc=0
    node dist/src/cli/main.js why "$stopped" --socket "$WORK/run/xctl.sock" > "$WORK/host-why.txt" || rc=$?
    head -3 "$WORK/host-why.txt"
    check "the host CLI answers through the shared /run/xctl socket" "$([[ $rc == 0 ]] && grep -q "($stopped) is stopped" "$WORK/host-why.txt" && echo 0 || echo 1)" "exit $rc"
  fi

  say 'a process in a second container'
  podman --runtime runc run -d --name "$VICTIM" "${ULIMITS[@]}" "$SLIM" sleep 300 > "$WORK/victim.id"
  local vid vpid
  vid=$(cat "$WORK/victim.id")
  vpid=$(podman inspect -f '{{.State.Pid}}' "$VICTIM")
  kill -STOP "$vpid"
  sleep 1
  a=$(why_in "$vpid" || true)
  echo "$a" | jq_ '`why ${a.pid}: ${a.scene}: ${a.summary}\ncontainer: ${JSON.stringify(a.container)}`' && echo
  echo "podman: id $vid name $VICTIM host pid $vpid"
  rc=1
  [[ $(echo "$a" | jq_ 'a.pid') == "$vpid" ]] && rc=0
  check "second container's process $vpid answered with its host pid" "$rc" "$a"
  if [[ $(echo "$a" | jq_ 'a.container === undefined') == true ]]; then
    PENDING+=('second container named by id and name: this build has no identity layer (why --json has no "container")')
    echo "PENDING  second container named by its container id and name (identity branch not merged)"
  else
    rc=1
    [[ $(echo "$a" | jq_ 'a.container.id') == "$vid" && $(echo "$a" | jq_ 'a.container.name') == "$VICTIM" &&
      $(echo "$a" | jq_ 'a.container.runtime') == podman ]] && rc=0
    check "second container's process named by runtime podman, container id ${vid:0:12} and name $VICTIM" "$rc" "$(echo "$a" | jq_ 'a.container')"
    podman exec "$AGENT" node /opt/xctl/bin/xctl why "$vpid" | head -4
    a=$(podman exec "$AGENT" node /opt/xctl/bin/xctl why "container/${vid:0:12}" --json || true)
    echo "$a" | jq_ '`why ${a.selector}: answers ${a.answers.map((x) => `${x.comm} (${x.pid}) ${x.scene}`).join(", ")}; others ${a.others.map((x) => `${x.comm} (${x.pid}) ${x.state}`).join(", ")}`' && echo
    rc=1
    [[ $(echo "$a" | jq_ 'a.answers.map((x) => x.pid).join(" ")') == "$vpid" ]] && rc=0
    check "why container/${vid:0:12} inside answers for $vpid (the one with a finding)" "$rc" "$a"
  fi
  kill -CONT "$vpid" 2> /dev/null || true
}

main() {
  preflight
  START=$SECONDS
  case "$STEP" in
    base) make_base ;;
    build)
      make_base
      build_image
      ;;
    all)
      make_base
      build_image
      run_checks
      ;;
    *) die "unknown step $STEP (base, build or all)" ;;
  esac
  say "done in $((SECONDS - START)) s"
  ((${#PENDING[@]} == 0)) || printf 'PENDING: %s\n' "${PENDING[@]}"
  ((FAILED == 0)) || die 'a check failed'
}

# One line, read whole before it runs: editing this file during a run does not derail the run.
main "$@"; exit
