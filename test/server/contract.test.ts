// The API documents themselves: docs/openapi.yaml against the OpenAPI 3.1 schema, docs/asyncapi.yaml
// against the AsyncAPI 3.0.0 schema, every route the server registers documented, both served as
// JSON, and the response/event oracle (test/helpers/contract.ts) able to fail.
import specs from '@asyncapi/specs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { asyncapi, checkEvent, checkResponse, checkWsFrame, openapi } from '../helpers/contract.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
test.before(async () => {
  srv = await startTestServer();
});
test.after(() => srv.close());

test('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const res = await new Validator().validate(structuredClone(openapi));
  assert.ok(res.valid, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
  assert.is(openapi.openapi, '3.1.0');
});

test('asyncapi.yaml is a valid AsyncAPI 3.0.0 document', () => {
  // The schema carries its own copy of the draft-07 meta-schema.
  const ajv = new Ajv({ strict: false, allErrors: true, meta: false, validateSchema: false });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  const validate = ajv.compile(specs.schemas['3.0.0']);
  assert.ok(validate(asyncapi), ajv.errorsText(validate.errors));
  // Every message's payload compiles, its references into openapi.yaml included.
  for (const type of ['status', 'upload', 'progress', 'segment', 'completed', 'failed', 'cancelled']) {
    assert.equal(checkEvent(type, null).length, 1, `${type} refuses null`);
  }
});

test('every route the server answers is in openapi.yaml, with its methods', () => {
  const webFiles = /^\/[^/]+\.[a-z0-9]+$/i; // the page's assets are not API
  for (const { pattern, methods } of srv.server.routes) {
    if (webFiles.test(pattern)) continue;
    const shape = (p: string) => p.replace(/\{[^}]+\}|:[A-Za-z]+/g, '{}');
    const docPath = Object.keys(openapi.paths).find((p) => shape(p) === shape(pattern));
    const item = docPath && openapi.paths[docPath];
    assert.ok(item, `${pattern} is not documented`);
    for (const m of methods) assert.ok(item[m.toLowerCase()], `${m} ${pattern} is not documented`);
  }
});

test('the documents are served as JSON', async () => {
  const o = await getJson(`${srv.url}/api/v1/openapi.json`);
  assert.is(o.status, 200);
  assert.match(o.headers.get('content-type')!, /application\/json/);
  assert.equal(o.body, openapi);
  const a = await getJson(`${srv.url}/api/v1/asyncapi.json`);
  assert.is(a.status, 200);
  assert.is(a.body.asyncapi, '3.0.0');
  assert.match(JSON.stringify(a.body), /"openapi\.json#\/components\/schemas\/ErrorInfo"/, 'references point at the served OpenAPI document');
});

test('the oracle fails on what the documents do not say', () => {
  const headers = new Headers({ 'content-type': 'application/json' });
  const url = `http://127.0.0.1:1/api/v1/video/status/V1StGXR8_Z5jdHi6B-myT`;
  const ok = { sessionId: 'V1StGXR8_Z5jdHi6B-myT', analysisType: 'highlights', status: 'pending', progress: 0, currentStep: 'Queued', segments: { completed: 0, total: 0 }, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', error: null, filename: null };
  assert.equal(checkResponse({ method: 'GET', url, status: 200, headers, body: JSON.stringify(ok) }), []);
  assert.is(checkResponse({ method: 'GET', url, status: 200, headers, body: JSON.stringify({ ...ok, extra: 1 }) }).length, 1, 'an undocumented field');
  assert.is(checkResponse({ method: 'GET', url, status: 200, headers, body: JSON.stringify({ ...ok, progress: 2 }) }).length, 1, 'out of range');
  assert.is(checkResponse({ method: 'GET', url, status: 404, headers, body: '{"detail":"x"}' }).length, 1, 'wrong error shape');
  assert.is(checkResponse({ method: 'PUT', url, status: 404, headers, body: '{"error":{"code":"x","message":"y"}}' }).length, 1, 'an undocumented method must be 405');
  assert.is(checkResponse({ method: 'GET', url: 'http://127.0.0.1:1/api/v1/nope', status: 200, headers, body: '{}' }).length, 1, 'an undocumented path');
  assert.is(checkEvent('progress', { progress: 0.5, currentStep: 'x' }).length, 1, 'segments missing');
  assert.is(checkEvent('bogus', {}).length, 1);
  assert.is(checkWsFrame({ sessionId: 'x', seq: 0, type: 'status', data: { status: 'pending' } }).length, 1, 'seq starts at 1');
  assert.equal(checkWsFrame({ sessionId: 'x', seq: 1, type: 'status', data: { status: 'pending' } }), []);
});

test.run();
