import * as zlib from 'node:zlib';
import * as photon from '@silvia-odwyer/photon-node';

/**
 * Real images, made in the test: the avatar's unit tests and the end-to-end suite upload,
 * inspect and resize these, never a fixture file.
 */

/** A `width` × `height` image with some detail (gradients and a pattern), encoded by Photon. */
export const detailedImage = (
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp',
): Uint8Array => {
  const pixels = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      pixels.set([(x * 255) / width, (y * 255) / height, (x ^ y) & 255, 255], (y * width + x) * 4);
    }
  }
  const source = new photon.PhotonImage(pixels, width, height);
  try {
    if (format === 'png') return source.get_bytes();
    if (format === 'jpeg') return source.get_bytes_jpeg(90);
    return source.get_bytes_webp();
  } finally {
    source.free();
  }
};

/** An image's dimensions, as Photon decodes it. */
export const decodedSize = (bytes: Uint8Array): { width: number; height: number } => {
  const back = photon.PhotonImage.new_from_byteslice(bytes);
  try {
    return { width: back.get_width(), height: back.get_height() };
  } finally {
    back.free();
  }
};

const u32 = (value: number) => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
};
const chunk = (type: string, data: Buffer) =>
  Buffer.concat([
    u32(data.length),
    Buffer.from(type, 'ascii'),
    data,
    u32(zlib.crc32(Buffer.concat([Buffer.from(type, 'ascii'), data]))),
  ]);

/**
 * A real PNG of `width` × `height` RGBA pixels, all one colour, whose header may claim other
 * dimensions (`claim`): `plainPng(1, 1, { width: 50_000, height: 50_000 })` is a tiny
 * decompression bomb.
 */
export const plainPng = (width: number, height: number, claim = { width, height }): Buffer => {
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 4, 0x80)]);
  const pixels = zlib.deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  const ihdr = Buffer.concat([u32(claim.width), u32(claim.height), Buffer.from([8, 6, 0, 0, 0])]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
};
