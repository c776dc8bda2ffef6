#!/usr/bin/env bash
# Deploys the whole Azure topology (main.bicep) with the az CLI, then prints how to reach it.
#   az login
#   IMAGE=myregistry.azurecr.io/sandstream:1a2b3c4 LOCATION=westeurope kubernetes/containerapps/deploy.sh
# Optional: RESOURCE_GROUP (rg-sandstream), NAME_PREFIX (sandstream), REGISTRY_SERVER (pull with the
# app's identity), INGRESS_KEY and API_KEY (generated and printed once when unset; pass the same
# ones again on a redeploy, or they are replaced). SCALE_OUT=1: the scale-out mode (Event Hubs holds
# the journal, 2 to SCALE_OUT_MAX_REPLICAS (6) replicas on consumer lag); SCALE_OUT=0 (the default)
# keeps one replica, and on a redeploy removes the scale rules but not an Event Hubs namespace.
# README.md beside this file lists the parameters.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

: "${IMAGE:?set IMAGE to the image with a pinned tag, e.g. myregistry.azurecr.io/sandstream:1a2b3c4}"
: "${LOCATION:?set LOCATION to an Azure region with Container Apps dynamic sessions, e.g. westeurope}"
RESOURCE_GROUP=${RESOURCE_GROUP:-rg-sandstream}
NAME_PREFIX=${NAME_PREFIX:-sandstream}
REGISTRY_SERVER=${REGISTRY_SERVER:-}
SCALE_OUT=${SCALE_OUT:-0}
SCALE_OUT_MAX_REPLICAS=${SCALE_OUT_MAX_REPLICAS:-6}
case "$SCALE_OUT" in
  1 | true) scale_out=true ;;
  0 | false) scale_out=false ;;
  *) echo "deploy.sh: SCALE_OUT must be 1 or 0, not '$SCALE_OUT'" >&2; exit 2 ;;
esac
last=${IMAGE##*/}   # name:tag or name@sha256:digest, after any registry host:port
if [ "${IMAGE#*@sha256:}" = "$IMAGE" ] && { [ "${last#*:}" = "$last" ] || [ "${last#*:}" = latest ] || [ -z "${last#*:}" ]; }; then
  echo "deploy.sh: IMAGE must carry a pinned tag or digest, not '$IMAGE'" >&2
  exit 2
fi

new_key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }
generated=()
if [ -z "${INGRESS_KEY:-}" ]; then INGRESS_KEY=$(new_key); generated+=(INGRESS_KEY); fi
if [ -z "${API_KEY:-}" ]; then API_KEY=$(new_key); generated+=(API_KEY); fi

az account show --query '{subscription:name, id:id}' -o tsv >/dev/null || { echo "deploy.sh: run az login first" >&2; exit 1; }
providers=(Microsoft.App Microsoft.EventGrid Microsoft.OperationalInsights Microsoft.Insights
           Microsoft.KeyVault Microsoft.Storage Microsoft.ManagedIdentity)
if [ "$scale_out" = true ]; then providers+=(Microsoft.EventHub); fi
for provider in "${providers[@]}"; do
  az provider register --namespace "$provider" --wait >/dev/null
done

outputs=$(az deployment sub create \
  --name "sandstream-$(date +%Y%m%d%H%M%S)" \
  --location "$LOCATION" \
  --template-file "$here/main.bicep" \
  --parameters location="$LOCATION" resourceGroupName="$RESOURCE_GROUP" namePrefix="$NAME_PREFIX" \
               image="$IMAGE" registryServer="$REGISTRY_SERVER" ingressKey="$INGRESS_KEY" apiKey="$API_KEY" \
               scaleOut="$scale_out" scaleOutMaxReplicas="$SCALE_OUT_MAX_REPLICAS" \
  --query properties.outputs -o json)

output() { printf '%s' "$outputs" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1']['value'])"; }
app_url=$(output appUrl)
topic=$(output topicName)
topic_endpoint=$(output topicEndpoint)

echo "sandstream:       $app_url   (health: $app_url/q/health/ready)"
echo "Event Grid topic: $topic ($topic_endpoint) -> $app_url/events"
echo "Key Vault:        $(output keyVaultName) (ingress-keys, api-keys)"
echo "Storage:          $(output storageAccountName) (execution-results, execution-logs, deadletter)"
if [ "$scale_out" = true ]; then
  echo "Event Hubs:       $(output eventHubsNamespace) (Kafka: $(output kafkaBootstrapServers); 2-$SCALE_OUT_MAX_REPLICAS replicas on lag)"
fi
if [ ${#generated[@]} -gt 0 ]; then
  echo
  echo "Generated keys (shown once; keep them, and pass them again on the next deploy):"
  for name in "${generated[@]}"; do echo "  $name=${!name}"; done
fi
cat <<USAGE

Publish an execute event through Event Grid (CloudEvents schema):
  KEY=\$(az eventgrid topic key list -g $RESOURCE_GROUP -n $topic --query key1 -o tsv)
  curl -sS -X POST '$topic_endpoint' -H "aeg-sas-key: \$KEY" -H 'Content-Type: application/cloudevents+json' \\
    -d '{"specversion":"1.0","id":"test-event-001","source":"/deploy/test","type":"io.sandstream.code.execute",
         "subject":"code-execution/test","data":{"code":"print(\"Hello from secure session!\")","language":"python"}}'
Then read the result (its executionId is a function of source and id; or list the execution-results container):
  curl -sS -H "Authorization: Bearer \$API_KEY" '$app_url/executions/stream?subject=code-execution'
USAGE
