#!/usr/bin/env bash
# Stop the daemons tests/slurm/start.sh started (by their pid files in STATE_DIR), in reverse order.
STATE=$(realpath -m "${1:?usage: stop.sh STATE_DIR}")
for daemon in slurmd slurmctld slurmdbd mariadbd munged; do
  pidfile="$STATE/run/$daemon.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || continue
  for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
done
rm -f "$STATE/run/munged.pid"  # a link to munged's own pid file, valid only for this start
exit 0
