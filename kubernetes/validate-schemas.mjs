// Validates Kubernetes objects against the API's OpenAPI schemas (kubernetes-models, ajv), offline,
// and KEDA's objects (keda.sh) against KEDA's CRD schemas where @kubernetes-models/keda is installed.
// Input: a JSON array of objects on stdin. Output: one line per object ("valid", "INVALID", or
// "skipped" for a custom resource whose schema package is not installed); exit 1 if any is invalid.
// Usage: node validate-schemas.mjs TOOLS_DIR < objects.json   (TOOLS_DIR/node_modules/kubernetes-models)
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = join(resolve(process.argv[2] || '.'), 'node_modules');
// API groups outside Kubernetes itself, by the package holding their CRD schemas.
const customGroups = { 'keda.sh': '@kubernetes-models/keda' };
const objects = JSON.parse(readFileSync(0, 'utf8'));
let invalid = 0;
for (const object of objects) {
  const name = `${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  const models = join(modules, customGroups[group] || 'kubernetes-models');
  if (customGroups[group] && !existsSync(models)) {
    console.log(`skipped ${name}: ${customGroups[group]} is not installed`);
    continue;
  }
  try {
    // apps/v1 -> kubernetes-models/apps/v1/index.js, v1 (core) -> kubernetes-models/v1/index.js,
    // keda.sh/v1alpha1 -> @kubernetes-models/keda/keda.sh/v1alpha1/index.js
    const version = await import(pathToFileURL(join(models, object.apiVersion, 'index.js')).href);
    const Model = version[object.kind];
    if (!Model) {
      throw new Error('no schema for this kind');
    }
    new Model(object).validate();
    console.log(`valid ${name}`);
  } catch (e) {
    console.log(`INVALID ${name}: ${e.message}`);
    invalid++;
  }
}
process.exit(invalid ? 1 : 0);
