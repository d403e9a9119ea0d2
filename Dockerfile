# A small Debian 12 image with the quiver program and library.
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
      libxxhash0 libcjson1 libjemalloc2 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/quiver /usr/local
RUN ldconfig
WORKDIR /qdrant
ENTRYPOINT ["/usr/local/bin/quiver"]
CMD ["info"]
