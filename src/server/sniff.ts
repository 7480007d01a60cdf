// A first look at the opening bytes of an upload, so a file that is plainly not a video can be
// refused (415) before the rest of it is received. Only decisive signatures count: anything not
// recognised is left to the engine's probe once the upload is complete.

export type SniffVerdict = 'media' | 'not-media' | 'unknown';

/** Bytes needed for a verdict. */
export const SNIFF_BYTES = 512;

const NOT_MEDIA: Array<[string, number[], number]> = [
  ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0],
  ['pdf', [0x25, 0x50, 0x44, 0x46, 0x2d], 0],
  ['zip', [0x50, 0x4b, 0x03, 0x04], 0],
  ['gzip', [0x1f, 0x8b], 0],
  ['elf', [0x7f, 0x45, 0x4c, 0x46], 0],
  ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], 0],
];

const MEDIA: Array<[string, number[], number]> = [
  ['isobmff', [0x66, 0x74, 0x79, 0x70], 4], // ....ftyp
  ['mov-moov', [0x6d, 0x6f, 0x6f, 0x76], 4],
  ['mov-mdat', [0x6d, 0x64, 0x61, 0x74], 4],
  ['mov-wide', [0x77, 0x69, 0x64, 0x65], 4],
  ['matroska', [0x1a, 0x45, 0xdf, 0xa3], 0],
  ['riff', [0x52, 0x49, 0x46, 0x46], 0],
  ['flv', [0x46, 0x4c, 0x56, 0x01], 0],
  ['ogg', [0x4f, 0x67, 0x67, 0x53], 0],
  ['asf', [0x30, 0x26, 0xb2, 0x75, 0x8e, 0x66, 0xcf, 0x11], 0],
  ['mpeg-ps', [0x00, 0x00, 0x01, 0xba], 0],
];

const startsWith = (b: Buffer, sig: number[], at: number) => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);

export function sniffMedia(head: Buffer): SniffVerdict {
  if (head.length === 0) return 'not-media';
  for (const [, sig, at] of MEDIA) if (startsWith(head, sig, at)) return 'media';
  if (head.length >= 376 && head[0] === 0x47 && head[188] === 0x47) return 'media'; // MPEG-TS
  for (const [, sig, at] of NOT_MEDIA) if (startsWith(head, sig, at)) return 'not-media';
  if (head.length >= 64 && looksLikeText(head)) return 'not-media';
  return 'unknown';
}

/** Mostly printable ASCII/UTF-8 with no NUL: text, JSON, HTML, CSV… */
function looksLikeText(b: Buffer): boolean {
  let printable = 0;
  for (const c of b) {
    if (c === 0) return false;
    if (c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127) || c >= 0xc2) printable++;
  }
  return printable / b.length > 0.97;
}
