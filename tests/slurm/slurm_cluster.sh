#!/usr/bin/env bash
# Starts a one-node Slurm cluster on loopback for the scheduler test: its own
# munged (socket and key under DIR, not the system's), slurmctld and slurmd
# on two ports from PORT, one partition of this machine's CPUs, no
# accounting, no cgroups (proctrack/linuxproc, task/none). Root only, as
# slurmd must be. Client commands need SLURM_CONF=DIR/slurm.conf.
#
#   tests/slurm/slurm_cluster.sh start DIR PORT   # prints "ready" once the node is idle
#   tests/slurm/slurm_cluster.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2

stop() {
  [[ -f $dir/slurm.conf ]] && SLURM_CONF=$dir/slurm.conf scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
  for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge/munged.pid; do
    [[ -f $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  rm -f "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munge/munged.pid
}

case $cmd in
  stop) stop; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac

port=$3
[[ $(id -u) -eq 0 ]] || { echo "slurm_cluster.sh: slurmd runs as root only" >&2; exit 1; }
stop
rm -rf "$dir" && mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir/munge"
head -c 1024 /dev/urandom >"$dir/munge/munge.key"
chmod 600 "$dir/munge/munge.key"
/usr/sbin/munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"

node=$(hostname -s)
cpus=$(nproc)
memory=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)  # MiB, as jobs ask for it
cat >"$dir/slurm.conf" <<CONF
ClusterName=sluicetest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
KillWait=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$dir/slurm.conf
/usr/sbin/slurmctld -i
/usr/sbin/slurmd
for _ in $(seq 300); do
  if [[ $(sinfo -h -o %t 2>/dev/null) == idle ]]; then echo ready; exit 0; fi
  sleep 0.1
done
echo "slurm did not start; logs in $dir/log" >&2
tail -n 20 "$dir"/log/* >&2
exit 1
