# syntax=docker/dockerfile:1
#
# GPU image for the PoF reproduction: `deno task repro:all` with the paper
# preset on NVIDIA GPUs through @tensorflow/tfjs-node-gpu (libtensorflow 2.9.1,
# built for CUDA 11.x). README, "Docker and GPU runs", has the commands.
#
#   docker build -t pof .
#   docker run --gpus all -v "$PWD/results:/opt/pof/results" pof
#
# Base image: CUDA 11.8 + cuDNN 8 runtime on Ubuntu 22.04 (CUDA 11.8 with
# cuDNN 8.9 is the newest pairing libtensorflow 2.9.1 can use that also knows
# Hopper GPUs). Hosts with newer drivers (CUDA 12.x drivers, R525-R560+) run
# it unchanged: drivers are backward compatible with older CUDA runtimes; the
# host driver must be >= 520 (CUDA 11.8's minimum). No cuda-compat package is
# needed or wanted. gpu:check warns about an older driver. Pinned by digest. How the digest was obtained: this project's
# build machines have no Docker engine and no registry access, so it was not
# resolved here; it is the digest recorded for
# nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04 in several independent public
# Dockerfiles and image manifests (found by code search, November 2026). To
# check or refresh it:
#   docker buildx imagetools inspect nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04
# tests/docker_sync_test.ts checks that it stays pinned by digest.
FROM nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04@sha256:85fb7ac694079fff1061a0140fd5b5a641997880e12112d92589c3bbb1e8b7ca

LABEL org.opencontainers.image.title="PoF (ICML 2022) reproduction on TensorFlow.js / Deno" \
      org.opencontainers.image.description="deno task repro:all on NVIDIA GPUs via tfjs-node-gpu 4.22.0"

# DENO_DIR: Deno's module cache, filled at build time so runs need no network.
# CUDA_CACHE_*: the driver's PTX JIT cache. libtensorflow 2.9.1 has no
# kernels for Hopper (sm_90) or newer GPUs, so the first step JIT-compiles
# PTX for many minutes (gpu:check prints a line saying so while it waits);
# /cache is a volume, so the compiled kernels persist and later runs start at
# once. Mount it: -v pof-cuda-cache:/cache.
# TF_FORCE_GPU_ALLOW_GROWTH: libtensorflow takes GPU memory as needed instead
# of all of it (several processes per GPU, readable nvidia-smi numbers).
# POF_PRESET: the preset CMD runs (override with -e POF_PRESET=quick).
ENV DEBIAN_FRONTEND=noninteractive \
    LANG=C.UTF-8 \
    DENO_DIR=/opt/deno-dir \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_INSTALL_DIR=/usr/local/bin \
    CUDA_CACHE_PATH=/cache/cuda \
    CUDA_CACHE_MAXSIZE=4294967296 \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    TF_CPP_MIN_LOG_LEVEL=1 \
    POF_PRESET=paper

WORKDIR /opt/pof

# 1. The shared install script, with its CUDA-only parts: Debian packages
#    (Fashion-MNIST, Jupyter client, ...), cuda-nvcc-11-8 for ptxas, the pinned
#    Deno, the npm dependencies exactly as in deno.lock with tfjs-node-gpu's
#    install script allowed (it downloads libtensorflow 2.9.1 GPU and the
#    addon; tools/fill_napi_dirs.sh then puts the addon tfjs_binding.node in
#    every lib/napi-v* folder the loader may look in, a known pitfall when the
#    installing and the running runtime report different N-API versions), and
#    the Deno Jupyter kernel. Only the files it needs are copied
#    first, so that source edits do not redo this layer.
COPY deno.json deno.lock ./
COPY tools/install.sh tools/fill_napi_dirs.sh tools/offline_import_map.json tools/
RUN bash tools/install.sh --cuda \
 && ptxas --version \
 && dpkg-query -W libcudnn8 \
 && mkdir -p /usr/local/share/jupyter/kernels \
 && cp -r /root/.local/share/jupyter/kernels/deno /usr/local/share/jupyter/kernels/deno \
 && rm -rf /var/lib/apt/lists/*

# 2. JupyterLab (image only; CI needs just the kernel), pinned.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && python3 -m pip install --no-cache-dir "jupyterlab==4.2.5" \
 && rm -rf /var/lib/apt/lists/*

# 3. The project. .dockerignore keeps the host's node_modules, results and
#    data out, so the node_modules built above (with the addon) stays.
COPY . .

# 4. Cache and type-check every module, then load the GPU backend once (the
#    util.isNullOrUndefined fix in lib/backend.ts runs before its first op).
#    No GPU is needed for loading; LOAD_CHECK=0 skips it.
ARG LOAD_CHECK=1
RUN deno check --import-map=tools/offline_import_map.json . \
 && if [ "$LOAD_CHECK" = 1 ]; then deno task gpu:check --load-only; fi \
 && mkdir -p results data /cache/cuda \
 && chmod -R a+rwX "$DENO_DIR" /cache /opt/pof

VOLUME ["/opt/pof/results", "/opt/pof/data", "/cache"]

# JupyterLab, for the notebooks in notebooks/:
#   docker run --gpus all -p 8888:8888 -v "$PWD/results:/opt/pof/results" pof \
#     jupyter lab --ip=0.0.0.0 --port=8888 --no-browser --allow-root
EXPOSE 8888

CMD ["sh", "-c", "exec deno task repro:all --preset \"$POF_PRESET\""]
