// The API's own description: docs/openapi.yaml (REST and tus) and docs/asyncapi.yaml (SSE and
// WebSocket events), parsed once at start and served as JSON. Open (no token): they describe the
// API, they hold no data.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { send, JSON_TYPE } from '../http.js';
import type { Router } from '../router.js';

/** docs/, at the repository root above dist/src/server/routes where this module runs from. */
export const DOCS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../docs');

/**
 * A YAML document as JSON text. The AsyncAPI document refers to the OpenAPI document's schemas
 * as ./openapi.yaml, which is served beside it as openapi.json.
 */
export function loadYamlAsJson(file: string): string {
  return JSON.stringify(parse(fs.readFileSync(file, 'utf8'))).replaceAll('"./openapi.yaml#', '"openapi.json#');
}

export function registerDocs(router: Router, dir = DOCS_DIR): void {
  for (const [route, file] of [
    ['/api/v1/openapi.json', 'openapi.yaml'],
    ['/api/v1/asyncapi.json', 'asyncapi.yaml'],
  ]) {
    const body = loadYamlAsJson(path.join(dir, file));
    router.add('get', route, 'docs', (ctx) => send(ctx, 200, body, JSON_TYPE, { headers: { 'Cache-Control': 'no-cache' } }), { auth: false });
  }
}
