#!/usr/bin/env bash
# One-time, idempotent set-up of a Google Cloud project for the IB worker (README.md, "Deploying to Google Cloud").
#
#   deploy/setup.sh --project P --region R [--mode paper|live] [--delivery push|eventarc] [--dry-run]
#   deploy/setup.sh --project P --region R [--mode paper|live] --teardown [--yes] [--dry-run]
#
# Every step checks first and is skipped when already done, so running it again is safe.
# --dry-run runs no gcloud command at all: it prints every command that would change something.
#
# The IB credentials secret is read from standard input (JSON {"userid": ..., "password": ...})
# or, at a terminal, prompted for without echo; the value only ever travels on gcloud's standard
# input (--data-file=-), never on a command line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Names shared with cloudbuild.yaml, deploy/stack.py and worker/settings.py.
INTENTS_TOPIC=intents
RESULTS_TOPIC=intent-results
DEAD_LETTER_TOPIC=intents-dead-letter
DEAD_LETTER_SUBSCRIPTION=intents-dead-letter-keep
ACK_DEADLINE_SECONDS=600
MIN_RETRY_DELAY=10s
MAX_RETRY_DELAY=600s
MAX_DELIVERY_ATTEMPTS=50
PUBSUB_AGENT_DOMAIN=gcp-sa-pubsub.iam.gserviceaccount.com

PROJECT=""
REGION=""
MODE=paper
DELIVERY=push
REPOSITORY=ib-worker
FIRESTORE_LOCATION=""
DRY_RUN=0
TEARDOWN=0
ASSUME_YES=0
SKIP_SECRET=0
SKIP_SCHEDULES=0
PYTHON="${SETUP_PYTHON:-}"

STEP=0
PROJECT_NUMBER=""

usage() {
    cat <<'EOF'
Usage: deploy/setup.sh --project PROJECT --region REGION [options]

One-time, idempotent set-up of a Google Cloud project for the IB worker: APIs, Artifact Registry,
service accounts with least privilege, Pub/Sub topics and subscriptions, Firestore and its TTL
policy, the IB credentials secret, Cloud Scheduler jobs.

Options:
  --project PROJECT        Google Cloud project id (required)
  --region REGION          region of Cloud Run, Artifact Registry, Scheduler (required), e.g. europe-west6
  --mode paper|live        trading mode of the worker to set up (default: paper)
  --delivery push|eventarc how intents reach the worker (default: push; must match cloudbuild.yaml's _DELIVERY)
  --repository NAME        Artifact Registry repository (default: ib-worker)
  --firestore-location LOC Firestore location (default: the region)
  --skip-secret            do not create the credentials secret
  --skip-schedules         do not apply the Cloud Scheduler jobs
  --dry-run                print every gcloud command instead of running it (runs none)
  --teardown               remove what this script created for the mode (and the shared
                           resources when the other mode is not set up); Firestore data is kept
  --yes                    do not ask for confirmation (teardown)
  -h, --help               this help

The credentials secret's value is read from standard input, or prompted for at a terminal:
  printf '%s' '{"userid": "...", "password": "..."}' | deploy/setup.sh --project P --region R
EOF
}

die() {
    echo "setup.sh: error: $*" >&2
    echo "Run 'deploy/setup.sh --help' for usage." >&2
    exit 2
}

need_value() {
    [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || die "$1 needs a value"
}

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
        --project=*) PROJECT="${1#*=}" ;;
        --region=*) REGION="${1#*=}" ;;
        --mode=*) MODE="${1#*=}" ;;
        --delivery=*) DELIVERY="${1#*=}" ;;
        --repository=*) REPOSITORY="${1#*=}" ;;
        --firestore-location=*) FIRESTORE_LOCATION="${1#*=}" ;;
        --project | --region | --mode | --delivery | --repository | --firestore-location)
            need_value "$@"
            case "$1" in
            --project) PROJECT="$2" ;;
            --region) REGION="$2" ;;
            --mode) MODE="$2" ;;
            --delivery) DELIVERY="$2" ;;
            --repository) REPOSITORY="$2" ;;
            --firestore-location) FIRESTORE_LOCATION="$2" ;;
            esac
            shift
            ;;
        --dry-run) DRY_RUN=1 ;;
        --teardown) TEARDOWN=1 ;;
        --yes) ASSUME_YES=1 ;;
        --skip-secret) SKIP_SECRET=1 ;;
        --skip-schedules) SKIP_SCHEDULES=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown argument: $1" ;;
        esac
        shift
    done
    [[ -n "${PROJECT}" ]] || die "--project is required"
    [[ -n "${REGION}" ]] || die "--region is required"
    [[ "${PROJECT}" =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "--project '${PROJECT}' is not a project id"
    [[ "${REGION}" =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "--region '${REGION}' is not a region (e.g. europe-west6)"
    [[ "${MODE}" == paper || "${MODE}" == live ]] || die "--mode must be paper or live, not '${MODE}'"
    [[ "${DELIVERY}" == push || "${DELIVERY}" == eventarc ]] || die "--delivery must be push or eventarc, not '${DELIVERY}'"
    [[ "${REPOSITORY}" =~ ^[a-z][a-z0-9-]*$ ]] || die "--repository '${REPOSITORY}' is not a repository name"
    FIRESTORE_LOCATION="${FIRESTORE_LOCATION:-${REGION}}"
    OTHER_MODE=$([[ "${MODE}" == paper ]] && echo live || echo paper)
    SERVICE="ib-${MODE}"
    SECRET="ib-credentials-${MODE}"
    PUSH_SUBSCRIPTION="worker-push-${MODE}"
    TRIGGER="ib-${MODE}-intents"
    WORKER_SA="ib-worker-${MODE}@${PROJECT}.iam.gserviceaccount.com"
    INVOKER_SA="ib-invoker-${MODE}@${PROJECT}.iam.gserviceaccount.com"
    DEPLOYER_SA="ib-deployer@${PROJECT}.iam.gserviceaccount.com"
    OTHER_WORKER_SA="ib-worker-${OTHER_MODE}@${PROJECT}.iam.gserviceaccount.com"
    BUILD_BUCKET="gs://${PROJECT}_cloudbuild"
}

# -- output and command helpers -------------------------------------------------------------

step() {
    STEP=$((STEP + 1))
    printf '\n==> [%d] %s\n' "${STEP}" "$*"
}

note() { printf '    %s\n' "$*"; }

# Print a command the way a person would type it.
show() {
    local out="" arg
    for arg in "$@"; do
        if [[ "${arg}" =~ ^[A-Za-z0-9_.,:/@=+%-]+$ ]]; then
            out+="${arg} "
        else
            out+="$(printf '%q' "${arg}") "
        fi
    done
    printf '    + %s\n' "${out% }"
}

# A command that changes something: printed, and run unless --dry-run.
change() {
    show "$@"
    if [[ "${DRY_RUN}" -eq 0 ]]; then
        "$@"
    fi
}

# gcloud with the project, for commands that change something.
gc() {
    change gcloud "$@" --project="${PROJECT}" --quiet
}

# gcloud with the project, for checks: never runs in a dry run (returns "not there").
query() {
    [[ "${DRY_RUN}" -eq 0 ]] || return 1
    gcloud "$@" --project="${PROJECT}" --quiet 2>/dev/null
}

exists() {
    query "$@" >/dev/null
}

# The project number (for the Pub/Sub service agent and the worker's URL).
project_number() {
    if [[ -z "${PROJECT_NUMBER}" ]]; then
        if [[ "${DRY_RUN}" -eq 1 ]]; then
            PROJECT_NUMBER=PROJECT_NUMBER
        else
            PROJECT_NUMBER="$(gcloud projects describe "${PROJECT}" --format='value(projectNumber)')"
            [[ -n "${PROJECT_NUMBER}" ]] || die "cannot read the number of project ${PROJECT}"
        fi
    fi
    echo "${PROJECT_NUMBER}"
}

pubsub_agent() { echo "service-$(project_number)@${PUBSUB_AGENT_DOMAIN}"; }

# Cloud Run's deterministic URL of the worker service.
service_url() { echo "https://${SERVICE}-$(project_number).${REGION}.run.app"; }

# has_binding ROLE MEMBER "GROUP" RESOURCE [FLAG...]: whether the resource's policy grants it.
has_binding() {
    local role="$1" member="$2" group resource="$4" flags=() flag
    read -ra group <<<"$3"
    shift 4
    for flag in "$@"; do
        [[ "${flag}" == --condition=* ]] || flags+=("${flag}")
    done
    [[ -n "$(query "${group[@]}" get-iam-policy "${resource}" "${flags[@]}" \
        --flatten='bindings[].members' \
        --filter="bindings.role=${role} AND bindings.members=${member}" \
        --format='value(bindings.role)')" ]]
}

# grant ROLE MEMBER "GROUP" RESOURCE [FLAG...]: an IAM binding on one resource, e.g.
#   grant roles/pubsub.publisher serviceAccount:x@y "pubsub topics" intent-results
grant() {
    local role="$1" member="$2" group resource="$4"
    read -ra group <<<"$3"
    shift 4
    if has_binding "${role}" "${member}" "${group[*]}" "${resource}" "$@"; then
        note "ok: ${member#*:} has ${role} on ${group[*]} ${resource}"
        return
    fi
    gc "${group[@]}" add-iam-policy-binding "${resource}" "$@" \
        --member="${member}" --role="${role}" --format=none
}

revoke() {
    local role="$1" member="$2" group resource="$4"
    read -ra group <<<"$3"
    shift 4
    if [[ "${DRY_RUN}" -eq 0 ]] && ! has_binding "${role}" "${member}" "${group[*]}" "${resource}" "$@"; then
        return
    fi
    gc "${group[@]}" remove-iam-policy-binding "${resource}" "$@" \
        --member="${member}" --role="${role}" --format=none
}

# ensure DESCRIPTION "DESCRIBE ARGS" -- CREATE ARGS...: create unless describe finds it.
ensure() {
    local what="$1" describe
    read -ra describe <<<"$2"
    shift 3
    if exists "${describe[@]}"; then
        note "ok: ${what} exists"
    else
        gc "$@"
    fi
}

# remove DESCRIPTION "DESCRIBE ARGS" -- DELETE ARGS...: delete if describe finds it.
remove() {
    local what="$1" describe
    read -ra describe <<<"$2"
    shift 3
    if [[ "${DRY_RUN}" -eq 1 ]] || exists "${describe[@]}"; then
        gc "$@"
    else
        note "ok: ${what} does not exist"
    fi
}

# -- set-up steps -----------------------------------------------------------------------------

step_apis() {
    step "APIs"
    local apis=(run.googleapis.com pubsub.googleapis.com firestore.googleapis.com
        secretmanager.googleapis.com artifactregistry.googleapis.com cloudbuild.googleapis.com
        cloudscheduler.googleapis.com iam.googleapis.com storage.googleapis.com)
    [[ "${DELIVERY}" == eventarc ]] && apis+=(eventarc.googleapis.com)
    local enabled missing=() api
    enabled=" $(query services list --enabled --format='value(config.name)' | tr '\n' ' ' || true) "
    for api in "${apis[@]}"; do
        [[ "${enabled}" == *" ${api} "* ]] || missing+=("${api}")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        note "ok: ${apis[*]} enabled"
    else
        gc services enable "${missing[@]}"
    fi
}

step_repository() {
    step "Artifact Registry repository ${REPOSITORY} (${REGION})"
    ensure "repository ${REPOSITORY}" "artifacts repositories describe ${REPOSITORY} --location=${REGION}" -- \
        artifacts repositories create "${REPOSITORY}" --repository-format=docker \
        --location="${REGION}" --description="IB worker images"
}

step_service_accounts() {
    step "service accounts"
    local name
    for name in "ib-worker-${MODE}" "ib-invoker-${MODE}" ib-deployer; do
        ensure "service account ${name}" "iam service-accounts describe ${name}@${PROJECT}.iam.gserviceaccount.com" -- \
            iam service-accounts create "${name}" --display-name="${name} (IB worker)"
    done
}

step_topics() {
    step "Pub/Sub topics ${INTENTS_TOPIC}, ${RESULTS_TOPIC}, ${DEAD_LETTER_TOPIC}"
    local topic
    for topic in "${INTENTS_TOPIC}" "${RESULTS_TOPIC}" "${DEAD_LETTER_TOPIC}"; do
        ensure "topic ${topic}" "pubsub topics describe ${topic}" -- pubsub topics create "${topic}"
    done
    ensure "subscription ${DEAD_LETTER_SUBSCRIPTION}" "pubsub subscriptions describe ${DEAD_LETTER_SUBSCRIPTION}" -- \
        pubsub subscriptions create "${DEAD_LETTER_SUBSCRIPTION}" --topic="${DEAD_LETTER_TOPIC}" \
        --expiration-period=never --message-retention-duration=7d --ack-deadline=60
}

step_delivery() {
    if [[ "${DELIVERY}" == eventarc ]]; then
        step "delivery: Eventarc trigger ${TRIGGER}"
        note "created by cloudbuild.yaml (_DELIVERY=eventarc) once the service ${SERVICE} exists"
        return
    fi
    step "delivery: push subscription ${PUSH_SUBSCRIPTION} -> ${SERVICE}"
    local url
    url="$(service_url)"
    ensure "subscription ${PUSH_SUBSCRIPTION}" "pubsub subscriptions describe ${PUSH_SUBSCRIPTION}" -- \
        pubsub subscriptions create "${PUSH_SUBSCRIPTION}" --topic="${INTENTS_TOPIC}" \
        --push-endpoint="${url}/" --push-auth-service-account="${INVOKER_SA}" \
        --push-auth-token-audience="${url}" \
        --ack-deadline="${ACK_DEADLINE_SECONDS}" \
        --min-retry-delay="${MIN_RETRY_DELAY}" --max-retry-delay="${MAX_RETRY_DELAY}" \
        --dead-letter-topic="${DEAD_LETTER_TOPIC}" --max-delivery-attempts="${MAX_DELIVERY_ATTEMPTS}" \
        --expiration-period=never
}

step_firestore() {
    step "Firestore database (default) in ${FIRESTORE_LOCATION}, TTL on expireAt"
    ensure "Firestore database (default)" "firestore databases describe --database=(default)" -- \
        firestore databases create --database='(default)' --location="${FIRESTORE_LOCATION}" \
        --type=firestore-native
    local group
    for group in intents booked; do
        if [[ -n "$(query firestore fields ttls list --collection-group="${group}" \
            --format='value(name)' | grep '/fields/expireAt$' || true)" ]]; then
            note "ok: TTL policy on ${group}.expireAt exists"
        else
            gc firestore fields ttls update expireAt --collection-group="${group}" --enable-ttl --async
        fi
    done
}

# The secret's value, from standard input or prompted for at a terminal; empty when none given.
read_credentials() {
    local userid password
    if [[ -t 0 ]]; then
        read -rp "    IB user id for ${MODE} (empty: create the secret without a value): " userid
        [[ -n "${userid}" ]] || return 0
        read -rsp "    IB password: " password
        echo >&2
        userid="${userid//\\/\\\\}"
        userid="${userid//\"/\\\"}"
        password="${password//\\/\\\\}"
        password="${password//\"/\\\"}"
        printf '{"userid": "%s", "password": "%s"}' "${userid}" "${password}"
    else
        cat
    fi
}

step_secret() {
    step "credentials secret ${SECRET}"
    if [[ "${SKIP_SECRET}" -eq 1 ]]; then
        note "skipped (--skip-secret)"
        return
    fi
    local has_secret=0 value
    if exists secrets describe "${SECRET}"; then
        has_secret=1
        if [[ -n "$(query secrets versions list "${SECRET}" --filter='state=ENABLED' --limit=1 --format='value(name)')" ]]; then
            note "ok: secret ${SECRET} has an enabled version"
            return
        fi
    fi
    if [[ "${DRY_RUN}" -eq 1 ]]; then
        note "the value is read from standard input (or prompted for) and passed on gcloud's standard input"
        show gcloud secrets create "${SECRET}" --replication-policy=automatic --data-file=- --project="${PROJECT}" --quiet
        return
    fi
    value="$(read_credentials)"
    if [[ -z "${value}" ]]; then
        if [[ "${has_secret}" -eq 0 ]]; then
            gc secrets create "${SECRET}" --replication-policy=automatic
        fi
        note "no value given: add it before the first deploy with"
        note "  printf '%s' '{\"userid\": \"...\", \"password\": \"...\"}' | gcloud secrets versions add ${SECRET} --data-file=- --project=${PROJECT}"
        return
    fi
    [[ "${value}" == *'"userid"'* && "${value}" == *'"password"'* ]] ||
        die "the credentials must be JSON {\"userid\": ..., \"password\": ...} (value not shown)"
    if [[ "${has_secret}" -eq 0 ]]; then
        show gcloud secrets create "${SECRET}" --replication-policy=automatic --data-file=- --project="${PROJECT}" --quiet
        printf '%s' "${value}" | gcloud secrets create "${SECRET}" --replication-policy=automatic \
            --data-file=- --project="${PROJECT}" --quiet
    else
        show gcloud secrets versions add "${SECRET}" --data-file=- --project="${PROJECT}" --quiet
        printf '%s' "${value}" | gcloud secrets versions add "${SECRET}" --data-file=- \
            --project="${PROJECT}" --quiet
    fi
}

step_build_bucket() {
    step "Cloud Build source bucket ${BUILD_BUCKET}"
    ensure "bucket ${BUILD_BUCKET}" "storage buckets describe ${BUILD_BUCKET}" -- \
        storage buckets create "${BUILD_BUCKET}" --location="${REGION}" --uniform-bucket-level-access
}

step_iam() {
    local worker="serviceAccount:${WORKER_SA}" invoker="serviceAccount:${INVOKER_SA}"
    local deployer="serviceAccount:${DEPLOYER_SA}" agent
    agent="serviceAccount:$(pubsub_agent)"

    step "IAM: worker ${WORKER_SA}"
    if [[ "${SKIP_SECRET}" -eq 0 ]]; then
        grant roles/secretmanager.secretAccessor "${worker}" "secrets" "${SECRET}"
    fi
    grant roles/datastore.user "${worker}" "projects" "${PROJECT}" --condition=None
    grant roles/pubsub.publisher "${worker}" "pubsub topics" "${RESULTS_TOPIC}"

    step "IAM: invoker ${INVOKER_SA}"
    if [[ "${DRY_RUN}" -eq 1 ]] || exists run services describe "${SERVICE}" --region="${REGION}"; then
        grant roles/run.invoker "${invoker}" "run services" "${SERVICE}" --region="${REGION}"
    else
        note "service ${SERVICE} is not deployed yet: cloudbuild.yaml grants roles/run.invoker on it"
    fi

    step "IAM: Pub/Sub service agent $(pubsub_agent)"
    grant roles/pubsub.publisher "${agent}" "pubsub topics" "${DEAD_LETTER_TOPIC}"
    if [[ "${DELIVERY}" == push ]]; then
        grant roles/pubsub.subscriber "${agent}" "pubsub subscriptions" "${PUSH_SUBSCRIPTION}"
    else
        # Eventarc names the trigger's subscription itself: dead-lettering needs the role on
        # the project, and the deployer cannot grant it at build time.
        grant roles/pubsub.subscriber "${agent}" "projects" "${PROJECT}" --condition=None
    fi
    grant roles/iam.serviceAccountTokenCreator "${agent}" "iam service-accounts" "${INVOKER_SA}"

    step "IAM: deployer ${DEPLOYER_SA} (the build service account of cloudbuild.yaml)"
    local role
    for role in roles/run.admin roles/pubsub.editor roles/logging.logWriter; do
        grant "${role}" "${deployer}" "projects" "${PROJECT}" --condition=None
    done
    if [[ "${DELIVERY}" == eventarc ]]; then
        grant roles/eventarc.admin "${deployer}" "projects" "${PROJECT}" --condition=None
    fi
    grant roles/artifactregistry.repoAdmin "${deployer}" "artifacts repositories" "${REPOSITORY}" --location="${REGION}"
    grant roles/iam.serviceAccountUser "${deployer}" "iam service-accounts" "${WORKER_SA}"
    grant roles/iam.serviceAccountUser "${deployer}" "iam service-accounts" "${INVOKER_SA}"
    grant roles/storage.objectViewer "${deployer}" "storage buckets" "${BUILD_BUCKET}"
}

python_for_publisher() {
    if [[ -n "${PYTHON}" ]]; then
        echo "${PYTHON}"
    elif [[ -x "${ROOT}/.venv/bin/python" ]]; then
        echo "${ROOT}/.venv/bin/python"
    else
        echo python3
    fi
}

step_schedules() {
    step "Cloud Scheduler jobs (publisher/schedules.yaml)"
    if [[ "${SKIP_SCHEDULES}" -eq 1 ]]; then
        note "skipped (--skip-schedules)"
        return
    fi
    local python
    python="$(python_for_publisher)"
    (cd "${ROOT}" && change "${python}" -m publisher schedules apply --project="${PROJECT}" --region="${REGION}")
}

setup() {
    [[ "${DRY_RUN}" -eq 1 ]] || command -v gcloud >/dev/null || die "gcloud is not on PATH"
    project_number >/dev/null
    echo "Setting up project ${PROJECT} (region ${REGION}) for the ${MODE} worker ${SERVICE}, delivery ${DELIVERY}"
    step_apis
    step_repository
    step_service_accounts
    step_topics
    step_delivery
    step_firestore
    step_secret
    step_build_bucket
    step_iam
    step_schedules
    printf '\nDone. Next: deploy with cloudbuild.yaml (README.md, Deploying to Google Cloud):\n'
    printf '  gcloud builds submit --region=%s --config=cloudbuild.yaml --project=%s \\\n' "${REGION}" "${PROJECT}"
    printf '    --service-account=projects/%s/serviceAccounts/%s \\\n' "${PROJECT}" "${DEPLOYER_SA}"
    # shellcheck disable=SC2016  # the $(git ...) is for the person to run
    printf '    --substitutions=SHORT_SHA=$(git rev-parse --short HEAD),_REGION=%s,_TRADING_MODE=%s,_DELIVERY=%s,_REPOSITORY=%s\n' \
        "${REGION}" "${MODE}" "${DELIVERY}" "${REPOSITORY}"
}

# -- teardown -------------------------------------------------------------------------------

confirm_teardown() {
    [[ "${DRY_RUN}" -eq 0 && "${ASSUME_YES}" -eq 0 ]] || return 0
    [[ -t 0 ]] || die "--teardown deletes resources: add --yes to confirm"
    local answer
    read -rp "Delete the ${MODE} worker's resources in project ${PROJECT}? Type the project id: " answer
    [[ "${answer}" == "${PROJECT}" ]] || die "not confirmed"
}

teardown() {
    [[ "${DRY_RUN}" -eq 1 ]] || command -v gcloud >/dev/null || die "gcloud is not on PATH"
    confirm_teardown
    echo "Tearing down the ${MODE} worker ${SERVICE} in project ${PROJECT} (region ${REGION})"

    step "delivery"
    remove "Eventarc trigger ${TRIGGER}" "eventarc triggers describe ${TRIGGER} --location=${REGION}" -- \
        eventarc triggers delete "${TRIGGER}" --location="${REGION}"
    remove "subscription ${PUSH_SUBSCRIPTION}" "pubsub subscriptions describe ${PUSH_SUBSCRIPTION}" -- \
        pubsub subscriptions delete "${PUSH_SUBSCRIPTION}"

    step "Cloud Run service ${SERVICE}"
    remove "service ${SERVICE}" "run services describe ${SERVICE} --region=${REGION}" -- \
        run services delete "${SERVICE}" --region="${REGION}"

    step "credentials secret ${SECRET}"
    remove "secret ${SECRET}" "secrets describe ${SECRET}" -- secrets delete "${SECRET}"

    step "service accounts of the ${MODE} worker"
    revoke roles/datastore.user "serviceAccount:${WORKER_SA}" "projects" "${PROJECT}" --condition=None
    local name
    for name in "ib-worker-${MODE}" "ib-invoker-${MODE}"; do
        remove "service account ${name}" "iam service-accounts describe ${name}@${PROJECT}.iam.gserviceaccount.com" -- \
            iam service-accounts delete "${name}@${PROJECT}.iam.gserviceaccount.com"
    done

    step "shared resources (topics, scheduler jobs, repository, deployer)"
    if [[ "${DRY_RUN}" -eq 0 ]] && exists iam service-accounts describe "${OTHER_WORKER_SA}"; then
        note "kept: the ${OTHER_MODE} worker is set up and uses them"
        return
    fi
    [[ "${DRY_RUN}" -eq 0 ]] || note "(only when the ${OTHER_MODE} worker is not set up)"
    local job
    if [[ "${DRY_RUN}" -eq 1 ]]; then
        show gcloud scheduler jobs delete JOB --location="${REGION}" --project="${PROJECT}" --quiet
        note "  for each JOB publishing to projects/${PROJECT}/topics/${INTENTS_TOPIC}"
    else
        while read -r job; do
            [[ -n "${job}" ]] && gc scheduler jobs delete "${job##*/}" --location="${REGION}"
        done < <(query scheduler jobs list --location="${REGION}" \
            --filter="pubsubTarget.topicName=projects/${PROJECT}/topics/${INTENTS_TOPIC}" \
            --format='value(name)' || true)
    fi
    remove "subscription ${DEAD_LETTER_SUBSCRIPTION}" "pubsub subscriptions describe ${DEAD_LETTER_SUBSCRIPTION}" -- \
        pubsub subscriptions delete "${DEAD_LETTER_SUBSCRIPTION}"
    local topic
    for topic in "${INTENTS_TOPIC}" "${RESULTS_TOPIC}" "${DEAD_LETTER_TOPIC}"; do
        remove "topic ${topic}" "pubsub topics describe ${topic}" -- pubsub topics delete "${topic}"
    done
    remove "repository ${REPOSITORY}" "artifacts repositories describe ${REPOSITORY} --location=${REGION}" -- \
        artifacts repositories delete "${REPOSITORY}" --location="${REGION}"
    local role
    for role in roles/run.admin roles/pubsub.editor roles/logging.logWriter roles/eventarc.admin; do
        revoke "${role}" "serviceAccount:${DEPLOYER_SA}" "projects" "${PROJECT}" --condition=None
    done
    # Granted on the project for Eventarc delivery only; revoking a missing binding is skipped.
    revoke roles/pubsub.subscriber "serviceAccount:$(pubsub_agent)" "projects" "${PROJECT}" \
        --condition=None
    remove "service account ib-deployer" "iam service-accounts describe ${DEPLOYER_SA}" -- \
        iam service-accounts delete "${DEPLOYER_SA}"
    note "kept: the Firestore database (it holds the intents' records); to delete it:"
    note "  gcloud firestore databases delete --database='(default)' --project=${PROJECT}"
    note "kept: the enabled APIs and ${BUILD_BUCKET}"
}

main() {
    parse_args "$@"
    if [[ "${DRY_RUN}" -eq 1 ]]; then
        echo "DRY RUN: no gcloud command runs; every command that would change something is printed."
    fi
    if [[ "${TEARDOWN}" -eq 1 ]]; then
        teardown
    else
        setup
    fi
}

main "$@"
