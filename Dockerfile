# gitops-gate: the GitHub App (`gitops-gate serve`) and the CLI, in one image.
# Build: docker build -t gitops-gate .
# Run:   docker run -p 8080:8080 -e GITOPS_GATE_APP_ID=... -e GITOPS_GATE_PRIVATE_KEY_FILE=/run/secrets/key.pem \
#          -e GITOPS_GATE_WEBHOOK_SECRET=... -v gitops-gate-data:/data gitops-gate

ARG PYTHON_VERSION=3.11

# --- tools: kubeconform and kustomize from their official releases, checksums verified -------
FROM debian:bookworm-slim AS tools
ARG KUBECONFORM_VERSION=v0.7.0
ARG KUSTOMIZE_VERSION=v5.4.3
ARG TARGETARCH=amd64
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /tmp/tools
RUN set -eu; \
    base="https://github.com/yannh/kubeconform/releases/download/${KUBECONFORM_VERSION}"; \
    file="kubeconform-linux-${TARGETARCH}.tar.gz"; \
    curl -fsSLO "${base}/${file}"; curl -fsSLO "${base}/CHECKSUMS"; \
    grep " ${file}\$" CHECKSUMS | sha256sum -c -; \
    tar -xzf "${file}" kubeconform; \
    base="https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2F${KUSTOMIZE_VERSION}"; \
    file="kustomize_${KUSTOMIZE_VERSION}_linux_${TARGETARCH}.tar.gz"; \
    curl -fsSLO "${base}/${file}"; curl -fsSLO "${base}/checksums.txt"; \
    grep " ${file}\$" checksums.txt | sha256sum -c -; \
    tar -xzf "${file}" kustomize; \
    install -m 0755 kubeconform kustomize /usr/local/bin/

# --- build: a wheel of gitops-gate and its dependencies -------------------------------------
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY bot ./bot
# The Rego engine's build is pinned with hashes; fetch it first so the wheel step reuses it.
RUN pip download --no-cache-dir --no-deps --require-hashes -r requirements/regorus.txt -d /wheels \
    && pip wheel --no-cache-dir --find-links=/wheels --wheel-dir /wheels .

# --- runtime: non-root, no compilers, no source tree ---------------------------------------
FROM python:${PYTHON_VERSION}-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home gitops-gate
COPY --from=tools /usr/local/bin/kubeconform /usr/local/bin/kustomize /usr/local/bin/
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels gitops-gate && rm -rf /wheels
# The built-in Rego library is data, not part of the wheel.
COPY policies/rego /usr/share/gitops-gate/policies/rego
USER gitops-gate
WORKDIR /data
ENV GITOPS_GATE_DATABASE=/data/gitops-gate.db \
    GITOPS_GATE_POLICY_LIBRARY=/usr/share/gitops-gate/policies/rego \
    PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["gitops-gate"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
