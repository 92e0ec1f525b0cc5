#!/usr/bin/env bash
# A real Slurm cluster in a directory of its own: munged, slurmctld and slurmd with their own
# configuration, sockets and ports, run as root. For the Slurm tests.
#   slurm_cluster.sh start DIR PLUGSTACK_LINE PORT_BASE      one node (node0) on loopback
#   slurm_cluster.sh start-two DIR PLUGSTACK_LINE PORT_BASE  two nodes, each a host of its own: network
#        namespaces DIR's netns-a (slurmctld, node0, where commands run: nsenter --net) and netns-b
#        (node1), joined by a veth pair (10.77.24.1 and .2/30); node1's slurmd gets NODE1_VXPU_STATE_DIR
#        and NODE1_VXPU_SIMGPU_CONFIG as its VXPU_STATE_DIR and VXPU_SIMGPU_CONFIG
#   slurm_cluster.sh restart-slurmd DIR                      stops node0's slurmd and starts it again (running jobs go on)
#   slurm_cluster.sh stop DIR                                stops whatever of them runs, deletes the namespaces
# Each node has one GPU of 10 shards (gres.conf); its device file is a link to /dev/null (Slurm
# wants a character device to export CUDA_VISIBLE_DEVICES; no cgroup is constrained).
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|start-two|restart-slurmd|stop DIR ...}
dir=${2:?missing DIR}
export SLURM_CONF="$dir/slurm.conf"

# Runs a command in host A (node0's), or here on a one-node cluster. (nsenter, not `ip netns
# exec`, which mounts a /sys of its own without the cgroup file system slurmd looks for.)
in_a() {
  if [ -f "$dir/netns-a" ]; then nsenter --net="/run/netns/$(cat "$dir/netns-a")" "$@"; else "$@"; fi
}

stop() {
  [ -f "$dir/slurm.conf" ] && { in_a timeout 10 scontrol shutdown >/dev/null 2>&1 || true; }
  local pids=()
  for pidfile in "$dir"/run/slurmd-*.pid "$dir"/run/slurmctld.pid; do
    [ -f "$pidfile" ] && pids+=("$(cat "$pidfile")")
  done
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
  sleep 0.5
  [ -f "$dir/run/munged.pid" ] && pids+=("$(cat "$dir/run/munged.pid")")
  [ ${#pids[@]} -gt 0 ] && kill -9 "${pids[@]}" 2>/dev/null || true
  for ns in "$dir/netns-a" "$dir/netns-b"; do
    [ -f "$ns" ] && { ip netns delete "$(cat "$ns")" 2>/dev/null || true; rm -f "$ns"; }
  done
  return 0
}

# The two hosts: namespaces named after DIR, a veth pair between them.
make_hosts() {
  local tag
  tag="vxs$(basename "$dir" | tr -dc 'a-zA-Z0-9' | tail -c 8)"
  ip netns add "$tag-a"
  echo "$tag-a" > "$dir/netns-a"
  ip netns add "$tag-b"
  echo "$tag-b" > "$dir/netns-b"
  ip link add "$tag-va" netns "$tag-a" type veth peer name "$tag-vb" netns "$tag-b"
  ip -n "$tag-a" addr add 10.77.24.1/30 dev "$tag-va"
  ip -n "$tag-b" addr add 10.77.24.2/30 dev "$tag-vb"
  for side in a b; do
    ip -n "$tag-$side" link set lo up
    ip -n "$tag-$side" link set "$tag-v$side" up
  done
}

write_conf() {
  local plugstack=$1 base=$2 ctl=$3
  shift 3
  cat > "$dir/slurm.conf" <<CONF
ClusterName=vxpu-test
SlurmctldHost=localhost($ctl)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu,shard
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
KillWait=1
SlurmdParameters=config_overrides
CONF
  : > "$dir/gres.conf"
  local nodes=""
  for node in "$@"; do  # NAME=ADDRESS
    local name=${node%%=*} addr=${node#*=}
    echo "NodeName=$name NodeAddr=$addr CPUs=8 RealMemory=1000 Gres=gpu:1,shard:10" >> "$dir/slurm.conf"
    printf 'NodeName=%s Name=gpu File=%s Flags=nvidia_gpu_env\nNodeName=%s Name=shard Count=10 File=%s Flags=nvidia_gpu_env\n' \
      "$name" "$dir/dev/nvidia0" "$name" "$dir/dev/nvidia0" >> "$dir/gres.conf"
    nodes+="${nodes:+,}$name"
    mkdir -p "$dir/spool/$name"
  done
  echo "PartitionName=main Nodes=$nodes Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO" >> "$dir/slurm.conf"
  echo "$plugstack" > "$dir/plugstack.conf"
}

start_munge() {
  mkdir -p "$dir"/{munge,run,log,state,spool,dev}
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  ln -sf /dev/null "$dir/dev/nvidia0"
  munged -S "$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" --log-file="$dir/log/munged.log" \
    --pid-file="$dir/run/munged.pid" --seed-file="$dir/munge/seed" --force
}

# Waits until slurmctld has node $1 up, in any state but down.
await_node() {
  local state=""
  for _ in $(seq 150); do
    state=$(in_a sinfo -h -n "$1" -o %t 2>/dev/null || true)
    case "$state" in idle|mix|alloc) return 0 ;; esac
    sleep 0.2
  done
  echo "slurm_cluster.sh: $1 did not come up (state ${state:-unknown}); logs in $dir/log" >&2
  return 1
}

start() {
  start_munge
  write_conf "$1" "$2" 127.0.0.1 node0=127.0.0.1
  slurmctld -c
  slurmd -N node0
  await_node node0
}

start_two() {
  start_munge
  make_hosts
  write_conf "$1" "$2" 10.77.24.1 node0=10.77.24.1 node1=10.77.24.2
  in_a slurmctld -c
  in_a slurmd -N node0
  nsenter --net="/run/netns/$(cat "$dir/netns-b")" env VXPU_STATE_DIR="${NODE1_VXPU_STATE_DIR:?}" \
    VXPU_SIMGPU_CONFIG="${NODE1_VXPU_SIMGPU_CONFIG:?}" slurmd -N node1
  await_node node0
  await_node node1
}

restart_slurmd() {
  local pid
  pid=$(cat "$dir/run/slurmd-node0.pid")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  in_a slurmd -N node0
  await_node node0
}

case "$cmd" in
  start) start "${3:?missing PLUGSTACK_LINE}" "${4:?missing PORT_BASE}" ;;
  start-two) start_two "${3:?missing PLUGSTACK_LINE}" "${4:?missing PORT_BASE}" ;;
  restart-slurmd) restart_slurmd ;;
  stop) stop ;;
  *) echo "slurm_cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
