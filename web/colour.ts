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

/** Text colour readable on scoreColour(score) (contrast ≥ 4.5 either way). */
export const scoreInk = (score: number) => (score >= 6 ? '#111111' : '#ffffff');

/** The CSS gradient of the whole scale, for the legend. */
export const scoreRamp = () => `linear-gradient(90deg, ${VIRIDIS.join(', ')})`;

const SETS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#D55E00', '#56B4E9', '#F0E442'];
const SET_INK = ['#ffffff', '#111111', '#111111', '#111111', '#111111', '#111111', '#111111'];

/** Set n (1-based) → its colour and a readable text colour on it. */
export function setColour(n: number): { fill: string; ink: string } {
  const i = (Math.max(1, n) - 1) % SETS.length;
  return { fill: SETS[i], ink: SET_INK[i] };
}

/** "Set 3" → 3 (0 for anything else). */
export const setNumber = (name: string) => Number(/^Set (\d+)$/.exec(name)?.[1] ?? 0);
