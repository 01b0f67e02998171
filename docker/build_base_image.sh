#!/usr/bin/env bash
# Build the grader's base image locally: docker/build_base_image.sh [TAG]
# (default grader-base:bookworm). Debian bookworm minbase + python3.11 with a
# ready venv at /opt/venv (its pip installs local wheels offline).
# Why: no Docker image registry is reachable here, so the base image is made
# with debootstrap from the same apt mirror this machine already uses, then
# `docker import`ed. Needs a running engine (docker/engine.sh start) and root.
set -euo pipefail

TAG=${1:-grader-base:bookworm}
SUITE=bookworm
log() { echo "build_base_image.sh: $*" >&2; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
    log "image $TAG already exists; skipping"; exit 0
fi
if ! command -v debootstrap >/dev/null; then   # normally installed by engine.sh start
    apt-cache policy debootstrap 2>/dev/null | grep -q 'Candidate: [^(]' || apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

# Mirror: the first URI that serves the plain $SUITE suite in this machine's
# apt sources (deb822 *.sources or one-line *.list), read at run time so no
# host name is written here.
mirror=$(
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in
        *.sources) # deb822 stanzas separated by blank lines
            awk -v s="$SUITE" 'BEGIN{RS=""; FS="\n"}
                { uri=""; ok=0; off=0
                  for (i=1;i<=NF;i++) {
                    if ($i ~ /^URIs:/)   { split($i,a,/[ \t]+/); uri=a[2] }
                    if ($i ~ /^Suites:/) { n=split($i,a,/[ \t]+/); for(j=2;j<=n;j++) if (a[j]==s) ok=1 }
                    if ($i ~ /^Types:/ && $i !~ /(^|[ \t])deb([ \t]|$)/) off=1
                    if ($i ~ /^Enabled:[ \t]*no/) off=1 }
                  if (ok && !off && uri!="") print uri }' "$f" ;;
        *) # one-line form: deb [options] URI SUITE COMPONENTS...
            sed -E 's/\[[^]]*\]//' "$f" | awk -v s="$SUITE" '$1=="deb" && $3==s { print $2 }' ;;
        esac
    done | head -n1)
[ -n "$mirror" ] || { log "no apt source for suite $SUITE found in /etc/apt"; exit 1; }
log "mirror: $mirror"

t0=$SECONDS
work=$(mktemp -d /var/tmp/grader-rootfs.XXXXXX)   # /var/tmp: local disk, not tmpfs
rootfs=$work/rootfs
cleanup() { umount "$rootfs/proc" 2>/dev/null || true; rm -rf --one-file-system "$work"; }
trap cleanup EXIT

# minbase + python3 (3.11 in bookworm) + python3-venv (ensurepip's bundled pip
# and setuptools wheels, so the venv's pip works with no index at all).
log "debootstrap $SUITE into $rootfs"
debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

# Pull in -updates/-security fixes: give the rootfs the host's apt source
# files that use this mirror (they normally list the security suite too).
: >"$rootfs/etc/apt/sources.list"
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ] && grep -qF "$mirror" "$f"; then cp "$f" "$rootfs$f"; fi
done
log "applying updates, creating /opt/venv, trimming (log: $work/chroot.log)"
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" sh -ec '
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -q >/dev/null; then
        apt-get -y -q -o Dpkg::Options::=--force-confold upgrade >/dev/null
    else
        echo "build_base_image.sh: WARNING: apt-get update failed in rootfs; no updates applied" >&2
    fi
    python3 -m venv /opt/venv                 # pip 23.0.1 from ensurepip, offline
    /opt/venv/bin/python -m pip --version
    apt-get clean
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/* /root/.cache
    rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/*
    find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
' >"$work/chroot.log" 2>&1 || { tail -n 30 "$work/chroot.log" >&2; exit 1; }
grep -h WARNING "$work/chroot.log" >&2 || true
umount "$rootfs/proc"
# debootstrap copied the host's resolv.conf and hostname; docker provides its own.
rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"

log "importing rootfs as $TAG"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV VIRTUAL_ENV=/opt/venv' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'WORKDIR /' \
    --change 'CMD ["python3"]' \
    - "$TAG" >/dev/null

docker run --rm --network none "$TAG" python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version; print(sys.version)'
log "built $TAG in $((SECONDS - t0))s, size $(docker image inspect -f '{{.Size}}' "$TAG") bytes"
