# sisync — the two commands a newcomer runs are `make run` and `make test`.
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
CONFIG ?= config/demo.conf
DEB_PACKAGES = libcurl4-openssl-dev libssl-dev libsqlite3-dev zlib1g-dev libcrypt-dev libpq-dev libmicrohttpd-dev postgresql pkg-config \
  libpango1.0-dev libcairo2-dev fonts-dejavu-core fonts-noto-core fonts-noto-cjk poppler-utils prometheus
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEMD_DIR ?= /etc/systemd/system

.PHONY: deb all deps build run test test-postgres unit-check test-systemd install bench clean fuzz scim-check

all: build

# Installs only the Debian packages that are missing (uses sudo when not root).
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
	  echo "make deps: all Debian packages present"; \
	fi

build: deps
	$(SWIFT) build -c release --static-swift-stdlib

# Syncs the bundled demo school into .data/demo.db and keeps running (Ctrl-C stops).
run: build
	./.build/release/sisyncd --config $(CONFIG)

# The store tests (runs, accounts, roles, access, forms, revert, locks, the daemon) run a
# second time on PostgreSQL: the same tests, on a throw-away server they start (initdb,
# 127.0.0.1). PostgresStoreTests and the schema and connection tests use PostgreSQL in
# the first pass already.
POSTGRES_TESTS = SQLQueryTests|StatementParameterTests|SyncRunTests|GuardTests|HeldRunTests|SchoolScopeTests|LetterTests|DeactivationHoldTests|LinkingRunTests|RolesTests|AccessTests|FormPermissionTests|RevertTests|UserCommandsTests|LoginTests|AuditExplainTests|RunLockTests|DaemonRunLockTests|DaemonProcessTests|ControlCommandLineTests|APIServiceTests|APIHTTPTests|EventFeedTests|EventCommandTests|WebhookTests|WebhookDaemonTests|SCIMHTTPTests|LongPollHTTPTests|RekeyTests|UserKeyColumnsTests|StoredRecordFeedStoreTests|FingerprintWidthTests

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing
	SISYNC_TEST_STORE=postgresql $(SWIFT) test --skip-build --disable-swift-testing --filter '$(POSTGRES_TESTS)'
	@$(MAKE) --no-print-directory unit-check

# Only the PostgreSQL pass.
test-postgres: deps
	$(SWIFT) build --build-tests
	SISYNC_TEST_STORE=postgresql $(SWIFT) test --skip-build --disable-swift-testing --filter '$(POSTGRES_TESTS)'

# The public SCIM 2.0 compliance checker (scim2-tester, pinned, in a venv under
# .build/scim-check) against a throw-away sisync-api on a new SQLite store: docs/scim.md,
# "Compliance". Fails on any error but the three RFC 7644 §3.5.2 refusals it explains, and
# when the venv cannot be made (no python3-venv, no network): it never skips.
scim-check: deps
	@dpkg-query -W -f='$${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" || { \
	  echo "make scim-check: installing python3-venv"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(SWIFT) build
	bash contrib/scim-check.sh --bin .build/debug --dir .build/scim-check

# The systemd units: `systemd-analyze verify` clean and a security exposure of at most 1.1
# (sisync-api.service too, though its target is 1.5: it must keep the network).
unit-check:
	@if ! command -v systemd-analyze >/dev/null 2>&1; then 	  echo "unit-check: skipped (systemd-analyze is not installed)"; exit 0; 	fi; 	dir=$$(mktemp -d); trap 'rm -rf $$dir' EXIT; 	cp systemd/sisync-api.socket $$dir/; 	for unit in sisync.service sisync-tenants.service sisync-api.service; do 	  sed "s|/usr/local/bin/|$$(pwd)/.build/debug/|" systemd/$$unit > $$dir/$$unit; 	  systemd-analyze verify $$dir/$$unit && 	  systemd-analyze security --offline=yes --threshold=11 $$dir/$$unit | tail -1 && 	  echo "unit-check: systemd/$$unit verifies and scores <= 1.1" || exit 1; 	done; 	systemd-analyze verify $$dir/sisync-api.socket && echo "unit-check: systemd/sisync-api.socket verifies"

# End to end under a real systemd in systemd-nspawn (root; caches a Debian 12 root in
# /var/cache/sisync-e2e). Exit 77 with the reason when this machine cannot run it.
test-systemd: build
	@for p in systemd-container debootstrap dpkg-dev; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make test-systemd: installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@rc=0; $(SUDO) systemd/e2e-test.sh || rc=$$?; \
	if [ $$rc = 77 ]; then echo "make test-systemd: skipped on this machine (reason above)"; exit 0; fi; exit $$rc

# Coverage-guided fuzzing (libFuzzer, address sanitizer) of the readers: Fuzz/README.md.
# Builds in .build-fuzz apart from the product; runs each harness FUZZ_SECONDS (default 20)
# and fails on any finding (inputs saved in .build-fuzz/findings/NAME/).
fuzz: deps
	@if ! dpkg-query -W -f='$${Status}' libstdc++-12-dev 2>/dev/null | grep -q "install ok installed"; then \
	  echo "make fuzz: installing libstdc++-12-dev (libFuzzer is C++)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libstdc++-12-dev; \
	fi
	SWIFT="$(SWIFT)" FUZZ_SECONDS="$(FUZZ_SECONDS)" bash Fuzz/fuzz.sh

bench: deps
	$(SWIFT) run -c release sisync-bench

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 .build/release/sisyncd .build/release/sisyncctl .build/release/sisync-api $(DESTDIR)$(PREFIX)/bin/
	install -d $(DESTDIR)$(SYSTEMD_DIR)
	for unit in sisync.service sisync-tenants.service sisync-api.service sisync-api.socket; do \
	  sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|g' -e 's|^ExecPaths=/usr$$|ExecPaths=/usr $(PREFIX)/bin|' \
	    systemd/$$unit > $(DESTDIR)$(SYSTEMD_DIR)/$$unit && chmod 0644 $(DESTDIR)$(SYSTEMD_DIR)/$$unit || exit 1; \
	done
	install -d $(DESTDIR)/etc/sisync $(DESTDIR)/etc/sisync/tenants.d
	@if [ -e $(DESTDIR)/etc/sisync/sisync.conf ]; then \
	  echo "keeping the existing $(DESTDIR)/etc/sisync/sisync.conf"; \
	else \
	  install -m 0644 config/sisync.conf $(DESTDIR)/etc/sisync/sisync.conf; \
	fi

# The Debian package, from the release build (packaging/build-deb.sh: dpkg-shlibdeps and
# dpkg-deb), then lintian when it is installed.
deb: build
	@for p in dpkg-dev lintian; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deb: installing$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@deb=$$(packaging/build-deb.sh) && echo "make deb: $$deb" && \
	  lintian --fail-on error --suppress-tags-from-file packaging/debian/lintian-overrides.txt "$$deb"

clean:
	rm -rf .build .data
