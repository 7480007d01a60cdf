// ffprobe/ffmpeg checks of media files the service made: duration, picture size, rotation,
// and whether every frame decodes.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProbedMedia {
  duration: number;
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; rotation?: number }>;
}

export async function probeMedia(file: string): Promise<ProbedMedia> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_type,codec_name,width,height:stream_side_data=rotation', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format: { duration: string }; streams: any[] };
  return {
    duration: Number(j.format.duration),
    streams: j.streams.map((s) => ({ ...s, rotation: s.side_data_list?.find((d: any) => d.rotation !== undefined)?.rotation })),
  };
}

/** Decodes every frame of every stream; throws with ffmpeg's complaints when one fails. */
export async function decodesCleanly(file: string): Promise<void> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-v', 'error', '-xerror', '-nostdin', '-i', file, '-f', 'null', '-']);
  if (stderr.trim()) throw new Error(`decoding ${file}: ${stderr}`);
}
