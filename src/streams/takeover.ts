// A job run again after its run was interrupted (a worker or the whole process died): the log
// says so with a `progress` event whose currentStep tells of the take-over and whose `attempt`
// numbers the run. The log is what counts runs, so the count survives restarts and moves
// between workers with the session.
import type { Session } from './session.js';

/** Runs of this session's analysis started so far, from its log. */
export function runsStarted(session: Session): number {
  let runs = 0;
  for (const ev of session.history()) {
    if (ev.type === 'status' && ev.data.status === 'processing') runs = Math.max(runs, 1);
    else if (ev.type === 'progress' && typeof ev.data.attempt === 'number') runs = Math.max(runs, ev.data.attempt);
  }
  return runs;
}

export const takeoverStep = (attempt: number, maxAttempts: number) =>
  `Taken over after an interruption: attempt ${attempt} of ${maxAttempts}`;

/** Indexes of the segments already in the log (a take-over does not append them again). */
export function loggedSegments(session: Session): Set<number> {
  const out = new Set<number>();
  for (const ev of session.history()) if (ev.type === 'segment' && typeof ev.data.index === 'number') out.add(ev.data.index);
  return out;
}
