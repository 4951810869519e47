# inframind-node: the two commands a newcomer needs are `make demo` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

NATIVE := dist/infra-linux-x64
SOURCES := $(shell find src -path '*/obj' -prune -o -path '*/bin' -prune -o \( -name '*.cs' -o -name '*.csproj' -o -name 'packages.lock.json' \) -print) Directory.Build.props Directory.Packages.props
TEST_LOG := TestResults/test.log

.PHONY: help build native test vectors-check demo install-test bench bench-budget clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: ## compile everything (JIT, Debug)
	dotnet build inframind-node.sln --nologo -v quiet

native: $(NATIVE) ## publish the native binary for this machine into dist/

$(NATIVE): $(SOURCES)
	./build.sh x64

test: $(NATIVE) ## run every test against the native binary and real Docker and Podman; prints "N passed, N failed"
	@scripts/engines.sh start
	@mkdir -p TestResults
	@status=0; \
	INFRA_BIN=$(abspath $(NATIVE)) dotnet test inframind-node.sln --nologo 2>&1 | tee $(TEST_LOG) || status=$$?; \
	passed=$$(grep -oE 'Passed: +[0-9]+' $(TEST_LOG) | awk '{s += $$2} END {print s + 0}'); \
	failed=$$(grep -oE 'Failed: +[0-9]+' $(TEST_LOG) | awk '{s += $$2} END {print s + 0}'); \
	skipped=$$(grep -oE 'Skipped: +[0-9]+' $(TEST_LOG) | awk '{s += $$2} END {print s + 0}'); \
	echo "tests: $$passed passed, $$failed failed, $$skipped skipped"; \
	exit $$status

vectors-check: ## regenerate the crypto, IPFS and Merkle vectors with the reference libraries; fail if the committed ones differ
	cd tests/vectors && npm ci --no-audit --no-fund --silent && node make-vectors.mjs --check
	cd tests/vectors/ipfs && npm ci --no-audit --no-fund --silent && node make-ipfs-vectors.mjs --check
	cd tests/vectors/merkle && npm ci --no-audit --no-fund --silent && node make-merkle-vectors.mjs --check

demo: $(NATIVE) ## the node end to end on this machine, jobs assigned by the reference scheduler (tools/Scheduler)
	@scripts/demo.sh

install-test: $(NATIVE) ## install.sh in a clean Debian 12 container: install, /healthz, rerun changes nothing, uninstall
	@scripts/engines.sh start docker
	@scripts/install-test.sh

bench: ## run the benchmarks briefly; results in bench/results/
	bench/run.sh

bench-budget: ## the allocation budget alone: hot paths (HTTP parse and serve, frame demux, keccak, EIP-712) at 0 B/op
	bench/run.sh --budget-only

clean: ## remove build outputs
	rm -rf dist obj TestResults bench/results/*/ src/*/bin src/*/obj tests/*/bin tests/*/obj bench/*/bin bench/*/obj
