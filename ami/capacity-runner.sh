#!/usr/bin/env bash
# spotcheck capacity launcher, installed on the runner AMI as /opt/spotcheck/capacity/capacity-runner (provision.sh).
#
# The capacity user data (runners/user-data.ts, renderCapacityUserData) starts it as the runner user with:
#   SPOTCHECK_BOOTSTRAP_URL    <public URL>/api/capacity/bootstrap
#   SPOTCHECK_BOOTSTRAP_TOKEN  the instance's one-time token (docs/architecture.md, "Security model": no secret
#                              in user data)
#   SPOTCHECK_FORGE            github | gitea
#   SPOTCHECK_WORKDIR          a 0700 directory of the runner user
# It exchanges the token once (POST, `Authorization: Bearer`) for the forge registration, then starts one ephemeral
# runner for one job:
#   GitHub: `run.sh --jitconfig <encoded JIT config>` (a just-in-time runner is ephemeral by construction:
#           docs.github.com, "Using just-in-time runners").
#   Gitea:  `act_runner register --no-interactive --ephemeral --instance … --token … --name … --labels …`, then
#           `act_runner daemon --once` (act_runner's internal/app/cmd: an ephemeral registration or --once polls for
#           exactly one task, then the daemon exits).
# Whatever way it ends, the EXIT trap powers the instance off once (the instances are launched with
# InstanceInitiatedShutdownBehavior=terminate, so that is a termination). The user data's own EXIT trap stays as the
# backstop for a launcher that never started; a second `shutdown -h now` during a shutdown is harmless.
#
# Nothing here prints the bootstrap token, the JIT config or the registration token: cloud-init copies this output to
# /var/log/cloud-init-output.log and the console. The token never reaches a command line either (the header is read
# from a process substitution; printf is a builtin).
set -euo pipefail

# Settings with defaults the AMI matches; tests and operators may override them from the environment.
RUNNER_USER="${SPOTCHECK_RUNNER_USER:-spotcheck}"
ACTIONS_RUNNER_DIR="${SPOTCHECK_ACTIONS_RUNNER_DIR:-/opt/spotcheck/actions-runner}"
ACT_RUNNER="${SPOTCHECK_ACT_RUNNER:-act_runner}"
WORKDIR="${SPOTCHECK_WORKDIR:-/var/lib/spotcheck/work}"
ATTEMPTS="${SPOTCHECK_BOOTSTRAP_ATTEMPTS:-10}"
RETRY_DELAY="${SPOTCHECK_BOOTSTRAP_RETRY_DELAY:-3}"

# cloud-init's PATH may lack /usr/local/bin (act_runner) and /usr/sbin (shutdown); appended, so a PATH given first wins.
export PATH="${PATH:-/usr/bin:/bin}:/usr/local/bin:/usr/sbin"

log() { printf '[capacity-runner] %s\n' "$*" >&2; }

scratch=''
powered_off=0
power_off() {
  local status=$?
  # Once: the trap may be entered again from a signal during the cleanup.
  if ((powered_off == 0)); then
    powered_off=1
    if [[ -n "$scratch" ]]; then rm -rf -- "$scratch"; fi
    log "runner ended (status $status); powering off"
    if ((EUID == 0)); then
      shutdown -h now || log 'shutdown failed'
    else
      # The runner user has passwordless sudo on the AMI (ami/provision.sh).
      sudo -n shutdown -h now || log 'shutdown failed'
    fi
  fi
  exit "$status"
}
trap power_off EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

fail() {
  log "$*"
  exit 1
}

url="${SPOTCHECK_BOOTSTRAP_URL:-}"
token="${SPOTCHECK_BOOTSTRAP_TOKEN:-}"
# Out of the environment at once: no child (curl, the runners, the jobs' steps) inherits it.
unset SPOTCHECK_BOOTSTRAP_TOKEN
[[ "$url" =~ ^https?://[^[:space:]]+$ ]] || fail 'SPOTCHECK_BOOTSTRAP_URL is missing or not an http(s) URL'
# Bootstrap tokens are base64url (src/server/bootstrap-tokens.ts); anything else is refused without being echoed.
[[ "$token" =~ ^[A-Za-z0-9_-]{16,512}$ ]] || fail 'SPOTCHECK_BOOTSTRAP_TOKEN is missing or malformed'
[[ "$ATTEMPTS" =~ ^[1-9][0-9]*$ ]] || fail 'SPOTCHECK_BOOTSTRAP_ATTEMPTS must be a positive integer'

# mktemp -d makes a 0700 directory: the answer in it is the runner user's alone (the umask is left as it is for the
# runner and the job's files).
scratch="$(mktemp -d)"
answer="$scratch/answer.json"

# The exchange. 200: the answer. 401 (used, expired or unknown token) and 409 (the runner was ended meanwhile) are
# final: asking again cannot help. Anything else (no connection, 429, 5xx; 503 is the server giving the token back
# because the forge did not answer) is retried a bounded number of times.
exchanged=0
for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
  status="$(
    curl --silent --show-error --max-time 30 --request POST --output "$answer" --write-out '%{http_code}' \
      --header @<(printf 'Authorization: Bearer %s\n' "$token") \
      --header 'Accept: application/json' \
      "$url"
  )" || status=000
  case "$status" in
    200)
      exchanged=1
      break
      ;;
    400 | 401 | 403 | 404 | 409)
      fail "the bootstrap exchange was refused (HTTP $status)"
      ;;
    *)
      log "the bootstrap exchange failed (HTTP $status), attempt $attempt of $ATTEMPTS"
      if ((attempt < ATTEMPTS)); then sleep "$RETRY_DELAY"; fi
      ;;
  esac
done
token=''
((exchanged == 1)) || fail 'no registration after all attempts'

field() { jq -er "$1" "$answer" 2>/dev/null || fail "the bootstrap answer has no valid $1"; }

forge="$(field '.forge')"
name="$(field '.runnerName')"
[[ "$name" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || fail 'the bootstrap answer has an unusable runner name'
if [[ -n "${SPOTCHECK_FORGE:-}" && "$forge" != "$SPOTCHECK_FORGE" ]]; then
  fail "the bootstrap answer is for $forge, this instance was launched for $SPOTCHECK_FORGE"
fi

# The runners run as the runner user, never as root: as root (an operator's own boot script), drop to it.
as_runner=()
if [[ "$(id -un)" != "$RUNNER_USER" ]]; then
  ((EUID == 0)) || fail "run this as root or as $RUNNER_USER"
  as_runner=(runuser -u "$RUNNER_USER" --)
fi

case "$forge" in
  github)
    jit="$(field '.encodedJitConfig')"
    rm -f -- "$answer"
    log "starting GitHub runner $name (just-in-time, one job)"
    cd "$ACTIONS_RUNNER_DIR"
    # Not exec: the EXIT trap must still run when the runner ends.
    "${as_runner[@]}" ./run.sh --jitconfig "$jit"
    ;;
  gitea)
    instance="$(field '.instanceUrl')"
    registration="$(field '.registrationToken')"
    labels="$(jq -er '.labels | if type == "array" and length > 0 and all(type == "string") then join(",") else error("labels") end' "$answer" 2>/dev/null)" ||
      fail 'the bootstrap answer has no valid .labels'
    rm -f -- "$answer"
    [[ "$instance" =~ ^https?://[^[:space:]]+$ ]] || fail 'the bootstrap answer has no usable instance URL'
    [[ "$labels" =~ ^[A-Za-z0-9._:/,@+-]+$ ]] || fail 'the bootstrap answer has unusable labels'
    # act_runner keeps its registration (.runner) in the working directory: the runner user's private one.
    runner_dir="$WORKDIR/act_runner"
    "${as_runner[@]}" mkdir -p -- "$runner_dir"
    cd "$runner_dir"
    log "registering Gitea runner $name with labels $labels (ephemeral, one job)"
    "${as_runner[@]}" "$ACT_RUNNER" register --no-interactive --ephemeral \
      --instance "$instance" --token "$registration" --name "$name" --labels "$labels"
    registration=''
    "${as_runner[@]}" "$ACT_RUNNER" daemon --once
    ;;
  *)
    fail "the bootstrap answer names an unknown forge: $forge"
    ;;
esac
log "runner $name finished"
