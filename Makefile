# deskvm — the two commands a new user needs:
#   make demo   installs what is missing, builds, and runs the demo
#   make test   installs what is missing, runs unit + integration tests
GO ?= go
export CGO_ENABLED := 0
export PATH := $(PATH):/usr/local/go/bin
BIN := bin/deskvm

.PHONY: all build deps test unit demo demo-clean e2e bench fmt vet generate

all: build

build:
	$(GO) build -o $(BIN) ./cmd/deskvm

deps:
	./hack/install-deps.sh

test: deps
	./hack/test.sh

# Unit tests only: Go and nothing else.
unit:
	$(GO) test -short ./...

demo: deps build
	./hack/demo.sh

demo-clean: build
	./hack/demo.sh clean

e2e: deps build
	./hack/e2e.sh

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 20x ./internal/...

generate:
	$(GO) run ./cmd/deskvm config schema > docs/config.schema.json
	$(GO) run ./cmd/deskvm nix-options > nix/options.nix
	$(GO) test ./internal/cli -run 'TestConfigDocs|TestCLIDocs' -update

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...
