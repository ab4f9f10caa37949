#!/usr/bin/env bash
# Provisions the spotcheck runner AMI (Amazon Linux 2023). Run by Packer as root (see spotcheck-runner.pkr.hcl):
# installs git, bash, Node 20 and common toolchains from the AL2023 repositories, installs the agent bundle the
# template uploaded to /tmp/spotcheck-agent.tgz, and creates the unprivileged user the agent and its steps run as.
# For capacity mode it also installs Gitea's act_runner and GitHub's actions runner, each at a pinned version and
# verified against a pinned SHA-256 (`sha256sum -c`), and the capacity launcher the capacity user data starts.
set -euo pipefail

AGENT_BUNDLE="${AGENT_BUNDLE:-/tmp/spotcheck-agent.tgz}"
AGENT_DIR=/opt/spotcheck/agent
AGENT_USER=spotcheck
# Capacity mode (ami/README.md, "Capacity runners"). The versions and checksums come from the Packer variables; the
# checksums have no default on purpose: a binary whose checksum nobody pinned is never baked.
ARCH="${ARCH:-x86_64}"
ACT_RUNNER_VERSION="${ACT_RUNNER_VERSION:-0.3.1}"
ACT_RUNNER_SHA256="${ACT_RUNNER_SHA256:-}"
ACTIONS_RUNNER_VERSION="${ACTIONS_RUNNER_VERSION:-2.328.0}"
ACTIONS_RUNNER_SHA256="${ACTIONS_RUNNER_SHA256:-}"
CAPACITY_LAUNCHER="${CAPACITY_LAUNCHER:-/tmp/capacity-runner.sh}"
CAPACITY_DIR=/opt/spotcheck/capacity
ACTIONS_RUNNER_DIR=/opt/spotcheck/actions-runner

log() { printf '[provision] %s\n' "$*"; }
die() {
  printf '[provision] ERROR: %s\n' "$*" >&2
  exit 1
}

# Release asset names per architecture: act_runner-<v>-linux-{amd64,arm64} (gitea.com/gitea/act_runner releases),
# actions-runner-linux-{x64,arm64}-<v>.tar.gz (github.com/actions/runner releases).
case "$ARCH" in
  x86_64) act_arch=amd64 gh_arch=x64 ;;
  arm64) act_arch=arm64 gh_arch=arm64 ;;
  *) die "unsupported ARCH $ARCH (x86_64 or arm64)" ;;
esac
act_runner_url="https://gitea.com/gitea/act_runner/releases/download/v${ACT_RUNNER_VERSION}/act_runner-${ACT_RUNNER_VERSION}-linux-${act_arch}"
actions_runner_url="https://github.com/actions/runner/releases/download/v${ACTIONS_RUNNER_VERSION}/actions-runner-linux-${gh_arch}-${ACTIONS_RUNNER_VERSION}.tar.gz"

# Checked before anything else, so a build without pinned checksums fails in seconds, not after the dnf upgrade.
require_sha256() {
  local name="$1" value="$2"
  [[ "$value" =~ ^[0-9a-f]{64}$ ]] ||
    die "$name is unset or not a lowercase hex SHA-256: pin it (ami/README.md, \"Capacity runners\"); refusing to bake an unverified binary"
}
require_sha256 ACT_RUNNER_SHA256 "$ACT_RUNNER_SHA256"
require_sha256 ACTIONS_RUNNER_SHA256 "$ACTIONS_RUNNER_SHA256"
[[ -f "$CAPACITY_LAUNCHER" ]] || die "the capacity launcher $CAPACITY_LAUNCHER is missing"

# Downloads over HTTPS only and keeps the file only if it matches the pinned checksum.
fetch_verified() {
  local url="$1" sha256="$2" dest="$3"
  log "downloading $url"
  curl --fail --silent --show-error --location --proto '=https' --proto-redir '=https' --retry 5 \
    --output "$dest" "$url"
  if ! printf '%s  %s\n' "$sha256" "$dest" | sha256sum --check --strict --quiet -; then
    rm -f -- "$dest"
    die "checksum mismatch for $url (expected $sha256)"
  fi
}

log 'updating the base system'
dnf -y -q upgrade --refresh

log 'installing git, Node 20 and toolchains'
# AL2023 ships Node 20 as the nodejs20 package (binary: node-20); docker comes from the AL2023 repo too.
# libicu, krb5-libs, openssl-libs and zlib: the .NET dependencies of GitHub's actions runner (its
# bin/installdependencies.sh installs the same set on dnf systems).
dnf -y -q install \
  bash git tar gzip unzip which findutils procps-ng shadow-utils sudo \
  nodejs20 nodejs20-npm \
  gcc gcc-c++ make cmake \
  python3 python3-pip \
  jq \
  docker \
  libicu krb5-libs openssl-libs zlib
alternatives --install /usr/bin/node node /usr/bin/node-20 100
alternatives --install /usr/bin/npm npm /usr/bin/npm-20 100
node --version
git --version

log 'creating the agent user'
if ! id -u "$AGENT_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$AGENT_USER"
fi
usermod -aG docker "$AGENT_USER"
# Like GitHub's hosted runners, steps may use sudo: the instance is single-use and terminated after the order, so
# the boundary is the instance, not the user. The agent itself needs sudo for its final `shutdown -h now`.
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$AGENT_USER" > /etc/sudoers.d/90-spotcheck
chmod 0440 /etc/sudoers.d/90-spotcheck
visudo -cf /etc/sudoers.d/90-spotcheck
install -d -o "$AGENT_USER" -g "$AGENT_USER" -m 0700 /var/lib/spotcheck /var/lib/spotcheck/work

log 'installing the agent bundle'
if [[ ! -f "$AGENT_BUNDLE" ]]; then
  echo "agent bundle $AGENT_BUNDLE is missing" >&2
  exit 1
fi
rm -rf "$AGENT_DIR"
install -d -m 0755 "$AGENT_DIR"
tar -xzf "$AGENT_BUNDLE" -C "$AGENT_DIR" --no-same-owner
# npm pack leaves the lockfile out, so this is an install, not `npm ci`.
(cd "$AGENT_DIR" && npm install --omit=dev --no-audit --no-fund --ignore-scripts)
install -d -m 0755 "$AGENT_DIR/bin"
cat > "$AGENT_DIR/bin/spotcheck-agent" <<'LAUNCHER'
#!/usr/bin/env bash
# Starts the spotcheck agent; SPOTCHECK_BOOTSTRAP_URL and SPOTCHECK_BOOTSTRAP_TOKEN come from user data.
set -euo pipefail
cd /opt/spotcheck/agent
exec node bin/spotcheck-agent.js "$@"
LAUNCHER
chmod 0755 "$AGENT_DIR/bin/spotcheck-agent"
rm -f "$AGENT_BUNDLE"

log "installing act_runner $ACT_RUNNER_VERSION (Gitea capacity runners)"
fetch_verified "$act_runner_url" "$ACT_RUNNER_SHA256" /tmp/act_runner
install -m 0755 -o root -g root /tmp/act_runner /usr/local/bin/act_runner
rm -f /tmp/act_runner
/usr/local/bin/act_runner --version

log "installing GitHub's actions runner $ACTIONS_RUNNER_VERSION (GitHub capacity runners)"
fetch_verified "$actions_runner_url" "$ACTIONS_RUNNER_SHA256" /tmp/actions-runner.tar.gz
rm -rf "$ACTIONS_RUNNER_DIR"
install -d -m 0755 "$ACTIONS_RUNNER_DIR"
tar -xzf /tmp/actions-runner.tar.gz -C "$ACTIONS_RUNNER_DIR" --no-same-owner
rm -f /tmp/actions-runner.tar.gz
# The runner writes its state, logs (_diag), work tree (_work) and self-updates into its own directory, and refuses
# to run as root: the directory belongs to the runner user.
chown -R "$AGENT_USER:$AGENT_USER" "$ACTIONS_RUNNER_DIR"
test -x "$ACTIONS_RUNNER_DIR/run.sh"

log 'installing the capacity launcher'
install -d -m 0755 "$CAPACITY_DIR"
install -m 0755 -o root -g root "$CAPACITY_LAUNCHER" "$CAPACITY_DIR/capacity-runner"
rm -f "$CAPACITY_LAUNCHER"

log 'enabling docker'
systemctl enable docker

log 'cleaning up'
dnf clean all
rm -rf /var/cache/dnf /tmp/* /root/.npm
# A fresh instance must generate its own SSH host keys and cloud-init state.
rm -f /etc/ssh/ssh_host_*
cloud-init clean --logs
log 'done'
