# Weir: a thin Makefile over go test. See README.md.
GO ?= go
PKGS := ./...

.PHONY: run test bench lint build stress

build:
	$(GO) build -o bin/weir ./cmd/weir

# The main job: the bundled IoT example on the embedded engine.
run: build
	./bin/weir run testdata/examples/iot.sql --param data=testdata/examples/readings.csv

# The whole suite (unit, datadriven, oracle, end-to-end). Under 10 minutes on 2 cores.
test: build lint
	$(GO) test -count=1 -timeout 9m $(PKGS)

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'; git ls-files -o --exclude-standard '*.go'))" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet $(PKGS)

# Benchmarks: events per CPU-second and bytes per event.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x ./engine/
	$(GO) test -run '^$$' -bench . -benchmem ./connector/ ./expr/ ./state/

stress: build
	$(GO) test -count=1 -run 'Oracle|Crash' -timeout 60m ./... -args -stress
