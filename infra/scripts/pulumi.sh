#!/usr/bin/env bash
# Run pulumi on the stack (default "dev") from the repository root, without touching your Pulumi login.
#
#   infra/scripts/pulumi.sh preview           # what would change
#   infra/scripts/pulumi.sh up                # prints the plan and asks before applying
#   YES=1 infra/scripts/pulumi.sh up          # ... applies without asking (the plan is still printed)
#   infra/scripts/pulumi.sh destroy           # asks first; YES=1 does not
#   infra/scripts/pulumi.sh output NAME       # one stack output (smoke.sh reads the stack through this)
#   infra/scripts/pulumi.sh move-state [DIR]  # moves state an earlier version kept in the clone
#                                             # (.pulumi-state/, or DIR) to the local state directory
#
# The backend: PULUMI_BACKEND_URL if set, else the project's backend.url (Pulumi.yaml), else your
# `pulumi login`, else Pulumi Cloud when PULUMI_ACCESS_TOKEN is set; with none of these, local files
# in KMSWATCH_STATE_DIR (default ${XDG_STATE_HOME:-~/.local/state}/kmswatch/pulumi), outside the
# clone. This script never runs `pulumi login`: it gives local state to its own pulumi commands
# through PULUMI_BACKEND_URL.
#
# Environment: STACK (default dev), ALERT_EMAIL (sets kmswatch:alertEmail), YES=1 (no question: needed
# without a terminal), SECRETS_PROVIDER (for a new stack, e.g. awskms://alias/x?region=us-east-1),
# PULUMI_CONFIG_PASSPHRASE (empty by default on local state), KMSWATCH_STATE_DIR.
# Extra arguments go to pulumi as they are. Exit status: pulumi's; 1 when a check fails; 2 for bad usage.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
STACK="${STACK:-dev}"
STATE_DIR="${KMSWATCH_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/kmswatch/pulumi}"
LEGACY_DIR="$REPO/.pulumi-state"
export PULUMI_SKIP_UPDATE_CHECK=true

die() { echo "pulumi.sh: $*" >&2; exit 1; }
note() { echo "pulumi.sh: $*" >&2; }
usage_error() { echo "pulumi.sh: $*" >&2; exit 2; }
truthy() { case "${1:-}" in 1 | true | TRUE | True | yes | YES) return 0 ;; *) return 1 ;; esac; }

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
case "$command" in
  preview | up | destroy | move-state) ;;
  output) [ $# -ge 1 ] || usage_error "output needs the output's name: pulumi.sh output url" ;;
  -h | --help) usage ;;
  *) note "unknown command '$command'"; usage ;;
esac

# Pulumi asks only when stdin and stdout are terminals, TERM is not "dumb" and no CI is detected
# (cmdutil.Interactive in the Pulumi SDK); the same test here refuses early, before any check runs.
interactive() { [ -t 0 ] && [ -t 1 ] && [ "${TERM:-}" != dumb ] && ! truthy "${CI:-}"; }
yes_in_args=false
for arg in "$@"; do
  case "$arg" in --yes | -y) yes_in_args=true ;; esac
done
approved="$yes_in_args"
yes_flag=() # what this script adds to pulumi up/destroy: --yes for YES=1, unless already given
if truthy "${YES:-}"; then
  approved=true
  [ "$yes_in_args" = true ] || yes_flag=(--yes)
fi
if [ "$command" = up ] || [ "$command" = destroy ]; then
  if [ "$approved" = false ] && ! interactive; then
    usage_error "'$command' asks before it changes anything, and there is no terminal to ask in. Run it from a terminal, or set YES=1 to $command without a question: YES=1 make $command"
  fi
fi

command -v pulumi >/dev/null 2>&1 ||
  die "the Pulumi CLI is not installed: https://www.pulumi.com/docs/iac/download-install/ (curl -fsSL https://get.pulumi.com | sh)"

# Prerequisites of the commands that talk to AWS, each with what to do about it.
caller_account=""
if [ "$command" = preview ] || [ "$command" = up ] || [ "$command" = destroy ]; then
  if [ "$command" != destroy ]; then
    command -v go >/dev/null 2>&1 ||
      die "Go is not installed; Pulumi compiles the program in infra/ with it: https://go.dev/dl/ (version in go.mod)"
    # The app image (awsx ecr.Image, built by docker-build) is built on up, and on preview too once
    # the stack exists: docker-build's buildOnPreview defaults to true.
    command -v docker >/dev/null 2>&1 ||
      die "Docker is not installed; '$command' builds the app image (app/Dockerfile, linux/arm64): https://docs.docker.com/get-docker/"
    docker info >/dev/null 2>&1 ||
      die "Docker is installed but not answering (is the daemon running, may this user use it?): 'docker info' failed"
  fi
  if command -v aws >/dev/null 2>&1; then
    caller_account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" ||
      die "no working AWS credentials: 'aws sts get-caller-identity' failed. Run 'aws configure' or 'aws sso login', or set AWS_PROFILE"
  elif [ -z "${AWS_ACCESS_KEY_ID:-}${AWS_PROFILE:-}" ] && [ ! -f "${AWS_SHARED_CREDENTIALS_FILE:-$HOME/.aws/credentials}" ] && [ ! -f "${AWS_CONFIG_FILE:-$HOME/.aws/config}" ]; then
    die "no AWS credentials found (no AWS_ACCESS_KEY_ID, AWS_PROFILE or ~/.aws); install the AWS CLI and run 'aws configure'"
  else
    note "the AWS CLI is not installed, so credentials are not checked here; the AWS provider will complain if they are wrong"
  fi
fi

cd "$REPO"

# stacks_in DIR: the stack names a file backend in DIR holds (<name>.json or .json.gz under
# .pulumi/stacks/, per project or, in the old layout, directly).
stacks_in() {
  [ -d "$1/.pulumi/stacks" ] || return 0
  find "$1/.pulumi/stacks" -type f \( -name '*.json' -o -name '*.json.gz' \) |
    sed 's#.*/##; s/\.json\.gz$//; s/\.json$//' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# The URL `pulumi login` made current: what Pulumi itself reads from credentials.json. Reading it
# here, rather than running `pulumi whoami`, matters: whoami without a login starts an interactive
# login, and with PULUMI_ACCESS_TOKEN set it logs in to Pulumi Cloud and makes that current.
# Pulumi keeps it in PULUMI_HOME, else in .pulumi under the account's home directory from the user
# database (Go's user.Current), which is not always $HOME.
current_login() {
  local home creds
  home="$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)"
  creds="${PULUMI_HOME:-${home:-$HOME}/.pulumi}/credentials.json"
  [ -f "$creds" ] || return 0
  sed -n 's/^[[:space:]]*"current"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$creds" | head -n 1
}

legacy_login_note() {
  local login="$1"
  case "$login" in
    file://*/.pulumi-state | file://*/.pulumi-state/)
      note "your Pulumi CLI is logged in to $login, state an earlier version of this script kept in a clone (it ran"
      note "'pulumi login'; this one never does). To undo that login: pulumi logout '$login'"
      ;;
  esac
}

move_state() {
  local src="${1:-$LEGACY_DIR}"
  src="$(cd "$src" 2>/dev/null && pwd)" || die "move-state: no directory ${1:-$LEGACY_DIR}"
  [ -d "$src/.pulumi" ] || die "move-state: no Pulumi state in $src (it has no .pulumi/ directory)"
  case "$STATE_DIR/" in "$src"/*) die "move-state: $STATE_DIR is inside $src; choose another KMSWATCH_STATE_DIR" ;; esac
  if [ -d "$src/.pulumi/locks" ] && [ -n "$(find "$src/.pulumi/locks" -type f)" ]; then
    die "move-state: $src/.pulumi/locks holds a lock: a pulumi command is running on this state, or one was interrupted. Let it finish, or remove the lock with: PULUMI_BACKEND_URL='file://$src' pulumi cancel --stack <name>"
  fi
  local moving taken=""
  moving="$(stacks_in "$src")"
  [ -n "$moving" ] || note "move-state: $src holds no stack; moving it anyway"
  local name
  for name in $moving; do
    case " $(stacks_in "$STATE_DIR") " in *" $name "*) taken="$taken $name" ;; esac
  done
  if [ -n "$taken" ]; then
    die "move-state: $STATE_DIR already has stack(s)$taken. Move each by hand instead, under another name if needed:
  PULUMI_BACKEND_URL='file://$src' pulumi stack export --stack <name> --file <name>.json
  PULUMI_BACKEND_URL='file://$STATE_DIR' pulumi stack init <new name>
  PULUMI_BACKEND_URL='file://$STATE_DIR' pulumi stack import --stack <new name> --file <name>.json"
  fi
  if [ -f "$STATE_DIR/.pulumi/meta.yaml" ] && ! cmp -s "$src/.pulumi/meta.yaml" "$STATE_DIR/.pulumi/meta.yaml"; then
    die "move-state: $src and $STATE_DIR use different state layouts (.pulumi/meta.yaml); move the stacks with pulumi stack export and import"
  fi

  mkdir -p "$STATE_DIR/.pulumi"
  cp -a "$src/.pulumi/." "$STATE_DIR/.pulumi/"
  # Delete the clone's copy only once Pulumi itself lists every stack in the new place.
  local listed
  listed="$(PULUMI_BACKEND_URL="file://$STATE_DIR" pulumi stack ls --all --json --non-interactive)" ||
    die "move-state: copied to $STATE_DIR, but 'pulumi stack ls' fails there; $src is left as it was"
  for name in $moving; do
    grep -Eq "\"name\": *\"([^\"]*/)?$name\"" <<<"$listed" ||
      die "move-state: copied to $STATE_DIR, but Pulumi does not list stack $name there; $src is left as it was"
  done
  rm -rf "$src"
  note "moved the state of stack(s) ${moving:-none} from $src to $STATE_DIR; Pulumi lists them there"
  legacy_login_note "$(current_login)"
}

# Which backend, and who chose it. Only local state is given to pulumi here, through the environment.
backend_from=""
login="$(current_login)"
if [ -n "${PULUMI_BACKEND_URL:-}" ]; then
  backend_from="PULUMI_BACKEND_URL"
elif grep -Eq '^backend:' Pulumi.yaml; then
  backend_from="backend.url in Pulumi.yaml"
elif [ -n "$login" ] && [[ "$login" != file://*/.pulumi-state && "$login" != file://*/.pulumi-state/ ]]; then
  backend_from="your pulumi login ($login)"
elif [ -n "${PULUMI_ACCESS_TOKEN:-}" ]; then
  export PULUMI_BACKEND_URL="https://api.pulumi.com"
  backend_from="PULUMI_ACCESS_TOKEN (Pulumi Cloud)"
fi

if [ "$command" = move-state ]; then
  move_state "$@"
  exit 0
fi

# State left in the clone by an earlier version records live AWS resources: refuse to run beside it.
legacy_stacks="$(stacks_in "$LEGACY_DIR")"
if [ -n "$legacy_stacks" ]; then
  die "$LEGACY_DIR holds the Pulumi state of stack(s) $legacy_stacks, left in this clone by an earlier version.
It is the record of live AWS resources; deleting or 'git clean'-ing the clone would orphan them. Move it out first:
  infra/scripts/pulumi.sh move-state
(copies it to $STATE_DIR, checks that Pulumi lists the stacks there, then deletes the clone's copy)
$(legacy_login_note "$login" 2>&1)"
elif [ -d "$LEGACY_DIR" ]; then
  note "$LEGACY_DIR holds no stack; it is left from an earlier version and can be deleted"
fi

if [ -z "$backend_from" ]; then
  legacy_login_note "$login"
  mkdir -p "$STATE_DIR"
  export PULUMI_BACKEND_URL="file://$STATE_DIR"
  # The file backend encrypts stack secrets with a passphrase. This stack stores none (RDS keeps the
  # database password in Secrets Manager), so an empty one is acceptable; set yours to override.
  passphrase_hint=""
  if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=""
    passphrase_hint=" PULUMI_CONFIG_PASSPHRASE="
  fi
  if [ "$command" = output ]; then
    note "state: $STATE_DIR (local files)"
  else
    note "=============================================================================================="
    note "Pulumi state of stack $STACK: $STATE_DIR"
    note "Local files, outside this clone, shared by every clone of kmswatch for this user. They are the"
    note "only record of what the stack owns in AWS: keep them until 'make destroy'. For a team, move the"
    note "state to S3 (README: Where the state lives). To run pulumi yourself on this state:"
    note "  export PULUMI_BACKEND_URL='file://$STATE_DIR'$passphrase_hint"
    note "=============================================================================================="
  fi
else
  [ "$command" = output ] || note "state: the backend of $backend_from"
fi

if [ "$command" = output ]; then
  exec pulumi stack output "$@" --stack "$STACK"
fi

# CI previews the stack that was deployed: an empty stack created here would preview everything as new.
if truthy "${CI:-}"; then
  pulumi stack select "$STACK" --non-interactive >/dev/null ||
    die "stack $STACK is not in this backend; CI previews a deployed stack. Deploy it, or import its state (README: Where the state lives)"
else
  select_args=(stack select --create "$STACK" --non-interactive)
  [ -z "${SECRETS_PROVIDER:-}" ] || select_args+=(--secrets-provider "$SECRETS_PROVIDER")
  pulumi "${select_args[@]}" >/dev/null
fi

# A stack deployed to one account must not be changed with another account's credentials: its
# state names resources that do not exist there.
deployed_role="$(pulumi stack output taskRoleArn --stack "$STACK" 2>/dev/null || true)"
deployed_account="$(cut -d: -f5 <<<"$deployed_role")"
if [ -n "$caller_account" ] && [ -n "$deployed_account" ] && [ "$caller_account" != "$deployed_account" ]; then
  die "stack $STACK is deployed in AWS account $deployed_account, but your credentials are for account $caller_account. Switch credentials (AWS_PROFILE), or use another stack for this account: STACK=$STACK-$caller_account make $command"
fi

if [ -n "${ALERT_EMAIL:-}" ]; then
  pulumi config set alertEmail "$ALERT_EMAIL" --stack "$STACK"
fi
email="$(pulumi config get alertEmail --stack "$STACK" 2>/dev/null || true)"
# Which addresses are acceptable is the program's decision (infra/config.go); unset is caught here,
# before the image build, with the one way to set it. For preview too: the CLI refuses a stack
# without its required setting, and until it is set `pulumi config get` answers nothing else, so
# the allowedCidrs warning below could not be given either.
if { [ "$command" = up ] || [ "$command" = preview ]; } && [ -z "$email" ]; then
  die "alertEmail is not set: alerts would go to nobody. Set it with ALERT_EMAIL=<you@your-domain> make up (or pulumi config set alertEmail ..., which writes Pulumi.$STACK.yaml)"
fi

# The workload has no authentication: whoever reaches it can decrypt every record.
if [ "$command" != destroy ]; then
  cidrs="$(pulumi config get allowedCidrs --stack "$STACK" 2>/dev/null || true)"
  index=0
  for cidr in $(tr -d '[]" ' <<<"$cidrs" | tr ',' ' '); do
    if [ "$cidr" = 0.0.0.0/0 ]; then
      note "WARNING: allowedCidrs includes 0.0.0.0/0: anyone on the internet can reach the service, which has"
      note "WARNING: no authentication, so anyone can decrypt every record it stores. Narrow it to your network:"
      note "WARNING:   pulumi config set --path 'allowedCidrs[$index]' <your CIDR>"
    fi
    index=$((index + 1))
  done
fi

case "$command" in
  preview)
    pulumi preview --stack "$STACK" "$@"
    ;;
  up)
    # Without --yes, pulumi prints the plan and asks; with it, it prints the plan and applies.
    pulumi up --stack "$STACK" ${yes_flag[@]+"${yes_flag[@]}"} "$@"
    echo
    pulumi stack output --stack "$STACK"
    echo
    echo "Next: confirm the subscription mailed to $email (alerts are not delivered until you do),"
    echo "then run 'make smoke' to encrypt, decrypt and trip the alarms."
    ;;
  destroy)
    pulumi destroy --stack "$STACK" ${yes_flag[@]+"${yes_flag[@]}"} "$@"
    ;;
esac
