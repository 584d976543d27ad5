# otpgate: `make test` installs what the integration tests need (Debian
# packages, where missing) and runs every test; none may be skipped.

GO       ?= go
BENCHTIME  ?= 2s
BENCHCOUNT ?= 6
# go.mod's toolchain line names the Go release to build and test with (a
# security release of the stdlib); auto fetches it through the module proxy
# where the installed Go is older.
export GOTOOLCHAIN := auto
APT_PKGS := slapd ldap-utils kannel kannel-extras nginx caddy \
            samba samba-ad-provision samba-dsdb-modules samba-vfs-modules samba-common-bin python3-ldb \
            chromium fonts-dejavu-core redis-server redis-sentinel
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test test-deps unit vet lint vulncheck fmt-check bench fuzz demo build

test: test-deps fmt-check vet lint vulncheck
	REQUIRE_TEST_SERVERS=1 $(GO) test -race -count=1 ./...
	cd deploy && $(GO) test -count=1 ./...

# Installs the real servers the integration tests start: OpenLDAP's slapd,
# the Kannel SMS gateway (bearerbox, smsbox, and fakesmsc as the phone
# network), nginx and Caddy in front of otpgate as forward-auth server, and
# Samba as an Active Directory domain controller (auth/sambatest), with
# samba-tool (samba-common-bin) and the ldb module of Debian's python3,
# headless Chromium (internal/browsertest) with a font to render the pages
# in, and Redis with its Sentinel for the shared store (auth/redisstore).
test-deps:
	@missing=""; \
	command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || missing="$$missing slapd"; \
	command -v ldapsearch >/dev/null 2>&1 || missing="$$missing ldap-utils"; \
	[ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ] || missing="$$missing kannel"; \
	[ -x /usr/lib/kannel/test/fakesmsc ] || missing="$$missing kannel-extras"; \
	[ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	[ -x /usr/bin/caddy ] || missing="$$missing caddy"; \
	[ -x /usr/sbin/samba ] || missing="$$missing samba"; \
	[ -x /usr/bin/samba-tool ] || missing="$$missing samba-common-bin"; \
	[ -f /usr/share/samba/setup/provision.ldif ] || missing="$$missing samba-ad-provision"; \
	dpkg -s samba-dsdb-modules >/dev/null 2>&1 || missing="$$missing samba-dsdb-modules"; \
	dpkg -s samba-vfs-modules >/dev/null 2>&1 || missing="$$missing samba-vfs-modules"; \
	/usr/bin/python3 -c 'import ldb' 2>/dev/null || missing="$$missing python3-ldb"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/dejavu ] || missing="$$missing fonts-dejavu-core"; \
	[ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	[ -x /usr/bin/redis-sentinel ] || missing="$$missing redis-sentinel"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PKGS); \
	fi

unit:
	$(GO) test -count=1 ./...
	cd deploy && $(GO) test -count=1 ./...

# deploy/ is a module of its own (the Kubernetes types stay out of the
# binary's dependencies): ./... in the root does not reach it.
vet:
	$(GO) vet ./...
	cd deploy && $(GO) vet ./...

# Linters, at a pinned version (go run builds it once into the build cache):
# staticcheck, errorlint, revive for exported names, gosec outside the tests.
GOLANGCI_LINT := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
lint:
	$(GO) run $(GOLANGCI_LINT) run ./...

# Known vulnerabilities in the code otpgate calls, from a pinned snapshot of
# the Go vulnerability database (the golang.org/x/vulndb module, indexed
# here), so the check needs only the module proxy and gives the same answer
# until the pin moves. Move VULNDB to a newer version to learn of newer ones.
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB      := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR  := .cache/vulndb-$(VULNDB)
vulncheck: $(VULNDB_DIR)/index/db.json
	$(GO) run $(GOVULNCHECK) -db file://$(abspath $(VULNDB_DIR)) ./...

$(VULNDB_DIR)/index/db.json:
	$(GO) mod download golang.org/x/vulndb@$(VULNDB)
	rm -rf $(VULNDB_DIR)
	$(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB) \
	  -vulns "$$($(GO) env GOMODCACHE)/golang.org/x/vulndb@$(VULNDB)/data/osv" -out $(VULNDB_DIR)

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Throughput through the assembled otpgate (as run builds and serves it)
# with a valid session, fresh and stale (due for renewal, the renewed
# cookie never returned), metrics off and on, against the strongest
# baselines in the same run: a bare httputil.ReverseProxy with a pool of
# 32 KiB buffers, and a bare handler answering 200 for forward-auth; and
# the forward-auth handler alone; each with the Redis store too (a real
# redis-server), against the baselines and paired against the memory
# store. The summary (bench.awk) gives medians of
# the BENCHCOUNT runs. bench-signin first: sign-ins per second.
bench: bench-signin
	$(GO) test -run='^$$' -bench='BenchmarkProxied|BenchmarkForwardAuth|BenchmarkForwardAuthHandler' -benchmem -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./internal/gateway | tee bench.txt
	@awk -f bench.awk bench.txt

fuzz:
	$(GO) test ./ui -run='^$$' -fuzz=FuzzSafeRedirect -fuzztime=30s
	$(GO) test ./sms -run='^$$' -fuzz=FuzzRenderPayload -fuzztime=30s
	$(GO) test ./proxy -run='^$$' -fuzz=FuzzReadPath -fuzztime=30s
	$(GO) test ./proxy -run='^$$' -fuzz=FuzzDifferential -fuzztime=30s

demo:
	$(GO) run . demo

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o otpgate .

# The password step against a real slapd with codes sent through the HTTP
# SMS provider to a loopback sink, one after another and in parallel,
# beside the bare go-ldap search and bind it rests on: on kept connections
# (the floor), and with a dial and a service bind per sign-in (as before
# otpgate kept its directory connections).
.PHONY: bench-signin
bench-signin:
	$(GO) test -run='^$$' -bench='BenchmarkSignIn|BenchmarkBareLDAPSearchBind' -benchtime=$(BENCHTIME) -count=$(BENCHCOUNT) ./auth | tee bench-signin.txt
	@awk 'function avg(k) { return n[k] ? t[k]/n[k] : 0 } \
	      function rate(k) { return n[k] ? r[k]/n[k] : 0 } \
	      /^Benchmark(SignIn|BareLDAPSearchBind)\// { k=$$1; sub(/-[0-9]+$$/, "", k); n[k]++; t[k]+=$$3; r[k]+=$$5 } \
	      END { s="BenchmarkSignIn/"; l="BenchmarkBareLDAPSearchBind/"; \
	            if (!avg(s "sequential") || !avg(s "parallel") || !avg(l "kept-connections") || !avg(l "dial-per-sign-in")) { print "no sign-in benchmark results"; exit 1 } \
	            printf "\nsign-ins per second (password step, slapd, HTTP SMS sink): %.0f one after another, %.0f in parallel\n", rate(s "sequential"), rate(s "parallel"); \
	            printf "sign-in, otpgate / bare go-ldap search+bind on kept connections: %.2f  (%.0f vs %.0f ns/sign-in)\n", \
	              avg(l "kept-connections")/avg(s "sequential"), avg(s "sequential"), avg(l "kept-connections"); \
	            printf "bare go-ldap, dial and service bind per sign-in / kept connections: %.2f  (%.0f vs %.0f sign-ins/s)\n", \
	              avg(l "kept-connections")/avg(l "dial-per-sign-in"), rate(l "dial-per-sign-in"), rate(l "kept-connections") }' bench-signin.txt
