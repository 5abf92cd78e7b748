import * as photon from '@silvia-odwyer/photon-node';
import { parseProbeOutput, SOURCES, sourceName, sourceResult } from '../../bench/avatar';
import { photo, photoPixels, STUB_PNG_SIZE, smallPng } from '../../bench/avatar/images';
import { LAMBDA_MB_PER_VCPU, onWhiteMs, render, summaryRows } from '../../bench/avatar/report';
import {
  type AvatarResult,
  PROBE_MARKER,
  type ProbeReport,
  type SourceResult,
} from '../../bench/avatar/result';
import { inspectAvatar } from '../../lambda/shared/domain/avatar-image';

const decoded = (bytes: Uint8Array) => {
  const image = photon.PhotonImage.new_from_byteslice(bytes);
  try {
    return { width: image.get_width(), height: image.get_height() };
  } finally {
    image.free();
  }
};

describe('the test images', () => {
  test('a photo-like scene is the same bytes on every run', () => {
    expect(Buffer.from(photoPixels(120, 90)).equals(Buffer.from(photoPixels(120, 90)))).toBe(true);
  });

  test('has what a photo gives an encoder: many colours, opaque, no flat areas of one value', () => {
    const pixels = photoPixels(240, 180);
    const colours = new Set<number>();
    let opaque = true;
    for (let i = 0; i < pixels.length; i += 4) {
      colours.add(((pixels[i] ?? 0) << 16) | ((pixels[i + 1] ?? 0) << 8) | (pixels[i + 2] ?? 0));
      opaque &&= pixels[i + 3] === 255;
    }
    expect(opaque).toBe(true);
    expect(colours.size).toBeGreaterThan(5000);
  });

  test('is encoded as the upload it stands for, which the function accepts', () => {
    const jpeg = photo(320, 240, 'jpeg');
    expect(decoded(jpeg)).toEqual({ width: 320, height: 240 });
    expect(inspectAvatar(jpeg, 'image/jpeg', jpeg.length)).toMatchObject({ accepted: true });
    const png = photo(64, 48, 'png');
    expect(inspectAvatar(png, 'image/png', png.length)).toMatchObject({ accepted: true });
  });

  test("the cold start's PNG is small, real and decodes to its size", () => {
    const png = smallPng();
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(decoded(png)).toEqual(STUB_PNG_SIZE);
    expect(png.length).toBeLessThan(64 * 1024);
  });

  test('the uploads measured: a photo and its PNG, and a 12 MP original', () => {
    expect(SOURCES.map((s) => sourceName(s.width, s.height, s.format))).toEqual([
      '1200 × 900 JPEG',
      '1200 × 900 PNG',
      '4000 × 3000 JPEG (12 MP)',
    ]);
  });
});

const report = (overrides: Partial<ProbeReport> = {}): ProbeReport => ({
  loadMs: 50,
  resizeMs: [300, 120, 130],
  stepsMs: { decode: 30, resize: 70, encode: 8 },
  output: { width: 256, height: 192 },
  bytes: { jpeg: 7300, webp: 49500, png: 68000 },
  wasmMemory: { loaded: 1_114_112, peak: 20_000_000 },
  rss: { start: 45_000_000, peak: 90_000_000 },
  ...overrides,
});

describe('the probe', () => {
  test('its report is the last marked line, whatever else it printed', () => {
    const stdout = `warning\n${PROBE_MARKER}${JSON.stringify(report())}\n`;
    expect(parseProbeOutput(stdout)).toEqual(report());
    expect(() => parseProbeOutput('nothing\n')).toThrow('printed no result');
    expect(() =>
      parseProbeOutput(`${PROBE_MARKER}${JSON.stringify(report({ resizeMs: [] }))}`),
    ).toThrow('malformed');
  });

  test("keeps each process's first, cold resize apart from the warm ones", () => {
    const source = { width: 1200, height: 900, format: 'jpeg' as const };
    const result = sourceResult(source, 297_000, true, [
      report(),
      report({ loadMs: 60, resizeMs: [280, 110, 140], rss: { start: 1, peak: 95_000_000 } }),
    ]);
    expect(result.name).toBe('1200 × 900 JPEG');
    expect(result.firstResize.median).toBe(290);
    expect(result.resize.runs).toBe(4);
    expect(result.resize.median).toBe(125);
    expect(result.load.median).toBe(55);
    expect(result.rss.peak).toBe(95_000_000);
    expect(result.outputBytes).toEqual({ jpeg: 7300, webp: 49500, png: 68000 });
  });

  test('refuses processes that disagree on the output: the code is deterministic', () => {
    const source = { width: 1200, height: 900, format: 'jpeg' as const };
    expect(() =>
      sourceResult(source, 1, true, [report(), report({ bytes: { jpeg: 1, webp: 2, png: 3 } })]),
    ).toThrow('the outputs differ');
  });
});

const source = (name: string, width: number, height: number, resizeMs: number): SourceResult => ({
  ...sourceResult({ width, height, format: 'jpeg' }, 300_000, true, [
    report({ resizeMs: [resizeMs * 2, resizeMs, resizeMs] }),
  ]),
  name,
});

const result = (sources: SourceResult[]): AvatarResult => ({
  node: 'v24.0.0',
  cpu: 'test CPU × 2',
  processes: 1,
  runsPerProcess: 3,
  memoryMB: 1024,
  jpegQuality: 80,
  side: 256,
  maxBytes: 5 * 1024 * 1024,
  sources,
});

describe('the avatar report', () => {
  const photoResult = result([
    source('1200 × 900 JPEG', 1200, 900, 125),
    source('4000 × 3000 JPEG (12 MP)', 4000, 3000, 1200),
  ]);

  test('what is left of a resize once its steps are counted is putting it on white', () => {
    expect(onWhiteMs(source('x', 1200, 900, 125))).toBe(125 - 30 - 70 - 8);
  });

  test('times and memory per upload, and the bytes of each format at 256 px', () => {
    const text = render(photoResult);
    expect(text).toContain('## Avatar: an upload resized to 256 px');
    expect(text).toContain(
      '| 1200 × 900 JPEG | 300.0 KB | 50 ± 0 ms | 250 ± 0 ms | **125 ± 0 ms** | 30 / 70 / 8 / 17 ms | 1 MB → 20 MB | 45 MB → 90 MB |',
    );
    expect(text).toContain(
      '| 1200 × 900 JPEG | 256 × 192 | **7.3 KB** | 49.5 KB | 68.0 KB | 6.8× / 9.3× |',
    );
    expect(text).toContain('JPEG is the smallest for every upload');
  });

  test("scales the largest upload's time to the vCPU share Lambda gives 1024 MB", () => {
    const vcpu = 1024 / LAMBDA_MB_PER_VCPU;
    expect(render(photoResult)).toContain(
      `the 4000 × 3000 JPEG (12 MP) would take about ${(1.2 / vcpu).toFixed(1)} s warm`,
    );
  });

  test('says so when JPEG is not the smallest', () => {
    const [first] = photoResult.sources;
    if (first === undefined) throw new Error('no source');
    const text = render(result([{ ...first, outputBytes: { jpeg: 9000, webp: 8000, png: 9500 } }]));
    expect(text).toContain('**JPEG is not the smallest for every upload**');
  });

  test('summary rows: the largest upload’s resize, and the three formats for the photo', () => {
    const rows = summaryRows(photoResult);
    expect(rows).toEqual([
      {
        metric: 'Avatar resize of a 4000 × 3000 JPEG (12 MP) upload to 256 px (warm, this machine)',
        value: '1200 ms, peak RSS 90 MB',
        goal: '–',
        met: null,
      },
      {
        metric:
          "Avatar at 256 px from a 1200 × 900 JPEG photo: JPEG q80 vs Photon's WebP (lossless) vs PNG",
        value: '7.3 KB vs 49.5 KB vs 68.0 KB',
        goal: 'JPEG the smallest',
        met: true,
      },
    ]);
  });
});
