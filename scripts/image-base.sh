#!/usr/bin/env bash
# Make a local stand-in for the python:3.11-slim base image, for machines that reach no image
# registry (see the README's "Docker images"). Debian bookworm's python3 is 3.11.
#
#   scripts/image-base.sh            # build it unless an image of that name exists
#   REBUILD=1 scripts/image-base.sh  # build it again
#
# What it makes: a Debian bookworm minbase root file system (debootstrap) with python3,
# python3-venv, python3-pip, python-is-python3 and ca-certificates, then
# - apt's sources taken from this machine's apt configuration (a mirror configured here is used
#   inside too), and the suite's updates applied with this machine's Acquire settings (a proxy,
#   say), which are not kept;
# - this machine's pip configuration (`pip config list`, environment included) written to
#   /etc/pip.conf, with the files it names (a constraints file, a CA bundle) copied to the same
#   paths; directories it names (local indexes, wheel folders) are not copied: image-build.sh
#   mounts them read-only while building;
# - this machine's CA bundle at Debian's path, the PEP 668 EXTERNALLY-MANAGED marker removed
#   (pip installs into the system Python, as in the official image), docs and man pages dropped;
# committed with buildah (vfs storage) under BASE_IMAGE (default python:3.11-slim), so that
# `buildah bud --pull-never` finds it for `FROM python:3.11-slim`.
#
# Needs root (debootstrap, chroot) and Debian's debootstrap and buildah.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
SUITE=${SUITE:-bookworm}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
buildah=(buildah --storage-driver "$STORAGE_DRIVER")

die() { echo "image-base: $*" >&2; exit 1; }

for tool in debootstrap buildah chroot; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap buildah)"
done
[ "$(id -u)" = 0 ] || die "debootstrap needs root"

if [ -z "${REBUILD:-}" ] && "${buildah[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "image-base: $BASE_IMAGE exists (REBUILD=1 to make it again)"
    exit 0
fi

# apt sources of this machine for the suite and its -updates/-security companions: one
# "SITE RELEASE COMPONENT" line each, whatever the format of the host's source files.
# shellcheck disable=SC2016  # $(SITE) and friends are apt's format fields, not shell
sources=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT)' 'Created-By: Packages' \
    | awk -v s="$SUITE" '$2 == s || index($2, s "-") == 1' | sort -u)
mirror=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || die "this machine's apt sources have no '$SUITE' suite to bootstrap from"

rootfs=$(mktemp -d)
chmod 0755 "$rootfs"  # it becomes the image's /
ctr=""
cleanup() {
    for fs in proc dev/pts; do
        mountpoint -q "$rootfs/$fs" && umount "$rootfs/$fs"
    done
    rm -rf --one-file-system "$rootfs" "$rootfs.apt.log"
    [ -z "$ctr" ] || "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# debootstrap downloads with wget: give it apt's proxy, if this machine's apt has one.
eval "$(apt-config shell http_proxy Acquire::http::Proxy https_proxy Acquire::https::Proxy)"
[ -z "${http_proxy:-}" ] || export http_proxy
[ -z "${https_proxy:-}" ] || export https_proxy

echo "image-base: debootstrap $SUITE from $mirror"
debootstrap --variant=minbase \
    --include=ca-certificates,python3,python3-venv,python3-pip,python-is-python3 \
    "$SUITE" "$rootfs" "$mirror" >/dev/null

# apt inside: the host's sources for the suite, and its Acquire settings while we upgrade.
awk '{ print "deb " $1 " " $2 " " $3 }' <<<"$sources" >"$rootfs/etc/apt/sources.list"
apt-config dump Acquire >"$rootfs/etc/apt/apt.conf.d/99host-acquire"
mount -t proc proc "$rootfs/proc"
mount --bind /dev/pts "$rootfs/dev/pts"
chroot "$rootfs" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get -q update && apt-get -q -y upgrade && apt-get clean' >"$rootfs.apt.log" 2>&1 \
    || { cat "$rootfs.apt.log" >&2; die "apt-get upgrade failed in the new root"; }
rm -f "$rootfs.apt.log"
umount "$rootfs/dev/pts" "$rootfs/proc"
rm -f "$rootfs/etc/apt/apt.conf.d/99host-acquire"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
# Later apt installs in the image keep docs out too (as Debian's slim images do).
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim-image" <<'EOF'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
EOF

# PEP 668: the image is the environment, as in the official python images.
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED

# The host's CA bundle (it may trust a local proxy or mirror that Debian's does not).
host_bundle=$(python3 -c 'import ssl; print(ssl.get_default_verify_paths().openssl_cafile)')
[ -f "$host_bundle" ] && install -D -m 0644 "$host_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"

# The host's pip configuration, merged as pip sees it (files, then PIP_* variables, which win).
HOST_PIP_CONFIG=$(python3 -m pip config list 2>/dev/null || true) python3 - "$rootfs" <<'EOF'
import configparser
import os
import shutil
import sys

rootfs = sys.argv[1]
sections: dict[str, dict[str, str]] = {}
for line in os.environ["HOST_PIP_CONFIG"].splitlines():
    name, sep, value = line.partition("=")
    if not sep:
        continue
    section, _, key = name.partition(".")
    value = value.strip().strip("'\"")
    # ":env:" entries come from PIP_* variables: they act on [global] and override the files.
    sections.setdefault("global" if section == ":env:" else section, {})[key] = value
parser = configparser.ConfigParser(interpolation=None)
parser.read_dict(sections)
os.makedirs(os.path.join(rootfs, "etc"), exist_ok=True)
with open(os.path.join(rootfs, "etc", "pip.conf"), "w") as out:
    out.write("# This build machine's pip configuration (scripts/image-base.sh)\n")
    parser.write(out)
# Files the configuration names (constraints, certificates) go to the same path inside.
for values in sections.values():
    for value in values.values():
        for token in value.split():
            path = token.removeprefix("file://")
            if os.path.isabs(path) and os.path.isfile(path):
                inside = os.path.join(rootfs, path.lstrip("/"))
                os.makedirs(os.path.dirname(inside), exist_ok=True)
                shutil.copyfile(path, inside)
EOF

echo "image-base: committing $BASE_IMAGE"
previous=$("${buildah[@]}" images --quiet "$BASE_IMAGE" 2>/dev/null || true)
ctr=$("${buildah[@]}" from scratch)
mnt=$("${buildah[@]}" mount "$ctr")
tar -C "$rootfs" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
"${buildah[@]}" umount "$ctr" >/dev/null
"${buildah[@]}" config \
    --env LANG=C.UTF-8 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd python3 \
    --label "org.opencontainers.image.description=Debian $SUITE minbase with python3 (a local python:3.11-slim)" \
    "$ctr"
"${buildah[@]}" commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
ctr=""
# The image this one replaces, unless later images are built on it.
[ -z "$previous" ] || "${buildah[@]}" rmi "$previous" >/dev/null 2>&1 || true
"${buildah[@]}" images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$BASE_IMAGE"
