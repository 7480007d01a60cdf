// Colours with a meaning. Scores use viridis (perceptually ordered, readable by colour-blind
// viewers and in grey); sets of a workout use the Okabe–Ito palette (distinct, colour-blind safe).

const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

function mix(a: string, b: string, t: number): string {
  const [x, y] = [rgb(a), rgb(b)];
  return `rgb(${x.map((v, i) => Math.round(v + (y[i] - v) * t)).join(' ')})`;
}

/** Score 1..10 → viridis, from dark purple (quiet) to yellow (significant). */
export function scoreColour(score: number): string {
  const t = (Math.min(10, Math.max(1, score)) - 1) / 9;
  const pos = t * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(pos));
  return mix(VIRIDIS[i], VIRIDIS[i + 1], pos - i);
}

/** WCAG relative luminance of "rgb(r g b)" or "#rrggbb". */
function luminance(colour: string): number {
  const c = colour.startsWith('#') ? rgb(colour) : colour.slice(4, -1).split(' ').map(Number);
  const [r, g, b] = c.map((v) => {
    const x = v / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** White or near-black, whichever contrasts more with `colour`. */
export function inkOn(colour: string): string {
  const l = luminance(colour);
  return (1.05) / (l + 0.05) >= (l + 0.05) / (luminance('#111111') + 0.05) ? '#ffffff' : '#111111';
}

/** Text colour readable on scoreColour(score). */
export const scoreInk = (score: number) => inkOn(scoreColour(score));

/** The CSS gradient of the whole scale, for the legend. */
export const scoreRamp = () => `linear-gradient(90deg, ${VIRIDIS.join(', ')})`;

const SETS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442'];

/** Set n (1-based) → its colour and a readable text colour on it. */
export function setColour(n: number): { fill: string; ink: string } {
  const fill = SETS[(Math.max(1, n) - 1) % SETS.length];
  return { fill, ink: inkOn(fill) };
}

/** "Set 3" → 3 (0 for anything else). */
export const setNumber = (name: string) => Number(/^Set (\d+)$/.exec(name)?.[1] ?? 0);
