// The API documents as test oracles: every HTTP response a server suite receives through fetch
// (REST, tus, SSE heads and the eventsource client, which uses fetch) is checked against
// docs/openapi.yaml, every SSE event on those streams and every WebSocket frame from
// /api/v1/video/ws against docs/asyncapi.yaml. A mismatch rejects the fetch (or throws in the
// socket's message handler) and, in case a test swallows that, fails the process at exit, so the
// documents cannot drift from what the server does.
//
// Validation is Ajv's JSON Schema 2020-12 (the dialect of OpenAPI 3.1) over the documents as they
// are, with the OpenAPI document registered under a base URI so the AsyncAPI document's
// ./openapi.yaml references resolve.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import WebSocket from 'ws';
import { parse } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BASE = 'https://contract.test/';
export const OPENAPI_URI = `${BASE}openapi.yaml`;
export const ASYNCAPI_URI = `${BASE}asyncapi.yaml`;

export const openapi = parse(fs.readFileSync(path.join(ROOT, 'docs/openapi.yaml'), 'utf8'));
export const asyncapi = parse(fs.readFileSync(path.join(ROOT, 'docs/asyncapi.yaml'), 'utf8'));

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addFormat('binary', true);
ajv.addSchema(openapi, OPENAPI_URI);
ajv.addSchema(asyncapi, ASYNCAPI_URI);

const compiled = new Map<string, ValidateFunction>();
/** A validator for the schema at `pointer` (a JSON pointer) of a document. */
export function schemaAt(uri: string, pointer: string): ValidateFunction {
  const ref = `${uri}#${pointer}`;
  let v = compiled.get(ref);
  if (!v) compiled.set(ref, (v = ajv.compile({ $ref: ref })));
  return v;
}

const esc = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
const errorsOf = (v: ValidateFunction) => ajv.errorsText(v.errors, { separator: '; ' });

/** Follows a local $ref of the OpenAPI document (responses, parameters). */
function deref(obj: any): any {
  while (obj && typeof obj.$ref === 'string' && obj.$ref.startsWith('#/')) {
    obj = obj.$ref
      .slice(2)
      .split('/')
      .reduce((o: any, k: string) => o?.[k.replaceAll('~1', '/').replaceAll('~0', '~')], openapi);
  }
  return obj;
}

const templates = Object.keys(openapi.paths).map((p) => ({
  path: p,
  re: new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

/** The documented path a URL path belongs to. */
export function documentedPath(urlPath: string): string | null {
  return templates.find((t) => t.re.test(urlPath))?.path ?? null;
}

export interface SeenResponse {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  /** null: not read (a stream). */
  body: string | null;
}

/** What does not match the OpenAPI document in this response (empty when it matches). */
export function checkResponse(r: SeenResponse): string[] {
  const { pathname } = new URL(r.url);
  const method = r.method.toLowerCase();
  const where = `${r.method} ${pathname} → ${r.status}`;
  const docPath = documentedPath(pathname);
  if (!docPath) {
    // The web page's files are not part of the API; anything else unknown is the API's 404.
    if (!pathname.startsWith('/api/') && !pathname.startsWith('/analyze/') && /\.[a-z0-9]+$/i.test(pathname)) return [];
    if (r.status !== 404) return [`${where}: the path is not in openapi.yaml`];
    return checkBody(where, r, deref(openapi.components.responses.Error), `/components/responses/Error`);
  }
  const item = openapi.paths[docPath];
  const op = item[method];
  if (!op) {
    if (r.status !== 405) return [`${where}: ${r.method} is not documented for ${docPath}`];
    const problems: string[] = [];
    if (!r.headers.get('allow')) problems.push(`${where}: 405 without Allow`);
    return problems;
  }
  const key = op.responses[String(r.status)] ? String(r.status) : op.responses[`${String(r.status)[0]}XX`] ? `${String(r.status)[0]}XX` : 'default';
  const raw = op.responses[key];
  if (!raw) return [`${where}: status not documented for ${r.method} ${docPath}`];
  const response = deref(raw);
  const pointer = raw.$ref ? raw.$ref.slice(1) : `/paths/${esc(docPath)}/${method}/responses/${key}`;
  const problems: string[] = [];
  for (const [name, h] of Object.entries<any>(response.headers ?? {})) {
    if (h.required && r.headers.get(name) === null) problems.push(`${where}: missing header ${name}`);
  }
  return [...problems, ...checkBody(where, r, response, pointer)];
}

function checkBody(where: string, r: SeenResponse, response: any, pointer: string): string[] {
  if (r.method === 'HEAD' || r.status === 204 || r.status === 304 || r.status === 101) return [];
  const type = (r.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  const content = response.content as Record<string, any> | undefined;
  if (!content) return r.body ? [`${where}: a body (${type}) where the document has none`] : [];
  if (!content[type]) return [`${where}: content type "${type}" is not documented (${Object.keys(content).join(', ')})`];
  if (type !== 'application/json' || r.body === null) return [];
  let value: unknown;
  try {
    value = JSON.parse(r.body);
  } catch {
    return [`${where}: the body is not JSON`];
  }
  const v = schemaAt(OPENAPI_URI, `${pointer}/content/${esc(type)}/schema`);
  return v(value) ? [] : [`${where}: ${errorsOf(v)} in ${r.body.slice(0, 300)}`];
}

/** What does not match the AsyncAPI document in one SSE event (type and data). */
export function checkEvent(type: string, data: unknown): string[] {
  if (!asyncapi.components.messages[type]) return [`SSE event "${type}" is not in asyncapi.yaml`];
  const v = schemaAt(ASYNCAPI_URI, `/components/messages/${esc(type)}/payload`);
  return v(data) ? [] : [`event ${type}: ${errorsOf(v)} in ${JSON.stringify(data).slice(0, 300)}`];
}

/** What does not match the AsyncAPI document in one WebSocket frame from the server. */
export function checkWsFrame(frame: unknown): string[] {
  const f = frame as { type?: unknown; data?: unknown } | null;
  const name = f?.type === 'error' ? 'errorFrame' : f?.type === 'pong' ? 'pong' : 'eventFrame';
  const v = schemaAt(ASYNCAPI_URI, `/components/messages/${name}/payload`);
  if (!v(frame)) return [`ws frame: ${errorsOf(v)} in ${JSON.stringify(frame).slice(0, 300)}`];
  return name === 'eventFrame' ? checkEvent(String(f!.type), f!.data) : [];
}

// ---- the hooks ----------------------------------------------------------------------------------

const violations: string[] = [];
/** Every mismatch seen so far in this process. */
export const contractViolations = (): readonly string[] => violations;

function report(problems: string[]): void {
  if (!problems.length) return;
  violations.push(...problems);
  throw new Error(`response does not match the API documents:\n  ${problems.join('\n  ')}`);
}

/** Parses an SSE stream as it passes and checks each event; the stream itself is unchanged. */
function sseChecker(): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let buf = '';
  return new TransformStream({
    transform(chunk, controller) {
      controller.enqueue(chunk);
      buf += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
        let type = 'message';
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith('event:')) type = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (!data.length) continue; // comments, retry
        let parsed: unknown;
        try {
          parsed = JSON.parse(data.join('\n'));
        } catch {
          violations.push(`SSE event ${type}: data is not JSON`);
          continue;
        }
        const problems = checkEvent(type, parsed);
        violations.push(...problems);
        if (problems.length) console.error(problems.join('\n'));
      }
    },
  });
}

let suspended = false;
/**
 * Turns the checks off for this process: only for suites that measure the server's memory or
 * timing in the same process and feed it synthetic events (backpressure.test.ts), and for suites
 * that call the service in-process, whose own outbound requests (webhooks) would be checked
 * (redis-service.test.ts, redis-webhooks.test.ts).
 */
export function suspendContractChecks(): void {
  suspended = true;
}

/**
 * Compiles every validator up front, so that no check compiles one while a test measures how
 * fast the server answers (the results schema takes a few hundred ms).
 */
function compileAll(): void {
  for (const [p, item] of Object.entries<any>(openapi.paths)) {
    for (const [method, op] of Object.entries<any>(item)) {
      for (const [key, raw] of Object.entries<any>(op?.responses ?? {})) {
        if (!deref(raw)?.content?.['application/json']) continue;
        const pointer = raw.$ref ? raw.$ref.slice(1) : `/paths/${esc(p)}/${method}/responses/${key}`;
        schemaAt(OPENAPI_URI, `${pointer}/content/application~1json/schema`);
      }
    }
  }
  for (const name of Object.keys(asyncapi.components.messages)) schemaAt(ASYNCAPI_URI, `/components/messages/${esc(name)}/payload`);
}

let installed = false;
/** Installs the checks on fetch and on ws sockets (once per process). */
export function installContractChecks(): void {
  if (installed) return;
  installed = true;
  compileAll();
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await realFetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (suspended || !/^https?:\/\/127\.0\.0\.1:\d+\//.test(url)) return res;
    const type = res.headers.get('content-type') ?? '';
    if (type.startsWith('text/event-stream')) {
      report(checkResponse({ method, url, status: res.status, headers: res.headers, body: null }));
      if (!res.body) return res;
      return new Response(res.body.pipeThrough(sseChecker()), { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    const body = await res.clone().text();
    report(checkResponse({ method, url, status: res.status, headers: res.headers, body }));
    return res;
  };

  const emit = WebSocket.prototype.emit;
  WebSocket.prototype.emit = function (this: WebSocket, event: string | symbol, ...args: any[]): boolean {
    if (!suspended && event === 'message' && this.url?.includes('/api/v1/video/ws') && !args[1]) {
      let frame: unknown;
      try {
        frame = JSON.parse(String(args[0]));
      } catch {
        frame = undefined;
      }
      const problems = frame === undefined ? ['ws frame: not JSON'] : checkWsFrame(frame);
      violations.push(...problems);
      if (problems.length) console.error(problems.join('\n'));
    }
    return emit.call(this, event, ...args);
  } as typeof emit;

  process.on('exit', () => {
    if (!violations.length) return;
    console.error(`\n${violations.length} responses did not match docs/openapi.yaml or docs/asyncapi.yaml:\n  ${violations.slice(0, 50).join('\n  ')}`);
    process.exitCode = 1;
  });
}
