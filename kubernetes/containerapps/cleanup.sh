#!/usr/bin/env bash
# Removes everything deploy.sh created: the resource group and all in it. Key Vault keeps a deleted
# vault for 7 days (soft delete); PURGE_KEY_VAULT=1 purges it too, so its name is free at once.
#   RESOURCE_GROUP=rg-sandstream kubernetes/containerapps/cleanup.sh [--yes]
set -euo pipefail
RESOURCE_GROUP=${RESOURCE_GROUP:-rg-sandstream}

if ! az group show --name "$RESOURCE_GROUP" >/dev/null 2>&1; then
  echo "cleanup.sh: resource group $RESOURCE_GROUP does not exist; nothing to do"
  exit 0
fi
if [ "${1:-}" != "--yes" ]; then
  read -r -p "Delete resource group $RESOURCE_GROUP and everything in it? [y/N] " answer
  [ "$answer" = y ] || [ "$answer" = Y ] || { echo "cleanup.sh: nothing deleted"; exit 1; }
fi
mapfile -t vaults < <(az keyvault list --resource-group "$RESOURCE_GROUP" --query '[].name' -o tsv)
az group delete --name "$RESOURCE_GROUP" --yes
echo "cleanup.sh: deleted $RESOURCE_GROUP"
if [ "${PURGE_KEY_VAULT:-0}" = 1 ]; then
  for vault in "${vaults[@]}"; do
    az keyvault purge --name "$vault"
    echo "cleanup.sh: purged Key Vault $vault"
  done
fi
