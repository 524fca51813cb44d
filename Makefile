# meshroute: every command sets up what it needs on a fresh machine (Go, Rust, Python 3 and
# openssl are expected; the control plane is built from source by hack/testbin.sh).

CARGO  ?= cargo
PYTHON ?= python3
VENV   := .venv
TESTBED_DIR := .testbed

.PHONY: test testbin venv lint fmt crds testbed-up testbed-down emulator

## test: build/reuse the control plane, create the venv, run every Rust and Python test
test: testbin venv
	MESHROUTE_TESTBIN_DIR="$$(hack/testbin.sh)" $(CARGO) test --workspace --all-targets --locked
	$(CARGO) build --locked -p appmesh-emulator
	APPMESH_EMULATOR_BIN="$(CURDIR)/target/debug/appmesh-emulator" $(VENV)/bin/pytest -q tests/python

## testbin: build kube-apiserver, etcd, kubectl and helm once into ~/.cache/meshroute/testbin
testbin:
	@hack/testbin.sh >/dev/null

## venv: the Python venv for the independent client checks (boto3, botocore, pytest)
venv: $(VENV)/.installed
$(VENV)/.installed: tests/python/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
	touch $@

## lint: formatting and clippy, as CI checks them
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## crds: regenerate crds/ from the Rust types in src/api (a test fails while they differ)
crds:
	$(CARGO) run --locked -q -- crd > crds/gatewayroutes.meshroute.io.yaml

## emulator: run appmesh-emulator in the foreground on 127.0.0.1:4566
emulator:
	$(CARGO) run --locked -p appmesh-emulator -- --listen 127.0.0.1:4566

## testbed-up: start a control plane + seeded emulator in the background; prints what to export
testbed-up: testbin
	@$(CARGO) build --locked -q -p meshroute-testbed --bin testbed
	@mkdir -p $(TESTBED_DIR)
	@if [ -f $(TESTBED_DIR)/pid ] && kill -0 "$$(cat $(TESTBED_DIR)/pid)" 2>/dev/null; then \
		echo "test bed already running (pid $$(cat $(TESTBED_DIR)/pid)); make testbed-down first"; exit 1; fi
	@rm -f $(TESTBED_DIR)/env
	@nohup target/debug/testbed up --dir $(TESTBED_DIR) > $(TESTBED_DIR)/testbed.log 2>&1 & echo $$! > $(TESTBED_DIR)/pid
	@for i in $$(seq 1 600); do [ -f $(TESTBED_DIR)/env ] && break; \
		kill -0 "$$(cat $(TESTBED_DIR)/pid)" 2>/dev/null || { cat $(TESTBED_DIR)/testbed.log; exit 1; }; sleep 0.1; done
	@[ -f $(TESTBED_DIR)/env ] || { echo "test bed did not come up; see $(TESTBED_DIR)/testbed.log"; exit 1; }
	@cat $(TESTBED_DIR)/testbed.log
	@echo "Run: source $(TESTBED_DIR)/env"

## testbed-down: stop what testbed-up started
testbed-down:
	@if [ -f $(TESTBED_DIR)/pid ]; then \
		pid=$$(cat $(TESTBED_DIR)/pid); kill "$$pid" 2>/dev/null || true; \
		for i in $$(seq 1 100); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
		kill -9 "$$pid" 2>/dev/null || true; rm -f $(TESTBED_DIR)/pid $(TESTBED_DIR)/env; echo "test bed stopped"; \
	else echo "no test bed running"; fi
