#!/usr/bin/env bash
# Deploys the whole Azure topology (main.bicep) with the az CLI, then sends the recipe's test event
# through Event Grid and waits for its result (a smoke test the operator sees).
#   az login
#   IMAGE=myregistry.azurecr.io/sandstream:1a2b3c4 REGISTRY_SERVER=myregistry.azurecr.io LOCATION=westeurope \
#     kubernetes/containerapps/deploy.sh
# Optional: RESOURCE_GROUP (rg-sandstream), NAME_PREFIX (sandstream: a lowercase letter, then lowercase
# letters and digits, 3-11), REGISTRY_SERVER (an ACR: the app's identity gets AcrPull on it before the
# app exists), REGISTRY_RESOURCE_GROUP (looked up when unset), PRODUCTION=1 (Key Vault purge
# protection), SCALE_OUT=1 (the default: Event Hubs holds the journal, 2 to SCALE_OUT_MAX_REPLICAS (6)
# replicas; SCALE_OUT=0 is one replica whose journal is lost with it, a trial mode), SMOKE_TEST=0
# (skip the test events), SMOKE_TIMEOUT (300: seconds smoke.sh waits for each result).
# Keys: INGRESS_KEY and API_KEY, when set, are written to Key Vault. Unset on a first deploy, they
# are generated; unset on a redeploy, the vault's are kept (never rotated by a re-run). They never
# appear on a command line or on this script's output: they reach az through a parameters file only
# this user can read, deleted on exit; the script prints where they are in the vault.
# After cleanup.sh, the vault waits in soft delete: a redeploy recovers it (keys and all), or with
# PURGE_DELETED_VAULT=1 purges it first and starts with new keys (impossible with purge protection).
# README.md beside this file lists the parameters.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

: "${IMAGE:?set IMAGE to the image with a pinned tag, e.g. myregistry.azurecr.io/sandstream:1a2b3c4}"
: "${LOCATION:?set LOCATION to an Azure region with Container Apps dynamic sessions, e.g. westeurope}"
RESOURCE_GROUP=${RESOURCE_GROUP:-rg-sandstream}
NAME_PREFIX=${NAME_PREFIX:-sandstream}
REGISTRY_SERVER=${REGISTRY_SERVER:-}
REGISTRY_RESOURCE_GROUP=${REGISTRY_RESOURCE_GROUP:-}
SCALE_OUT=${SCALE_OUT:-1}
SCALE_OUT_MAX_REPLICAS=${SCALE_OUT_MAX_REPLICAS:-6}
PRODUCTION=${PRODUCTION:-0}
SMOKE_TEST=${SMOKE_TEST:-1}
case "$SCALE_OUT" in
  1 | true) scale_out=true ;;
  0 | false) scale_out=false ;;
  *) echo "deploy.sh: SCALE_OUT must be 1 or 0, not '$SCALE_OUT'" >&2; exit 2 ;;
esac
case "$PRODUCTION" in
  1 | true) production=true ;;
  0 | false) production=false ;;
  *) echo "deploy.sh: PRODUCTION must be 1 or 0, not '$PRODUCTION'" >&2; exit 2 ;;
esac
# Session pool names allow ^[a-z][a-z0-9]*$ only; the prefix starts every name.
if ! [[ $NAME_PREFIX =~ ^[a-z][a-z0-9]{2,10}$ ]]; then
  echo "deploy.sh: NAME_PREFIX must be a lowercase letter then 2-10 lowercase letters or digits, not '$NAME_PREFIX'" >&2
  exit 2
fi
last=${IMAGE##*/}   # name:tag or name@sha256:digest, after any registry host:port
if [ "${IMAGE#*@sha256:}" = "$IMAGE" ] && { [ "${last#*:}" = "$last" ] || [ "${last#*:}" = latest ] || [ -z "${last#*:}" ]; }; then
  echo "deploy.sh: IMAGE must carry a pinned tag or digest, not '$IMAGE'" >&2
  exit 2
fi

az account show --query id -o tsv >/dev/null || { echo "deploy.sh: run az login first" >&2; exit 1; }
providers=(Microsoft.App Microsoft.EventGrid Microsoft.OperationalInsights Microsoft.Insights
           Microsoft.KeyVault Microsoft.Storage Microsoft.ManagedIdentity)
if [ "$scale_out" = true ]; then providers+=(Microsoft.EventHub); fi
for provider in "${providers[@]}"; do
  az provider register --namespace "$provider" --wait >/dev/null
done
if [ -n "$REGISTRY_SERVER" ] && [ -z "$REGISTRY_RESOURCE_GROUP" ]; then
  REGISTRY_RESOURCE_GROUP=$(az acr show --name "${REGISTRY_SERVER%%.*}" --query resourceGroup -o tsv)
fi

# The group first (idempotent): a soft-deleted vault can only be recovered into its group.
az group create --name "$RESOURCE_GROUP" --location "$LOCATION" --tags application=sandstream -o none
deleted=$(az keyvault list-deleted --resource-type vault --query '[].[name, properties.vaultId]' -o tsv \
  | grep -i "/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.KeyVault/vaults/kv-$NAME_PREFIX-" | cut -f1 || true)
for vault in $deleted; do
  if [ "${PURGE_DELETED_VAULT:-0}" = 1 ]; then
    echo "deploy.sh: purging the soft-deleted Key Vault $vault (its keys are gone; new ones are made)"
    az keyvault purge --name "$vault" --location "$LOCATION" -o none
  else
    echo "deploy.sh: recovering the soft-deleted Key Vault $vault with its keys (PURGE_DELETED_VAULT=1 purges it instead)"
    az keyvault recover --name "$vault" --resource-group "$RESOURCE_GROUP" --location "$LOCATION" -o none
  fi
done
existing_vault=$(az keyvault list --resource-group "$RESOURCE_GROUP" --query "[?starts_with(name, 'kv-$NAME_PREFIX-')].name | [0]" -o tsv)

new_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
generated=()
if [ -z "$existing_vault" ]; then
  # A first deploy: a vault without keys would give the app nothing to start with.
  if [ -z "${INGRESS_KEY:-}" ]; then INGRESS_KEY=$(new_key); generated+=(ingress-keys); fi
  if [ -z "${API_KEY:-}" ]; then API_KEY=$(new_key); generated+=(api-keys); fi
fi
export INGRESS_KEY=${INGRESS_KEY:-} API_KEY=${API_KEY:-}
export LOCATION RESOURCE_GROUP NAME_PREFIX IMAGE REGISTRY_SERVER REGISTRY_RESOURCE_GROUP SCALE_OUT_MAX_REPLICAS
export SCALE_OUT_BOOL=$scale_out PRODUCTION_BOOL=$production

# The parameters, keys included, in a file only this user reads; never in az's arguments.
umask 077
parameters=$(mktemp)
trap 'rm -f "$parameters"' EXIT
python3 - "$parameters" <<'PARAMETERS'
import json, os, sys
values = {
    "location": os.environ["LOCATION"], "resourceGroupName": os.environ["RESOURCE_GROUP"],
    "namePrefix": os.environ["NAME_PREFIX"], "image": os.environ["IMAGE"],
    "registryServer": os.environ.get("REGISTRY_SERVER", ""),
    "registryResourceGroup": os.environ.get("REGISTRY_RESOURCE_GROUP", ""),
    "ingressKey": os.environ.get("INGRESS_KEY", ""), "apiKey": os.environ.get("API_KEY", ""),
    "scaleOut": os.environ["SCALE_OUT_BOOL"] == "true", "productionMode": os.environ["PRODUCTION_BOOL"] == "true",
    "scaleOutMaxReplicas": int(os.environ["SCALE_OUT_MAX_REPLICAS"]),
}
with open(sys.argv[1], "w") as f:
    json.dump({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
               "contentVersion": "1.0.0.0", "parameters": {k: {"value": v} for k, v in values.items()}}, f)
PARAMETERS

outputs=$(az deployment sub create \
  --name "sandstream-$(date +%Y%m%d%H%M%S)" \
  --location "$LOCATION" \
  --template-file "$here/main.bicep" \
  --parameters "@$parameters" \
  --query properties.outputs -o json)
rm -f "$parameters"

output() { printf '%s' "$outputs" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['value'])"; }
app_url=$(output appUrl)
topic=$(output topicName)
topic_endpoint=$(output topicEndpoint)
vault=$(output keyVaultName)

echo "sandstream:       $app_url   (health: $app_url/q/health/ready)"
echo "Event Grid topic: $topic ($topic_endpoint) -> $app_url/events"
echo "Key Vault:        $vault (secrets ingress-keys, api-keys)"
echo "Storage:          $(output storageAccountName) (execution-results, execution-logs, deadletter)"
if [ "$scale_out" = true ]; then
  echo "Event Hubs:       $(output eventHubsNamespace) (Kafka: $(output kafkaBootstrapServers); 2-$SCALE_OUT_MAX_REPLICAS replicas on lag)"
fi
if [ ${#generated[@]} -gt 0 ]; then
  echo "Generated keys, kept in Key Vault (a redeploy keeps them): ${generated[*]}. Read one with"
  echo "  az keyvault secret show --vault-name $vault --name api-keys --query value -o tsv   (needs Key Vault Secrets User)"
fi

[ "$SMOKE_TEST" = 1 ] || exit 0
# The test events, through both topics to the app, and their results (smoke.sh waits, up to
# SMOKE_TIMEOUT seconds). The keys go to curl as header files (process substitution) and to
# smoke.sh in its environment, never as arguments.
if [ -z "$API_KEY" ]; then
  API_KEY=$(az keyvault secret show --vault-name "$vault" --name api-keys --query value -o tsv 2>/dev/null || true)
fi
if [ -z "$API_KEY" ]; then
  echo "Smoke test: cannot read api-keys from $vault (Key Vault Secrets User needed); rerun" \
    "API_KEY=... $here/smoke.sh $app_url <source> <id> for the events below" >&2
fi
export API_KEY
event_id="deploy-smoke-$(date +%s)"
# A CloudEvent, through the CloudEvents topic.
event_source=/deploy/smoke-test
topic_key=$(az eventgrid topic key list --resource-group "$RESOURCE_GROUP" --name "$topic" --query key1 -o tsv)
curl -fsS -X POST "$topic_endpoint" -H @<(printf 'aeg-sas-key: %s\n' "$topic_key") \
  -H 'Content-Type: application/cloudevents+json' \
  -d '{"specversion":"1.0","id":"'"$event_id"'","source":"'"$event_source"'","type":"io.sandstream.code.execute",
       "subject":"code-execution/smoke-test","data":{"code":"print(\"Hello from secure session!\")","language":"python"}}'
echo "Smoke test: sent the CloudEvent $event_id (source $event_source) through $topic"
# The recipe's own test event, in the Event Grid schema, through the topic that takes that schema.
# Its topic field, which becomes the event's source, is the topic's resource id: Event Grid takes
# no other value, and stamps that one when it is left out.
eg_topic=$(output eventGridSchemaTopicName)
eg_source=$(output eventGridSchemaTopicId)
eg_key=$(az eventgrid topic key list --resource-group "$RESOURCE_GROUP" --name "$eg_topic" --query key1 -o tsv)
curl -fsS -X POST "$(output eventGridSchemaTopicEndpoint)" -H @<(printf 'aeg-sas-key: %s\n' "$eg_key") \
  -H 'Content-Type: application/json' \
  -d '[{"id":"'"$event_id"'-eg","topic":"'"$eg_source"'","eventType":"Microsoft.EventGrid.ExecuteCode",
        "subject":"code-execution/smoke-test","eventTime":"'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'","dataVersion":"1.0",
        "data":{"code":"print(\"Hello from secure session!\")","language":"python"}}]'
echo "Smoke test: sent the recipe's Event Grid schema event $event_id-eg (source $eg_source) through $eg_topic"
if [ -z "$API_KEY" ]; then exit 0; fi
"$here/smoke.sh" "$app_url" "$eg_source" "$event_id-eg"
"$here/smoke.sh" "$app_url" "$event_source" "$event_id"
