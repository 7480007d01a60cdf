// Processor pieces: prompt expansion for images and videos, frame sampling, number words,
// resampling, PNG decoding, position ids and pixel shuffle.
import { deflateSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadModelFolder } from '../../src/engine/smolvlm/config.js';
import { pixelShuffle } from '../../src/engine/smolvlm/connector.js';
import { resizeLanczos, sizeForLongestEdge, sizeForVisionEncoder, splitImage } from '../../src/engine/smolvlm/image.js';
import { mx, toTyped } from '../../src/engine/smolvlm/mlx.js';
import { decodePng } from '../../src/engine/smolvlm/png.js';
import { formatDuration, formatFrameTimestamp, numberToWords, sampleFrameIndices, SmolVLMProcessor } from '../../src/engine/smolvlm/processor.js';
import { patchPositionIds } from '../../src/engine/smolvlm/vision.js';
import { picture, tempDir, writeRandomModel } from './helpers.js';

test('numberToWords writes what num2words writes', () => {
  const cases: Array<[number, string]> = [[0, 'zero'], [1, 'one'], [8, 'eight'], [13, 'thirteen'], [20, 'twenty'], [21, 'twenty-one'],
    [64, 'sixty-four'], [100, 'one hundred'], [101, 'one hundred and one'], [342, 'three hundred and forty-two'], [1000, 'one thousand']];
  for (const [n, w] of cases) assert.is(numberToWords(n), w);
});

test('durations and frame timestamps', () => {
  assert.is(formatDuration(3), '0:00:03');
  assert.is(formatDuration(63.9), '0:01:03');
  assert.is(formatDuration(3725), '1:02:05');
  assert.is(formatFrameTimestamp(0), '00:00');
  assert.is(formatFrameTimestamp(62.5), '01:02');
  assert.is(formatFrameTimestamp(3725), '62:05');
});

test('sampleFrameIndices follows SmolVLMVideoProcessor.sample_frames (numpy reference values)', () => {
  assert.equal(sampleFrameIndices(300, 30, { fps: 1, maxFrames: 8 }), [0, 42, 85, 128, 170, 213, 256, 299]);
  const long = sampleFrameIndices(3000, 30, { fps: 1, maxFrames: 64 });
  assert.is(long.length, 64);
  assert.equal(long.slice(0, 5), [30, 76, 123, 170, 216]);
  assert.is(long[63], 2970);
  // more frames wanted than exist: duplicates removed
  assert.equal(sampleFrameIndices(6, 1, { fps: 8, maxFrames: 8, duration: 6 }), [0, 1, 2, 3, 4, 5]);
  assert.equal(sampleFrameIndices(10, 2, { fps: 1, maxFrames: 64 }), [0, 2, 4, 6, 9]);
});

test('resize arithmetic: longest edge (even short side) and multiples of the tile size', () => {
  assert.equal(sizeForLongestEdge(72, 96, 256), [192, 256]);
  assert.equal(sizeForLongestEdge(60, 100, 128), [76, 128]);
  assert.equal(sizeForLongestEdge(100, 61, 128), [128, 78]);
  assert.equal(sizeForVisionEncoder(76, 128, 32), [96, 128]);
  assert.equal(sizeForVisionEncoder(720, 1280, 512), [1024, 1536]);
});

test('LANCZOS resize: identity, constants and ranges', () => {
  const img = picture(40, 30);
  assert.equal(Array.from(resizeLanczos(img, 40, 30).data), Array.from(img.data));
  const flat = { data: new Uint8Array(17 * 13 * 3).fill(77), width: 17, height: 13 };
  for (const [w, h] of [[5, 4], [40, 31], [17, 50]]) {
    const r = resizeLanczos(flat, w, h);
    assert.is(r.data.length, w * h * 3);
    assert.ok(r.data.every((v) => v === 77), `${w}x${h} keeps a constant image constant`);
  }
  // black/white step: overshoot is clipped to 0..255, left side stays dark, right side bright
  const step = { data: new Uint8Array(20 * 3 * 3), width: 20, height: 3 };
  for (let y = 0; y < 3; y++) for (let x = 10; x < 20; x++) step.data.fill(255, (y * 20 + x) * 3, (y * 20 + x) * 3 + 3);
  const r = resizeLanczos(step, 7, 3);
  assert.ok(r.data[0] < 10 && r.data[(7 - 1) * 3] > 245);
});

test('image splitting layout: rows x cols tiles plus the global image', () => {
  const cfg = { doResize: true, longestEdge: 128, maxImageSize: 32, doImageSplitting: true, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, imageMean: [0.5, 0.5, 0.5] as [number, number, number], imageStd: [0.5, 0.5, 0.5] as [number, number, number], resample: 1 };
  const s = splitImage(picture(100, 60), cfg);
  assert.is(s.rows, 3);
  assert.is(s.cols, 4);
  assert.is(s.tiles.length, 13);
  assert.ok(s.tiles.every((t) => t.width === 32 && t.height === 32));
  const small = splitImage(picture(20, 10), { ...cfg, longestEdge: 32 });
  assert.is(small.rows, 0);
  assert.is(small.tiles.length, 1);
  const none = splitImage(picture(100, 60), { ...cfg, doImageSplitting: false });
  assert.is(none.tiles.length, 1);
  assert.is(none.tiles[0].width, 32);
});

test('prompt expansion: image (split and single) and video', () => {
  const dir = tempDir();
  writeRandomModel(dir, { vision: { imageSize: 32, patchSize: 8 }, text: {} });
  const folder = loadModelFolder(dir);
  const p = new SmolVLMProcessor(folder);
  const seq = folder.processor.imageSeqLen;
  assert.is(seq, 4);
  const img = '<image>'.repeat(seq);
  assert.is(p.imageString(0, 0), `<fake_token_around_image><global-img>${img}<fake_token_around_image>`);
  assert.is(p.imageString(1, 2),
    `<fake_token_around_image><row_1_col_1>${img}<fake_token_around_image><row_1_col_2>${img}\n` +
    `\n<fake_token_around_image><global-img>${img}<fake_token_around_image>`);

  const prompt = p.applyChatTemplate([
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'What happens?' }] },
  ]);
  assert.is(prompt, '<|im_start|>System: Be brief.<end_of_utterance>\nUser: <video>What happens?<end_of_utterance>\nAssistant:');
  const frames = [picture(48, 36, 0), picture(48, 36, 1)];
  const out = p.process(prompt, { video: { frames, timestamps: [0, 61], duration: 62 } });
  const single = `<fake_token_around_image><global-img>${img}<fake_token_around_image>`;
  assert.is(out.expandedText,
    '<|im_start|>System: Be brief.<end_of_utterance>\nUser: You are provided the following series of two frames from a 0:01:02 [H:MM:SS] video.\n' +
    `\nFrame from 00:00:${single}\nFrame from 01:01:${single}\n\nWhat happens?<end_of_utterance>\nAssistant:`);
  assert.is(out.numImages, 2);
  assert.is(out.height, 32);
  assert.is(out.pixelValues!.length, 2 * 3 * 32 * 32);
  const imageId = folder.model.imageTokenId;
  assert.is(out.inputIds.filter((t) => t === imageId).length, 2 * seq);
  assert.is(p.tokenizer.decode(out.inputIds), out.expandedText, 'byte-level BPE round trip');
  assert.throws(() => p.process('<image><image>', { images: [picture(8, 8)] }), /should be the same/);
});

test('patch position ids: full grid and smaller images bucketed onto it', () => {
  const full = patchPositionIds(4, 4, 4);
  assert.equal(Array.from(full), Array.from({ length: 16 }, (_, i) => i));
  const small = patchPositionIds(3, 2, 8);
  // rows: fractions 0, 1/3, 2/3 -> buckets 0, 2, 5; cols: 0, 1/2 -> 0, 4
  assert.equal(Array.from(small), [0, 4, 16, 20, 40, 44]);
});

test('pixel shuffle matches the reference permutation', () => {
  const N = 2, side = 4, D = 3, s = 2;
  const n = N * side * side * D;
  const x = mx.arange(0, n, 1, mx.float32).reshape(N, side * side, D);
  const y = toTyped(pixelShuffle(x, s)).data;
  // out[b, i*(side/s)+j, (dy*s+dx)*D + d]... derived from transformers' view/permute sequence
  const expected: number[] = [];
  for (let b = 0; b < N; b++) for (let i = 0; i < side / s; i++) for (let j = 0; j < side / s; j++) {
    for (let a = 0; a < s; a++) for (let c = 0; c < s; c++) for (let d = 0; d < D; d++) {
      const row = i * s + a, col = j * s + c;
      expected.push(((b * side + row) * side + col) * D + d);
    }
  }
  assert.equal(Array.from(y), expected);
});

test('PNG decoder: RGB and RGBA with every filter type', () => {
  const w = 5, h = 5;
  for (const rgba of [false, true]) {
    const ch = rgba ? 4 : 3;
    const pix = new Uint8Array(w * h * ch);
    for (let i = 0; i < pix.length; i++) pix[i] = (i * 37 + 11) & 255;
    if (rgba) for (let i = 0; i < w * h; i++) pix[i * 4 + 3] = 255;
    const raw: number[] = [];
    for (let y = 0; y < h; y++) {
      const f = y % 5;
      raw.push(f);
      for (let x = 0; x < w * ch; x++) {
        const cur = pix[y * w * ch + x];
        const a = x >= ch ? pix[y * w * ch + x - ch] : 0;
        const b = y > 0 ? pix[(y - 1) * w * ch + x] : 0;
        const c = x >= ch && y > 0 ? pix[(y - 1) * w * ch + x - ch] : 0;
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        const pred = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][f];
        raw.push((cur - pred) & 255);
      }
    }
    const chunk = (type: string, data: Buffer): Buffer => {
      const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
      return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = rgba ? 6 : 2;
    const png = Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.from(raw))), chunk('IEND', Buffer.alloc(0))]);
    const img = decodePng(png);
    assert.is(img.width, w);
    const expected: number[] = [];
    for (let i = 0; i < w * h; i++) for (let c = 0; c < 3; c++) expected.push(pix[i * ch + c]);
    assert.equal(Array.from(img.data), expected, rgba ? 'RGBA' : 'RGB');
  }
});

test.run();
