# ria: `make test` installs what the tests need (redis-server, redis-tools) when missing,
# then vets and runs every test under the race detector, real-server tests included.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test deps vet bench microbench tour fuzz soak

# The whole suite must stay under 15 minutes (about 4 on 2 cores today): -timeout 12m fails
# an overrun instead of letting it creep up to the budget.
test: deps vet
	$(GO) test -race -count=1 -timeout 12m ./...

deps:
	@./scripts/install-redis.sh

vet:
	$(GO) vet ./...

tour:
	$(GO) run ./examples/tour

bench: deps
	$(GO) run ./benchmarks -readme README.md

# Every Go benchmark once (-benchtime 1x), tests skipped: checks that they still run, measures nothing.
microbench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./...

# Each fuzz target for FUZZTIME; the corpus under testdata/fuzz runs in every `make test`.
FUZZTIME ?= 30s
FUZZ_TARGETS = conn:FuzzParseConfig shard:FuzzKey uniquevisits:FuzzParseSessionID logs:FuzzLogLines
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

# The fault tests' long forms (see internal/faulttest's package doc): RIA_SOAK=1 (only 1 means soak;
# unset or 0 is the short form `make test` runs, anything else fails), RIA_SOAK_OPS=n sizes a run to
# n operations, RIA_SEED=n reuses a logged seed. Roughly 20 to 35 minutes without -race on 2 cores.
SOAK_TESTS = ^(TestMarketUnderFaults|TestNoDoubleWritesUnderReadTimeouts|TestProcessLogsExactlyOnce)$$
soak: deps
	RIA_SOAK=1 $(GO) test -count=1 -timeout 3h -run '$(SOAK_TESTS)' -v ./internal/faulttest/...
