import * as photon from '@silvia-odwyer/photon-node';
import { AVATAR_SIDE, resizeAvatar } from '../../lambda/shared/adapters/avatar-resize';
import { AVATAR_HEAD_BYTES, inspectAvatar } from '../../lambda/shared/domain/avatar-image';
import { decodedSize, detailedImage } from '../images';

// An accepted upload becomes a JPEG whose longer side is 256 px: real images, made here.

const image = detailedImage;
const decoded = decodedSize;

describe('resizeAvatar', () => {
  test.each([
    ['a wide PNG', image(600, 300, 'png'), 256, 128],
    ['a tall JPEG', image(300, 900, 'jpeg'), 85, 256],
    ['a square WebP', image(512, 512, 'webp'), 256, 256],
  ])('scales %s to 256 px on its longer side, as a JPEG', (_, bytes, width, height) => {
    const resized = resizeAvatar(bytes);

    expect({ width: resized.width, height: resized.height }).toEqual({ width, height });
    expect(resized.contentType).toBe('image/jpeg');
    expect(decoded(resized.bytes)).toEqual({ width, height });
    // What it publishes is an avatar by the same rules it was accepted by.
    expect(
      inspectAvatar(
        resized.bytes.subarray(0, AVATAR_HEAD_BYTES),
        'image/jpeg',
        resized.bytes.length,
      ),
    ).toEqual({ accepted: true, contentType: 'image/jpeg', width, height });
  });

  test('puts a transparent image on white, which JPEG cannot keep transparent (not black)', () => {
    // A 300 × 300 PNG, transparent but for an opaque red square in its middle.
    const pixels = new Uint8Array(300 * 300 * 4);
    for (let y = 100; y < 200; y += 1) {
      for (let x = 100; x < 200; x += 1) pixels.set([255, 0, 0, 255], (y * 300 + x) * 4);
    }
    const source = new photon.PhotonImage(pixels, 300, 300);
    const png = source.get_bytes();
    source.free();

    const back = photon.PhotonImage.new_from_byteslice(resizeAvatar(png).bytes);
    const raw = back.get_raw_pixels();
    const at = (x: number, y: number) =>
      Array.from(raw.subarray((y * 256 + x) * 4, (y * 256 + x) * 4 + 3));
    back.free();

    for (const channel of at(5, 5)) expect(channel).toBeGreaterThan(240);
    const [red = 0, green = 0, blue = 0] = at(128, 128);
    expect(red).toBeGreaterThan(200);
    expect(Math.max(green, blue)).toBeLessThan(60);
  });

  test('never enlarges a small image', () => {
    const resized = resizeAvatar(image(100, 40, 'png'));
    expect({ width: resized.width, height: resized.height }).toEqual({ width: 100, height: 40 });
  });

  test('a 256 px JPEG of a photo-like image is a few kilobytes', () => {
    const resized = resizeAvatar(image(1024, 768, 'png'));
    expect(Math.max(resized.width, resized.height)).toBe(AVATAR_SIDE);
    expect(resized.bytes.length).toBeLessThan(20_000);
  });
});
