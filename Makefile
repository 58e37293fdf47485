# Thin wrapper around Meson: the commands a person types.
#   make run      build and run a local instance in ./var (ports 2000+N)
#   make test     everything CI runs: unit, fuzz (briefly), integration
#   make install  PREFIX=/usr/local DESTDIR= respected

PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
UNITDIR	?= /lib/systemd/system
FUZZ_SECONDS ?= 300

.PHONY: all build deps run test fuzz fuzz-build asan install clean docs

all: build

deps:
	@scripts/deps.sh

build/build.ninja:
	meson setup build

build: deps build/build.ninja
	@ninja -C build

build-asan/build.ninja:
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug

asan: deps build-asan/build.ninja
	@ninja -C build-asan

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug

fuzz-build: deps build-fuzz/build.ninja
	@ninja -C build-fuzz

run: build
	@test -f var/postie.conf || build/postie init var --port-base 2000
	@scripts/hello.sh var
	exec build/postie -c var/postie.conf serve

test: build asan fuzz-build
	@scripts/test.sh

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

install: build
	meson configure build -Dprefix=$(PREFIX) -Dsbindir=sbin
	ninja -C build
	DESTDIR=$(DESTDIR) meson install -C build --no-rebuild --quiet
	ln -sf postie $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf postie $(DESTDIR)$(SBINDIR)/mailq
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' dist/postie.service.in \
		> $(DESTDIR)$(UNITDIR)/postie.service

docs: build
	scripts/gen-config-doc.sh

clean:
	rm -rf build build-asan build-fuzz
