# ria: `make test` installs what the tests need (redis-server, redis-tools) when missing,
# then vets and runs every test under the race detector, real-server tests included.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: test deps vet bench tour fuzz soak

test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

deps:
	@./scripts/install-redis.sh

vet:
	$(GO) vet ./...

tour:
	$(GO) run ./examples/tour

bench: deps
	$(GO) run ./benchmarks -readme README.md

# Each fuzz target for FUZZTIME; the corpus under testdata/fuzz runs in every `make test`.
FUZZTIME ?= 30s
FUZZ_TARGETS = conn:FuzzParseConfig shard:FuzzKey uniquevisits:FuzzParseSessionID logs:FuzzLogLines
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done
