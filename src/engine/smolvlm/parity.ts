// Parity check of this implementation against a reference fixture folder (model/, image.png,
// golden.json, golden.safetensors as written by make_golden.py with transformers).
// usage: node dist/src/engine/smolvlm/parity.js FOLDER [FOLDER...]   (npm run parity -- FOLDER)
// Prints the largest absolute difference of each stage and exits non-zero when one is outside the
// tolerances (ids identical, pixel_values 2e-2, hidden states and logits 1e-3).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generate } from './generate.js';
import { fromTyped, maxAbsDiff, mx, toTyped, type MxArray } from './mlx.js';
import { decodePng } from './png.js';
import { SmolVLM } from './smolvlm.js';

export interface ParityCheck {
  name: string;
  /** Largest absolute difference (for ids: number of differing positions, or Infinity on a length mismatch). */
  diff: number;
  tolerance: number;
  ok: boolean;
  detail?: string;
}

export interface ParityReport {
  folder: string;
  checks: ParityCheck[];
  ok: boolean;
}

export const TOLERANCES = { ids: 0, pixelValues: 2e-2, hidden: 1e-3, logits: 1e-3 };

function idsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function floats(a: MxArray): Float32Array {
  return toTyped(a.astype(mx.float32)).data as Float32Array;
}

function ints(a: MxArray): number[] {
  return Array.from(toTyped(a.astype(mx.int32)).data);
}

export async function runParity(folder: string, vlm?: SmolVLM): Promise<ParityReport> {
  const dir = resolve(folder);
  const model = vlm ?? (await SmolVLM.load(join(dir, 'model')));
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
  const ref = mx.load(join(dir, 'golden.safetensors')) as unknown as Record<string, MxArray>;
  const checks: ParityCheck[] = [];
  const add = (name: string, diff: number, tolerance: number, detail?: string): void => {
    checks.push({ name, diff, tolerance, ok: diff <= tolerance, detail });
  };

  // --- processor: chat template, image expansion, tokenization, pixel values
  const proc = model.processor;
  const prompt = proc.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Describe the image.' }] }], true);
  add('prompt_template_text', prompt === golden.prompt_template_text ? 0 : 1, 0);
  const image = decodePng(readFileSync(join(dir, golden.image ?? 'image.png')));
  const inputs = proc.process(prompt, { images: [image] });
  if (golden['image.expanded_text'] !== undefined) {
    add('image.expanded_text', inputs.expandedText === golden['image.expanded_text'] ? 0 : 1, 0);
  }
  const refIds = ints(ref['image.input_ids']);
  add('image.input_ids', idsDiff(inputs.inputIds, refIds), TOLERANCES.ids, `${inputs.inputIds.length} tokens`);
  const refPx = ref['image.pixel_values'];
  const pxShape = refPx.shape; // [1, N, 3, S, S]
  const ownPx = inputs.pixelValues ?? new Float32Array(0);
  const shapeOk = inputs.numImages === pxShape[1] && inputs.height === pxShape[3] && inputs.width === pxShape[4];
  add('image.pixel_values', shapeOk ? maxAbsDiff(ownPx, floats(refPx)) : Number.POSITIVE_INFINITY, TOLERANCES.pixelValues,
    `${inputs.numImages} x 3 x ${inputs.height} x ${inputs.width}`);

  // --- model, fed the reference pixel values and ids so each stage is checked on its own
  const px = refPx.reshape(-1, pxShape[2], pxShape[3], pxShape[4]);
  const enc = await model.model.encodeImages(px, { keepVisionHidden: true, batch: 64 });
  add('image.vision_last_hidden_state', maxAbsDiff(floats(enc.visionHidden!), floats(ref['image.vision_last_hidden_state'])), TOLERANCES.hidden);
  add('image.connector_out', maxAbsDiff(floats(enc.features), floats(ref['image.connector_out'])), TOLERANCES.hidden);
  const embeds = model.model.embedInputs(refIds, enc.features);
  const logits = model.model.forward(embeds);
  add('image.logits', maxAbsDiff(floats(logits), floats(ref['image.logits'])), TOLERANCES.logits);
  const refGen = ints(ref['image.generated_ids']);
  const gen = await generate(model.model, embeds, { maxTokens: refGen.length, stopTokenIds: model.folder.generation.eosTokenIds });
  add('image.generated_ids', idsDiff(gen.tokens, refGen), TOLERANCES.ids, `${gen.tokens.length} tokens`);

  // --- end to end from the PNG with our own preprocessing (greedy ids must still match)
  const ownEnc = await model.model.encodeImages(fromTyped(ownPx, [inputs.numImages, 3, inputs.height, inputs.width]), { batch: 64 });
  const ownGen = await generate(model.model, model.model.embedInputs(inputs.inputIds, ownEnc.features), { maxTokens: refGen.length, stopTokenIds: model.folder.generation.eosTokenIds });
  add('image.generated_ids (own preprocessing)', idsDiff(ownGen.tokens, refGen), TOLERANCES.ids);

  // --- text only
  if (ref['text.input_ids'] && ref['text.logits']) {
    const tIds = ints(ref['text.input_ids']);
    const textPrompt = '<|im_start|>User: What is in a highlight?<end_of_utterance>\nAssistant:';
    add('text.input_ids', idsDiff(proc.tokenizer.encode(textPrompt), tIds), TOLERANCES.ids);
    const tLogits = model.model.forward(model.model.embedInputs(tIds, null));
    add('text.logits', maxAbsDiff(floats(tLogits), floats(ref['text.logits'])), TOLERANCES.logits);
  }
  return { folder: dir, checks, ok: checks.every((c) => c.ok) };
}

export function formatReport(r: ParityReport): string {
  const lines = [`parity: ${r.folder}`];
  for (const c of r.checks) {
    const d = Number.isInteger(c.diff) && c.tolerance === 0 ? String(c.diff) : c.diff.toExponential(3);
    lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(42)} max|diff| ${d.padStart(10)}  (tol ${c.tolerance})${c.detail ? `  ${c.detail}` : ''}`);
  }
  lines.push(`  => ${r.ok ? 'PASS' : 'FAIL'}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const folders = process.argv.slice(2);
  if (folders.length === 0) {
    console.error('usage: npm run parity -- FOLDER [FOLDER...]');
    process.exit(2);
  }
  let ok = true;
  for (const f of folders) {
    try {
      const r = await runParity(f);
      console.log(formatReport(r));
      ok &&= r.ok;
    } catch (e) {
      console.error(`parity: ${f}: ${(e as Error).stack ?? e}`);
      ok = false;
    }
  }
  process.exit(ok ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  void main();
}
