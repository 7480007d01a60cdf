// Parity of the TypeScript/MLX SmolVLM against the transformers reference fixtures.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatReport, runParity } from '../../src/engine/smolvlm/parity.js';
import { SmolVLM } from '../../src/engine/smolvlm/smolvlm.js';
import { SmolVLMModel } from '../../src/engine/smolvlm/model.js';
import { loadWeights } from '../../src/engine/smolvlm/weights.js';
import { mx } from '../../src/engine/smolvlm/mlx.js';
import { fixturesDir, repoRoot } from './helpers.js';

const fixtures = fixturesDir();

if (!fixtures) {
  test('fixtures present (skipped: ../shared/fixtures/smolvlm not found)', () => {});
} else {
  for (const variant of ['base', 'tiled']) {
    test(`parity with transformers on fixture "${variant}"`, async () => {
      const r = await runParity(join(fixtures, variant));
      const report = formatReport(r);
      console.log(report);
      const names = r.checks.map((c) => c.name);
      for (const n of ['image.input_ids', 'image.pixel_values', 'image.vision_last_hidden_state', 'image.connector_out', 'image.logits', 'image.generated_ids', 'text.logits']) {
        assert.ok(names.includes(n), `check ${n} ran`);
      }
      for (const c of r.checks) assert.ok(c.ok, `${c.name}: ${c.diff} > ${c.tolerance}\n${report}`);
      assert.ok(r.ok);
    });
  }

  test('parity detects a wrong model (perturbed final norm)', async () => {
    const dir = join(fixtures, 'base', 'model');
    const good = await SmolVLM.load(dir);
    const w = loadWeights(dir, good.folder.model);
    w.set('text.norm.weight', mx.multiply(w.get('text.norm.weight')!, 1.05));
    const bad = new SmolVLM(good.folder, new SmolVLMModel(good.folder.model, w));
    const r = await runParity(join(fixtures, 'base'), bad);
    const logits = r.checks.find((c) => c.name === 'image.logits')!;
    assert.not.ok(logits.ok, 'logits check should fail');
    assert.ok(logits.diff > 1e-3);
    assert.ok(r.checks.find((c) => c.name === 'image.vision_last_hidden_state')!.ok, 'vision is untouched');
    assert.not.ok(r.ok);
  });

  test('npm run parity CLI: exit 0 on both fixtures, non-zero on a folder that is not one', () => {
    const cli = join(repoRoot, 'dist', 'src', 'engine', 'smolvlm', 'parity.js');
    const ok = spawnSync(process.execPath, [cli, join(fixtures, 'base'), join(fixtures, 'tiled')], { encoding: 'utf8' });
    assert.is(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /image\.logits\s+max\|diff\|/);
    assert.match(ok.stdout, /PASS/);
    const bad = spawnSync(process.execPath, [cli, join(fixtures, 'base', 'model')], { encoding: 'utf8' });
    assert.is.not(bad.status, 0);
  });
}

test.run();
