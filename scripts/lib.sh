# Shared helpers for Baton's scripts. Sourced, not run.

baton_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo -n otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "need root to run: $* (run as root, or install it yourself)"
  fi
}

# Installs Debian packages with apt-get, refreshing the package lists first (a fresh machine may
# have none, and then every install fails with "Unable to locate package").
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Installs the Debian packages Baton needs when any is missing:
# libpq-dev and pkg-config (to build), postgresql (the private cluster).
ensure_packages() {
  local missing=()
  dpkg -s libpq-dev >/dev/null 2>&1 || missing+=(libpq-dev)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  pg_bin_dir >/dev/null 2>&1 || missing+=(postgresql)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} with apt-get"
  apt_install "${missing[@]}"
}

# Installs Debian's chromium and chromium-driver when either is missing: the console's browser
# tests (Tests/BatonTests/ConsoleBrowserTests.swift) drive a headless Chromium through WebDriver.
ensure_browser() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} with apt-get (for the console's browser tests)"
  apt_install "${missing[@]}"
}

# A connection string (a postgresql:// URL or a libpq "key=value" string, as DATABASE_URL) with
# one part replaced:
#   url_with_database URL NAME         the same server and login, database NAME
#   url_with_login URL USER PASSWORD   the same server and database, another login
url_with_database() { url_with_ "$1" database "$2"; }
url_with_login() { url_with_ "$1" login "$2" "$3"; }
url_with_() {
  python3 - "$@" <<'PY'
import sys, urllib.parse as u
url, part, *values = sys.argv[1:]
if "://" in url:
    p = u.urlsplit(url)
    if part == "database":
        p = p._replace(path="/" + u.quote(values[0]))
    else:
        host = p.netloc.rsplit("@", 1)[-1]
        p = p._replace(netloc=f"{u.quote(values[0], safe='')}:{u.quote(values[1], safe='')}@{host}")
    print(u.urlunsplit(p))
elif part == "database":
    print(f"{url} dbname={values[0]}")
else:
    print(f"{url} user={values[0]} password={values[1]}")
PY
}

# The newest installed PostgreSQL server's bin directory.
pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
  printf '%s\n' "$d"
}

ensure_swift() {
  command -v swift >/dev/null 2>&1 && return 0
  [ -x /opt/swift/usr/bin/swift ] && { export PATH=/opt/swift/usr/bin:$PATH; return 0; }
  die "swift is not installed (Swift 6.1 or newer is needed; see https://swift.org/install)"
}

# Creates the private Python venv .venv (ignored by git) and installs the given pinned packages
# into it when missing. Needs python3 with venv (Debian: python3-venv).
ensure_venv() {
  local root; root=$(baton_root)
  if [ ! -x "$root/.venv/bin/pip" ]; then
    python3 -m venv "$root/.venv" 2>/dev/null || {
      apt_install python3-venv
      python3 -m venv "$root/.venv"
    }
  fi
  local missing=()
  for pkg in "$@"; do "$root/.venv/bin/pip" show -q "${pkg%%=*}" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} into .venv with pip"
  "$root/.venv/bin/pip" install -q --disable-pip-version-check "${missing[@]}" >&2
}

# Installs what only the tests need when missing: Debian's prometheus (a real scrape of a worker)
# and its promtool (the alert rules).
ensure_test_packages() {
  command -v prometheus >/dev/null 2>&1 && return 0
  say "installing prometheus with apt-get (for the metrics tests)"
  apt_install prometheus || say "warning: could not install prometheus; the Prometheus scrape test will be skipped"
}

# Installs Debian's pgbouncer when missing: the PgBouncer tests (Tests/BatonTests/PgBouncerTests.swift)
# run four workers through it in transaction pooling mode. It is found in /usr/sbin, off most PATHs.
ensure_pgbouncer() {
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] && return 0
  say "installing pgbouncer with apt-get (for the PgBouncer tests)"
  apt_install pgbouncer || say "warning: could not install pgbouncer; the PgBouncer tests will be skipped (and say so)"
  # Debian's package enables a system-wide pgbouncer on port 6432; the tests start their own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
    as_root systemctl disable --now pgbouncer >/dev/null 2>&1 || true
  fi
}

# Builds the named products quietly: nothing on success but our own warnings; the whole output on
# failure. A dependency's packaging notes (swift-distributed-tracing's CMakeLists.txt) are dropped.
build_products() {
  local product out
  for product in "$@"; do
    if ! out=$(swift build --product "$product" 2>&1); then
      printf '%s\n' "$out" >&2
      return 1
    fi
    printf '%s\n' "$out" | grep -E 'warning:|error:' | grep -v "swift-distributed-tracing" >&2 || true
  done
}
