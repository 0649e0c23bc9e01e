# cove's build. `make demo` builds an image offline and runs it; `make test`
# is everything CI runs (.ci/run calls exactly that).

GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    := $(DESTDIR)$(PREFIX)/bin
MANDIR    := $(DESTDIR)$(PREFIX)/share/man

# containers_image_openpgp: pure-Go signature checks (no libgpgme).
# exclude_graphdriver_btrfs/zfs: drivers cove never uses (btrfs needs headers).
# containers_image_docker_daemon_stub: no docker-daemon: transport.
# osusergo netgo: no NSS through libc, so the binary stays static-friendly.
TAGS      := containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_zfs containers_image_docker_daemon_stub osusergo netgo
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X github.com/cove-run/cove/internal/buildinfo.Version=$(VERSION) -X github.com/cove-run/cove/internal/buildinfo.Commit=$(COMMIT)
export CGO_ENABLED ?= 1

# The e2e suite and the test environment need root to set up (a test user
# with subordinate IDs, a local registry); they run on CI or on a machine
# marked as a test machine.
TEST_MACHINE := $(if $(filter true,$(CI)),1,$(COVE_TEST_MACHINE))

.PHONY: all build test test-unit test-e2e lint completions check-generated check-install docs install bench demo clean test-env fuzz

all: build

build:
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/cove ./cmd/cove

test: lint check-generated check-install test-env test-unit test-e2e

lint:
	@out=$$(gofmt -l cmd internal pkg hack); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags '$(TAGS)' ./...

test-unit:
	$(GO) test -tags '$(TAGS)' -count=1 ./...
	@# Start-up budget, alone so that parallel tests do not skew the timing.
	COVE_INIT_BUDGET=1 $(GO) test -tags '$(TAGS)' -count=1 -v -run TestInitBudget ./cmd/cove/
	@# The seccomp compiler against libseccomp's own verdicts (needs cgo and
	@# libseccomp-dev, which hack/setup-test-env.sh installs).
	@if pkg-config --exists libseccomp 2>/dev/null; then \
		CGO_ENABLED=1 $(GO) test -tags '$(TAGS) libseccomp_diff' -count=1 ./internal/runtime/seccomp/; \
	else echo "test-unit: libseccomp-dev missing: skipping the libseccomp differential test"; fi

test-env:
ifeq ($(TEST_MACHINE),1)
	bash hack/setup-test-env.sh
else
	@echo "test-env: not a test machine (set CI=true or COVE_TEST_MACHINE=1 to let hack/ set it up); e2e tests that need it will skip"
endif

test-e2e: build
	$(GO) test -tags '$(TAGS) e2e' -count=1 -timeout 40m ./internal/e2e/ -args -cove.binary=$(CURDIR)/bin/cove

fuzz:
	hack/fuzz.sh

completions: build
	bin/cove completion bash > completions/bash/cove
	bin/cove completion zsh > completions/zsh/_cove
	bin/cove completion fish > completions/fish/cove.fish

# Fails when the committed completions or man pages differ from what the
# code generates.
check-generated: completions docs
	@if [ -n "$$(git status --porcelain -- completions docs/man)" ]; then git status --short -- completions docs/man; echo "generated files are stale: run 'make completions docs' and commit"; exit 1; fi

docs:
	$(GO) run -tags '$(TAGS)' ./hack/gendocs -out docs/man

install: build
	install -d $(BINDIR) $(MANDIR)/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 bin/cove $(BINDIR)/cove
	install -m 0644 docs/man/*.1 $(MANDIR)/man1/
	install -m 0644 completions/bash/cove $(DESTDIR)$(PREFIX)/share/bash-completion/completions/cove
	install -m 0644 completions/zsh/_cove $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_cove
	install -m 0644 completions/fish/cove.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/cove.fish

# Installs into throwaway DESTDIRs (with a PREFIX and with an empty one)
# and checks that every file lands where packagers expect it.
check-install: build
	@set -e; d=; trap 'rm -rf "$$d"' EXIT; for prefix in /usr ""; do \
		d=$$(mktemp -d); \
		$(MAKE) -s install DESTDIR=$$d PREFIX=$$prefix >/dev/null; \
		test -x $$d$$prefix/bin/cove; \
		$$d$$prefix/bin/cove version --format '{{.Version}}' >/dev/null; \
		test -s $$d$$prefix/share/man/man1/cove.1; \
		test -s $$d$$prefix/share/man/man1/cove-run.1; \
		test -s $$d$$prefix/share/bash-completion/completions/cove; \
		test -s $$d$$prefix/share/zsh/site-functions/_cove; \
		test -s $$d$$prefix/share/fish/vendor_completions.d/cove.fish; \
		n=$$(find $$d -type f | wc -l); rm -rf $$d; d=; \
		echo "check-install: PREFIX='$$prefix': $$n files"; \
	done

bench: build
	bash hack/bench.sh

demo: build
	bash hack/demo.sh

clean:
	rm -rf bin
