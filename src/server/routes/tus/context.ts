// What every tus method handler is given.
import type { VideoService } from '../../../streams/service.js';
import type { Config } from '../../config.js';
import type { Ctx } from '../../http.js';
import type { TusUploads } from './uploads.js';

export interface TusContext {
  service: VideoService;
  config: Config;
  uploads: TusUploads;
  /** The collection's path; an upload's is `${base}/${id}`. */
  base: string;
  /** The tus headers of every answer (Tus-Resumable). */
  headers(ctx: Ctx): Record<string, string>;
}
