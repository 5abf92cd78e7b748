import type * as Photon from '@silvia-odwyer/photon-node';

/**
 * An accepted avatar (`inspectAvatar`), decoded, put on white where it is transparent, scaled
 * so its longer side is at most AVATAR_SIDE pixels (never enlarged), and encoded as JPEG: for
 * a 1200 × 900 photo at 256 px, JPEG at quality 80 is 13.7 KB where Photon's WebP (lossless
 * only) is 82.2 KB and PNG 99.6 KB (`npm run bench`, its avatar section).
 *
 * Only inspected bytes may come here: Photon (Rust compiled to WebAssembly) panics on input
 * it cannot decode, and a panicked module is not to be trusted with the next call.
 */

let loaded: typeof Photon | undefined;

/**
 * Photon, loaded on first use: loading compiles its 1.9 MB of WebAssembly, which the avatar
 * function's API route and its erase never need. (esbuild bundles a `require` like an import,
 * but runs the module only when it is called.)
 */
const photon = (): typeof Photon => {
  loaded ??= require('@silvia-odwyer/photon-node') as typeof Photon;
  return loaded;
};

/** The published avatar's longer side, in pixels. */
export const AVATAR_SIDE = 256;
export const AVATAR_JPEG_QUALITY = 80;

export interface ResizedAvatar {
  readonly bytes: Uint8Array;
  readonly contentType: 'image/jpeg';
  readonly width: number;
  readonly height: number;
}

/**
 * The image's pixels over white, opaque: JPEG has no transparency, and Photon's encoder would
 * drop the alpha channel, leaving what was transparent black (usually black pixels at alpha 0).
 */
const onWhite = (image: Photon.PhotonImage): Photon.PhotonImage => {
  const pixels = image.get_raw_pixels();
  for (let i = 0; i < pixels.length; i += 4) {
    const alpha = (pixels[i + 3] ?? 255) / 255;
    if (alpha === 1) continue;
    for (let c = 0; c < 3; c += 1) {
      pixels[i + c] = Math.round((pixels[i + c] ?? 0) * alpha + 255 * (1 - alpha));
    }
    pixels[i + 3] = 255;
  }
  return new (photon().PhotonImage)(pixels, image.get_width(), image.get_height());
};

export const resizeAvatar = (source: Uint8Array): ResizedAvatar => {
  const { PhotonImage, resize, SamplingFilter } = photon();
  const decoded = PhotonImage.new_from_byteslice(source);
  // On white before scaling: scaling transparent black pixels would leave dark fringes.
  let image: Photon.PhotonImage;
  try {
    image = onWhite(decoded);
  } finally {
    decoded.free();
  }
  try {
    const [sourceWidth, sourceHeight] = [image.get_width(), image.get_height()];
    const scale = Math.min(1, AVATAR_SIDE / Math.max(sourceWidth, sourceHeight));
    const width = Math.max(1, Math.round(sourceWidth * scale));
    const height = Math.max(1, Math.round(sourceHeight * scale));
    const resized = scale < 1 ? resize(image, width, height, SamplingFilter.Lanczos3) : image;
    try {
      return {
        bytes: resized.get_bytes_jpeg(AVATAR_JPEG_QUALITY),
        contentType: 'image/jpeg',
        width,
        height,
      };
    } finally {
      if (resized !== image) resized.free();
    }
  } finally {
    image.free();
  }
};
