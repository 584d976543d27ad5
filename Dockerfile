# syntax=docker/dockerfile:1
#
# otpgate container image: one static binary on distroless.
#
#   docker build -t otpgate .
#   docker run --rm -p 8080:8080 --env-file otpgate.env otpgate
#   docker run --rm -p 8080:8080 -e OTPGATE_LISTEN_ADDR=:8080 otpgate demo
#
# The final image has no shell and no package manager, runs as the
# distroless "nonroot" user (65532:65532) and holds only /otpgate, the
# distroless CA certificates (for ldaps://, Twilio and HTTPS SMS gateways),
# /etc/passwd and tzdata. There is no HEALTHCHECK: orchestrators probe
# GET /otpgate/healthz (alive) and GET /otpgate/readyz (directory reachable).

# Build on the builder's own platform and cross-compile (no emulation) for
# the target platform, so `docker buildx build --platform linux/amd64,linux/arm64`
# is fast. Pin the tag by digest in production builds.
FROM --platform=$BUILDPLATFORM golang:1.26.11-bookworm AS build
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or
# go.sum change, not on every source edit.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
ARG TARGETOS
ARG TARGETARCH
# The release `otpgate version` and /otpgate/healthz name (.git is not
# copied, so Go cannot read it): docker build --build-arg VERSION=v1.4.0 .
ARG VERSION=devel
# CGO off: a fully static binary that needs no libc in the final image.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X github.com/otpgate/otpgate/internal/version.stamped=${VERSION}" -o /out/otpgate .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/otpgate /otpgate
# Already the image's default; repeated so that it is visible here and
# numeric (Kubernetes' runAsNonRoot can only verify a numeric user).
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/otpgate"]
