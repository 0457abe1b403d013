# Build the arbor binary (pure Go, no cgo) and ship it alone in a small image.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /arbor ./cmd/arbor

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /arbor /arbor
ENTRYPOINT ["/arbor"]
CMD ["generate", "--prompt", "Hello"]
