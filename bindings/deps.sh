#!/usr/bin/env bash
# What the language bindings need beyond tools/setup.sh, installed or checked:
#   apt:  swig (4.1: the one interface for Go, Java, Python), abigail-tools (abidw/abidiff),
#         openjdk-17-jdk-headless + maven (Java), python3-venv (Python tests)
#   pip:  pytest (into the interpreter that runs the tests, if it lacks it)
#   checked, not installed (Debian 12's packages are too old): Go >= 1.21 (cgo,
#   runtime/cgo.Handle, min), Rust/cargo >= 1.78 (Cargo.lock v4). crates.io (pkg-config
#   crate), Maven Central (JUnit 5, exec/build-helper plugins) and PyPI (setuptools for
#   the isolated pip build) are fetched by cargo, mvn and pip on first use.
# Run as root (or with sudo). Exits non-zero if something is still missing.
set -euo pipefail
PACKAGES=(swig abigail-tools openjdk-17-jdk-headless maven python3-venv pkg-config)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A JDK or Maven installed outside apt (e.g. /usr/lib/jvm/temurin-*) is fine too.
if command -v javac >/dev/null; then missing=("${missing[@]/openjdk-17-jdk-headless/}"); fi
if command -v mvn >/dev/null; then missing=("${missing[@]/maven/}"); fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | grep -v '^$' || true)
if ((${#missing[@]})); then
  echo "== bindings: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# pytest for the interpreter that runs the tests: Debian's own python3 takes it from apt
# (pip refuses to install into it, PEP 668); another python3 (pyenv, a venv) from PyPI.
if ! python3 -c 'import pytest' 2>/dev/null; then
  if [[ $(command -v python3) == /usr/bin/python3 ]]; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-pytest
  else
    python3 -m pip install -q pytest
  fi
fi

ok=1
need() { # what version-command minimum
  local v
  if ! v=$(bash -c "$2" 2>/dev/null | grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?' | head -1); then
    echo "bindings: $1 not found (need >= $3)"; ok=0; return
  fi
  if [[ $(printf '%s\n%s\n' "$3" "$v" | sort -V | head -1) != "$3" ]]; then
    echo "bindings: $1 $v is too old (need >= $3)"; ok=0
  fi
}
need go "go version" 1.21
need cargo "cargo --version" 1.78
need swig "swig -version" 4.1
need java "java -version 2>&1" 17
need mvn "mvn -v" 3.6
need python3 "python3 --version" 3.9
((ok)) && echo "bindings: dependencies present" || exit 1
