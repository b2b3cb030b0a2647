# ledgerstream — every entry point of the local workflow. `make help` lists them.
SHELL := /bin/bash
STACK := infra/local/stack.sh

.PHONY: help demo test up down status install build lint fuzz clean
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

demo: ## run the whole pipeline on this machine (no Docker); Ctrl-C stops it
	@infra/local/demo.sh

test: ## install what is missing, start the stack, run every test, restore the stack
	@infra/local/test.sh

up: ## install what is missing and start every local service
	@$(STACK) up

down: ## stop every local service this stack started
	@$(STACK) down

status: ## table of the local services: port, healthy?, pid, log
	@$(STACK) status

install: ## install the local services without starting them
	@$(STACK) install

build: ## build the ledgerstream binary (release)
	cargo build --release --locked -p ledgerstream

lint: ## formatting and clippy, warnings as errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fuzz: ## run each fuzz target of fuzz/ for FUZZ_SECONDS (60) seconds; not part of `make test`
	@infra/local/fuzz.sh

clean: ## remove build output and the local stack's data (stops it first)
	@$(STACK) down
	rm -rf target .ledgerstream
