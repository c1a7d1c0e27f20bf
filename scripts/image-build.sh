#!/usr/bin/env bash
# Build the service image with buildah, without a Docker engine or an image registry.
#
#   scripts/image-build.sh full|slim [TAG] [CONTEXT]   # TAG defaults to realtime-stt:<variant>
#
# Rootless-style buildah: vfs storage, chroot isolation, --pull-never (the base image must be
# local: scripts/image-base.sh makes python:3.11-slim), layers cached between builds, Docker image
# format (which keeps the HEALTHCHECK). The local directories that this machine's pip
# configuration names (wheel folders, file:// indexes) are mounted read-only at the same paths
# while building, so the pip configuration that image-base.sh copied in works inside as here.
set -euo pipefail

variant=${1:?usage: image-build.sh full|slim [TAG] [CONTEXT]}
tag=${2:-realtime-stt:$variant}
context=${3:-$(cd "$(dirname "$0")/.." && pwd)}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}

# "-v DIR:DIR:ro" for each local directory the pip configuration names; an index is a PEP 503
# tree whose files usually sit beside its simple/ directory, so its parent is mounted.
mounts=()
while IFS= read -r dir; do
    [ -n "$dir" ] && mounts+=(-v "$dir:$dir:ro")
done < <(python3 -m pip config list 2>/dev/null | python3 -c '
import os, sys
seen = set()
for line in sys.stdin:
    name, sep, value = line.partition("=")
    if not sep:
        continue
    key = name.partition(".")[2]
    for token in value.strip().strip("\x27\"").split():
        path = token.removeprefix("file://")
        if not (os.path.isabs(path) and os.path.isdir(path)):
            continue
        if key.endswith("index-url"):
            path = os.path.dirname(path.rstrip("/"))
        if path not in seen:
            seen.add(path)
            print(path)
')

buildah --storage-driver "$STORAGE_DRIVER" bud \
    --isolation chroot --pull-never --layers --format docker \
    --build-arg "IMAGE_VARIANT=$variant" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    "${mounts[@]}" -t "$tag" -f "$context/Dockerfile" "$context"

# Images no tag leads to any more (superseded builds and their cached layers): vfs stores every
# layer as a full copy of the file system, so they add up quickly.
buildah --storage-driver "$STORAGE_DRIVER" rmi --prune >/dev/null 2>&1 || true
