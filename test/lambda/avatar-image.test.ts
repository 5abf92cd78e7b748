import {
  AVATAR_HEAD_BYTES,
  DEFAULT_AVATAR_LIMITS,
  inspectAvatar,
} from '../../lambda/shared/domain/avatar-image';
import { plainPng } from '../images';

// An avatar is judged from its first bytes: its real format and its dimensions, from the
// header, so that a file lying about either is refused before anything decodes it.

const png = plainPng;

/** A baseline JPEG's start: SOI, its JFIF segment (APP0), then a frame header (SOF0) giving its size. */
const jpegHead = (width: number, height: number) => {
  const jfif = Buffer.from([
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0, 0, 1, 0, 1, 0, 0,
  ]);
  const sof = Buffer.from([
    0xff, 0xc0, 0x00, 0x11, 0x08, 0, 0, 0, 0, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1,
  ]);
  sof.writeUInt16BE(height, 5);
  sof.writeUInt16BE(width, 7);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), jfif, sof, Buffer.from([0xff, 0xd9])]);
};

/** A lossless WebP's start: RIFF, WEBP, a VP8L chunk whose first bits give its size. */
const webpHead = (width: number, height: number) => {
  const bits = (width - 1) | ((height - 1) << 14);
  const vp8l = Buffer.alloc(5);
  vp8l[0] = 0x2f;
  vp8l.writeUInt32LE(bits >>> 0, 1);
  const data = Buffer.concat([
    Buffer.from('VP8L'),
    Buffer.from([5, 0, 0, 0]),
    vp8l,
    Buffer.alloc(1),
  ]);
  const riff = Buffer.alloc(4);
  riff.writeUInt32LE(4 + data.length);
  return Buffer.concat([Buffer.from('RIFF'), riff, Buffer.from('WEBP'), data]);
};

const inspect = (bytes: Buffer, declared: string, size = bytes.length) =>
  inspectAvatar(bytes.subarray(0, AVATAR_HEAD_BYTES), declared, size);

describe('inspectAvatar', () => {
  test.each([
    ['a PNG', png(3, 2), 'image/png', 3, 2],
    ['a JPEG', jpegHead(640, 480), 'image/jpeg', 640, 480],
    ['a WebP', webpHead(300, 200), 'image/webp', 300, 200],
  ])(
    'accepts %s declared as what it is, with its size from the header',
    (_, bytes, type, width, height) => {
      expect(inspect(bytes, type)).toEqual({ accepted: true, contentType: type, width, height });
    },
  );

  test.each([
    [
      'an HTML page declared image/png',
      Buffer.from('<!doctype html><script>alert(1)</script>'),
      'image/png',
      /not an image of a known format/,
    ],
    [
      'a PNG declared image/jpeg',
      png(3, 2),
      'image/jpeg',
      /declared as image\/jpeg but is image\/png/,
    ],
    [
      'a GIF declared image/png',
      Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'),
      'image/png',
      /a gif image, not an avatar format/,
    ],
    [
      'an SVG declared as such',
      Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'),
      'image/svg+xml',
      /declared as image\/svg\+xml, not one of image\/png, image\/jpeg, image\/webp/,
    ],
    ['nothing declared', png(3, 2), '', /declared as nothing/],
  ])('refuses %s', (_, bytes, type, reason) => {
    const result = inspect(bytes, type);
    expect(result.accepted).toBe(false);
    expect(result.accepted ? '' : result.reason).toMatch(reason);
  });

  test('refuses a decompression bomb from its header alone: 50,000 × 50,000 claimed by a PNG of a few bytes', () => {
    const bomb = png(1, 1, { width: 50_000, height: 50_000 });
    expect(bomb.length).toBeLessThan(100);
    expect(inspect(bomb, 'image/png')).toEqual({
      accepted: false,
      reason: '50000 × 50000 px, over the limit of 8192 px a side and 25000000 px',
    });
  });

  test('refuses too many pixels within the side limit, and a size outside 1 byte to the maximum', () => {
    expect(inspect(jpegHead(8000, 8000), 'image/jpeg').accepted).toBe(false);
    expect(inspect(jpegHead(5000, 5000), 'image/jpeg').accepted).toBe(true);
    expect(inspect(png(3, 2), 'image/png', 0).accepted).toBe(false);
    expect(inspect(png(3, 2), 'image/png', DEFAULT_AVATAR_LIMITS.maxBytes + 1)).toEqual({
      accepted: false,
      reason: `${DEFAULT_AVATAR_LIMITS.maxBytes + 1} bytes, outside 1 to ${DEFAULT_AVATAR_LIMITS.maxBytes}`,
    });
  });

  test('a truncated header is a refusal, not an exception', () => {
    const result = inspect(png(3, 2).subarray(0, 12), 'image/png');
    expect(result.accepted).toBe(false);
  });
});
