#!/usr/bin/env bash
# Installs the Debian packages Keyhold's tests and benchmarks run against (real components,
# no mocks): SoftHSM2 (a PKCS#11 token), curl (an independent SigV4 signer), OpenSSL tools,
# wrk and HAProxy (load and load-balancer tests). Needs root (or sudo).
set -euo pipefail
PKGS=(softhsm2 opensc curl openssl wrk haproxy prometheus uuid-runtime util-linux python3 postgresql build-essential)
missing=()
# The AWS CLI drives the KMS simulator end to end; Debian's awscli when none is on PATH.
command -v aws >/dev/null 2>&1 || PKGS+=(awscli)
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
