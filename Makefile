# Sealpost: `make run` starts the service on its embedded defaults, `make test` runs everything
# CI runs. Both install what they need on a fresh Debian machine (apt-get as root).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
DEV_PKI := certs/dev
NEXTEST_PROFILE := $(if $(filter true,$(CI)),ci,default)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the tests drive (third-party verifiers and clients).
APT_PACKAGES := openssl ca-certificates curl procps util-linux python3 python3-venv xmlsec1 opensaml-tools libxml-security-java libwss4j-java libslf4j-java libcommons-logging-java libxml2-utils postgresql-client chromium libnss3-tools tzdata
# Python clients live in a virtualenv (Debian's python3 refuses system-wide pip installs).
VENV := tests/.venv
# The development citizen `make run` creates (development only: these are published).
DEV_LOGIN := jan
DEV_PASSWORD := development-only-1
DEV_TOTP_SECRET := JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
# Seconds per fuzz target for `make fuzz`.
FUZZ_SECONDS ?= 60

.PHONY: demo run ocsp deps test lint unit interop bench fuzz certs clean verifier

## run: build, create the development PKI if missing, serve on https://127.0.0.1:8443
run: certs
	@echo "Building Sealpost (release; the first build takes several minutes, cargo shows its progress)"
	$(CARGO) build --release --bin sealpost --bin sealpost-verify
	@# The development registry and directory (idempotent): agency A (EC key) may send to
	@# citizens and companies, agency B (RSA key) to citizens.
	./target/release/sealpost admin sender set --id agency-a --name "Development Agency A" \
		--cert $(DEV_PKI)/sender-a.pem --types tax-assessment,payment-notice,information >/dev/null
	./target/release/sealpost admin sender set --id agency-b --name "Development Agency B" \
		--cert $(DEV_PKI)/sender-b.pem --types tax-assessment,information --recipients citizen >/dev/null
	./target/release/sealpost admin mailbox import service/dev/mailboxes.csv
	@# The development citizen (idempotent: his credentials are set again each time).
	./target/release/sealpost admin person add --login $(DEV_LOGIN) --name "Jan Peeters (development)" \
		--nrn nrn:85073003328 --password $(DEV_PASSWORD) --totp-secret $(DEV_TOTP_SECRET) >/dev/null
	@# The development provider identity a court verifies evidences against (also served at
	@# /provider/trusted-list.xml): the seal and time-stamping certificates and their fingerprints.
	./target/release/sealpost pki trusted-list --out $(DEV_PKI)/trusted-list.xml
	@# Evidences are sealed XAdES B-LT: each carries the revocation status of the seal's and
	@# the time-stamping unit's certificates, here the development CAs' CRLs (valid 30 days:
	@# issued again once older than 20 days; `sealpost pki crl --revoke` lists revocations).
	@if [ ! -f $(DEV_PKI)/issuing-ca.crl.pem ] || [ -n "$$(find $(DEV_PKI)/issuing-ca.crl.pem -mtime +20)" ]; then \
		./target/release/sealpost pki crl --dir $(DEV_PKI); fi
	@echo "Starting Sealpost: it logs \"sealpost listening\" with its address once the port is open."
	@echo "  trust anchor: $(DEV_PKI)/root-ca.pem; provider identity: $(DEV_PKI)/trusted-list.xml"
	@echo "  mailbox: https://127.0.0.1:8443/mailbox/login as $(DEV_LOGIN), password $(DEV_PASSWORD) (changed at the first login),"
	@echo "  then a code of the TOTP secret $(DEV_TOTP_SECRET):"
	@echo "  otpauth://totp/Sealpost:$(DEV_LOGIN)?secret=$(DEV_TOTP_SECRET)&issuer=Sealpost&algorithm=SHA1&digits=6&period=30"
	@# Development machines and containers often run a clock the kernel reports as
	@# unsynchronised; the embedded TSA would then refuse to time-stamp. `make run` therefore
	@# trusts the system clock unchecked; production keeps the default (kernel).
	@# The embedded TSA endpoint serves registered senders (over mutual TLS) for trying it out;
	@# its default is off.
	@# The revocation services beside it: the CRLs, and the OCSP responder (service/dev/serve.sh).
	SEALPOST_TSA_CLOCK=$${SEALPOST_TSA_CLOCK:-unchecked} SEALPOST_TSA_ENDPOINT=$${SEALPOST_TSA_ENDPOINT:-senders} \
		bash service/dev/serve.sh $(DEV_PKI) ./target/release/sealpost

## demo: with `make run` going in another terminal, agency A sends one letter with zeep
## (WS-Security), and sealpost-verify checks its proof of dispatch offline
demo:
	@[ -x $(VENV)/bin/python3 ] || { echo "run make deps first (the demo client is zeep)"; exit 1; }
	@mkdir -p var/demo
	@printf '%%PDF-1.7\n%% Sealpost demo letter\n' > var/demo/letter.pdf
	$(VENV)/bin/python3 tests/interop/soap/zeep_client.py --url https://127.0.0.1:8443/soap \
		--ca $(DEV_PKI)/root-ca.pem --cert $(DEV_PKI)/sender-a.pem --key $(DEV_PKI)/sender-a.key \
		submit --recipient nrn:85073003328 --type tax-assessment --subject "Demo letter" \
		--reference DEMO-$$(date +%s) --key-idempotency demo-$$(date +%s%N) \
		--document var/demo/letter.pdf --out var/demo/evidence.xml
	./target/release/sealpost-verify var/demo/evidence.xml --trust $(DEV_PKI)/root-ca.pem \
		--provider $(DEV_PKI)/trusted-list.xml --document var/demo/letter.pdf

## ocsp: the development PKI's OCSP responder (openssl ocsp) on http://127.0.0.1:8889, the
## address its certificates name; with it running, `SEALPOST_REVOCATION_OCSP=true make run`
## (its answers say when they are next updated, an hour on: -nmin 60; the issuing CA names no
## responder: the root's CRL, which make run gives the service, speaks for it)
ocsp: certs
	@[ -f $(DEV_PKI)/index.txt ] || { echo "$(DEV_PKI) was made before OCSP (no index.txt): remove it and run make certs"; exit 1; }
	openssl ocsp -index $(DEV_PKI)/index.txt -CA $(DEV_PKI)/issuing-ca.pem \
		-rsigner $(DEV_PKI)/ocsp.pem -rkey $(DEV_PKI)/ocsp.key -port 8889 -nmin 60

## verifier: the court's tool as one static executable (no shared library, not even the C
## library: it runs on any x86_64 Linux of the last decade), with its SHA-256, in dist/
VERIFIER_TARGET := x86_64-unknown-linux-gnu
VERIFIER := dist/sealpost-verify-$(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)-x86_64-linux
verifier:
	@# An explicit --target keeps build scripts and proc-macros dynamic; only the tool is static.
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked \
		--target $(VERIFIER_TARGET) -p sealpost-evidence --bin sealpost-verify
	@mkdir -p dist
	cp $${CARGO_TARGET_DIR:-target}/$(VERIFIER_TARGET)/release/sealpost-verify $(VERIFIER)
	strip $(VERIFIER)
	@file $(VERIFIER) | grep -q 'statically linked\|static-pie linked' || { file $(VERIFIER); echo "$(VERIFIER) is not static"; exit 1; }
	$(VERIFIER) --version
	cd dist && sha256sum $(notdir $(VERIFIER)) > $(notdir $(VERIFIER)).sha256
	@cat $(VERIFIER).sha256
	@echo "Publish $(VERIFIER) with its SHA-256 beside the trusted list's fingerprints (README: How a court verifies a proof)."

## certs: the development PKI under certs/dev (kept if present)
certs:
	@if [ ! -f $(DEV_PKI)/root-ca.pem ]; then \
		echo "Building Sealpost to create the development PKI (the first build takes several minutes)"; \
		$(CARGO) run --release --bin sealpost -- pki init --dir $(DEV_PKI); \
	fi

## deps: every system package and tool the tests need (idempotent)
deps:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null
	@[ -x $(VENV)/bin/python3 ] || python3 -m venv $(VENV)
	$(VENV)/bin/python3 -m pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt -r tests/interop/wss/requirements.txt -r tests/interop/grpc/requirements.txt -r tests/interop/saml/requirements.txt
	cd tests/interop/wss && npm ci --no-audit --no-fund --loglevel=error
	@# Browser tests: playwright-core drives Debian's chromium (libnss3-tools: certutil trusts the dev root).
	cd tests/browser && npm ci --no-audit --no-fund --loglevel=error
	@# The OpenID Provider of the OpenID Connect login tests (panva's oidc-provider).
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	@# The store conformance and PostgreSQL end-to-end tests need a server (not installed here:
	@# the machine runs it); say so now rather than as a test failure.
	@[ -n "$${TEST_POSTGRES_URL:-}" ] || pg_isready -q -h 127.0.0.1 -U postgres || { echo "PostgreSQL must accept user postgres on 127.0.0.1:5432 (or set TEST_POSTGRES_URL): see README, Tests"; exit 1; }
	@command -v cargo-nextest >/dev/null || $(CARGO) install --locked cargo-nextest
	@command -v cargo-deny >/dev/null || $(CARGO) install --locked cargo-deny
	@command -v javac >/dev/null || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends default-jdk-headless >/dev/null

## test: formatting, lints, the workspace tests, the interop tests
test: deps lint unit interop

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) deny check bans licenses

unit:
	$(CARGO) nextest run --profile $(NEXTEST_PROFILE) --workspace --exclude sealpost-interop

interop:
	$(CARGO) build --bins
	$(CARGO) nextest run --profile $(NEXTEST_PROFILE) -p sealpost-interop

## bench: throughput figures as ratios against baselines measured in the same run
bench:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(CARGO) bench -p sealpost-tsa --bench tsa
	@[ -x $(VENV)/bin/python3 ] || { echo "run make deps first (python-xmlsec is the baseline)"; exit 1; }
	taskset -c 0 $(CARGO) bench -p sealpost-xmldsig --bench xmldsig
	taskset -c 0 $(CARGO) bench -p sealpost-evidence --bench evidence
	$(CARGO) bench -p sealpost-interop --bench submission 2>&1 | grep -v '^\[server\]' | tee target/bench/submission.txt
	$(CARGO) bench -p sealpost-interop --bench mailbox 2>&1 | grep -v '^\[server\]' | tee target/bench/mailbox.txt
	$(CARGO) bench -p sealpost-interop --bench load 2>&1 | grep -v '^\[server\]' | tee target/bench/load.txt

## fuzz: each fuzz target for FUZZ_SECONDS (cargo-fuzz on stable, via RUSTC_BOOTSTRAP),
## seeded with the requests, tokens and signed XML of the shared interop samples
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	mkdir -p fuzz/corpus/tsa_request fuzz/corpus/tsa_token fuzz/corpus/xml_c14n fuzz/corpus/wss_verify fuzz/corpus/evidence_verify
	cp ../shared/interop-samples/tsp/*.tsq fuzz/corpus/tsa_request/
	cp ../shared/interop-samples/tsp/*.tst ../shared/interop-samples/tsp/*.tsr fuzz/corpus/tsa_token/
	cp ../shared/interop-samples/*.xml fuzz/corpus/xml_c14n/
	cp ../shared/interop-samples/*.xml fuzz/corpus/wss_verify/
	@# Raw documents (mode byte 0) and small edits of the target's genuine evidence (mode byte 1).
	for f in ../shared/interop-samples/*.xml; do { printf '\000'; cat "$$f"; } > fuzz/corpus/evidence_verify/raw-$$(basename "$$f"); done
	printf '\001\001\000\000' > fuzz/corpus/evidence_verify/edit-none
	@# Each sample as the root part of a package (first byte 0: Sealpost's Content-Type), and a package with an attachment.
	mkdir -p fuzz/corpus/mime_xop fuzz/corpus/evidence_read
	@# The provider identity a court is given: the development PKI's list, if made (make run).
	mkdir -p fuzz/corpus/trusted_list
	[ ! -f $(DEV_PKI)/trusted-list.xml ] || cp $(DEV_PKI)/trusted-list.xml fuzz/corpus/trusted_list/
	for f in ../shared/interop-samples/*.xml; do { printf '\000--MIMEBoundary_sealpost\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\nContent-ID: <root@sealpost.test>\r\n\r\n'; cat "$$f"; printf '\r\n--MIMEBoundary_sealpost--\r\n'; } > fuzz/corpus/mime_xop/$$(basename "$$f"); done
	printf '\000--MIMEBoundary_sealpost\r\nContent-Type: application/xop+xml; charset=UTF-8; type="text/xml"\r\nContent-ID: <root@sealpost.test>\r\n\r\n<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><c><x:Include xmlns:x="http://www.w3.org/2004/08/xop/include" href="cid:doc%%40sealpost.test"/></c></e:Body></e:Envelope>\r\n--MIMEBoundary_sealpost\r\nContent-ID: <doc@sealpost.test>\r\nContent-Transfer-Encoding: binary\r\n\r\n%%PDF-1.7\r\n--MIMEBoundary_sealpost--\r\n' > fuzz/corpus/mime_xop/attachment
	@# Raw documents (mode byte 0) and small edits of the evidence the target writes (mode byte 1).
	for f in ../shared/interop-samples/*.xml; do { printf '\000'; cat "$$f"; } > fuzz/corpus/evidence_read/raw-$$(basename "$$f"); done
	printf '\001\000\000\000' > fuzz/corpus/evidence_read/edit-none
	@# SAML 2.0 and 1.1 assertions (alone, and in a holder-of-key envelope), and the WS-Security samples.
	mkdir -p fuzz/corpus/saml_assertion
	cp fuzz/seeds/saml_assertion/*.xml ../shared/interop-samples/*.xml fuzz/corpus/saml_assertion/
	@# An OCSP answer of status malformedRequest, the smallest there is.
	mkdir -p fuzz/corpus/ocsp_response
	printf '\060\003\012\001\001' > fuzz/corpus/ocsp_response/malformed-request
	cd fuzz && for target in $$(RUSTC_BOOTSTRAP=1 cargo fuzz list); do \
		echo "== $$target ($(FUZZ_SECONDS)s)"; \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$target -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 2>&1 \
			| grep -E "DONE|Done [0-9]+ runs|panicked|SUMMARY|ERROR"; \
		test $${PIPESTATUS[0]} -eq 0; \
	done

clean:
	$(CARGO) clean
	rm -rf dist
