# npfs — build and install with the GNU conventions.
#
#   make                      build a locked release (cargo build --release --locked)
#   make install              install under PREFIX (default /usr/local); DESTDIR for staging
#                             (`make && sudo make install` for a system prefix)
#   make uninstall            remove exactly what `make install` installed
#   make deb                  build a Debian package (installs under /usr) into target/deb/
#                             (or $CARGO_TARGET_DIR/deb/)
#
# Every directory can be set on the command line, e.g.
#   make install PREFIX=$HOME/.local
#   make install DESTDIR=/tmp/stage PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu
# The broker's directory (LIBEXECDIR) is built into libnpfs and the npfs library, which is how
# programs find the broker with nothing configured: changing it rebuilds them.

PACKAGE      := npfs
VERSION      := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
SOMAJOR      := $(firstword $(subst ., ,$(VERSION)))

PREFIX       ?= /usr/local
EXEC_PREFIX  ?= $(PREFIX)
BINDIR       ?= $(EXEC_PREFIX)/bin
LIBDIR       ?= $(EXEC_PREFIX)/lib
LIBEXECDIR   ?= $(EXEC_PREFIX)/libexec
INCLUDEDIR   ?= $(PREFIX)/include
DATAROOTDIR  ?= $(PREFIX)/share
MANDIR       ?= $(DATAROOTDIR)/man
DOCDIR       ?= $(DATAROOTDIR)/doc/$(PACKAGE)
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR  ?= $(DATAROOTDIR)/bash-completion/completions
ZSHCOMPDIR   ?= $(DATAROOTDIR)/zsh/site-functions
FISHCOMPDIR  ?= $(DATAROOTDIR)/fish/vendor_completions.d
# systemd searches /usr/lib/systemd and /usr/local/lib/systemd (not the multiarch LIBDIR).
SYSTEMDSYSTEMUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSTEMDUSERUNITDIR   ?= $(PREFIX)/lib/systemd/user

CARGO        ?= cargo
INSTALL      ?= install
CARGOFLAGS   ?=
# Cargo's output directory: $CARGO_TARGET_DIR when set, as cargo itself does.
TARGET_DIR   ?= $(or $(CARGO_TARGET_DIR),target)
RELEASE      := $(TARGET_DIR)/release
BUILT        := $(TARGET_DIR)/install
HEADERS      := $(wildcard include/npfs/*.h)
UNITS        := systemd/system/npfsd.socket systemd/system/npfsd.service \
                systemd/user/npfsd.socket systemd/user/npfsd.service
DOCS         := README.md docs/ARCHITECTURE.md docs/DEVIATIONS.md docs/PERFORMANCE.md \
                docs/SECURITY.md

# What `make install` puts under DESTDIR: uninstall removes exactly these.
INSTALLED_FILES := \
	$(BINDIR)/npfs \
	$(LIBEXECDIR)/npfs/npfsd \
	$(LIBDIR)/libnpfs.so.$(VERSION) $(LIBDIR)/libnpfs.so.$(SOMAJOR) $(LIBDIR)/libnpfs.so \
	$(LIBDIR)/libnpfs.a \
	$(PKGCONFIGDIR)/npfs.pc \
	$(addprefix $(INCLUDEDIR)/npfs/,$(notdir $(HEADERS))) \
	$(MANDIR)/man1/npfs.1 \
	$(BASHCOMPDIR)/npfs $(ZSHCOMPDIR)/_npfs $(FISHCOMPDIR)/npfs.fish \
	$(SYSTEMDSYSTEMUNITDIR)/npfsd.socket $(SYSTEMDSYSTEMUNITDIR)/npfsd.service \
	$(SYSTEMDUSERUNITDIR)/npfsd.socket $(SYSTEMDUSERUNITDIR)/npfsd.service \
	$(addprefix $(DOCDIR)/,$(notdir $(DOCS)))
# Directories of ours, removed by uninstall when empty.
INSTALLED_DIRS := $(LIBEXECDIR)/npfs $(INCLUDEDIR)/npfs $(DOCDIR)

.PHONY: all build install uninstall list-installed deb
all: build

# The release build, with the libexec directory built in (a changed LIBEXECDIR rebuilds).
build:
	NPFS_LIBEXECDIR='$(LIBEXECDIR)' $(CARGO) build --release --locked $(CARGOFLAGS) \
		-p npfs-cli -p npfsd -p npfs-capi
	@mkdir -p $(BUILT)/systemd/system $(BUILT)/systemd/user $(BUILT)/completions
	$(RELEASE)/npfs man > $(BUILT)/npfs.1
	$(RELEASE)/npfs completions bash > $(BUILT)/completions/npfs
	$(RELEASE)/npfs completions zsh > $(BUILT)/completions/_npfs
	$(RELEASE)/npfs completions fish > $(BUILT)/completions/npfs.fish
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    npfs.pc.in > $(BUILT)/npfs.pc
	for u in $(UNITS); do \
	    sed -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	        $$u.in > $(BUILT)/$$u || exit 1; \
	done

# `make && sudo make install` works where root has no cargo: the build made by `make` (with
# the same directory variables) is installed as it is.
install:
	@if command -v $(CARGO) >/dev/null 2>&1; then \
	    $(MAKE) --no-print-directory build; \
	elif [ ! -e $(BUILT)/npfs.pc ] || [ ! -e $(RELEASE)/npfs ]; then \
	    echo "make install: no cargo here and nothing built; run 'make' first (as yourself)" >&2; \
	    exit 1; \
	fi
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(LIBEXECDIR)/npfs' '$(DESTDIR)$(LIBDIR)' \
	    '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(INCLUDEDIR)/npfs' '$(DESTDIR)$(MANDIR)/man1' \
	    '$(DESTDIR)$(BASHCOMPDIR)' '$(DESTDIR)$(ZSHCOMPDIR)' '$(DESTDIR)$(FISHCOMPDIR)' \
	    '$(DESTDIR)$(SYSTEMDSYSTEMUNITDIR)' '$(DESTDIR)$(SYSTEMDUSERUNITDIR)' '$(DESTDIR)$(DOCDIR)'
	$(INSTALL) -m 755 $(RELEASE)/npfs '$(DESTDIR)$(BINDIR)/npfs'
	$(INSTALL) -m 755 $(RELEASE)/npfsd '$(DESTDIR)$(LIBEXECDIR)/npfs/npfsd'
	$(INSTALL) -m 755 $(RELEASE)/libnpfs.so '$(DESTDIR)$(LIBDIR)/libnpfs.so.$(VERSION)'
	ln -sf libnpfs.so.$(VERSION) '$(DESTDIR)$(LIBDIR)/libnpfs.so.$(SOMAJOR)'
	ln -sf libnpfs.so.$(SOMAJOR) '$(DESTDIR)$(LIBDIR)/libnpfs.so'
	$(INSTALL) -m 644 $(RELEASE)/libnpfs.a '$(DESTDIR)$(LIBDIR)/libnpfs.a'
	$(INSTALL) -m 644 $(BUILT)/npfs.pc '$(DESTDIR)$(PKGCONFIGDIR)/npfs.pc'
	$(INSTALL) -m 644 $(HEADERS) '$(DESTDIR)$(INCLUDEDIR)/npfs/'
	$(INSTALL) -m 644 $(BUILT)/npfs.1 '$(DESTDIR)$(MANDIR)/man1/npfs.1'
	$(INSTALL) -m 644 $(BUILT)/completions/npfs '$(DESTDIR)$(BASHCOMPDIR)/npfs'
	$(INSTALL) -m 644 $(BUILT)/completions/_npfs '$(DESTDIR)$(ZSHCOMPDIR)/_npfs'
	$(INSTALL) -m 644 $(BUILT)/completions/npfs.fish '$(DESTDIR)$(FISHCOMPDIR)/npfs.fish'
	$(INSTALL) -m 644 $(BUILT)/systemd/system/npfsd.socket $(BUILT)/systemd/system/npfsd.service \
	    '$(DESTDIR)$(SYSTEMDSYSTEMUNITDIR)/'
	$(INSTALL) -m 644 $(BUILT)/systemd/user/npfsd.socket $(BUILT)/systemd/user/npfsd.service \
	    '$(DESTDIR)$(SYSTEMDUSERUNITDIR)/'
	$(INSTALL) -m 644 $(DOCS) '$(DESTDIR)$(DOCDIR)/'
	@echo "npfs $(VERSION) installed under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f $(addprefix '$(DESTDIR),$(addsuffix ',$(INSTALLED_FILES)))
	-rmdir $(addprefix '$(DESTDIR),$(addsuffix ',$(INSTALLED_DIRS))) 2>/dev/null
	@echo "npfs removed from $(DESTDIR)$(PREFIX)"

# The list uninstall works from, one path a line (used by the tests and the Debian package).
list-installed:
	@for f in $(INSTALLED_FILES); do echo "$$f"; done

# --- Debian package ----------------------------------------------------------------------
DEB_ARCH      := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
DEB_STAGE     := $(abspath $(TARGET_DIR))/deb/stage
DEB_FILE      := $(TARGET_DIR)/deb/$(PACKAGE)_$(VERSION)_$(DEB_ARCH).deb

deb:
	rm -rf $(DEB_STAGE)
	$(MAKE) install DESTDIR=$(DEB_STAGE) PREFIX=/usr \
	    LIBDIR=/usr/lib/$(DEB_MULTIARCH) LIBEXECDIR=/usr/libexec \
	    ZSHCOMPDIR=/usr/share/zsh/vendor-completions
	gzip -9n $(DEB_STAGE)/usr/share/man/man1/npfs.1
	strip --strip-unneeded --remove-section=.comment $(DEB_STAGE)/usr/bin/npfs \
	    $(DEB_STAGE)/usr/libexec/npfs/npfsd $(DEB_STAGE)/usr/lib/$(DEB_MULTIARCH)/libnpfs.so.$(VERSION)
	strip --strip-debug $(DEB_STAGE)/usr/lib/$(DEB_MULTIARCH)/libnpfs.a
	mkdir -p $(DEB_STAGE)/DEBIAN
	sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@ARCH@|$(DEB_ARCH)|g' \
	    -e "s|@SIZE@|$$(du -sk --exclude=DEBIAN $(DEB_STAGE) | cut -f1)|g" \
	    debian/control.in > $(DEB_STAGE)/DEBIAN/control
	$(INSTALL) -m 755 debian/postinst debian/prerm debian/postrm $(DEB_STAGE)/DEBIAN/
	dpkg-deb --root-owner-group --build $(DEB_STAGE) $(DEB_FILE)
	@echo "built $(DEB_FILE)"
