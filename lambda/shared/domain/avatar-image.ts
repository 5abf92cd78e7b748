import { imageSize } from 'image-size';

/**
 * Whether an uploaded avatar is what its uploader declared, judged from its first bytes
 * only: its real format (magic bytes) and its pixel dimensions come from the header
 * (`image-size`), so a small file whose header claims 50,000 × 50,000 is refused without
 * decoding it. The decoder that resizes an accepted image never sees a refused one.
 */

/** The content types an avatar may be declared (and be) as. */
export const AVATAR_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp'] as const;
export type AvatarContentType = (typeof AVATAR_CONTENT_TYPES)[number];

export const isAvatarContentType = (value: string): value is AvatarContentType =>
  (AVATAR_CONTENT_TYPES as readonly string[]).includes(value);

/** How much of an object is read to inspect it: a JPEG's size comes after its EXIF, up to 64 KiB. */
export const AVATAR_HEAD_BYTES = 64 * 1024;

export interface AvatarLimits {
  /** The upload's largest size in bytes (the presigned POST's `content-length-range` too). */
  readonly maxBytes: number;
  /** The longest side, in pixels, of an image the function will decode. */
  readonly maxSide: number;
  /** The most pixels of an image the function will decode (memory: 4 bytes each). */
  readonly maxPixels: number;
}

/** 8,192 px a side, 25 megapixels: about 100 MB decoded, well inside the function's memory. */
export const DEFAULT_AVATAR_LIMITS: AvatarLimits = {
  maxBytes: 5 * 1024 * 1024,
  maxSide: 8192,
  maxPixels: 25_000_000,
};

export type AvatarInspection =
  | {
      readonly accepted: true;
      readonly contentType: AvatarContentType;
      readonly width: number;
      readonly height: number;
    }
  | { readonly accepted: false; readonly reason: string };

/** image-size's names for the formats an avatar may be. */
const CONTENT_TYPE_OF: Readonly<Record<string, AvatarContentType>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  webp: 'image/webp',
};

const refuse = (reason: string): AvatarInspection => ({ accepted: false, reason });

/**
 * Inspects an upload of `size` bytes declared as `declared`, from its first bytes (`head`,
 * at most AVATAR_HEAD_BYTES of them). Never throws: a malformed header is a refusal.
 */
export const inspectAvatar = (
  head: Uint8Array,
  declared: string,
  size: number,
  limits: AvatarLimits = DEFAULT_AVATAR_LIMITS,
): AvatarInspection => {
  if (!isAvatarContentType(declared)) {
    return refuse(
      `declared as ${declared || 'nothing'}, not one of ${AVATAR_CONTENT_TYPES.join(', ')}`,
    );
  }
  if (size < 1 || size > limits.maxBytes) {
    return refuse(`${size} bytes, outside 1 to ${limits.maxBytes}`);
  }
  let header: { type?: string; width?: number; height?: number };
  try {
    header = imageSize(head);
  } catch (error) {
    return refuse(`not an image of a known format (${(error as Error).message})`);
  }
  const actual = header.type === undefined ? undefined : CONTENT_TYPE_OF[header.type];
  if (actual === undefined)
    return refuse(`a ${header.type ?? 'unknown'} image, not an avatar format`);
  if (actual !== declared) return refuse(`declared as ${declared} but is ${actual}`);
  const { width, height } = header;
  if (width === undefined || height === undefined || width < 1 || height < 1) {
    return refuse('its header gives no dimensions');
  }
  if (width > limits.maxSide || height > limits.maxSide || width * height > limits.maxPixels) {
    return refuse(
      `${width} × ${height} px, over the limit of ${limits.maxSide} px a side and ${limits.maxPixels} px`,
    );
  }
  return { accepted: true, contentType: actual, width, height };
};
