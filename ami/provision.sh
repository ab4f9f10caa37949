#!/usr/bin/env bash
# Provisions the spotcheck runner AMI (Amazon Linux 2023). Run by Packer as root (see spotcheck-runner.pkr.hcl):
# installs git, bash, Node 20 and common toolchains from the AL2023 repositories, installs the agent bundle the
# template uploaded to /tmp/spotcheck-agent.tgz, and creates the unprivileged user the agent and its steps run as.
set -euo pipefail

AGENT_BUNDLE="${AGENT_BUNDLE:-/tmp/spotcheck-agent.tgz}"
AGENT_DIR=/opt/spotcheck/agent
AGENT_USER=spotcheck

log() { printf '[provision] %s\n' "$*"; }

log 'updating the base system'
dnf -y -q upgrade --refresh

log 'installing git, Node 20 and toolchains'
# AL2023 ships Node 20 as the nodejs20 package (binary: node-20); docker comes from the AL2023 repo too.
dnf -y -q install \
  bash git tar gzip unzip which findutils procps-ng shadow-utils sudo \
  nodejs20 nodejs20-npm \
  gcc gcc-c++ make cmake \
  python3 python3-pip \
  jq \
  docker
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

log 'enabling docker'
systemctl enable docker

log 'cleaning up'
dnf clean all
rm -rf /var/cache/dnf /tmp/* /root/.npm
# A fresh instance must generate its own SSH host keys and cloud-init state.
rm -f /etc/ssh/ssh_host_*
cloud-init clean --logs
log 'done'
