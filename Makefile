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
	@# The runtime never depends on the SQL front end: plan and executor
	@# (and so every worker) build without sql, planner or the TiDB parser.
	@for p in ./plan ./executor; do \
	  bad=$$($(GO) list -deps $$p | grep -E '/weir/(sql|planner)$$|pingcap/tidb'); \
	  if [ -n "$$bad" ]; then echo "$$p depends on the SQL front end:"; echo "$$bad"; exit 1; fi; \
	done

# Benchmarks: events per CPU-second and bytes per event. The Nexmark
# queries (nexmark/bench_test.go) also report peak RSS and write a CPU
# profile per query to $NEXMARK_PROFILE_DIR (default /tmp).
bench: build
	# Engine jobs, BenchmarkKafkaTumble included (Kafka JSON over 4
	# partitions -> TUMBLE count per key; the kfake broker in its own process),
	# and Kafka -> TUMBLE -> Kafka / PostgreSQL through the exactly-once sinks
	# (engine/sinks_bench_test.go).
	$(GO) test -run '^$$' -bench . -benchtime 1x ./engine/
	# Executor: fingerprint admission, and the autoscaler's worker count
	# over a load that rises and falls (a table on stdout).
	$(GO) test -run '^$$' -bench AutoscaleLoadCurve -benchtime 1x ./executor/
	$(GO) test -run '^$$' -bench MoveRange -benchtime 5x ./executor/
	$(GO) test -run '^$$' -bench FingerprintAdmit -benchmem ./executor/
	$(GO) test -run '^$$' -bench . -benchmem ./connector/ ./expr/ ./state/ ./console/
	# weir serve under load: 64 pgx connections, point SELECTs and INSERTs for 60 s.
	$(GO) test -count=1 -v -run '^TestLoad$$' ./server/ -load 60s
	$(GO) test -run '^$$' -bench Nexmark -benchtime 1x -timeout 30m ./nexmark/

# The randomized oracle and crash tests at full size: many seeds (also of
# chaos mode: random splits, merges and moves of key ranges), 50,000
# simulated crash images (executor), a million events through real weir
# processes killed with SIGKILL (crashtest), also mid-reconfiguration, and
# a million records with malformed ones of every kind. -stress reaches only the
# packages that define it (a test binary rejects flags it does not know).
STRESS_PKGS := $(shell grep -rl --include='*_test.go' '"stress"' . | xargs -n1 dirname | sort -u)
stress: build
	$(GO) test -count=1 -run 'Oracle|Crash|BadInput|Rebalance' -timeout 60m $(STRESS_PKGS) -args -stress
