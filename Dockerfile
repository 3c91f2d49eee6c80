# llmserve on a CUDA machine: docker build -t llmserve . && docker run --gpus all -p 8000:8000 \
#   -v /path/to/hf-model:/model llmserve
# Built exactly as the README builds it (scripts/setup.sh, scripts/build.sh) on Debian 12, with
# the CUDA 13.0 compiler and cuBLAS from NVIDIA's Debian 12 repository; run in NVIDIA's CUDA
# runtime image with the libraries scripts/bundle.sh collects.
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates wget sudo \
 && wget -q https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
 && dpkg -i cuda-keyring_1.1-1_all.deb && apt-get update \
 && apt-get install -y --no-install-recommends cuda-nvcc-13-0 cuda-cudart-dev-13-0 libcublas-dev-13-0 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/setup.sh && scripts/build.sh -DLLMSERVE_CUDA=ON && scripts/bundle.sh /opt/llmserve

FROM nvidia/cuda:13.0.0-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/llmserve /opt/llmserve
ENV LD_LIBRARY_PATH=/opt/llmserve/lib PATH=/opt/llmserve/bin:$PATH
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["llmserve", "serve", "--host", "0.0.0.0", "--port", "8000", "--model", "/model"]
