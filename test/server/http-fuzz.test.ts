// Fuzzes the HTTP layer itself with raw sockets against the real server in a child process:
// mutated request lines and headers, broken Content-Length and chunked framing, broken
// multipart bodies, tus and SSE requests, WebSocket upgrades with garbage frames, and clients
// that hang up at any point. A crash is the child exiting: the server is restarted and the run
// goes on, so one run finds every crash it can, and the test fails if there was any (exits must
// be 0), if an error escaped into the server's output, or if a well-formed request that was sent
// in full got the connection closed without an answer. Afterwards the same server must still
// answer /health, accept a real upload and analyse it, and have no temporary upload files left.
//
// Reproducible: every round draws its request from its own PRNG seeded by (FUZZ_SEED, round).
//   FUZZ_SEED=<n>        seed (default: random, printed)
//   FUZZ_ROUNDS=<n>      rounds (default 400)
//   FUZZ_SECONDS=<n>     wall-clock cap for the rounds (default 25)
//   FUZZ_CONCURRENCY=<n> sockets at once (default 8)
//   FUZZ_ONLY=a,b        only these request families (see GENERATORS)
//   FUZZ_SKIP=<regex>    do not send rounds whose "family variant close=mode" matches, to get past a
//                        known crash (e.g. 'no-close|truncated' or 'close=(?!full)')
// The requests in flight when something went wrong are written to a temporary folder (printed)
// as raw bytes, ready to replay with e.g. `nc 127.0.0.1 PORT < round-12.bin`.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { makeTestVideo } from '../helpers/media.js';
import { mulberry32 } from '../helpers/prng.js';
import { getJson, incomingFiles, isTerminalStatus, pollStatus, spawnServer, tempDir, upload, type ChildServer } from '../helpers/server.js';

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const ROUNDS = Number(process.env.FUZZ_ROUNDS ?? 400);
const WALL_MS = Number(process.env.FUZZ_SECONDS ?? 25) * 1000;
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 8);
const ONLY = process.env.FUZZ_ONLY ? new Set(process.env.FUZZ_ONLY.split(',')) : null;
/** Rounds whose "kind label" matches are drawn but not sent: hides a known crash to find the next. */
const SKIP = process.env.FUZZ_SKIP ? new RegExp(process.env.FUZZ_SKIP) : null;
/** A socket still open after this long is destroyed: every round ends. */
const SOCKET_TIMEOUT_MS = 2000;
/** The same for requests that are not well-formed: many are left hanging on purpose (short body). */
const MALFORMED_TIMEOUT_MS = 750;
const MAX_UPLOAD = 8 * 1024 * 1024;
const API = '/api/v1/video';

// --- PRNG ----------------------------------------------------------------------------------

class Rng {
  constructor(readonly next: () => number) {}
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T {
    let r = this.next() * items.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of items) if ((r -= w) < 0) return v;
    return items[items.length - 1][0];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  alnum(n: number): string {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += abc[this.int(abc.length)];
    return s;
  }
}

// --- requests --------------------------------------------------------------------------------

type CloseMode =
  | 'full' // send everything, read the answer
  | 'half-close' // send everything, then end() our side at once
  | 'end-after-headers'
  | 'destroy-after-headers'
  | 'end-mid-body'
  | 'destroy-mid-body'
  | 'destroy-in-headers';

interface FuzzRequest {
  kind: string;
  /** Variant, for the report. */
  label: string;
  /** Request line and headers, up to and including the blank line (when there is one). */
  head: Buffer;
  body: Buffer;
  /** Valid HTTP framing, complete body: when sent in full it must get an answer. */
  wellFormed: boolean;
  /** Its answer may legitimately take longer than the socket timeout (legacy analyses). */
  slow?: boolean;
  /** Sent after a 101 answer (WebSocket frames). */
  afterUpgrade?: Buffer;
  /** HEAD: the answer has no body whatever its headers say. */
  isHead?: boolean;
  /** tus: the upload the request is about. */
  uploadId?: string;
}

/** A header, or a raw line (without its line ending) for lines that are not `name: value`. */
type Header = [string, string | Buffer] | Buffer;

interface HeadOptions {
  version?: string;
  eol?: string;
}

function buildHead(method: string | Buffer, target: string | Buffer, headers: Header[], opts: HeadOptions = {}): Buffer {
  const eol = opts.eol ?? '\r\n';
  const version = opts.version ?? 'HTTP/1.1';
  const parts: Buffer[] = [Buffer.from(method), Buffer.from(' '), Buffer.from(target), Buffer.from(version ? ` ${version}${eol}` : eol)];
  for (const h of headers) {
    if (Buffer.isBuffer(h)) parts.push(h, Buffer.from(eol));
    else parts.push(Buffer.from(`${h[0]}: `), Buffer.from(h[1]), Buffer.from(eol));
  }
  parts.push(Buffer.from(eol));
  return Buffer.concat(parts);
}

/** The state generators draw from: ids seen in answers, the real video. */
interface World {
  video: Buffer;
  sessionIds: string[];
  uploadIds: string[];
}

const ID_ABC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const randomId = (r: Rng) => Array.from({ length: 21 }, () => ID_ABC[r.int(ID_ABC.length)]).join('');
const GARBAGE_IDS = ['', '..', '%2e%2e', '%00', 'a'.repeat(5000), 'ö'.repeat(21), '%ff%fe', 'x/y', '?', '#frag', ' ', '\t', 'A'.repeat(20), 'A'.repeat(22)];

function pickId(r: Rng, w: World, pool: 'session' | 'upload' | 'any' = 'any'): string {
  const known = pool === 'session' ? w.sessionIds : pool === 'upload' ? w.uploadIds : [...w.sessionIds, ...w.uploadIds];
  return r.weighted<() => string>([
    [() => (known.length ? r.pick(known) : randomId(r)), 5],
    [() => randomId(r), 2],
    [() => r.pick(GARBAGE_IDS), 2],
  ])();
}

/** A body of some sort: real video (prefix or whole), random bytes, text, nothing. */
function payload(r: Rng, w: World): { bytes: Buffer; label: string } {
  return r.weighted<() => { bytes: Buffer; label: string }>([
    [() => ({ bytes: w.video.subarray(0, r.range(1, w.video.length)), label: 'video-prefix' }), 4],
    [() => ({ bytes: w.video, label: 'video' }), 1],
    [() => ({ bytes: r.bytes(r.range(1, 64 * 1024)), label: 'random' }), 3],
    [() => ({ bytes: Buffer.from('hello, not a video\n'.repeat(r.range(1, 200))), label: 'text' }), 1],
    [() => ({ bytes: Buffer.alloc(0), label: 'empty' }), 1],
  ])();
}

const host = (): Header => ['Host', '127.0.0.1'];
/** An origin-form target of visible ASCII and of a sane length: nothing for the parser to refuse. */
const plainTarget = (t: string) => t.startsWith('/') && /^[\x21-\x7e]+$/.test(t) && t.length < 4096;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'get', 'Post', 'G E T', 'GETT', 'PRI', 'X'.repeat(300), ''];
const ROUTES = (r: Rng, w: World): string[] => [
  `${API}/upload`,
  '/analyze/highlights',
  '/analyze/workout',
  `${API}/uploads`,
  `${API}/uploads/${pickId(r, w, 'upload')}`,
  `${API}/status/${pickId(r, w)}`,
  `${API}/results/${pickId(r, w)}`,
  `${API}/events/${pickId(r, w)}`,
  `${API}/cancel/${pickId(r, w)}`,
  `${API}/cleanup/${pickId(r, w)}`,
  `${API}/ws`,
  '/health',
  '/metrics',
  '/',
  '/index.html',
  '/nope',
];

// Each generator returns one request. They draw everything from the round's Rng.
type Generator = (r: Rng, w: World) => FuzzRequest;

/** Mutated request lines: methods, targets, versions, line endings. */
const requestLine: Generator = (r, w) => {
  const method = r.pick(METHODS);
  const target = r.weighted<() => string | Buffer>([
    [() => r.pick(ROUTES(r, w)), 4],
    [() => '/' + 'a'.repeat(r.pick([1000, 8 * 1024, 70 * 1024])), 2],
    [() => Buffer.from(`/health/${'é🎬'.repeat(r.range(1, 50))}`), 1],
    [() => Buffer.concat([Buffer.from(`${API}/status/`), r.bytes(r.range(1, 40))]), 2],
    [() => r.pick(['*', '', 'http://127.0.0.1/health', '//health', '/%', '/%zz', '/health?' + '&'.repeat(5000), '/../../etc/passwd', '/\0']), 2],
  ])();
  const version = r.pick(['HTTP/1.1', 'HTTP/1.0', '', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1 extra']);
  const eol = r.pick(['\r\n', '\r\n', '\n', '\r']);
  const headers: Header[] = r.chance(0.8) ? [host()] : [];
  // uWS (this build) neither answers nor closes a request without Host, or any HTTP/1.0
  // request, until its 10 s idle timeout: those are not judged.
  const valid = headers.length > 0 && ['GET', 'HEAD', 'OPTIONS', 'DELETE'].includes(method) && typeof target === 'string' && plainTarget(target) && version === 'HTTP/1.1' && eol === '\r\n';
  return { kind: 'reqline', label: `${method.slice(0, 10)} ${version || '(none)'} ${JSON.stringify(eol)}`, head: buildHead(method, target, headers, { version, eol }), body: Buffer.alloc(0), wellFormed: valid, isHead: method === 'HEAD' };
};

/** Header mutations on otherwise plausible requests. */
const headerMutations: Generator = (r, w) => {
  const target = r.pick(ROUTES(r, w));
  const method = r.pick(['GET', 'POST', 'PATCH', 'HEAD']);
  const headers: Header[] = [host()];
  const labels: string[] = [];
  let valid = true;
  for (let i = r.range(1, 3); i > 0; i--) {
    const m = r.int(10);
    labels.push(`m${m}`);
    switch (m) {
      case 0: // duplicates
        headers.push(host(), ['Content-Type', 'text/plain'], ['Content-Type', 'multipart/form-data; boundary=x']);
        break;
      case 1: // one oversized value
        headers.push(['X-Big', 'v'.repeat(r.pick([4 * 1024, 16 * 1024, 100 * 1024]))]);
        valid = false;
        break;
      case 2: // many headers
        for (let j = r.pick([50, 120, 300]); j > 0; j--) headers.push([`X-H${j}`, String(j)]);
        valid = false;
        break;
      case 3: // garbage names
        headers.push([r.pick(['X Y', 'X\0Y', 'Ü', '', ' Lead', 'Trail ', '(x)', 'a:b']), 'v']);
        valid = false;
        break;
      case 4: // garbage value bytes
        headers.push(['X-Bin', Buffer.from(r.bytes(r.range(1, 64)).map((b) => (b === 10 || b === 13 ? 32 : b)))]);
        valid = false;
        break;
      case 5: // obsolete line folding
        headers.push(['X-Fold', 'a\r\n b']);
        valid = false;
        break;
      case 6: // a line without a colon
        headers.push(Buffer.from(r.pick(['NoColonHere', ':', ': value', ' '])));
        valid = false;
        break;
      case 7: // auth and tus headers with junk
        headers.push(['Authorization', r.pick(['Bearer', 'Bearer ' + 'x'.repeat(5000), 'Basic Og==', '\t'])], ['Tus-Resumable', r.pick(['1.0.0', '0.2.2', ''])]);
        break;
      case 8: // Expect and Connection tricks
        headers.push(['Expect', r.pick(['100-continue', 'nonsense'])], ['Connection', r.pick(['close', 'keep-alive', 'Upgrade', 'x, y, z'])]);
        if (method === 'POST' || method === 'PATCH') valid = false; // 100-continue: we send the body without waiting
        break;
      case 9: // Content-Length and Transfer-Encoding together (request smuggling shape)
        headers.push(['Content-Length', '5'], ['Transfer-Encoding', 'chunked']);
        valid = false;
        break;
    }
  }
  let body: Buffer = Buffer.alloc(0);
  if ((method === 'POST' || method === 'PATCH') && !labels.includes('m9')) {
    body = r.bytes(r.range(0, 2048));
    headers.push(['Content-Length', String(body.length)]);
  } else if (labels.includes('m9')) body = Buffer.from('0\r\n\r\n');
  return { kind: 'headers', label: labels.join('+'), head: buildHead(method, target, headers), body, wellFormed: valid && plainTarget(target), slow: target.startsWith('/analyze'), isHead: method === 'HEAD' };
};

/** Content-Length values that lie, overflow or do not parse. */
const contentLength: Generator = (r, w) => {
  const target = r.pick([`${API}/upload`, '/analyze/highlights', `${API}/uploads`, `${API}/uploads/${pickId(r, w, 'upload')}`, '/health', '/nope', `${API}/cancel/${pickId(r, w)}`]);
  const method = target === '/health' ? r.pick(['GET', 'POST']) : target.includes('/uploads/') ? 'PATCH' : 'POST';
  const body = r.chance(0.5) ? payload(r, w).bytes : r.bytes(r.range(0, 4096));
  const n = body.length;
  const [label, values, valid] = r.pick<[string, string[], boolean]>([
    ['exact', [String(n)], true],
    ['shorter', [String(Math.max(0, n - r.range(1, 100)))], false],
    ['longer', [String(n + r.range(1, 1000))], false],
    ['negative', ['-1'], false],
    ['ten-digits', ['1000000000'], false],
    ['nine-digits', ['999999999'], false],
    ['huge', ['99999999999999999999999'], false],
    ['hex', ['0x10'], false],
    ['plus', [`+${n}`], false],
    ['spaces', [` ${n} `], false],
    ['float', [`${n}.0`], false],
    ['empty', [''], false],
    ['list', [`${n}, ${n}`], false],
    ['dup-same', [String(n), String(n)], false],
    ['dup-diff', [String(n), String(n + 1)], false],
    ['zero', ['0'], false],
  ]);
  const headers: Header[] = [host()];
  const ct = r.weighted<string | null>([
    ['multipart/form-data; boundary=fuzzboundary', 3],
    ['application/offset+octet-stream', 2],
    ['application/octet-stream', 1],
    [null, 1],
  ]);
  if (ct) headers.push(['Content-Type', ct]);
  if (target.startsWith(`${API}/uploads`)) headers.push(['Tus-Resumable', '1.0.0'], ['Upload-Length', String(r.pick([n, w.video.length, 100]))], ['Upload-Offset', '0']);
  for (const v of values) headers.push(['Content-Length', v]);
  return { kind: 'content-length', label, head: buildHead(method, target, headers), body, wellFormed: valid && plainTarget(target), slow: target.startsWith('/analyze') };
};

/** Transfer-Encoding: chunked, correct and broken. */
const chunked: Generator = (r, w) => {
  const target = r.pick([`${API}/upload`, '/analyze/workout', `${API}/uploads/${pickId(r, w, 'upload')}`, `${API}/uploads`, '/nope', '/health']);
  const isTusPatch = target.includes('/uploads/');
  const { body: data, label: bodyLabel } = r.chance(0.5) ? multipartBody(r, w, 'fuzzchunk') : (({ bytes, label }) => ({ body: bytes, label }))(payload(r, w));
  const sizes: number[] = [];
  for (let left = data.length; left > 0; ) {
    const s = Math.min(left, r.range(1, 16 * 1024));
    sizes.push(s);
    left -= s;
  }
  const variant = r.pick([
    'ok', 'ok', 'ok', 'no-terminator', 'bad-hex', 'size-too-big', 'size-too-small', 'huge-size', 'negative', 'extension',
    'trailers', 'missing-crlf', 'lf-only', 'leading-space', 'empty-size',
  ] as const);
  const parts: Buffer[] = [];
  let off = 0;
  sizes.forEach((s, i) => {
    const chunk = data.subarray(off, off + s);
    off += s;
    const first = i === 0;
    let size = s.toString(16);
    let eol = '\r\n';
    if (first) {
      if (variant === 'bad-hex') size = 'zz';
      if (variant === 'size-too-big') size = (s + 10).toString(16);
      if (variant === 'size-too-small') size = Math.max(0, s - 10).toString(16);
      if (variant === 'huge-size') size = 'ffffffffffffffffff';
      if (variant === 'negative') size = '-' + size;
      if (variant === 'extension') size += ';name=value;x';
      if (variant === 'leading-space') size = ' ' + size;
      if (variant === 'empty-size') size = '';
    }
    if (variant === 'lf-only') eol = '\n';
    parts.push(Buffer.from(size + eol), chunk, Buffer.from(variant === 'missing-crlf' && first ? '' : eol));
  });
  if (variant !== 'no-terminator') parts.push(Buffer.from(variant === 'trailers' ? '0\r\nX-Trailer: 1\r\n\r\n' : variant === 'lf-only' ? '0\n\n' : '0\r\n\r\n'));
  const te = r.weighted<string>([['chunked', 6], ['Chunked', 1], ['gzip, chunked', 1], ['chunked, gzip', 1], ['identity', 1], ['chunked\t', 1]]);
  const headers: Header[] = [host(), ['Transfer-Encoding', te]];
  if (isTusPatch) headers.push(['Tus-Resumable', '1.0.0'], ['Content-Type', 'application/offset+octet-stream'], ['Upload-Offset', '0']);
  else headers.push(['Content-Type', 'multipart/form-data; boundary=fuzzchunk']);
  const method = isTusPatch ? 'PATCH' : target === '/health' ? 'GET' : 'POST';
  return {
    kind: 'chunked',
    label: `${variant} te=${JSON.stringify(te)} body=[${bodyLabel}]`,
    head: buildHead(method, target, headers),
    body: Buffer.concat(parts),
    // An empty body is still valid framing: "0\r\n\r\n" alone.
    wellFormed: variant === 'ok' && te === 'chunked' && plainTarget(target),
    slow: target.startsWith('/analyze'),
  };
};

/** A multipart/form-data body with some framing mistake (or none). */
function multipartBody(r: Rng, w: World, boundary: string): { body: Buffer; label: string } {
  const fileField = r.weighted<string>([['file', 5], ['video', 3], ['upload', 1], ['', 1]]);
  const filename = r.weighted<string | null>([
    ['clip.mp4', 5],
    ['', 2],
    ['видео 🎬.mp4', 2],
    ['../../etc/passwd', 1],
    ['x'.repeat(1000) + '.mp4', 1],
    ['a"b.mp4', 1],
    [null, 1], // no filename: busboy sees a text field
  ]);
  // Now and then a file over MAX_UPLOAD_BYTES that starts like a video: refused (413) mid-stream.
  const file = r.chance(0.03) ? { bytes: Buffer.concat([w.video, Buffer.alloc(MAX_UPLOAD + 1024 - w.video.length, 7)]), label: 'oversize' } : payload(r, w);
  const fields: Array<[string, string]> = [];
  if (r.chance(0.7)) fields.push(['analysis_type', r.weighted([['highlights', 4], ['workout', 3], ['dance', 1], ['', 1]])]);
  if (r.chance(0.4)) fields.push(['params', r.pick(['{"min_significance": 4}', '{}', '{min:', '[1]', '{"max_highlights": 1000}', 'x'.repeat(70 * 1024)])]);
  if (r.chance(0.1)) fields.push(['colour', 'red']);

  const variant = r.weighted<string>([
    ['ok', 8], ['no-close', 4], ['close-without-dashes', 2], ['truncated', 4], ['wrong-boundary', 2], ['two-files', 2],
    ['many-parts', 1], ['no-part-header-end', 1], ['preamble-epilogue', 1], ['lf-only', 1], ['garbage', 1],
  ]);
  const eol = variant === 'lf-only' ? '\n' : '\r\n';
  const b = variant === 'wrong-boundary' ? boundary + 'X' : boundary;
  const parts: Buffer[] = [];
  if (variant === 'preamble-epilogue') parts.push(Buffer.from(`this is a preamble${eol}`));
  const fieldPart = (name: string, value: string) => parts.push(Buffer.from(`--${b}${eol}Content-Disposition: form-data; name="${name}"${eol}${eol}${value}${eol}`));
  const filePart = (bytes: Buffer) => {
    const fn = filename === null ? '' : `; filename="${filename}"`;
    const hdrEnd = variant === 'no-part-header-end' ? eol : eol + eol;
    parts.push(Buffer.from(`--${b}${eol}Content-Disposition: form-data; name="${fileField}"${fn}${eol}Content-Type: video/mp4${hdrEnd}`), bytes, Buffer.from(eol));
  };
  for (const [k, v] of fields) fieldPart(k, v);
  if (variant === 'many-parts') for (let i = 0; i < 50; i++) fieldPart(`f${i}`, String(i));
  if (variant === 'garbage') parts.push(r.bytes(r.range(1, 4096)));
  else filePart(file.bytes);
  if (variant === 'two-files') filePart(w.video.subarray(0, r.range(1, w.video.length)));
  if (variant !== 'no-close' && variant !== 'truncated') parts.push(Buffer.from(variant === 'close-without-dashes' ? `--${b}${eol}` : `--${b}--${eol}`));
  if (variant === 'preamble-epilogue') parts.push(Buffer.from('and an epilogue'));
  let body = Buffer.concat(parts);
  if (variant === 'truncated') body = body.subarray(0, r.range(0, body.length));
  return { body, label: `${variant} field=${fileField || '(empty)'} ${file.label}${filename === '' ? ' filename=""' : ''}` };
}

/** Multipart uploads to the v1 and legacy routes. */
const multipart: Generator = (r, w) => {
  const target = r.weighted<string>([[`${API}/upload`, 6], ['/analyze/highlights', 2], ['/analyze/workout', 2], [`${API}/uploads`, 1]]);
  const boundary = r.chance(0.2) ? '----WebKitFormBoundary' + r.alnum(16) : r.alnum(r.range(1, 70));
  const { body, label } = multipartBody(r, w, boundary);
  const ct = r.weighted<string>([
    [`multipart/form-data; boundary=${boundary}`, 8],
    [`multipart/form-data; boundary="${boundary}"`, 2],
    ['multipart/form-data', 1],
    [`multipart/mixed; boundary=${boundary}`, 1],
    [`multipart/form-data; boundary=${boundary}; boundary=other`, 1],
    [`MULTIPART/FORM-DATA; BOUNDARY=${boundary}`, 1],
  ]);
  const headers: Header[] = [host(), ['Content-Type', ct]];
  const framing = r.weighted<string>([['content-length', 8], ['chunked', 2]]);
  let wire = body;
  if (framing === 'content-length') headers.push(['Content-Length', String(body.length)]);
  else {
    headers.push(['Transfer-Encoding', 'chunked']);
    wire = Buffer.concat([Buffer.from(body.length.toString(16) + '\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
    if (body.length === 0) wire = Buffer.from('0\r\n\r\n');
  }
  return { kind: 'multipart', label: `${label} ${framing}`, head: buildHead('POST', target, headers), body: wire, wellFormed: true, slow: target.startsWith('/analyze') };
};

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The tus routes with good and bad protocol headers. */
const tusRequests: Generator = (r, w) => {
  const op = r.weighted<string>([['create', 4], ['patch', 5], ['head', 2], ['delete', 1], ['options', 1], ['override', 1]]);
  const headers: Header[] = [host()];
  const tusVersion = r.weighted<string | null>([['1.0.0', 8], ['0.2.2', 1], [null, 1]]);
  if (tusVersion) headers.push(['Tus-Resumable', tusVersion]);
  let body: Buffer = Buffer.alloc(0);
  let method = 'POST';
  const uploadId = pickId(r, w, 'upload');
  let target = `${API}/uploads/${uploadId}`;
  const withBody = (bytes: Buffer) => {
    body = bytes;
    headers.push(['Content-Type', r.weighted([['application/offset+octet-stream', 8], ['text/plain', 1], ['application/offset+octet-stream; x=1', 1]])]);
    if (r.chance(0.2)) {
      const alg = r.pick(['sha1', 'sha256', 'md5', 'crc32', 'SHA1']);
      const good = ['sha1', 'sha256', 'md5'].includes(alg.toLowerCase()) ? createHash(alg.toLowerCase()).update(bytes).digest('base64') : 'AAAA';
      headers.push(['Upload-Checksum', r.pick([`${alg} ${good}`, `${alg} ${b64('wrong')}`, 'garbage', `${alg}`])]);
    }
    headers.push(['Content-Length', String(bytes.length)]);
  };
  switch (op) {
    case 'create': {
      target = `${API}/uploads`;
      headers.push(['Upload-Length', r.weighted([[String(w.video.length), 6], ['0', 1], ['-1', 1], ['abc', 1], [String(MAX_UPLOAD + 1), 1], ['99999999999999999', 1], ['', 1]])]);
      const meta = r.weighted<string | null>([
        [`filename ${b64('clip.mp4')},analysis_type ${b64(r.pick(['highlights', 'workout', 'x']))}`, 6],
        [`filename ${b64('видео.mp4')},params ${b64(r.pick(['{"min_significance":3}', '{bad', '[]']))}`, 2],
        ['filename', 1],
        ['a b c', 1],
        ['k !!!notbase64', 1],
        [`k ${b64('1')},k ${b64('2')}`, 1],
        ['x'.repeat(10 * 1024), 1],
        [null, 2],
      ]);
      if (meta !== null) headers.push(['Upload-Metadata', meta]);
      if (r.chance(0.05)) headers.push(['Upload-Defer-Length', '1']);
      if (r.chance(0.05)) headers.push(['Upload-Concat', 'partial']);
      if (r.chance(0.3)) withBody(w.video.subarray(0, r.range(1, w.video.length)));
      break;
    }
    case 'patch':
      method = 'PATCH';
      headers.push(['Upload-Offset', r.weighted([['0', 6], [String(r.int(w.video.length)), 2], ['-5', 1], ['abc', 1], ['99999999999999999999', 1]])]);
      withBody(r.chance(0.7) ? w.video.subarray(0, r.range(0, w.video.length)) : r.bytes(r.range(0, 8192)));
      break;
    case 'head':
      method = 'HEAD';
      break;
    case 'delete':
      method = 'DELETE';
      break;
    case 'options':
      method = 'OPTIONS';
      if (r.chance(0.5)) target = `${API}/uploads`;
      headers.push(['Origin', r.pick(['http://example.test', 'null', '\u00e9'])], ['Access-Control-Request-Method', r.pick(['PATCH', 'BOGUS'])]);
      break;
    case 'override':
      headers.push(['X-HTTP-Method-Override', r.pick(['PATCH', 'DELETE', 'HEAD', 'GET', 'patch', ''])], ['Upload-Offset', '0']);
      if (r.chance(0.5)) withBody(w.video.subarray(0, r.range(1, 4096)));
      break;
  }
  return {
    kind: 'tus',
    label: `${op} v=${tusVersion}`,
    head: buildHead(method, target, headers),
    body,
    wellFormed: plainTarget(target),
    isHead: method === 'HEAD',
    uploadId: op === 'create' ? undefined : uploadId,
  };
};

/** GETs on the session routes (SSE included) and the session POST/DELETE routes, random ids. */
const sessionReads: Generator = (r, w) => {
  const [method, route] = r.pick([
    ['GET', 'status'], ['GET', 'results'], ['GET', 'events'], ['GET', 'events'], ['POST', 'cancel'], ['DELETE', 'cleanup'], ['HEAD', 'status'],
  ] as const);
  const id = pickId(r, w, r.chance(0.8) ? 'session' : 'upload');
  const query = r.weighted<string>([['', 6], ['?lastEventId=-1', 1], ['?lastEventId=99999999999999999999', 1], ['?token=x', 1], ['?a=%zz&&=', 1]]);
  const headers: Header[] = [host()];
  if (route === 'events' && r.chance(0.5)) headers.push(['Last-Event-ID', r.pick(['0', '1', '-1', 'abc', '1e9', String(2 ** 53 + 1)])]);
  if (route === 'events') headers.push(['Accept', 'text/event-stream']);
  // Cancel and cleanup on real sessions would empty the world too fast: mostly random ids.
  const target = `${API}/${route}/${(route === 'cancel' || route === 'cleanup') && r.chance(0.7) ? randomId(r) : id}${query}`;
  return { kind: 'session', label: `${method} ${route}`, head: buildHead(method, target, headers), body: Buffer.alloc(0), wellFormed: plainTarget(target), isHead: method === 'HEAD' };
};

/** A WebSocket frame; `mask` false and odd opcodes/reserved bits are protocol errors. */
function wsFrame(r: Rng, opcode: number, data: Buffer, opts: { fin?: boolean; mask?: boolean; rsv?: number; declared?: number } = {}): Buffer {
  const { fin = true, mask = true, rsv = 0 } = opts;
  const len = opts.declared ?? data.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf)];
  const m = mask ? 0x80 : 0;
  if (len < 126) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else head.push(m | 127, 0, 0, 0, 0, (len >>> 24) & 0xff, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), data]);
  const key = r.bytes(4);
  const masked = Buffer.from(data.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** WebSocket upgrades (valid or not), then a burst of good and bad frames. */
const websocket: Generator = (r, w) => {
  const headers: Header[] = [host()];
  const broken = r.weighted<string>([['none', 7], ['no-key', 1], ['bad-key', 1], ['bad-version', 1], ['no-upgrade', 1], ['post', 1]]);
  if (broken !== 'no-upgrade') headers.push(['Upgrade', 'websocket'], ['Connection', 'Upgrade']);
  if (broken !== 'no-key') headers.push(['Sec-WebSocket-Key', broken === 'bad-key' ? r.pick(['', 'short', 'x'.repeat(200)]) : r.bytes(16).toString('base64')]);
  headers.push(['Sec-WebSocket-Version', broken === 'bad-version' ? r.pick(['8', '', 'abc']) : '13']);
  if (r.chance(0.2)) headers.push(['Sec-WebSocket-Extensions', r.pick(['permessage-deflate', 'garbage; x=', 'permessage-deflate; client_max_window_bits=99'])]);
  if (r.chance(0.1)) headers.push(['Sec-WebSocket-Protocol', 'a, b, ' + 'c'.repeat(1000)]);
  const target = r.weighted<string>([[`${API}/ws`, 8], [`${API}/ws?token=x`, 1], [`${API}/ws/extra`, 1]]);
  const frames: Buffer[] = [];
  const text = (s: string | Buffer) => wsFrame(r, 1, Buffer.from(s));
  for (let i = r.range(1, 6); i > 0; i--) {
    frames.push(
      r.weighted<() => Buffer>([
        [() => text(JSON.stringify({ op: 'subscribe', sessionId: pickId(r, w, 'session'), since: r.pick([undefined, 0, 1, -1, 1.5, 'x', 1e20]) })), 6],
        [() => text(JSON.stringify({ op: r.pick(['unsubscribe', 'ping', 'nope', null]), sessionId: r.pick([pickId(r, w), 5, null]) })), 2],
        [() => text(r.pick(['{', '[]', 'null', '"s"', '{"op":"subscribe","sessionId":{"a":1}}'])), 2],
        [() => text(Buffer.from([0xc3, 0x28, 0xff])), 1], // invalid UTF-8 in a text frame
        [() => wsFrame(r, 2, r.bytes(r.range(0, 200))), 1], // binary
        [() => wsFrame(r, 1, Buffer.alloc(17 * 1024, 'a')), 1], // over maxPayloadLength
        [() => wsFrame(r, r.pick([9, 10]), r.bytes(r.range(0, 125))), 1], // ping / pong
        [() => wsFrame(r, 9, r.bytes(200)), 1], // control frame over 125 bytes
        [() => wsFrame(r, 8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from('bye')])), 1], // close
        [() => wsFrame(r, 8, Buffer.from([0x00])), 1], // close with a 1-byte payload
        [() => wsFrame(r, r.pick([3, 7, 11, 15]), r.bytes(10)), 1], // reserved opcode
        [() => wsFrame(r, 1, Buffer.from('{}'), { rsv: r.range(1, 7) }), 1],
        [() => wsFrame(r, 1, Buffer.from('{}'), { mask: false }), 1],
        [() => wsFrame(r, 0, Buffer.from('cont')), 1], // continuation without a start
        [() => wsFrame(r, 1, Buffer.from('{"op":'), { fin: false }), 1], // a start never finished
        [() => wsFrame(r, 1, Buffer.from('short'), { declared: r.pick([100, 70_000, 2 ** 31]) }), 1], // truncated
        [() => r.bytes(r.range(1, 64)), 1],
      ])(),
    );
  }
  const method = broken === 'post' ? 'POST' : 'GET';
  if (method === 'POST') headers.push(['Content-Length', '0']);
  return {
    kind: 'websocket',
    label: broken,
    head: buildHead(method, target, headers),
    body: Buffer.alloc(0),
    afterUpgrade: Buffer.concat(frames),
    // Without a valid upgrade this is a plain GET, which must be answered too.
    wellFormed: broken !== 'bad-key' && broken !== 'bad-version',
  };
};

/** /health, /metrics, static files, unknown paths, pipelining, HTTP/1.0. */
const misc: Generator = (r) => {
  const target = r.pick(['/health', '/metrics', '/', '/index.html', '/nope', '/api/v1', `${API}/`, `${API}/upload/`, '/HEALTH', '/health/', '/health?x=1']);
  const method = r.weighted<string>([['GET', 6], ['HEAD', 2], ['POST', 1], ['DELETE', 1], ['OPTIONS', 1]]);
  const version = r.chance(0.2) ? 'HTTP/1.0' : 'HTTP/1.1';
  const headers: Header[] = version === 'HTTP/1.0' && r.chance(0.5) ? [] : [host()];
  if (method === 'POST') headers.push(['Content-Length', '0']);
  let head = buildHead(method, target, headers, { version });
  let label = `${method} ${target} ${version}`;
  if (r.chance(0.2)) {
    // Pipelining: several requests in one write.
    head = Buffer.concat([head, buildHead('GET', '/health', [host()]), buildHead('GET', '/metrics', [host()])]);
    label += ' pipelined';
  }
  return { kind: 'misc', label, head, body: Buffer.alloc(0), wellFormed: version === 'HTTP/1.1', isHead: method === 'HEAD' };
};

/** Not HTTP at all. */
const garbage: Generator = (r) => {
  const [label, bytes] = r.pick<[string, () => Buffer]>([
    ['random', () => r.bytes(r.range(1, 8192))],
    ['h2-preface', () => Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['tls-hello', () => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), r.bytes(500)])],
    ['crlf-only', () => Buffer.from('\r\n'.repeat(r.range(1, 5000)))],
    ['long-line', () => Buffer.alloc(r.pick([10_000, 100_000]), 'A')],
    ['nul', () => Buffer.alloc(r.range(1, 100))],
    ['half-line', () => Buffer.from('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n')],
  ]);
  return { kind: 'garbage', label, head: bytes(), body: Buffer.alloc(0), wellFormed: false };
};

const GENERATORS: Record<string, [Generator, number]> = {
  reqline: [requestLine, 8],
  headers: [headerMutations, 8],
  'content-length': [contentLength, 10],
  chunked: [chunked, 10],
  multipart: [multipart, 22],
  tus: [tusRequests, 14],
  session: [sessionReads, 10],
  websocket: [websocket, 8],
  misc: [misc, 5],
  garbage: [garbage, 5],
};

// --- sending one request --------------------------------------------------------------------

interface Outcome {
  /** Status of the first answer, null when none came. */
  status: number | null;
  received: number;
  /** The server closed or reset the connection (before we did). */
  serverClosed: boolean;
  error: string | null;
  timedOut: boolean;
  /** The first answer came in full (headers and declared body). */
  complete: boolean;
  /** A HEAD request answered with body bytes after the headers (a protocol error). */
  headWithBody: boolean;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Drops interim answers (100 Continue; uWS sends one for any Expect: 100-continue) before the final one. */
function skipInterim(buf: Buffer): Buffer {
  while (/^HTTP\/1\.[01] 1(?!01)\d\d/.test(buf.subarray(0, 12).toString('latin1'))) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) break;
    buf = buf.subarray(end + 4);
  }
  return buf;
}

/** How far the first (final) answer in `buf` has arrived. */
function parseAnswer(buf: Buffer, isHead: boolean): { status: number | null; complete: boolean; stream: boolean } {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.subarray(0, 16).toString('latin1'));
  const status = m ? Number(m[1]) : null;
  const end = buf.indexOf('\r\n\r\n');
  if (status === null || end < 0) return { status, complete: false, stream: false };
  const head = buf.subarray(0, end).toString('latin1').toLowerCase();
  const cl = /\r\ncontent-length: *(\d+)/.exec(head);
  if (status === 101) return { status, complete: true, stream: true };
  if (/\r\ncontent-type: *text\/event-stream/.test(head)) return { status, complete: true, stream: true };
  if (isHead || status === 204 || status === 304) return { status, complete: true, stream: false };
  if (cl) return { status, complete: buf.length >= end + 4 + Number(cl[1]), stream: false };
  if (/\r\ntransfer-encoding: *chunked/.test(head)) return { status, complete: buf.indexOf('\r\n0\r\n\r\n', end) >= 0, stream: false };
  return { status, complete: false, stream: false }; // ends when the server closes
}

/** Writes `data` in one go, or in random slices with short pauses (exercises the parser's resumption). */
async function writeSome(sock: net.Socket, data: Buffer, r: Rng, sliced: boolean): Promise<void> {
  if (!sliced || data.length < 2) {
    if (data.length && !sock.destroyed) sock.write(data);
    return;
  }
  for (let off = 0; off < data.length && !sock.destroyed; ) {
    const n = Math.min(data.length - off, r.range(1, Math.max(1, Math.floor(data.length / 3))));
    sock.write(data.subarray(off, off + n));
    off += n;
    await delay(r.int(3));
  }
}

function sendRequest(port: number, req: FuzzRequest, mode: CloseMode, r: Rng): Promise<Outcome> {
  return new Promise((resolve) => {
    const out: Outcome = { status: null, received: 0, serverClosed: false, error: null, timedOut: false, complete: false, headWithBody: false };
    const chunks: Buffer[] = [];
    let kept = 0;
    let weClosed = false;
    let upgraded = false;
    let finished = false;
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (!sock.destroyed) sock.destroy();
      resolve(out);
    };
    const closeOurs = (how: 'end' | 'destroy') => {
      if (weClosed || sock.destroyed) return;
      weClosed = true;
      if (how === 'destroy') finish();
      else {
        sock.end();
        // Give the server a moment to answer a half-closed request, then drop it.
        setTimeout(finish, 200);
      }
    };
    const timer = setTimeout(() => {
      out.timedOut = true;
      finish();
    }, req.wellFormed ? SOCKET_TIMEOUT_MS : MALFORMED_TIMEOUT_MS);
    sock.on('error', (err: NodeJS.ErrnoException) => {
      out.error ??= err.code ?? err.message;
      if (!weClosed) out.serverClosed = true;
      finish();
    });
    sock.on('end', () => {
      if (!weClosed) out.serverClosed = true;
      finish();
    });
    sock.on('close', finish);
    sock.on('data', (d: Buffer) => {
      out.received += d.length;
      if (kept < 64 * 1024) {
        chunks.push(d);
        kept += d.length;
      }
      const all = Buffer.concat(chunks);
      const buf = skipInterim(all);
      const a = parseAnswer(buf, Boolean(req.isHead));
      out.status = a.status;
      if (req.isHead && a.complete && buf.length > buf.indexOf('\r\n\r\n') + 4 && !buf.includes('HTTP/1.1 ', 4)) out.headWithBody = true;
      if (!a.complete || out.complete) return;
      out.complete = true;
      harvestIds(all);
      if (a.status === 101 && req.afterUpgrade && !upgraded) {
        upgraded = true;
        void writeSome(sock, req.afterUpgrade, r, r.chance(0.3)).then(() => setTimeout(() => closeOurs(r.chance(0.5) ? 'end' : 'destroy'), r.int(300)));
      } else if (a.stream) {
        // SSE: listen a little, then hang up like a browser tab being closed.
        setTimeout(() => closeOurs(r.chance(0.5) ? 'end' : 'destroy'), r.int(300));
      } else {
        // Linger briefly (pipelined answers, a close the server might send), then hang up.
        setTimeout(() => closeOurs(r.chance(0.5) ? 'end' : 'destroy'), r.int(50));
      }
    });
    sock.on('connect', async () => {
      const sliced = r.chance(0.2);
      const pause = () => delay(r.int(51));
      const all = Buffer.concat([req.head, req.body]);
      switch (mode) {
        case 'full':
        case 'half-close':
          await writeSome(sock, all, r, sliced);
          if (mode === 'half-close') closeOurs('end');
          break;
        case 'destroy-in-headers':
          await writeSome(sock, req.head.subarray(0, r.int(req.head.length)), r, sliced);
          await pause();
          closeOurs('destroy');
          break;
        case 'end-after-headers':
        case 'destroy-after-headers':
          await writeSome(sock, req.head, r, sliced);
          await pause();
          closeOurs(mode === 'end-after-headers' ? 'end' : 'destroy');
          break;
        case 'end-mid-body':
        case 'destroy-mid-body':
          await writeSome(sock, Buffer.concat([req.head, req.body.subarray(0, r.int(req.body.length + 1))]), r, sliced);
          await pause();
          closeOurs(mode === 'end-mid-body' ? 'end' : 'destroy');
          break;
      }
    });
  });
}

// --- the server under test ------------------------------------------------------------------

/** Signs of an error that escaped the handlers, in the server's output. */
const BAD_OUTPUT: Array<[string, RegExp]> = [
  ['Unhandled', /unhandled/i],
  ['uncaught', /uncaught/i],
  ['MaxListenersExceededWarning', /MaxListenersExceededWarning/],
  ['ERR_STREAM_DESTROYED', /ERR_STREAM_DESTROYED/],
  ['node warning', /\(node:\d+\) \[?\w*\]? ?\w*Warning/],
  ['stack trace', /^\s+at .+(:\d+:\d+\)?|\(native\)|\(<anonymous>\))$/m],
];

interface InFlight {
  round: number;
  req: FuzzRequest;
  mode: CloseMode;
}

interface Finding {
  what: string;
  /** Normalised first lines, to count each distinct problem once. */
  signature: string;
  detail: string;
  count: number;
  suspects: InFlight[];
}

let dir: string;
let dataDir: string;
let dumpDir: string;
let video: string;
const world: World = { video: Buffer.alloc(0), sessionIds: [], uploadIds: [] };
let server: ChildServer;
let serverLog = '';
let exits = 0;
let generation = 0;
let respawning: Promise<void> | null = null;
const inFlight = new Set<InFlight>();
/** Rounds that ended in the last second: a crash can come from their leftovers (a late disk write). */
const recent: Array<InFlight & { endedAt: number }> = [];
const suspectsNow = (): InFlight[] => {
  const since = Date.now() - 1000;
  return [...recent.filter((r) => r.endedAt >= since), ...inFlight];
};
/** When the server died: requests around then are not judged (the crash explains them). */
const crashTimes: number[] = [];
const findings = new Map<string, Finding>();

function harvestIds(buf: Buffer): void {
  const text = buf.toString('latin1');
  for (const m of text.matchAll(/"sessionId":"([A-Za-z0-9_-]{21})"/g)) remember(world.sessionIds, m[1]);
  for (const m of text.matchAll(/\/uploads\/([A-Za-z0-9_-]{21})/g)) remember(world.uploadIds, m[1]);
}

function remember(pool: string[], id: string): void {
  if (pool.includes(id)) return;
  pool.push(id);
  if (pool.length > 50) pool.splice(1, 1); // keep the first (seeded) one
}

/** The first 400 bytes of a request as a JS string literal, for the report. */
function show(buf: Buffer, max = 400): string {
  const s = JSON.stringify(buf.subarray(0, max).toString('latin1'));
  return buf.length > max ? `${s}…(${buf.length} bytes)` : s;
}

function record(what: string, detail: string, suspects: InFlight[], key?: string): void {
  const first = key ?? detail.split('\n').find((l) => /error|warning|unhandled|uncaught|exit/i.test(l)) ?? detail.split('\n')[0];
  const signature = `${what}: ${first.replace(/\b[A-Za-z0-9_-]{21}\b/g, 'ID').replace(/\d+/g, 'N').trim().slice(0, 200)}`;
  const f = findings.get(signature);
  if (f) {
    f.count++;
    return;
  }
  findings.set(signature, { what, signature, detail, count: 1, suspects });
  // Keep the suspects' bytes for replay.
  const sub = path.join(dumpDir, `finding-${findings.size}`);
  fs.mkdirSync(sub, { recursive: true });
  fs.writeFileSync(path.join(sub, 'detail.txt'), `${signature}\n\n${detail}\n`);
  for (const s of suspects) fs.writeFileSync(path.join(sub, `round-${s.round}-${s.mode}.bin`), Buffer.concat([s.req.head, s.req.body, s.req.afterUpgrade ?? Buffer.alloc(0)]));
}

/** Starts (or restarts) the child server and watches its output and exit. */
async function startServer(): Promise<void> {
  server = await spawnServer({
    DATA_DIR: dataDir,
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    QUEUE_LIMIT: '2',
    ENGINE_CONCURRENCY: '1',
    SESSION_TTL: '1h',
  });
  const gen = ++generation;
  const { proc } = server;
  const output = server.output;
  // Output is judged in blocks (a stack trace arrives in several chunks): 100 ms after the
  // last chunk, with the requests in flight when the block began.
  let scanned = 0;
  let pending: NodeJS.Timeout | null = null;
  let suspects: InFlight[] = [];
  const scan = () => {
    pending = null;
    const out = output();
    const text = out.slice(scanned);
    scanned = out.length;
    for (const [what, re] of BAD_OUTPUT) {
      const m = re.exec(text);
      if (m) {
        record(`server output: ${what}`, text.slice(Math.max(0, m.index - 300), m.index + 1500), suspects);
        return;
      }
    }
  };
  const onData = () => {
    if (pending) return;
    suspects = suspectsNow();
    pending = setTimeout(scan, 100);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  proc.on('exit', (code, signal) => {
    serverLog += `\n--- server ${gen} (exit ${code ?? signal}) ---\n${output()}`;
    if (stopping) return;
    // The dying words belong to the exit's report, not to a separate output finding.
    if (pending) clearTimeout(pending);
    exits++;
    crashTimes.push(Date.now());
    record(`process exit (${code ?? signal})`, output().slice(Math.max(scanned - 300, 0)).slice(-4000), pending ? suspects : suspectsNow());
    pending = null;
    respawning ??= startServer().finally(() => (respawning = null));
  });
}

let stopping = false;

async function stopServer(): Promise<void> {
  stopping = true;
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
  server.proc.kill('SIGTERM');
  const killer = setTimeout(() => server.proc.kill('SIGKILL'), 5000);
  await server.exited;
  clearTimeout(killer);
}

// --- the test -------------------------------------------------------------------------------

const stats = {
  rounds: 0,
  byKind: {} as Record<string, number>,
  byAnswer: {} as Record<string, number>,
  byMode: {} as Record<string, number>,
  skipped: 0,
  /** HEAD answers that carried a body: reported, not failed (not a crash). */
  headWithBody: [] as Judged[],
  /** Well-formed requests sent in full that the server closed on without a complete answer. */
  unanswered: [] as Judged[],
  /** Well-formed requests with no answer at all within SOCKET_TIMEOUT_MS (reported, not failed: load). */
  slowWellFormed: [] as Judged[],
  seconds: 0,
};
const bump = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);

interface Judged extends InFlight {
  outcome: Outcome;
  startedAt: number;
  endedAt: number;
}

/** Whether the server died during the round or just after it (then it explains the round). */
const nearCrash = (j: Judged) => crashTimes.some((t) => t >= j.startedAt - 50 && t <= j.endedAt + 1000);

/**
 * uWS (this build) takes up to 4 KiB of request head when it arrives in pieces (one TCP segment
 * can be larger) and closes the connection without an answer beyond: not judged.
 */
const UWS_MAX_HEAD = 4096;

test.before(async () => {
  dir = tempDir('vas-fuzz-');
  dataDir = path.join(dir, 'data');
  dumpDir = fs.mkdtempSync(path.join(os.tmpdir(), `http-fuzz-${SEED}-`));
  video = await makeTestVideo(dir, { seconds: 1, width: 160, height: 120, fps: 10, audio: false, name: 'tiny.mp4' });
  world.video = fs.readFileSync(video);
  await startServer();
  // Seed the world with one finished session (results, SSE replay) and one open tus upload.
  const up = await upload(`${server.url}${API}/upload`, video, { analysis_type: 'highlights' });
  assert.is(up.status, 202, JSON.stringify(up.body));
  await pollStatus(server.url, up.body.sessionId, isTerminalStatus, 60_000);
  world.sessionIds.push(up.body.sessionId);
  const tus = await fetch(`${server.url}${API}/uploads`, {
    method: 'POST',
    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(world.video.length), 'Upload-Metadata': `filename ${b64('tiny.mp4')}` },
  });
  assert.is(tus.status, 201);
  world.uploadIds.push(tus.headers.get('location')!.split('/').pop()!);
  console.log(`http-fuzz: seed=${SEED} rounds=${ROUNDS} cap=${WALL_MS / 1000}s concurrency=${CONCURRENCY} (FUZZ_SEED=${SEED} to repeat); dumps in ${dumpDir}`);
});

test.after(async () => {
  if (server) await stopServer();
  if (findings.size === 0) fs.rmSync(dumpDir, { recursive: true, force: true });
  if (process.env.FUZZ_LOG) fs.writeFileSync(process.env.FUZZ_LOG, serverLog);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('fuzz rounds: no process exit, no escaped error, every well-formed request answered', async () => {
  const families = Object.entries(GENERATORS).filter(([k]) => !ONLY || ONLY.has(k));
  assert.ok(families.length > 0, `FUZZ_ONLY matches no family (have ${Object.keys(GENERATORS).join(', ')})`);
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < ROUNDS && Date.now() - t0 < WALL_MS) {
      const round = next++;
      if (respawning) await respawning;
      const r = new Rng(mulberry32(SEED ^ Math.imul(round + 1, 0x9e3779b1)));
      const kind = r.weighted(families.map(([k, [, wgt]]) => [k, wgt] as const));
      const req = GENERATORS[kind][0](r, world);
      const mode = r.weighted<CloseMode>([
        ['full', 60], ['half-close', 5], ['end-after-headers', 6], ['destroy-after-headers', 6],
        ['end-mid-body', 8], ['destroy-mid-body', 11], ['destroy-in-headers', 4],
      ]);
      if (SKIP?.test(`${kind} ${req.label} close=${mode}`)) {
        stats.skipped++;
        continue;
      }
      const entry: InFlight = { round, req, mode };
      const startedAt = Date.now();
      inFlight.add(entry);
      const outcome = await sendRequest(server.port, req, mode, r);
      inFlight.delete(entry);
      recent.push({ ...entry, endedAt: Date.now() });
      if (recent.length > 4 * CONCURRENCY) recent.shift();
      const judged: Judged = { ...entry, outcome, startedAt, endedAt: Date.now() };
      stats.rounds++;
      bump(stats.byKind, kind);
      bump(stats.byMode, mode);
      bump(stats.byAnswer, outcome.status !== null ? `${String(outcome.status)[0]}xx` : outcome.timedOut ? 'timeout' : outcome.serverClosed ? 'closed' : 'we-closed');
      if (outcome.headWithBody) stats.headWithBody.push(judged);
      if (req.wellFormed && mode === 'full' && req.head.length <= UWS_MAX_HEAD) {
        // EPIPE: the server answered early and closed while we were still sending (allowed for a
        // body it will not read); curl and undici read that answer, this raw client loses it.
        if (outcome.serverClosed && !outcome.complete && outcome.error !== 'EPIPE') stats.unanswered.push(judged);
        else if (outcome.timedOut && outcome.status === null && !req.slow) stats.slowWellFormed.push(judged);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (respawning) await respawning;
  stats.seconds = (Date.now() - t0) / 1000;

  // Judged only now: a crash is seen (exit event) a little after the resets it causes.
  stats.unanswered = stats.unanswered.filter((u) => !nearCrash(u));
  stats.slowWellFormed = stats.slowWellFormed.filter((u) => !nearCrash(u));
  for (const u of stats.unanswered) {
    const o = u.outcome;
    record(
      'well-formed request closed without a (complete) answer',
      `${o.status === null ? 'no answer' : `status ${o.status}, answer cut short`} (${o.error ?? 'closed'}), ${o.received} bytes received\n${u.req.kind} [${u.req.label}]: ${show(Buffer.concat([u.req.head, u.req.body]))}`,
      [u],
      `${u.req.kind}/${u.req.label.split(' ')[0]} ${o.status === null ? 'no answer' : 'cut short'} (${o.error ?? 'closed'})`,
    );
  }
  const fmt = (o: Record<string, number>) => Object.entries(o).sort().map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(
    `http-fuzz summary: seed=${SEED} rounds=${stats.rounds} in ${stats.seconds.toFixed(1)}s | requests: ${fmt(stats.byKind)} | ` +
      `answers: ${fmt(stats.byAnswer)} | closes: ${fmt(stats.byMode)} | skipped=${stats.skipped} exits=${exits} findings=${findings.size} ` +
      `unanswered=${stats.unanswered.length} no-answer-in-${SOCKET_TIMEOUT_MS / 1000}s=${stats.slowWellFormed.length}`,
  );
  for (const s of stats.slowWellFormed.slice(0, 5)) console.log(`  no answer within ${SOCKET_TIMEOUT_MS} ms (round ${s.round}, ${s.req.kind} ${s.req.label}): ${show(s.req.head, 200)}`);
  if (stats.headWithBody.length) {
    const s = stats.headWithBody[0];
    console.log(`  note: ${stats.headWithBody.length} HEAD answer(s) carried a body, e.g. round ${s.round} (${s.outcome.status}): ${show(s.req.head, 200)}`);
  }
  for (const f of findings.values()) {
    console.log(`\nFINDING (${f.count}x) ${f.signature}\n${f.detail.split('\n').slice(0, 25).join('\n')}`);
    console.log(`  requests in flight then or just before (${f.suspects.length}):`);
    for (const s of f.suspects) console.log(`    round ${s.round} ${s.req.kind} [${s.req.label}] close=${s.mode}: ${show(Buffer.concat([s.req.head, s.req.body]), 300)}`);
  }
  if (findings.size) console.log(`\nraw requests for replay: ${dumpDir}`);

  assert.ok(stats.rounds > 0, 'no round ran');
  assert.is(exits, 0, `the server process exited ${exits} time(s); see FINDING lines above`);
  assert.is(findings.size, 0, `${findings.size} distinct problem(s); see FINDING lines above`);
});

test('after the rounds the same server still works: /health, a real upload analysed', async () => {
  const health = await getJson(`${server.url}/health`);
  assert.is(health.status, 200, JSON.stringify(health.body));
  // Earlier rounds may have filled the small queue: wait for room (503 with Retry-After).
  const until = Date.now() + 60_000;
  let up = await upload(`${server.url}${API}/upload`, video, { analysis_type: 'highlights' });
  while (up.status === 503 && Date.now() < until) {
    await delay(500);
    up = await upload(`${server.url}${API}/upload`, video, { analysis_type: 'highlights' });
  }
  assert.is(up.status, 202, JSON.stringify(up.body));
  const final = await pollStatus(server.url, up.body.sessionId, isTerminalStatus, 60_000);
  assert.is(final.status, 'completed', JSON.stringify(final));
  assert.is(server.proc.exitCode, null, 'still the same process');
});

test('no temporary upload files left in DATA_DIR/incoming', async () => {
  let left: string[] = [];
  // Removal after an abort is asynchronous; in-flight requests are over, give it a moment.
  for (let i = 0; i < 30; i++) {
    left = incomingFiles(dataDir);
    if (left.length === 0) break;
    await delay(100);
  }
  assert.equal(left, [], `leftover .part files: ${left.join(', ')}`);
});

test.run();
