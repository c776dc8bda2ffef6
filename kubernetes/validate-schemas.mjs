// Validates Kubernetes objects against the API's OpenAPI schemas (kubernetes-models, ajv), offline.
// Input: a JSON array of objects on stdin. Output: one line per object; exit 1 if any is invalid.
// Usage: node validate-schemas.mjs TOOLS_DIR < objects.json   (TOOLS_DIR/node_modules/kubernetes-models)
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const models = join(resolve(process.argv[2] || '.'), 'node_modules', 'kubernetes-models');
const objects = JSON.parse(readFileSync(0, 'utf8'));
let invalid = 0;
for (const object of objects) {
  const name = `${object.apiVersion} ${object.kind} ${object.metadata?.name}`;
  try {
    // apps/v1 -> kubernetes-models/apps/v1/index.js, v1 (core) -> kubernetes-models/v1/index.js
    const group = await import(pathToFileURL(join(models, object.apiVersion, 'index.js')).href);
    const Model = group[object.kind];
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
