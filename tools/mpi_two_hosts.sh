#!/usr/bin/env bash
# Fine-tunes across two "hosts" on this machine: network namespaces zoo-host-a and zoo-host-b
# joined by a veth pair (10.213.0.1 and 10.213.0.2, addresses that exist only inside them), with
# a hostname each (a UTS namespace). mpirun runs on host a; its launch agent starts host b's Open
# MPI daemon through `ip netns exec` where a cluster would use ssh. The TCP transport is forced
# (`--mca btl tcp,self`): the namespaces share /dev/shm, so Open MPI would otherwise use shared
# memory. Rank 0 runs where the weight file is, rank 1 in an empty directory (it never opens the
# file). Runs the same fine-tunes in one process and compares the weights.
#
# Needs root (namespaces), a built `zoo` (swift build -c release) and the repository's fixtures.
# Usage: tools/mpi_two_hosts.sh [zoo binary] (default .build/release/zoo)
set -euo pipefail
cd "$(dirname "$0")/.."
ZOO=$(realpath "${1:-.build/release/zoo}")
WORK=$(mktemp -d /tmp/zoo-two-hosts.XXXXXX)
A=zoo-host-a B=zoo-host-b

cleanup() {
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
ip link add zoo-veth-a netns "$A" type veth peer name zoo-veth-b netns "$B"
ip -n "$A" addr add 10.213.0.1/24 dev zoo-veth-a
ip -n "$B" addr add 10.213.0.2/24 dev zoo-veth-b
for ns in "$A" "$B"; do
    ip -n "$ns" link set lo up
done
ip -n "$A" link set zoo-veth-a up
ip -n "$B" link set zoo-veth-b up
ip -n "$A" route get 10.213.0.2 >/dev/null

# The launch agent Open MPI calls as `agent <host> <command...>` (ssh's form).
cat > "$WORK/agent.sh" <<AGENT
#!/bin/sh
host=\$1; shift
[ "\$host" = 10.213.0.2 ] || { echo "agent: unknown host \$host" >&2; exit 1; }
exec ip netns exec $B unshare --uts sh -c "hostname $B; \$*"
AGENT
chmod +x "$WORK/agent.sh"
printf '10.213.0.1 slots=1\n10.213.0.2 slots=1\n' > "$WORK/hostfile"

# Rank 0 runs in $WORK/a, the only place with the weight file; rank 1 runs in $WORK/b (empty).
mkdir -p "$WORK/a" "$WORK/b"
cp weights/lenet5-digits.h5 "$WORK/a/base.h5"
DATA=$(realpath Tests/Fixtures/images/folder)
COMMON=(finetune --data "$DATA" --weights base.h5 --trainable-from c1 --epochs 3 --batch 6
        --augment flip,mixup --optimizer momentum --lr 0.01 --seed 4)
# ResNet-18's narrow twin (fixture weights) with every layer and so every BatchNorm training, on 12
# seeded random 32x32 samples: --sync-bn must give one process's weights.
python3 -c "
import numpy as np, sys
r = np.random.default_rng(1)
np.save(sys.argv[1] + '/images.npy', r.uniform(0, 255, (12, 32, 32, 3)).astype(np.float32))
np.save(sys.argv[1] + '/labels.npy', np.arange(12) % 3)" "$(mkdir -p "$WORK/random" && echo "$WORK/random")"
SYNCED=(finetune --data "$WORK/random" --model resnet18 --channel-divisor 16
        --weights "$(realpath Tests/Fixtures/zoo/resnet18/weights.h5)" --trainable-from conv1_conv --epochs 2
        --batch 5 --optimizer sgd --lr 0.01 --seed 3)

echo "== one process"
(cd "$WORK/a" && "$ZOO" "${COMMON[@]}" --out "$WORK/one.h5" 2>/dev/null | grep -E '^(best|wrote)')
"$ZOO" "${SYNCED[@]}" --out "$WORK/one-resnet.h5" 2>/dev/null | grep -E '^best'

# mpirun on host a with `zoo ARGS...` as every rank's command, rank 0 on host a in $WORK/a and
# rank 1 on host b in $WORK/b; rank, host and directory go to standard error.
across_hosts() {
    local rank="sh -c 'echo rank \$OMPI_COMM_WORLD_RANK on \$(hostname) in \$(pwd) >&2; exec $ZOO $*'"
    ip netns exec "$A" unshare --uts sh -c "hostname $A; exec mpirun --hostfile $WORK/hostfile \
        --mca plm_rsh_agent $WORK/agent.sh --mca plm_rsh_no_tree_spawn 1 \
        --mca btl tcp,self --mca btl_tcp_if_include 10.213.0.0/24 --mca oob_tcp_if_include 10.213.0.0/24 \
        --bind-to none --tag-output -x ZOO_TEST_KILL_AFTER_EPOCH -x ZOO_TEST_KILL_RANK \
        -np 1 --host 10.213.0.1 --wdir $WORK/a $rank : -np 1 --host 10.213.0.2 --wdir $WORK/b $rank"
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 ZOO_TEST_KILL_AFTER_EPOCH= ZOO_TEST_KILL_RANK=

echo "== two hosts: mpirun on $A, rank 1 on $B over TCP, the weight file on $A only"
across_hosts "${COMMON[*]} --out $WORK/two.h5" 2>&1 \
    | grep -E 'rank [01] on|data parallel|^\[1,0\]<stdout>:(best|wrote)' || true

echo "== two hosts, --sync-bn (ResNet-18 twin, every BatchNorm training)"
across_hosts "${SYNCED[*]} --sync-bn --out $WORK/two-resnet.h5" 2>&1 \
    | grep -E '^\[1,0\]<stdout>:(data parallel|best)' || true

echo "== host b's rank killed (SIGKILL) in epoch 2, then --resume on both hosts"
status=0
ZOO_TEST_KILL_AFTER_EPOCH=1 ZOO_TEST_KILL_RANK=1 across_hosts "${COMMON[*]} --out $WORK/resumed.h5" \
    > "$WORK/killed.log" 2>&1 || status=$?
grep -vE '<std(out|err)>:' "$WORK/killed.log" | grep -vE '^-+$|^ *$' || true
echo "mpirun exit status $status; checkpoints left: $(ls "$WORK/resumed.checkpoints")"
across_hosts "${COMMON[*]} --out $WORK/resumed.h5 --resume" 2>&1 \
    | grep -E '^\[1,0\]<stdout>:(resumed|best)' || true
echo "files rank 1 left in its directory on host b: $(ls -A "$WORK/b" | wc -l)"

echo "== weights compared (largest difference relative to each tensor's largest magnitude)"
python3 - "$WORK" <<'PY'
import sys, h5py, numpy as np
def weights(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, np.array(obj)) if isinstance(obj, h5py.Dataset) else None)
    return out
work = sys.argv[1]
ok = True
for reference, path, what in [("one.h5", "two.h5", "two hosts"), ("one.h5", "resumed.h5", "two hosts, killed and resumed"),
                              ("one-resnet.h5", "two-resnet.h5", "two hosts, --sync-bn, ResNet-18 twin")]:
    a, b = weights(f"{work}/{reference}"), weights(f"{work}/{path}")
    assert a.keys() == b.keys(), (a.keys(), b.keys())
    worst = max(float(np.abs(a[k] - b[k]).max() / max(np.abs(a[k]).max(), 1e-12)) for k in a)
    ok &= worst <= 1e-5
    print(f"{what} vs one process: {len(a)} weight tensors, worst relative difference {worst:.2e}: "
          f"{'within' if worst <= 1e-5 else 'NOT within'} 1e-5")
sys.exit(0 if ok else 1)
PY
