#!/usr/bin/env bash
# Run pulumi preview|up|destroy on the stack (default "dev") from the repository root.
#
#   infra/scripts/pulumi.sh preview            # what would change
#   infra/scripts/pulumi.sh up                 # deploy: prints the plan, then applies it without a prompt
#   CONFIRM=1 infra/scripts/pulumi.sh up       # ... or asks before applying
#   infra/scripts/pulumi.sh destroy            # asks first; add --yes to skip the question
#
# Environment: STACK (default dev), ALERT_EMAIL (sets kmswatch:alertEmail), PULUMI_CONFIG_PASSPHRASE,
# PULUMI_STATE_DIR (local state when not logged in; default .pulumi-state in the repository).
# Extra arguments go to pulumi as they are.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="${STACK:-dev}"
export PULUMI_SKIP_UPDATE_CHECK=true

die() { echo "pulumi.sh: $*" >&2; exit 1; }
note() { echo "pulumi.sh: $*" >&2; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
  preview | up | destroy) ;;
  -h | --help) usage ;;
  *) note "unknown command '$command'"; usage ;;
esac

# Prerequisites, each with what to do about it.
command -v pulumi >/dev/null 2>&1 ||
  die "the Pulumi CLI is not installed: https://www.pulumi.com/docs/iac/download-install/ (curl -fsSL https://get.pulumi.com | sh)"
command -v go >/dev/null 2>&1 ||
  die "Go is not installed; Pulumi compiles the program in infra/ with it: https://go.dev/dl/ (version in go.mod)"
if [ "$command" = up ]; then
  command -v docker >/dev/null 2>&1 ||
    die "Docker is not installed; 'up' builds the app image (app/Dockerfile, linux/arm64): https://docs.docker.com/get-docker/"
  docker info >/dev/null 2>&1 ||
    die "Docker is installed but not answering (is the daemon running, may this user use it?): 'docker info' failed"
fi
if command -v aws >/dev/null 2>&1; then
  aws sts get-caller-identity >/dev/null 2>&1 ||
    die "no working AWS credentials: 'aws sts get-caller-identity' failed. Run 'aws configure' or 'aws sso login', or set AWS_PROFILE"
elif [ -z "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}" ] && [ ! -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] && [ ! -f "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]; then
  die "no AWS credentials found (no AWS_ACCESS_KEY_ID, AWS_PROFILE or ~/.aws); install the AWS CLI and run 'aws configure'"
else
  note "the AWS CLI is not installed, so credentials are not checked here; the AWS provider will complain if they are wrong"
fi

cd "$REPO"

# A backend: the one you are logged in to, or local files in the repository (gitignored).
if ! pulumi whoami >/dev/null 2>&1; then
  state="${PULUMI_STATE_DIR:-$REPO/.pulumi-state}"
  mkdir -p "$state"
  note "not logged in to a Pulumi backend; keeping state in $state"
  pulumi login --non-interactive "file://$state" >/dev/null
fi

# The file backend encrypts stack secrets with a passphrase. This stack stores none (RDS keeps the
# database password in Secrets Manager), so an empty one is acceptable; set yours to override.
if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  export PULUMI_CONFIG_PASSPHRASE=""
  note "PULUMI_CONFIG_PASSPHRASE is not set; using an empty passphrase (the stack holds no secrets)"
fi

pulumi stack select --create "$STACK" --non-interactive >/dev/null

if [ -n "${ALERT_EMAIL:-}" ]; then
  pulumi config set alertEmail "$ALERT_EMAIL"
fi
email="$(pulumi config get alertEmail 2>/dev/null || true)"
if [ "$command" = up ] && { [ -z "$email" ] || [[ "$email" == *@example.com ]]; }; then
  die "alerts would go to '${email:-nobody}'. Set your address first: pulumi config set alertEmail you@yourcompany.com (or ALERT_EMAIL=you@yourcompany.com make up)"
fi

case "$command" in
  preview)
    pulumi preview --stack "$STACK" "$@"
    ;;
  up)
    # The plan is printed before anything changes; --yes only skips the question.
    if [ "${CONFIRM:-}" = 1 ]; then
      pulumi up --stack "$STACK" "$@"
    else
      pulumi up --stack "$STACK" --yes "$@"
    fi
    echo
    pulumi stack output --stack "$STACK"
    echo
    echo "Next: confirm the subscription mailed to $email (alerts are not delivered until you do),"
    echo "then run 'make smoke' to encrypt, decrypt and trip the alarm."
    ;;
  destroy)
    if [ ! -t 0 ] && [[ " $* " != *" --yes "* && " $* " != *" -y "* ]]; then
      die "destroy without a terminal needs --yes: infra/scripts/pulumi.sh destroy --yes"
    fi
    pulumi destroy --stack "$STACK" "$@"
    ;;
esac
