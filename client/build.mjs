#!/usr/bin/env node
// Builds the client into client/dist: dist/browser.js (for bundlers and browsers: fetch,
// EventSource, tus-js-client's browser build; no Node module) and dist/node.js (WebSocket through
// `ws`, uploads from file paths), each with its bundled type declarations. The event and result
// types come from the server's sources (src/), inlined into the declarations.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const dir = new URL('.', import.meta.url).pathname;
const out = join(dir, 'dist');
const require = createRequire(import.meta.url);
rmSync(out, { recursive: true, force: true });

const common = { bundle: true, format: 'esm', sourcemap: true, logLevel: 'warning', external: ['tus-js-client', 'ws'], metafile: true };
const results = await Promise.all([
  build({ ...common, entryPoints: [join(dir, 'src/browser.ts')], outfile: join(out, 'browser.js'), platform: 'browser', target: ['chrome110', 'firefox115', 'safari16'] }),
  build({ ...common, entryPoints: [join(dir, 'src/node.ts')], outfile: join(out, 'node.js'), platform: 'node', target: 'node20' }),
]);
// The browser build must not reach for Node: no node: imports, no `ws`.
const browserImports = Object.values(results[0].metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
const nodeOnly = browserImports.filter((p) => p.startsWith('node:') || p === 'ws');
if (nodeOnly.length) {
  console.error(`the browser build imports Node-only modules: ${nodeOnly.join(', ')}`);
  process.exit(1);
}

// --js-only: the bundles without declarations (quick; the suite's check of both builds).
if (process.argv.includes('--js-only')) process.exit(0);
const dts = require.resolve('dts-bundle-generator/dist/bin/dts-bundle-generator.js');
for (const entry of ['browser', 'node']) {
  const r = spawnSync(process.execPath, [dts, '--silent', '--project', join(dir, 'tsconfig.json'), '--no-banner', '-o', join(out, `${entry}.d.ts`), join(dir, `src/${entry}.ts`)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
console.log(`client built into ${out}`);
