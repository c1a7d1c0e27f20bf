#!/usr/bin/env bash
# `make image-check`: build both image variants here (no Docker engine, no registry), run each,
# stream a short file through it, check the final, and print build times and image sizes.
#
# Steps:
#   1. hadolint lints the Dockerfile (the dev extra installs it).
#   2. scripts/image-base.sh makes the local python:3.11-slim base unless it exists.
#   3. scripts/image-build.sh builds full and slim, then full again from a copy of the build
#      context with one source file changed: the dependency layer must come from the cache.
#   4. Each image runs with `buildah run` (chroot isolation, so the host's network: the server
#      listens on a free local port). full: ENGINE=local, en_fox.wav must come back with its
#      words. slim: ENGINE=openai against the repository's fake OpenAI server
#      (bench/fake_upstream.py), which "transcribes" voiced audio as "tone <Hz> hz"; then
#      ENGINE=local must stop at start-up naming the `local` extra. For both, the image's own
#      HEALTHCHECK command must pass inside the container, and for full the image must hold one
#      model.bin and no weight halves.
#   5. The image sizes.
# Needs root, buildah and debootstrap (Debian packages), and `make install` (the client, the fake).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PY=${PY:-.venv/bin/python}
STORAGE_DRIVER=${STORAGE_DRIVER:-vfs}
export STORAGE_DRIVER
buildah=(buildah --storage-driver "$STORAGE_DRIVER")
FIXTURE=tests/fixtures/en_fox.wav
FOX_WORDS="quick brown fox lazy dog"

work=$(mktemp -d)
containers=()
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for ctr in "${containers[@]}"; do
        stop_container "$ctr"
        "${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { echo "image-check: FAILED: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
seconds_since() { echo $(( $(date +%s) - $1 )); }

# Processes whose root directory is the container's file system (what `buildah run` started).
container_pids() {
    local mnt pid
    mnt=$("${buildah[@]}" mount "$1")
    for pid in /proc/[0-9]*; do
        [ "$(readlink "$pid/root" 2>/dev/null)" = "$mnt" ] && echo "${pid#/proc/}"
    done
    "${buildah[@]}" umount "$1" >/dev/null
}

stop_container() {  # SIGTERM (the server drains), then up to 20 s for its processes to end
    local pid _
    for pid in $(container_pids "$1"); do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 1 40); do
        [ -z "$(container_pids "$1")" ] && return 0
        sleep 0.5
    done
    echo "image-check: processes of $1 still running after SIGTERM" >&2
}

wait_healthy() {  # PORT LOG
    local i
    for i in $(seq 1 240); do
        if curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then
            echo "healthy after ${i}x0.5 s"
            return 0
        fi
        sleep 0.5
    done
    cat "$2" >&2
    fail "no 200 from /healthz on port $1"
}

# The image's HEALTHCHECK command, run inside the container as Docker would.
run_healthcheck() {  # CTR IMAGE PORT
    local argv
    mapfile -t argv < <("${buildah[@]}" inspect --type image "$2" | "$PY" -c '
import json, sys
test = (json.load(sys.stdin)["Docker"]["config"].get("Healthcheck") or {}).get("Test") or []
if test[:1] != ["CMD"]:
    sys.exit(f"no exec-form HEALTHCHECK: {test}")
print(*test[1:], sep="\n")')
    [ "${#argv[@]}" -gt 0 ] || fail "$2 has no HEALTHCHECK"
    "${buildah[@]}" run --isolation chroot --env "PORT=$3" "$1" -- "${argv[@]}" \
        || fail "the HEALTHCHECK command failed in $2"
    echo "HEALTHCHECK passes inside $2"
}

# Serve IMAGE with ENV... on a free port; sets CTR, PORT, LOG.
serve() {  # IMAGE NAME ENV...
    local image=$1 name=$2
    shift 2
    PORT=$(free_port)
    LOG="$work/$name.log"
    CTR=$("${buildah[@]}" from --pull=never --name "image-check-$name-$$" "$image")
    containers+=("$CTR")
    local envs=(--env "PORT=$PORT")
    local kv
    for kv in "$@"; do envs+=(--env "$kv"); done
    "${buildah[@]}" run --isolation chroot "${envs[@]}" "$CTR" -- python -m realtime_stt >"$LOG" 2>&1 &
    pids+=($!)
}

stream_final() {  # PORT LANGUAGE -> finals on stdout
    "$PY" -m realtime_stt.client "$FIXTURE" --url "ws://127.0.0.1:$1/ws" --language "$2"
}

step "hadolint Dockerfile"
[ -x .venv/bin/hadolint ] || fail "hadolint is missing: make install (the dev extra brings it)"
.venv/bin/hadolint Dockerfile && echo "hadolint: no findings"

step "base image"
t=$(date +%s)
scripts/image-base.sh
echo "base: $(seconds_since "$t") s"

declare -A build_s
for variant in full slim; do
    step "build $variant"
    t=$(date +%s)
    scripts/image-build.sh "$variant" >"$work/build-$variant.log" 2>&1 \
        || { tail -40 "$work/build-$variant.log" >&2; fail "building $variant"; }
    build_s[$variant]=$(seconds_since "$t")
    echo "$variant: built in ${build_s[$variant]} s"
done

step "rebuild full after a source change (dependency layer from the cache)"
ctx="$work/context"
mkdir -p "$ctx"
cp -r Dockerfile .dockerignore pyproject.toml README.md LICENSE requirements.txt requirements-local.txt src "$ctx/"
echo "# image-check: a source change" >>"$ctx/src/realtime_stt/__init__.py"
t=$(date +%s)
scripts/image-build.sh full realtime-stt:image-check-rebuild "$ctx" >"$work/rebuild.log" 2>&1 \
    || { tail -40 "$work/rebuild.log" >&2; fail "rebuilding full"; }
rebuild_s=$(seconds_since "$t")
grep -q 'pip install --require-hashes' "$work/rebuild.log" || fail "the rebuild log lacks the dependency step"
# buildah prints "--> Using cache" for each reused step: the dependency RUN must be one of them.
awk '/pip install --require-hashes/ { dep = 1 } dep && /Using cache/ { hit = 1 } dep && /^STEP/ && !/pip install/ { dep = 0 } END { exit !hit }' "$work/rebuild.log" \
    || { cat "$work/rebuild.log" >&2; fail "the dependency layer was rebuilt after a source change"; }
echo "rebuild after a source change: ${rebuild_s} s, dependency layer reused"
"${buildah[@]}" rmi realtime-stt:image-check-rebuild >/dev/null

step "run full: ENGINE=local, stream $FIXTURE"
full_image=realtime-stt:full
probe=$("${buildah[@]}" from --pull=never "$full_image")
containers+=("$probe")
weights=$("${buildah[@]}" run --isolation chroot --user 0:0 "$probe" -- \
    find / -xdev \( -name model.bin -o -name 'model.bin.part?' \) -size +1M)
echo "weights in the image: $weights"
if [ "$(wc -l <<<"$weights")" != 1 ] || [[ "$weights" != */model.bin ]]; then
    fail "expected one model.bin and no halves"
fi
serve "$full_image" full ENGINE=local
wait_healthy "$PORT" "$LOG"
run_healthcheck "$CTR" "$full_image" "$PORT"
final=$(stream_final "$PORT" en) || { cat "$LOG" >&2; fail "streaming through full"; }
echo "final: $final"
for word in $FOX_WORDS; do
    grep -qi "$word" <<<"$final" || fail "the full image's final lacks '$word'"
done
stop_container "$CTR"

step "run slim: ENGINE=openai against the fake OpenAI server, stream $FIXTURE"
slim_image=realtime-stt:slim
fake_port=$(free_port)
"$PY" -m bench.fake_upstream --port "$fake_port" >"$work/fake.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do grep -q ready "$work/fake.log" && break; sleep 0.1; done
grep -q ready "$work/fake.log" || { cat "$work/fake.log" >&2; fail "the fake OpenAI server did not start"; }
serve "$slim_image" slim ENGINE=openai OPENAI_API_KEY=sk-test-key \
    "OPENAI_BASE_URL=http://127.0.0.1:$fake_port/v1"
wait_healthy "$PORT" "$LOG"
run_healthcheck "$CTR" "$slim_image" "$PORT"
final=$(stream_final "$PORT" sv) || { cat "$LOG" >&2; fail "streaming through slim"; }
echo "final: $final"
grep -Eq '\] tone [0-9]+ hz' <<<"$final" || fail "the slim image's final is not the fake's transcript"
stop_container "$CTR"

step "run slim: ENGINE=local must stop at start-up naming the extra"
refusal=$("${buildah[@]}" run --isolation chroot --env ENGINE=local --env "PORT=$(free_port)" "$CTR" \
    -- python -m realtime_stt 2>&1) && fail "slim started with ENGINE=local"
grep "realtime-stt\[local\]" <<<"$refusal" || fail "the refusal does not name the local extra: $refusal"

step "image sizes"
"${buildah[@]}" images --format '{{.Name}}:{{.Tag}}  {{.Size}}' \
    | grep -E '(python:3\.11-slim|realtime-stt:(full|slim)) ' | sed 's|^[^ ]*/||' | awk '{ printf "%-20s %s %s\n", $1, $2, $3 }'
echo "build times: full ${build_s[full]} s, slim ${build_s[slim]} s, full after a source change ${rebuild_s} s"
echo "image-check: OK"
