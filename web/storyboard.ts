// The storyboard's WebVTT thumbnails track: cues whose text is `<sprite URL>#xywh=x,y,w,h`.

export interface Tile {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const stamp = (s: string) => {
  const p = s.split(':').map(Number);
  return p.reduce((acc, v) => acc * 60 + v, 0);
};

export function parseStoryboard(vtt: string): Tile[] {
  const tiles: Tile[] = [];
  const re = /([\d:.]+)\s+-->\s+([\d:.]+)[^\n]*\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
  for (let m = re.exec(vtt); m; m = re.exec(vtt)) {
    tiles.push({ start: stamp(m[1]), end: stamp(m[2]), url: m[3].trim(), x: +m[4], y: +m[5], w: +m[6], h: +m[7] });
  }
  return tiles;
}

export const tileAt = (tiles: Tile[], t: number) => tiles.find((c) => t >= c.start && t < c.end) ?? (t >= (tiles.at(-1)?.end ?? Infinity) ? tiles.at(-1) : undefined);
