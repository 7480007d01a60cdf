// The client package builds for both targets: the browser bundle without any Node module (no
// node: imports, no `ws`), the Node bundle with its WebSocket. (`npm run build:client` also
// writes the bundled type declarations; that step is slow and runs before publishing.)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT } from '../helpers/server.js';

test('client/build.mjs: browser and Node bundles', () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'client/build.mjs'), '--js-only'], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const browser = fs.readFileSync(path.join(ROOT, 'client/dist/browser.js'), 'utf8');
  const node = fs.readFileSync(path.join(ROOT, 'client/dist/node.js'), 'utf8');
  const imports = (js: string) => [...js.matchAll(/^import .*? from "([^"]+)";?$/gm)].map((m) => m[1]);
  assert.equal(imports(browser).sort(), ['tus-js-client']);
  assert.ok(!/\brequire\(|node:/.test(browser), 'nothing of Node in the browser build');
  assert.ok(imports(node).includes('ws'));
  assert.match(browser, /EventSource/);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'client/package.json'), 'utf8'));
  assert.is(pkg.exports['.'].browser.default, './dist/browser.js');
  assert.is(pkg.exports['.'].node.default, './dist/node.js');
  assert.not.ok(pkg.private, 'publishable');
});

test.run();
