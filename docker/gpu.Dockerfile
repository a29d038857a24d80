# The GPU image: `emosense serve` with every ONNX graph run by ONNX Runtime's CUDA execution provider.
#   docker build -f docker/gpu.Dockerfile -t emosense:gpu .
#   docker build -f docker/gpu.Dockerfile --build-arg PRECISION=fp32 -t emosense:gpu-fp32 .   # fp32 twins built first
#   docker run --rm --gpus all -p 8080:8080 emosense:gpu
# Without a GPU the server refuses to start (EMOTION_MODEL_DEVICE=cuda); `-e EMOTION_MODEL_DEVICE=auto` runs it on
# the CPU instead, with a warning. tools/container/assemble.sh does the build step, also outside a container.
FROM rust:1.95-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG PRECISION=int8
RUN tools/container/assemble.sh gpu /opt/emosense "$PRECISION"

# CUDA 13 (libcudart.so.13, libcublas.so.13: what onnxruntime-gpu 1.31.1's CUDA provider links) and cuDNN 9.
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
ARG PRECISION=int8
COPY --from=build /opt/emosense /opt/emosense
ENV EMOTION_INFERENCE_BACKEND=onnxruntime \
    EMOTION_MODEL_DEVICE=cuda \
    EMOTION_MODEL_PRECISION=$PRECISION \
    EMOTION_MODEL_CACHE_DIR=/opt/emosense/models-quantized \
    ORT_DYLIB_PATH=/opt/emosense/lib/libonnxruntime.so \
    LD_LIBRARY_PATH=/opt/emosense/lib
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/opt/emosense/bin/emosense"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--warmup"]
