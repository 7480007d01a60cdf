// What the model is asked, and how its free-text answers become descriptions, scores and
// exercise names. Small models wander from the requested format, so parsing looks for the score
// in several phrasings and falls back to the signal engine's score when none is there.

export const HIGHLIGHTS_SYSTEM =
  'You are a sports and video analyst. You watch short clips cut from a longer video and judge how interesting each clip is to a viewer.';

export const HIGHLIGHTS_PROMPT = [
  'Describe what happens in this clip in one sentence.',
  'Then rate its significance from 1 (nothing happens) to 10 (a key moment such as a goal, a crash or a big reaction).',
  'Answer exactly in this form:',
  'Description: <one sentence>',
  'Score: <number from 1 to 10>',
].join('\n');

export const WORKOUT_SYSTEM = 'You are a fitness coach who recognises exercises in workout videos.';
export const WORKOUT_PROMPT = 'Which exercise is the person performing in these frames? Answer with the name of the exercise only, for example "Squats" or "Push-ups".';

export interface ParsedAnswer {
  description: string | null;
  /** Integer 1–10, or null when the answer holds no usable score. */
  score: number | null;
}

const SCORE_PATTERNS = [
  /\b(?:score|significance|rating)\s*(?:is|of|[:=\-])?\s*(\d+(?:\.\d+)?)(?:\s*\/\s*10)?/i,
  /\b(\d+(?:\.\d+)?)\s*(?:\/|out of)\s*10\b/i,
];

export function parseHighlightAnswer(text: string): ParsedAnswer {
  const clean = text.replace(/<[^>]*>/g, ' ').trim();
  let score: number | null = null;
  for (const re of SCORE_PATTERNS) {
    const m = re.exec(clean);
    if (m) {
      const n = Number(m[1]);
      if (Number.isFinite(n)) {
        score = Math.min(10, Math.max(1, Math.round(n)));
        break;
      }
    }
  }
  const described = /description\s*[:\-]\s*([\s\S]*?)(?:\n|\bscore\b|$)/i.exec(clean)?.[1];
  let description = (described ?? clean.split(/\n|\bscore\b/i)[0]).replace(/\s+/g, ' ').trim();
  if (description.length > 500) description = `${description.slice(0, 497)}...`;
  return { description: description || null, score };
}

/** First line, without quotes or a trailing full stop; null when empty. */
export function parseExerciseName(text: string): string | null {
  const line = text.replace(/<[^>]*>/g, ' ').split('\n').map((l) => l.trim()).find(Boolean) ?? '';
  const name = line.replace(/^(?:exercise|answer)\s*:\s*/i, '').replace(/^["'`]+|["'`.]+$/g, '').trim();
  return name ? name.slice(0, 80) : null;
}
