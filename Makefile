# kmswatch: one Go module; the app, the Pulumi program and the kmswatch CLI build from here.
# `make test` is what CI runs (.ci/run). Everything but preview/up/destroy/smoke/smoke-event works offline.

GO            ?= go
BIN           := bin
VERSION       ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.1.6
ACTIONLINT    := github.com/rhysd/actionlint/cmd/actionlint@v1.7.7

# Tests that need PostgreSQL read TEST_DATABASE_URL; this is the machine's local server.
export TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: build test test-nodb check-db check-skips vet lint local bench rehearse preview up destroy smoke smoke-event help clean

build: ## Compile everything and put the three binaries in bin/
	$(GO) build ./...
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/kmswatch-app ./app/cmd/kmswatch-app
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/awsdouble ./app/cmd/awsdouble
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/kmswatch ./infra/cmd/kmswatch

test: check-db vet ## Every test, offline: app against real PostgreSQL + KMS double, rules, CLI, the stack under Pulumi mocks
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v -e '/infra$$' -e '/duckcheck$$')
	# Without -race: the stack's tests (instrumenting pulumi-aws costs a second 3-minute cold build)
	# and the DuckDB check (its Go side is one goroutine; under -race it takes 4 minutes, not 20 s).
	$(GO) test -count=1 ./infra/ ./infra/rules/duckcheck/
	@$(MAKE) --no-print-directory check-skips

# go test hides skips: say here which tests had nothing to run with. Each check looks for what its
# test looks for; under CI=true those tests fail instead of skipping.
check-skips:
	@if [ -z "$$KMSWATCH_CHROMIUM" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
		&& ! command -v google-chrome >/dev/null 2>&1 && ! command -v google-chrome-stable >/dev/null 2>&1; then \
		echo "make test: SKIPPED the HTML report's browser tests (infra/report): no Chromium; apt-get install -y chromium runs them"; \
	fi
	@if ! command -v script >/dev/null 2>&1; then \
		echo "make test: SKIPPED the progress line's terminal test (infra/cmd/kmswatch): no script(1); apt-get install -y bsdutils runs it"; \
	fi

test-nodb: ## Only the tests that need no database: those that do skip, by this explicit choice
	$(MAKE) test TEST_DATABASE_URL=none
	@echo "make test-nodb: the tests that need PostgreSQL were skipped (TEST_DATABASE_URL=none); 'make test' runs them"

# The first thing make test does: stop at once, in one line, when the test database cannot be used.
check-db:
	@$(GO) build -o $(BIN)/pgcheck ./app/postgres/postgrestest/pgcheck && $(BIN)/pgcheck

vet:
	$(GO) vet ./...

lint: vet ## golangci-lint and actionlint, pinned
	$(GO) run $(GOLANGCI_LINT) run ./...
	$(GO) run $(ACTIONLINT) .github/workflows/*.yml

local: ## KMS double + app on the local PostgreSQL; prints the URL, the three keys, curl lines and the replay line
	bash app/scripts/local.sh

bench: ## Load runs on loopback (wrk) and the replay benchmark; prints req/s, p50/p99 and replay time
	bash app/scripts/bench.sh
	bash infra/scripts/replay-bench.sh

rehearse: ## The scenarios offline, one after another: the lab's alarm, an exfiltration contained and released, a key deletion cancelled
	@for s in lab exfiltration key-deletion; do \
		echo "==> kmswatch rehearse --scenario $$s"; \
		$(GO) run ./infra/cmd/kmswatch rehearse --scenario $$s || exit 1; \
		echo; \
	done

preview: ## pulumi preview of the dev stack (STACK=...); checks Go, Docker and AWS credentials first
	bash infra/scripts/pulumi.sh preview

up: ## Deploy the dev stack: shows the plan and asks (YES=1 does not ask); the first time ALERT_EMAIL=you@yours
	bash infra/scripts/pulumi.sh up

destroy: ## Tear the dev stack down: shows what goes and asks (YES=1 does not ask)
	bash infra/scripts/pulumi.sh destroy

smoke: ## The lab's curl flow against the deployed stack (or URL=...): trips app-kms-errors and app-decrypt-denied
	bash infra/scripts/smoke.sh

smoke-event: ## The EventBridge path: puts the app key's own policy back (a PutKeyPolicy that changes nothing)
	bash infra/scripts/smoke.sh --put-key-policy

help: ## This list, from the comments beside the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  make %-12s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

clean:
	rm -rf $(BIN)
