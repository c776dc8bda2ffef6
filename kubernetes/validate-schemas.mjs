// Validates Kubernetes objects against the API's OpenAPI schemas (kubernetes-models, ajv), offline,
// and KEDA's objects (keda.sh) against KEDA's CRD schemas where @kubernetes-models/keda is installed.
// Strict: a field the schema does not know (a typo such as hostUser for hostUsers) is an error,
// as with kubectl's --validate=strict. The packages' validators are compiled from the OpenAPI
// schemas and accept unknown fields; every field a validator never reads is one its schema does
// not declare, so the object is validated through proxies that record each field read.
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

// The object seen through proxies that note every property a validator reads (or enumerates, as
// it does for maps such as labels); returns the proxy and the list of fields left unread.
function watched(value, path, read) {
  if (value === null || typeof value !== 'object') {
    return value;
  }
  const children = new Map();
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) {
        read.add(`${path}/${key}`);
        if (!children.has(key)) {
          children.set(key, watched(target[key], `${path}/${key}`, read));
        }
        return children.get(key);
      }
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === 'string') {
        read.add(`${path}/${key}`);
      }
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      // Enumerated: a map of free keys (labels, data, annotations); each value is still checked.
      Object.keys(target).forEach((key) => read.add(`${path}/${key}`));
      return Reflect.ownKeys(target);
    },
  });
}

function unread(value, path, read, found) {
  if (value === null || typeof value !== 'object') {
    return found;
  }
  for (const key of Object.keys(value)) {
    const child = `${path}/${key}`;
    if (!read.has(child)) {
      found.push(child);
    } else {
      unread(value[key], child, read, found);
    }
  }
  return found;
}
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
    const read = new Set();
    const model = new Model(object);
    const validate = Object.getPrototypeOf(model).validate;
    validate.call(watched(model, '', read));
    // apiVersion and kind are the model's own; everything else must have been read by the schema.
    const unknown = unread(JSON.parse(JSON.stringify(object)), '', read, [])
      .filter((field) => field !== '/apiVersion' && field !== '/kind');
    if (unknown.length > 0) {
      throw new Error(`unknown field(s): ${unknown.join(', ')}`);
    }
    console.log(`valid ${name}`);
  } catch (e) {
    console.log(`INVALID ${name}: ${e.message}`);
    invalid++;
  }
}
process.exit(invalid ? 1 : 0);
