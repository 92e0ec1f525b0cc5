#!/usr/bin/env bash
# A real Slurm cluster of one node on loopback, in a directory of its own: munged, slurmctld and
# slurmd with their own configuration, sockets and ports, run as root. For the Slurm tests.
#   slurm_cluster.sh start DIR PLUGSTACK_LINE PORT_BASE   writes DIR/slurm.conf etc., starts the daemons, waits for the node
#   slurm_cluster.sh restart-slurmd DIR                   stops slurmd and starts it again (running jobs go on)
#   slurm_cluster.sh stop DIR                             stops them (whatever of them runs)
# The node has one GPU of 10 shards (gres.conf); its device file is a link to /dev/null (Slurm
# wants a character device to export CUDA_VISIBLE_DEVICES; no cgroup is constrained).
set -euo pipefail

cmd=${1:?usage: slurm_cluster.sh start|stop DIR ...}
dir=${2:?missing DIR}

stop() {
  if [ -f "$dir/slurm.conf" ]; then
    SLURM_CONF="$dir/slurm.conf" timeout 10 scontrol shutdown >/dev/null 2>&1 || true
  fi
  for pidfile in "$dir"/run/slurmd.pid "$dir"/run/slurmctld.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  for pidfile in "$dir"/run/slurmd.pid "$dir"/run/slurmctld.pid "$dir"/run/munged.pid; do
    [ -f "$pidfile" ] && kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  done
  return 0
}

start() {
  local plugstack=${3:?missing PLUGSTACK_LINE} base=${4:?missing PORT_BASE}
  mkdir -p "$dir"/{munge,run,log,state,spool,dev}
  chmod 700 "$dir/munge"
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 600 "$dir/munge/munge.key"
  ln -sf /dev/null "$dir/dev/nvidia0"
  munged -S "$dir/munge/munge.sock" --key-file="$dir/munge/munge.key" --log-file="$dir/log/munged.log" \
    --pid-file="$dir/run/munged.pid" --seed-file="$dir/munge/seed" --force
  cat > "$dir/slurm.conf" <<CONF
ClusterName=vxpu-test
SlurmctldHost=localhost(127.0.0.1)
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
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
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
NodeName=node0 NodeAddr=127.0.0.1 CPUs=8 RealMemory=1000 Gres=gpu:1,shard:10
PartitionName=main Nodes=node0 Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  cat > "$dir/gres.conf" <<CONF
NodeName=node0 Name=gpu File=$dir/dev/nvidia0 Flags=nvidia_gpu_env
NodeName=node0 Name=shard Count=10 File=$dir/dev/nvidia0 Flags=nvidia_gpu_env
CONF
  echo "$plugstack" > "$dir/plugstack.conf"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -c
  mkdir -p "$dir/spool/node0"
  slurmd -N node0
  await_node
}

# Waits until slurmctld has node0 back, in any state but down.
await_node() {
  for _ in $(seq 150); do
    state=$(sinfo -h -n node0 -o %t 2>/dev/null || true)
    case "$state" in idle|mix|alloc) return 0 ;; esac
    sleep 0.2
  done
  echo "slurm_cluster.sh: node0 did not come up (state ${state:-unknown}); logs in $dir/log" >&2
  return 1
}

restart_slurmd() {
  export SLURM_CONF="$dir/slurm.conf"
  local pid
  pid=$(cat "$dir/run/slurmd.pid")
  kill "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  slurmd -N node0
  await_node
}

case "$cmd" in
  start) start "$@" ;;
  restart-slurmd) restart_slurmd ;;
  stop) stop ;;
  *) echo "slurm_cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
