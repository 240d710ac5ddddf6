import { fileTypeFromBuffer } from 'file-type';
import sharp, { type Metadata } from 'sharp';
import { badInput } from '../../platform/errors/app-error.ts';

/** What we accept as an image, by the bytes' own signature (the client's declared type is ignored). */
const ACCEPTED_IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp']);

export const MIN_IMAGE_SIDE = 200;
export const MAX_IMAGE_SIDE = 8000;

/** Widths of the thumbnails made from every image; the full-size rendition is `original`. */
export const THUMBNAIL_WIDTHS = [160, 480, 1080] as const;
export type VariantName = 'original' | '160' | '480' | '1080';
export const VARIANT_NAMES: readonly VariantName[] = ['original', '160', '480', '1080'];

export type ProcessedVariant = {
  name: VariantName;
  body: Buffer;
  contentType: string;
  extension: string;
  width: number;
  height: number;
};

export type ProcessedImage = {
  /** Sniffed from the upload's bytes. */
  sourceType: string;
  width: number;
  height: number;
  variants: ProcessedVariant[];
};

const fileError = (message: string) => badInput(message, { field: 'file' });

/**
 * Checks an uploaded image and re-encodes it. Nothing of the original file is kept: every rendition is
 * decoded and encoded again by sharp, which drops EXIF, GPS, XMP and ICC comments by default (we never
 * ask it to keep metadata), and also drops whatever a polyglot file hid after the image data.
 * Orientation from EXIF is applied to the pixels first, since the tag that carried it is gone.
 */
export async function processImage(bytes: Buffer, maxBytes: number): Promise<ProcessedImage> {
  if (bytes.length === 0) throw fileError('The file is empty');
  if (bytes.length > maxBytes) throw fileError(`The file is larger than ${maxBytes} bytes`);
  const sniffed = await fileTypeFromBuffer(bytes);
  if (!sniffed || !ACCEPTED_IMAGE_TYPES.has(sniffed.mime)) {
    throw fileError('The file is not a JPEG, PNG or WebP image');
  }
  // limitInputPixels stops a decompression bomb before decoding; failOn refuses truncated files.
  const options = { limitInputPixels: MAX_IMAGE_SIDE * MAX_IMAGE_SIDE, failOn: 'error' as const };
  let metadata: Metadata;
  try {
    metadata = await sharp(bytes, options).metadata();
  } catch {
    throw fileError('The image could not be read');
  }
  const { width, height } = metadata.autoOrient;
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) {
    throw fileError(`The image must be at least ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} pixels`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw fileError(`The image must be at most ${MAX_IMAGE_SIDE}×${MAX_IMAGE_SIDE} pixels`);
  }
  try {
    const oriented = sharp(bytes, options).rotate();
    const variants: ProcessedVariant[] = [];
    const original = await oriented
      .clone()
      .jpeg({ quality: 88, mozjpeg: true })
      .toBuffer({ resolveWithObject: true });
    variants.push({
      name: 'original',
      body: original.data,
      contentType: 'image/jpeg',
      extension: 'jpg',
      width: original.info.width,
      height: original.info.height,
    });
    for (const thumbWidth of THUMBNAIL_WIDTHS) {
      const thumb = await oriented
        .clone()
        .resize({ width: thumbWidth, withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer({ resolveWithObject: true });
      variants.push({
        name: String(thumbWidth) as VariantName,
        body: thumb.data,
        contentType: 'image/webp',
        extension: 'webp',
        width: thumb.info.width,
        height: thumb.info.height,
      });
    }
    return { sourceType: sniffed.mime, width, height, variants };
  } catch {
    throw fileError('The image could not be processed');
  }
}
