// The old synchronous endpoints: same uploads, same sessions, but the answer waits for the end
// of the analysis and keeps the old shapes ({"detail"} errors, {"success","analysis_type","data"}).
import type { AnalysisType } from '../../engine/types.js';
import type { VideoService } from '../../streams/service.js';
import type { Config } from '../config.js';
import { HttpError, JSON_TYPE, send } from '../http.js';
import type { Router } from '../router.js';
import { admitUpload, receiveUpload } from './v1.js';

const ENDPOINTS: Array<{ path: string; type: AnalysisType; label: string; answerType: string; fields: string[] }> = [
  { path: '/analyze/highlights', type: 'highlights', label: 'Highlights', answerType: 'highlights', fields: ['min_significance', 'max_highlights'] },
  {
    path: '/analyze/workout',
    type: 'workout',
    label: 'Workout',
    answerType: 'workout_timestamps',
    fields: ['segment_duration', 'system_prompt', 'user_prompt'],
  },
];

export function registerLegacy(router: Router, service: VideoService, config: Config): void {
  for (const ep of ENDPOINTS) {
    router.add(
      'post',
      ep.path,
      `legacy_${ep.type}`,
      async (ctx) => {
        // Old clients send form fields we never used: ignore them (null) rather than break them.
        const { file, fields } = await receiveUpload(service, config, ctx, ['video', 'file'], null);
        const params: Record<string, string> = {};
        for (const key of ep.fields) if (fields[key] !== undefined && fields[key] !== '') params[key] = fields[key];
        const session = await admitUpload(service, config, ctx, file, ep.type, params);
        // A legacy client that hangs up no longer wants the answer: stop the work.
        ctx.onAbort = () => void service.cancel(session.id).catch(() => {}); // it ends by itself otherwise
        const end = await service.waitForEnd(session);
        if (end.status === 'completed') {
          const data = await service.resultJson(session.id);
          send(ctx, 200, `{"success":true,"analysis_type":${JSON.stringify(ep.answerType)},"data":${data}}`, JSON_TYPE);
        } else {
          const reason = end.error?.message ?? end.status;
          throw new HttpError(500, end.error?.code ?? 'failed', `${ep.label} analysis failed: ${reason}`);
        }
      },
      { errors: 'legacy', body: true },
    );
  }
}
