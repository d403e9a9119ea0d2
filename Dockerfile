# A small Debian 12 image running the Qdrant-compatible server on port 6333
# (REST) and 6334 (gRPC) with its storage in /qdrant/storage, so it can stand in for the
# qdrant/qdrant image in a compose file:
#   docker build -t quiver . && docker run -p 6333:6333 -p 6334:6334 -v data:/qdrant/storage quiver
# Qdrant's environment variables (QDRANT__SERVICE__API_KEY, ...) work as
# with Qdrant.
# Build stage: compiles and installs into /opt/quiver.
FROM debian:12-slim AS build
COPY . /src
WORKDIR /src
RUN bash scripts/install-deps build \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DQUIVER_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && cmake --install /build --prefix /opt/quiver

# Run stage: only the runtime libraries.
FROM debian:12-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libopenblas0-pthread \
      libxxhash0 libcjson1 libjemalloc2 libmicrohttpd12 libssl3 libcurl4 \
      libnghttp2-14 libprotobuf-c1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/quiver /usr/local
RUN ldconfig && mkdir -p /qdrant/storage
WORKDIR /qdrant
EXPOSE 6333 6334
VOLUME /qdrant/storage
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/quiver"]
CMD ["serve", "--host", "0.0.0.0", "--port", "6333", "--grpc-port", "6334", "--storage", "/qdrant/storage"]
