# The CPU Lambda container image: every Lambda function of template.yaml with ONNX Runtime on the CPU, for the
# full-precision models (or the int8 ones: --build-arg PRECISION=int8).
#   docker build -f docker/lambda.Dockerfile -t emosense:lambda .          # fp32 twins built first (README)
#   docker build -f docker/lambda.Dockerfile --build-arg PRECISION=int8 -t emosense:lambda-int8 .
# One image serves every function: its entry point is analyze-text; a function runs another binary with
# `ImageConfig: {EntryPoint: [/opt/emosense/bin/analyze-face]}`. The binaries speak the Lambda runtime API
# themselves, so the base is a plain Debian (the glibc they were built against).
# tools/container/assemble.sh does the build step, also outside a container.
FROM rust:1.95-bookworm AS build
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG PRECISION=fp32
RUN tools/container/assemble.sh lambda /opt/emosense "$PRECISION"

FROM debian:bookworm-slim
ARG PRECISION=fp32
COPY --from=build /opt/emosense /opt/emosense
ENV EMOTION_INFERENCE_BACKEND=onnxruntime \
    EMOTION_MODEL_PRECISION=$PRECISION \
    EMOTION_MODEL_CACHE_DIR=/opt/emosense/models-quantized \
    ORT_DYLIB_PATH=/opt/emosense/lib/libonnxruntime.so
USER 65532:65532
ENTRYPOINT ["/opt/emosense/bin/analyze-text"]
