# ria: `make test` installs what the tests need (redis-server, redis-tools) when missing,
# then vets and runs every test of every module under the race detector, real-server tests included.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

# Every module: the library at the root, and the tooling kept in modules of its own (benchmarks,
# internal/faulttest, redistest/faultproxy) so the library's go.mod requires none of its dependencies.
GO_MOD_DIRS := $(shell find . -name go.mod -not -path './.git/*' -not -path '*/testdata/*' -exec dirname {} \; | sort)

.PHONY: test deps vet bench microbench tour fuzz soak

# The whole suite must stay under 15 minutes; -timeout 12m fails an overrun instead of letting it
# creep up to the budget. Measured time of `make test` on 2 cores, the README's figure too:
# SUITE_MINUTES = 8.5
# The fault tests (internal/faulttest) run one package at a time: they time calls against deadlines
# and run fault schedules, and on 2 cores a second fault package's load reads as overruns.
test: deps vet
	@fail=0; for dir in $(GO_MOD_DIRS); do \
		echo "go test in $$dir"; \
		p=; [ "$$dir" = ./internal/faulttest ] && p="-p 1"; \
		(cd "$$dir" && $(GO) test -race -count=1 -timeout 12m $$p ./...) || fail=1; \
	done; exit $$fail

deps:
	@./scripts/install-redis.sh

vet:
	@fail=0; for dir in $(GO_MOD_DIRS); do \
		echo "go vet in $$dir"; \
		(cd "$$dir" && $(GO) vet ./...) || fail=1; \
	done; exit $$fail

tour:
	$(GO) run ./examples/tour

# The benchmarks are a module of their own: run from its directory, writing the committed report.
bench: deps
	cd benchmarks && $(GO) run . -out RESULTS.md -readme ../README.md

# Every Go benchmark once (-benchtime 1x), tests skipped: checks that they still run, measures nothing.
microbench: deps
	@fail=0; for dir in $(GO_MOD_DIRS); do \
		echo "go test -bench in $$dir"; \
		(cd "$$dir" && $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...) || fail=1; \
	done; exit $$fail

# Each fuzz target for FUZZTIME; the corpus under testdata/fuzz runs in every `make test`.
FUZZTIME ?= 30s
FUZZ_TARGETS = conn:FuzzParseConfig conn:FuzzSecrets conn:FuzzMaskJSON shard:FuzzKey shard/hostset:FuzzWireArg \
	uniquevisits:FuzzParseSessionID uniquevisits:FuzzCountVisits logs:FuzzLogLines redistest:FuzzQuote \
	examples/internal/tour:FuzzParseAddrs
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

# The fault tests' long forms (see internal/faulttest's package doc): RIA_SOAK=1 (only 1 means soak;
# unset or 0 is the short form `make test` runs, anything else fails), RIA_SOAK_OPS=n sizes a run to
# n operations, RIA_SEED=n reuses a logged seed. Roughly 25 to 40 minutes without -race on 2 cores.
SOAK_TESTS = ^(TestMarketUnderFaults|TestNoDoubleWritesUnderReadTimeouts|TestProcessLogsExactlyOnce|TestReshardMarket|TestReshardLogs|TestReshardSharded|TestFailoverLosses)$$
soak: deps
	cd internal/faulttest && RIA_SOAK=1 $(GO) test -count=1 -timeout 3h -run '$(SOAK_TESTS)' -v ./...
