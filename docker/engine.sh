#!/usr/bin/env bash
# Start or stop a local Docker engine for the grader.
#   docker/engine.sh start   install docker.io etc. if missing, start dockerd, wait until usable
#   docker/engine.sh stop    stop the dockerd that `start` launched (and only that one)
# Why: CI runs on a fresh clone as root with no engine running and no Docker
# image registry reachable; Debian's docker.io package is the only way to get one.
set -euo pipefail

STATE_DIR=${GRADER_DOCKERD_STATE:-/var/run/grader-dockerd}   # our PID file lives here
PIDFILE=$STATE_DIR/dockerd.pid
LOG=${GRADER_DOCKERD_LOG:-/var/log/grader-dockerd.log}
DATA_ROOT=${GRADER_DOCKERD_DATA_ROOT:-/var/lib/docker}       # on the local ext4 disk (overlay2 needs it)
WAIT_SECS=${GRADER_DOCKERD_WAIT:-60}
# Packages: engine, its firewall helper, and debootstrap for docker/build_base_image.sh.
PKGS=(docker.io containerd runc iptables debootstrap)

log() { echo "engine.sh: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

install_pkgs() {
    local missing=()
    command -v dockerd     >/dev/null || missing+=(docker.io)
    command -v iptables    >/dev/null || missing+=(iptables)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return 0
    export DEBIAN_FRONTEND=noninteractive
    log "installing ${PKGS[*]}"
    # Refresh package lists only when needed: when they do not know docker.io
    # (fresh machine, empty lists), or when installing from them fails (stale
    # lists pointing at files the mirror no longer has).
    apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [^(]' || apt-get update -q >/dev/null
    if ! apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null; then
        log "apt-get install failed; running apt-get update and retrying"
        apt-get update -q >/dev/null
        apt-get install -y -q --no-install-recommends "${PKGS[@]}" >/dev/null
    fi
}

# Start dockerd with the given extra flags; return 0 once `docker info` works.
launch() {
    mkdir -p "$STATE_DIR" "$DATA_ROOT" "$(dirname "$LOG")"
    echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$LOG"
    # setsid: detach from our process group so the caller's Ctrl-C/job control
    # does not take the engine down with it.
    setsid dockerd --data-root "$DATA_ROOT" --storage-driver overlay2 "$@" \
        </dev/null >>"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    local pid; pid=$(cat "$PIDFILE")
    for _ in $(seq "$WAIT_SECS"); do
        engine_up && return 0
        kill -0 "$pid" 2>/dev/null || { log "dockerd (pid $pid) exited early"; rm -f "$PIDFILE"; return 1; }
        sleep 1
    done
    log "dockerd (pid $pid) not ready after ${WAIT_SECS}s; stopping it"
    stop_engine
    return 1
}

start_engine() {
    if engine_up; then log "docker engine already running; nothing to do"; return 0; fi
    install_pkgs
    log "starting dockerd (data root $DATA_ROOT, log $LOG)"
    local t0=$SECONDS
    # Default networking first; if iptables/bridge setup is what fails, retry
    # without it: the grader runs containers with network_mode=none and our
    # image builds download nothing, so no bridge network is needed.
    if launch || { log "retrying with --iptables=false --bridge=none"; launch --iptables=false --bridge=none; }; then
        log "docker engine ready after $((SECONDS - t0))s (pid $(cat "$PIDFILE"))"
    else
        log "could not start dockerd; last lines of $LOG:"; tail -n 30 "$LOG" >&2; exit 1
    fi
}

stop_engine() {
    if [ ! -s "$PIDFILE" ]; then log "no PID file $PIDFILE: no engine started by this script"; return 0; fi
    local pid; pid=$(cat "$PIDFILE")
    # Only signal it if that PID is still a dockerd (guards against PID reuse).
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
        log "dockerd (pid $pid) is not running"; rm -f "$PIDFILE"; return 0
    fi
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then log "dockerd did not exit in 30s; sending SIGKILL"; kill -KILL "$pid"; fi
    rm -f "$PIDFILE"
    log "dockerd stopped"
}

case "${1:-}" in
    start) start_engine ;;
    stop)  stop_engine ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
