import type * as Photon from '@silvia-odwyer/photon-node';

/**
 * Test images made here, the same bytes on every run: photo-like ones (a sky, a horizon,
 * shapes with hard edges, fractal texture and sensor grain, so an encoder has what a photo
 * gives it to keep) and a small smooth PNG for the cold start's stub.
 */

let loaded: typeof Photon | undefined;
/** Photon, loaded when an image is first encoded: a module that only imports this pays nothing. */
const photon = (): typeof Photon => {
  loaded ??= require('@silvia-odwyer/photon-node') as typeof Photon;
  return loaded;
};

/** An integer hash of a lattice point and a seed: deterministic value noise, no state. */
const hash = (x: number, y: number, seed: number): number => {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(seed, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 0x1_0000_0000;
};

const smooth = (t: number): number => t * t * (3 - 2 * t);

/** Value noise in [0, 1) at (x, y) in lattice cells. */
const valueNoise = (x: number, y: number, seed: number): number => {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const tx = smooth(x - x0);
  const ty = smooth(y - y0);
  const top = hash(x0, y0, seed) * (1 - tx) + hash(x0 + 1, y0, seed) * tx;
  const bottom = hash(x0, y0 + 1, seed) * (1 - tx) + hash(x0 + 1, y0 + 1, seed) * tx;
  return top * (1 - ty) + bottom * ty;
};

/** Octaves of value noise from a cell of `cell` px down to a few px: texture at every scale. */
const fractal = (x: number, y: number, cell: number, seed: number): number => {
  let sum = 0;
  let weight = 0;
  let amplitude = 1;
  for (let size = cell; size >= 3; size /= 2.3) {
    sum += amplitude * valueNoise(x / size, y / size, seed + size);
    weight += amplitude;
    amplitude *= 0.62;
  }
  return sum / weight;
};

const clamp = (value: number): number => (value < 0 ? 0 : value > 255 ? 255 : Math.round(value));

/**
 * A `width` × `height` RGBA photo-like scene: a sky with clouds over textured ground, a sun,
 * a few buildings with lit windows, and grain of ±`grain` levels. Scaled with the image, so a
 * larger one is the same scene at a higher resolution, as a better camera would take it.
 */
export const photoPixels = (width: number, height: number, grain = 6): Uint8Array => {
  const pixels = new Uint8Array(width * height * 4);
  const scale = width / 1200;
  const horizon = Math.round(height * 0.58);
  const sun = { x: width * 0.72, y: height * 0.22, r: height * 0.07 };
  const buildings = [0.08, 0.2, 0.31, 0.46, 0.55].map((at, i) => ({
    left: Math.round(width * at),
    right: Math.round(width * (at + 0.07 + 0.02 * (i % 2))),
    top: Math.round(horizon - height * (0.12 + 0.05 * ((i * 7) % 4))),
  }));
  let i = 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1, i += 4) {
      let r: number;
      let g: number;
      let b: number;
      if (y < horizon) {
        const t = y / horizon;
        const cloud = Math.max(0, fractal(x, y * 2, 180 * scale, 11) - 0.45) * 2.2;
        r = 70 + 90 * t + 180 * cloud;
        g = 120 + 70 * t + 150 * cloud;
        b = 200 + 30 * t + 60 * cloud;
        const d = Math.hypot(x - sun.x, y - sun.y);
        if (d < sun.r) [r, g, b] = [255, 236, 180];
        else if (d < sun.r * 3) {
          const glow = 1 - (d - sun.r) / (sun.r * 2);
          r += 80 * glow;
          g += 60 * glow;
        }
      } else {
        const t = (y - horizon) / (height - horizon);
        const grass = fractal(x, y, 90 * scale, 23);
        const detail = fractal(x, y, 12 * scale, 37);
        r = 40 + 70 * grass + 40 * detail + 30 * t;
        g = 70 + 90 * grass + 50 * detail - 20 * t;
        b = 25 + 30 * grass + 20 * detail;
      }
      for (const building of buildings) {
        if (x < building.left || x >= building.right || y < building.top || y >= horizon) continue;
        const wx = Math.floor((x - building.left) / (14 * scale));
        const wy = Math.floor((y - building.top) / (18 * scale));
        const inWindow =
          (x - building.left) % (14 * scale) > 5 * scale &&
          (y - building.top) % (18 * scale) > 7 * scale;
        const lit = hash(wx, wy, building.left) > 0.55;
        const wall = 60 + 50 * fractal(x, y, 40 * scale, building.left);
        [r, g, b] = inWindow
          ? lit
            ? [250, 220, 140]
            : [30, 35, 50]
          : [wall, wall * 0.9, wall * 0.85];
      }
      const noise = (hash(x, y, 97) - 0.5) * 2 * grain;
      pixels[i] = clamp(r + noise);
      pixels[i + 1] = clamp(g + noise);
      pixels[i + 2] = clamp(b + noise);
      pixels[i + 3] = 255;
    }
  }
  return pixels;
};

export type SourceFormat = 'jpeg' | 'png';

/** `pixels` encoded as a camera or an editor would save them: JPEG at `quality`, or PNG. */
export const encode = (
  pixels: Uint8Array,
  width: number,
  height: number,
  format: SourceFormat,
  quality = 90,
): Uint8Array => {
  const image = new (photon().PhotonImage)(pixels, width, height);
  try {
    return format === 'jpeg' ? image.get_bytes_jpeg(quality) : image.get_bytes();
  } finally {
    image.free();
  }
};

/** A photo-like image as an upload: its pixels generated here, encoded in `format`. */
export const photo = (width: number, height: number, format: SourceFormat): Uint8Array =>
  encode(photoPixels(width, height), width, height, format);

/** The cold start's upload: a smooth 480 × 360 PNG with a disc, a few KiB, under one ranged read. */
export const STUB_PNG_SIZE = { width: 480, height: 360 } as const;

let stubPng: Buffer | undefined;
export const smallPng = (): Buffer => {
  if (stubPng !== undefined) return stubPng;
  const { width, height } = STUB_PNG_SIZE;
  const pixels = new Uint8Array(width * height * 4);
  for (let i = 0, y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1, i += 4) {
      const inDisc = Math.hypot(x - width / 2, y - height / 2) < height / 3;
      pixels.set(
        inDisc ? [230, 120, 40, 255] : [(x * 255) / width, (y * 255) / height, 160, 255],
        i,
      );
    }
  }
  stubPng = Buffer.from(encode(pixels, width, height, 'png'));
  return stubPng;
};
