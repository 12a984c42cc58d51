# annotation-telemetry: everything a newcomer needs is `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install browser kafka-broker test check lint format typecheck demo bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[embedded,dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

check: lint typecheck

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Headless Chromium (and a CJK font) for the report rendering test; Debian packages.
# Without root or apt the test is skipped with the reason.
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the report test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	else echo "chromium not installed: the report rendering test will be skipped"; fi

# Apache Kafka for the suite's second broker lane: the jars of the version
# pinned in deploy/kafka/pom.xml, copied once by Maven into a per-user cache
# folder (outside the checkout: `make clean` and fresh clones keep it; the
# same path rule is in embedded/apache_kafka.py). Without java or mvn it says
# why and goes on: the apache cases are then skipped (failed under
# ANNOTEL_REQUIRE_APACHE=1, as in CI).
KAFKA_VERSION := $(shell sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' deploy/kafka/pom.xml)
KAFKA_HOME := $(or $(ANNOTEL_KAFKA_HOME),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/annotel/kafka-$(KAFKA_VERSION))
KAFKA_STAMP := $(KAFKA_HOME)/.installed

kafka-broker:
	@if [ -f '$(KAFKA_STAMP)' ]; then :; \
	elif ! command -v java >/dev/null; then echo "java not found: the Apache Kafka tests will be skipped"; \
	elif ! command -v mvn >/dev/null; then echo "mvn not found: the Apache Kafka tests will be skipped"; \
	else echo "installing Apache Kafka $(KAFKA_VERSION) into $(KAFKA_HOME)"; \
		rm -rf '$(KAFKA_HOME)/libs' '$(KAFKA_HOME)'/classes-*.jsa; \
		log=$$(mktemp); \
		if mvn -q -B -f deploy/kafka/pom.xml dependency:copy-dependencies \
			-Dkafka.libs='$(KAFKA_HOME)/libs' >"$$log" 2>&1; then touch '$(KAFKA_STAMP)'; \
		else cat "$$log"; echo "installing Apache Kafka failed: the Apache Kafka tests will be skipped"; fi; \
		rm -f "$$log"; \
	fi

# The whole suite: lint, types, unit, integration (real brokers + chDB), end to end.
# Two processes (pytest-xdist): most of an end-to-end test's time is waiting on
# group joins, recoveries and drains, so two lanes of tests share the 2 cores
# well; work stealing keeps a process from idling behind one long test.
TEST_PROCESSES ?= 2

test: check browser kafka-broker
	$(PY) -m pytest -q -p no:cacheprovider -n $(TEST_PROCESSES) --dist worksteal

demo: install
	$(VENV)/bin/annotel demo

bench: install
	$(PY) -m bench

clean:
	rm -rf .annotel .pytest_cache .mypy_cache .ruff_cache
