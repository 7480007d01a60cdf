#!/usr/bin/env node
// Builds the web page into dist/web: web/app.ts (with tus-js-client) bundled and minified by
// esbuild for current browsers, plus the static files of web/ copied as they are. No CDN: the
// service serves everything itself (src/server/routes/static.ts).
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'web');
const out = join(root, 'dist', 'web');
// Type-check the page's sources (esbuild only strips the types).
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(src, 'tsconfig.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(src, 'app.ts'), join(src, 'app.css')],
  outdir: out,
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  platform: 'browser',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const name of readdirSync(src)) {
  if (/\.(html|svg|png|ico|txt)$/.test(name)) copyFileSync(join(src, name), join(out, name));
}
console.log(`web page built into ${out}`);
