#!/usr/bin/env bash
# Renders kubernetes/base or an overlay with the image filled in, then applies it (or prints it).
#   IMAGE=myregistry.azurecr.io/sandstream IMAGE_TAG=$(git rev-parse --short HEAD) kubernetes/apply.sh [TARGET] [--render | kubectl apply flags]
# TARGET: base (default), overlays/gvisor, overlays/kata, overlays/scaled or overlays/scaled-keda.
# --render prints the manifests instead of applying them; any other flag goes to kubectl apply (e.g.
# --dry-run=server). The scaled overlays (Kafka journal) also need KAFKA_BOOTSTRAP_SERVERS, e.g.
# NAMESPACE.servicebus.windows.net:9093 for Event Hubs; overlays/scaled-keda needs KEDA's CRDs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=base
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  target=$1
  shift
fi
: "${IMAGE:?set IMAGE to the image repository, e.g. myregistry.azurecr.io/sandstream}"
: "${IMAGE_TAG:?set IMAGE_TAG to the tag to deploy (a release or commit, never latest)}"
case "$IMAGE_TAG" in
  latest | *[!A-Za-z0-9_.-]*)
    echo "apply.sh: IMAGE_TAG must be a pinned tag (letters, digits, . _ -), not '$IMAGE_TAG'" >&2
    exit 2
    ;;
esac
if [ ! -f "$here/$target/kustomization.yaml" ]; then
  echo "apply.sh: no kustomization in $here/$target" >&2
  exit 2
fi
rendered=$(kubectl kustomize "$here/$target")
# shellcheck disable=SC2016 # the placeholder is literal text in deployment.yaml
rendered=${rendered//'${IMAGE}:${IMAGE_TAG}'/$IMAGE:$IMAGE_TAG}
# shellcheck disable=SC2016 # literal text in overlays/scaled and overlays/scaled-keda
bootstrap_placeholder='${KAFKA_BOOTSTRAP_SERVERS}'
if [[ $rendered == *"$bootstrap_placeholder"* ]]; then
  : "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS for $target, e.g. NAMESPACE.servicebus.windows.net:9093}"
  # host:port[,host:port...] and nothing else: the value lands inside YAML.
  if ! [[ $KAFKA_BOOTSTRAP_SERVERS =~ ^[A-Za-z0-9.-]+:[0-9]+(,[A-Za-z0-9.-]+:[0-9]+)*$ ]]; then
    echo "apply.sh: KAFKA_BOOTSTRAP_SERVERS must be host:port[,host:port...], not '$KAFKA_BOOTSTRAP_SERVERS'" >&2
    exit 2
  fi
  rendered=${rendered//"$bootstrap_placeholder"/$KAFKA_BOOTSTRAP_SERVERS}
fi
if [[ $rendered == *"\${"* ]]; then
  left=$(grep -oE '[$][{][A-Za-z_]+[}]' <<<"$rendered" | sort -u | tr '\n' ' ')
  echo "apply.sh: $target has placeholders apply.sh does not fill: $left" >&2
  exit 2
fi
if [ "${1:-}" = "--render" ]; then
  printf '%s\n' "$rendered"
else
  printf '%s\n' "$rendered" | kubectl apply "$@" -f -
fi
