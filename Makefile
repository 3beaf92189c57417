# kamailio-sbc: build, run and test the SBC. See README.md.
#   make run    install what is missing, build, start the whole stack on loopback
#   make stop   stop it
#   make test   install, build, run unit tests and the SIPp suite against a stack of its own
#   make test-cluster  two SBC nodes as one cluster on loopback (tests/cluster)
#   make run-cluster / make stop-cluster   that cluster (scripts/cluster.sh), to try it by hand
#   make bench  the SBC against the prototype-style baseline and a bare proxy, side by side, plus the
#               outbox drain and bench-index; writes bench/results/<date>-<HHMM>.md (not part of make test;
#               ~35 min, knobs in bench/README.md)
#   make bench-index   1M-DID load and lookup benchmark of sbc_tenant (not part of make test)
#   make fuzz   run each libFuzzer harness of tests/fuzz for FUZZ_SECONDS (default 60) each
#   make docker-test   docker/compose.yaml for real: private Docker engine, images, SIPp call (not part of make test)
#   make soak   hostile soak: calls + corpus replays + floods + dependency faults for SOAK_ARGS
#               (default 10 minutes; e.g. SOAK_ARGS="--minutes 30 --cps 8"; tests/hostile/README.md)

MODULES := sbc_tenant rating_agent
UNIT_DIRS := $(wildcard tests/unit/*/Makefile)

.PHONY: all deps modules run stop status test unit check-cfg test-cluster run-cluster stop-cluster bench bench-index fuzz docker-test soak clean

all: modules

deps:
	@scripts/install-deps.sh

modules: deps
	@scripts/build-modules.sh $(MODULES)

run: modules
	@scripts/stack.sh start

stop:
	@scripts/stack.sh stop

status:
	@scripts/stack.sh status

unit: deps
	@tests/run-all.sh unit

check-cfg: modules
	@tests/check-cfg.sh

test: modules
	@tests/run-all.sh all

test-cluster: modules
	@tests/run-all.sh cluster

run-cluster: modules
	@scripts/cluster.sh start

stop-cluster:
	@scripts/cluster.sh stop

soak: modules
	@/usr/bin/python3 tests/hostile/soak.py $(SOAK_ARGS)

# Load runs at nice 10 (the machine is shared); every setup gets the same treatment.
bench: modules
	@nice -n 10 /usr/bin/python3 bench/load/bench_load.py

bench-index: modules
	@$(MAKE) -s -C bench/index

fuzz: deps
	@$(MAKE) -s -C tests/fuzz fuzz

docker-test: deps
	@tests/docker/docker-test.sh

clean:
	rm -rf build
	@for d in $(dir $(UNIT_DIRS)); do $(MAKE) -s -C $$d clean; done
