#!/usr/bin/env node
// Runs every compiled uvu test file (dist/test/**/*.test.js) in its own Node process, so a
// server, native threads or a crash in one file cannot affect another, then prints one
// summary line "N passed, N failed, N skipped". Exit code is non-zero if any file failed.
// Usage: npm test [-- pattern] [--store=redis]   (pattern: substring of the test file path)
// --store=redis runs the server and stream suites (tus included) with the sessions and the
// queue on Redis (TEST_STORE=redis: each test file starts its own redis-server); a pattern
// narrows them further.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist', 'test');
if (!existsSync(dir)) {
  console.error('dist/test not found: run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
const storeArg = args.find((a) => a.startsWith('--store='));
const store = storeArg ? storeArg.slice('--store='.length) : 'journal';
if (store !== 'journal' && store !== 'redis') {
  console.error(`--store: expected journal or redis, got "${store}"`);
  process.exit(2);
}
const pattern = args.find((a) => !a.startsWith('--')) ?? '';
/** The suites that run against both stores. */
const REDIS_SUITES = [join('dist', 'test', 'server') + '/', join('dist', 'test', 'streams') + '/'];
const files = [];
(function walk(d) {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && p.includes(pattern)) {
      if (store === 'redis' && !REDIS_SUITES.some((s) => relative(root, p).startsWith(s))) continue;
      files.push(p);
    }
  }
})(dir);
if (store === 'redis') console.log('# store: redis (TEST_STORE=redis)');

let passed = 0, failed = 0, skipped = 0;
const broken = [];
for (const file of files) {
  const rel = relative(root, file);
  console.log(`\n# ${rel}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--enable-source-maps', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 15 * 60_000,
    env: { ...process.env, FORCE_COLOR: '0', TEST_STORE: store },
  });
  process.stdout.write(r.stdout ?? '');
  const num = (label) => Number((r.stdout ?? '').match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = num('Total'), ok = num('Passed'), skip = num('Skipped');
  passed += ok;
  skipped += skip;
  const bad = total - ok - skip;
  if (r.status !== 0 || bad > 0 || total === 0) {
    failed += Math.max(bad, 1);
    broken.push(`${rel} (exit ${r.status ?? r.signal})`);
  }
  console.log(`# ${rel}: ${ok}/${total} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
}
if (broken.length) console.log(`\nFailed files:\n  ${broken.join('\n  ')}`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
