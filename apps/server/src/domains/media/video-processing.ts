import { fileTypeFromBuffer } from 'file-type';
import { badInput } from '../../platform/errors/app-error.ts';

/** What we accept as a video, by the bytes' own signature (the client's declared type is ignored). */
const ACCEPTED_VIDEO_TYPES = new Map([
  ['video/mp4', 'mp4'],
  ['video/webm', 'webm'],
]);

export type CheckedVideo = { contentType: string; extension: string };

const fileError = (message: string) => badInput(message, { field: 'file' });

/**
 * Checks an uploaded video. Videos are stored as they came (no transcoding, so no renditions and no
 * metadata stripping): only the container type is checked, from the bytes, and the size.
 */
export async function checkVideo(bytes: Buffer, maxBytes: number): Promise<CheckedVideo> {
  if (bytes.length === 0) throw fileError('The file is empty');
  if (bytes.length > maxBytes) throw fileError(`The file is larger than ${maxBytes} bytes`);
  const sniffed = await fileTypeFromBuffer(bytes);
  const extension = sniffed && ACCEPTED_VIDEO_TYPES.get(sniffed.mime);
  if (!sniffed || !extension) throw fileError('The file is not an MP4 or WebM video');
  return { contentType: sniffed.mime, extension };
}
