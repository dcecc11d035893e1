#!/usr/bin/env bash
# Bring up a single-node SLURM on localhost for the integration test (tests/test_slurm.py): munge, MariaDB +
# slurmdbd (so `sacct` works, as the Snakemake SLURM plugin polls with it), slurmctld and slurmd.
#   tests/slurm/start.sh STATE_DIR     # prints nothing on success; exit 3 with the reason when SLURM cannot start
#   tests/slurm/stop.sh STATE_DIR      # stops every daemon by its pid file
# Needs root (daemons, /etc/slurm). Installs Debian's packages when they are missing and apt-get is available.
# The config lives at /etc/slurm/slurm.conf because Snakemake's jobstep drops SLURM_CONF; an existing config
# that this script did not write is never touched.
set -euo pipefail
STATE=$(realpath -m "${1:?usage: start.sh STATE_DIR}")
MARK="# written by needlework tests/slurm/start.sh"
cannot() { echo "SLURM cannot start here: $*" >&2; exit 3; }

[ "$(id -u)" = 0 ] || cannot "needs root to run slurmctld/slurmd/munged (running as $(id -un))"
PACKAGES="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
  command -v apt-get >/dev/null || cannot "slurmctld/slurmdbd/mariadbd are not installed and there is no apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null \
    || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null; } \
    || cannot "apt-get install $PACKAGES failed"
fi
if [ -e /etc/slurm/slurm.conf ] && ! grep -qF "$MARK" /etc/slurm/slurm.conf; then
  cannot "/etc/slurm/slurm.conf exists and was not written by this script (a real cluster config is never replaced)"
fi

mkdir -p "$STATE"/{ctld,d,db,log,mysql,run} /etc/slurm /run/munge
CPUS=$(nproc)
MEM_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))

# munge: one key, daemon as user munge.
[ -s /etc/munge/munge.key ] || mungekey -c >/dev/null 2>&1 || cannot "mungekey -c failed"
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
if ! munge -n >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force || cannot "munged did not start"
  ln -sf /run/munge/munged.pid "$STATE/run/munged.pid"  # started here: stop.sh stops it too
fi

# MariaDB for slurmdbd on 127.0.0.1:13306 (not a system server's port), data in STATE.
chown -R mysql:mysql "$STATE/mysql" "$STATE/run" "$STATE/log"
if [ ! -d "$STATE/mysql/mysql" ]; then
  mariadb-install-db --user=mysql --datadir="$STATE/mysql" --auth-root-authentication-method=socket \
    >"$STATE/log/mariadb-install.log" 2>&1 || cannot "mariadb-install-db failed (see $STATE/log/mariadb-install.log)"
fi
SOCK="$STATE/run/mysqld.sock"
if [ ! -S "$SOCK" ]; then
  mariadbd --user=mysql --datadir="$STATE/mysql" --socket="$SOCK" --bind-address=127.0.0.1 --port=13306 \
    --pid-file="$STATE/run/mariadbd.pid" --log-error="$STATE/log/mariadb.log" >>"$STATE/log/mariadb.out" 2>&1 &
fi
for _ in $(seq 60); do mariadb --socket="$SOCK" -e "select 1" >/dev/null 2>&1 && break; sleep 0.5; done
mariadb --socket="$SOCK" -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" || cannot "MariaDB did not start (see $STATE/log/mariadb.log)"

cat > /etc/slurm/slurmdbd.conf <<EOF
$MARK
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=13306
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
EOF
chmod 600 /etc/slurm/slurmdbd.conf

cat > /etc/slurm/slurm.conf <<EOF
$MARK
ClusterName=needlework
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/none
AccountingStoreFlags=job_comment
NodeName=localhost CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

[ -f "$STATE/run/slurmdbd.pid" ] && kill -0 "$(cat "$STATE/run/slurmdbd.pid")" 2>/dev/null || slurmdbd \
  || cannot "slurmdbd did not start (see $STATE/log/slurmdbd.log)"
for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
sacctmgr -i add cluster needlework >/dev/null 2>&1 || true
sacctmgr -i add account needlework cluster=needlework >/dev/null 2>&1 || true
sacctmgr -i add user root account=needlework cluster=needlework >/dev/null 2>&1 || true

[ -f "$STATE/run/slurmctld.pid" ] && kill -0 "$(cat "$STATE/run/slurmctld.pid")" 2>/dev/null || slurmctld \
  || cannot "slurmctld did not start (see $STATE/log/slurmctld.log)"
[ -f "$STATE/run/slurmd.pid" ] && kill -0 "$(cat "$STATE/run/slurmd.pid")" 2>/dev/null || slurmd -N localhost \
  || cannot "slurmd did not start (see $STATE/log/slurmd.log)"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && exit 0
  sleep 0.5
done
cannot "the node never became idle: $(sinfo -h -o '%T %E' 2>&1) (see $STATE/log/slurmd.log, slurmctld.log)"
