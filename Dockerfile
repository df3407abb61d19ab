# The manager's image: built in a Go image, run from distroless as a non-root user with nothing else in it.
#   docker build -t ghcr.io/conch-dev/conch:v0.1.0 .        (make docker-build)
# The Go version follows go.mod; test/delivery checks that they agree and that every package the manager
# imports is copied in.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH
WORKDIR /src
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/manager ./cmd/manager

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
