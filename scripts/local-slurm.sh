#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for trying the cluster paths and for the tests.
#
#   scripts/local-slurm.sh start    # install (apt) when missing, start munge + slurmctld + slurmd
#   eval "$(scripts/local-slurm.sh env)"   # SLURM_CONF for sbatch/srun/squeue in this shell
#   scripts/local-slurm.sh status   # daemons' PIDs and `sinfo`
#   scripts/local-slurm.sh stop     # stop the daemons this script started (by their PIDs)
#
# Everything lives in one state folder, LOCAL_SLURM_DIR (default /tmp/seq2seq-es-slurm):
# slurm.conf, the daemons' PID files, logs, spool and state, and munge's socket. Nothing in
# /etc changes beyond what the Debian packages install, and a munge or Slurm already running
# on the machine is left alone: this cluster has its own munge socket and its own ports.
# Needs root (slurmd starts jobs as their user) and Debian's apt for the first install.
# Jobs run as root here and inherit the submitting shell's environment (sbatch --export=ALL).
set -euo pipefail

STATE="${LOCAL_SLURM_DIR:-${TMPDIR:-/tmp}/seq2seq-es-slurm}"
CONF="$STATE/slurm.conf"
PACKAGES=(slurmctld slurmd slurm-client munge)
WAIT_S="${LOCAL_SLURM_WAIT_S:-60}"

die() {
    echo "local-slurm: $*" >&2
    exit 2
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { # the first port from $1 up that nothing listens on
    local port=$1
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "$port"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurmctld)
    command -v slurmd >/dev/null || missing+=(slurmd)
    command -v sbatch >/dev/null || missing+=(slurm-client)
    command -v munged >/dev/null || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "needs root to install ${missing[*]} (or install ${PACKAGES[*]} yourself)"
    command -v apt-get >/dev/null || die "no apt-get: install ${PACKAGES[*]} with your package manager"
    echo "local-slurm: installing ${missing[*]} (apt)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}" >/dev/null
}

write_conf() {
    local host cpus memory ctld_port slurmd_port
    host="$(hostname -s)"
    cpus="$(nproc)"
    memory=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10))
    ctld_port="$(free_port 16817)"
    slurmd_port="$(free_port $((ctld_port + 1)))"
    mkdir -p "$STATE/spool" "$STATE/state"
    cat >"$CONF" <<EOF
# Written by scripts/local-slurm.sh: one node, no accounting daemon, no cgroups.
ClusterName=seq2seq-es-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket.2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
ReturnToService=2
MpiDefault=none
DependencyParameters=kill_invalid_depend
JobAcctGatherType=jobacct_gather/none
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmdSpoolDir=$STATE/spool
StateSaveLocation=$STATE/state
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    alive "$STATE/munged.pid" && return
    # munged wants its socket folder owned by its user, writable by no one else, searchable by all.
    mkdir -p "$STATE/munge"
    chown munge:munge "$STATE/munge"
    chmod 0755 "$STATE/munge"
    chmod 0755 "$STATE"
    su -s /bin/sh munge -c "munged --socket=$STATE/munge/munge.socket.2 \
        --pid-file=$STATE/munge/munged.pid --log-file=$STATE/munge/munged.log \
        --seed-file=$STATE/munge/munged.seed" ||
        die "munged did not start (log: $STATE/munge/munged.log)"
    cp "$STATE/munge/munged.pid" "$STATE/munged.pid"
}

node_idle() { sinfo -h -o '%T' 2>/dev/null | grep -qx idle; }

start() {
    if alive "$STATE/slurmctld.pid" && alive "$STATE/slurmd.pid"; then
        echo "local-slurm: already running (SLURM_CONF=$CONF)" >&2
        return
    fi
    [ "$(id -u)" = 0 ] || die "needs root: slurmd starts jobs as their user"
    install_packages
    [ -f /etc/munge/munge.key ] || die "no /etc/munge/munge.key (the munge package creates it)"
    write_conf
    export SLURM_CONF="$CONF"
    start_munge
    alive "$STATE/slurmctld.pid" || slurmctld -f "$CONF" || die "slurmctld did not start: $STATE/slurmctld.log"
    alive "$STATE/slurmd.pid" || slurmd -f "$CONF" || die "slurmd did not start: $STATE/slurmd.log"
    local waited=0
    until node_idle; do
        [ "$waited" -ge $((WAIT_S * 10)) ] && die "the node is not idle after ${WAIT_S} s: $(sinfo 2>&1); logs in $STATE"
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "local-slurm: up in $STATE (eval \"\$($0 env)\" to use it)" >&2
}

stop_pid() { # SIGTERM the daemon of PID file $1, wait up to 10 s, then SIGKILL
    local file=$1 pid
    alive "$file" || {
        rm -f "$file"
        return 0
    }
    pid="$(cat "$file")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$file"
}

stop() {
    if alive "$STATE/slurmctld.pid" && [ -f "$CONF" ]; then
        SLURM_CONF="$CONF" scancel --full --signal=KILL --quiet --user "$(id -un)" 2>/dev/null || true
    fi
    stop_pid "$STATE/slurmd.pid"
    stop_pid "$STATE/slurmctld.pid"
    stop_pid "$STATE/munged.pid"
    echo "local-slurm: stopped" >&2
}

status() {
    local up=0
    for daemon in munged slurmctld slurmd; do
        if alive "$STATE/$daemon.pid"; then
            echo "$daemon: running (pid $(cat "$STATE/$daemon.pid"))"
        else
            echo "$daemon: stopped"
            up=1
        fi
    done
    [ "$up" = 0 ] && SLURM_CONF="$CONF" sinfo
    return "$up"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
env) echo "export SLURM_CONF=$CONF" ;;
*) die "usage: $0 start|stop|status|env (state folder: LOCAL_SLURM_DIR, now $STATE)" ;;
esac
