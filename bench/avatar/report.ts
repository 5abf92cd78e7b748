import type { SummaryRow } from '../section';
import type { Measured } from '../stats';
import type { AvatarResult, SourceResult } from './result';

// The avatar section written up: its part of bench/RESULTS.md and its summary rows.

/** Lambda gives a function one vCPU's worth of time at 1,769 MB, in proportion below. */
export const LAMBDA_MB_PER_VCPU = 1769;

const kb = (bytes: number): string => `${(bytes / 1000).toFixed(1)} KB`;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
const ms = (m: Measured): string => `${m.median.toFixed(0)} ± ${(m.iqr / 2).toFixed(0)} ms`;
const times = (a: number, b: number): string => `${(a / b).toFixed(1)}×`;

/** What is left of a resize once decode, scaling and encoding are counted: putting it on white. */
export const onWhiteMs = (s: SourceResult): number =>
  Math.max(
    0,
    s.resize.median - s.steps.decode.median - s.steps.resize.median - s.steps.encode.median,
  );

/** The source with the most pixels: the figure for the largest upload. */
export const largestSource = (result: AvatarResult): SourceResult | undefined =>
  [...result.sources].sort((a, b) => b.width * b.height - a.width * a.height)[0];

/** The first JPEG source: a photo, as the sizes at 256 px are quoted for. */
export const photoSource = (result: AvatarResult): SourceResult | undefined =>
  result.sources.find((s) => s.format === 'jpeg');

export const render = (result: AvatarResult): string => {
  const timing = result.sources.map((s) =>
    [
      s.name,
      `${kb(s.bytes)}${s.accepted ? '' : ' (**refused**)'}`,
      ms(s.load),
      ms(s.firstResize),
      `**${ms(s.resize)}**`,
      `${s.steps.decode.median.toFixed(0)} / ${s.steps.resize.median.toFixed(0)} / ${s.steps.encode.median.toFixed(0)} / ${onWhiteMs(s).toFixed(0)} ms`,
      `${mb(s.wasmMemory.loaded)} → ${mb(s.wasmMemory.peak)}`,
      `${mb(s.rss.start)} → ${mb(s.rss.peak)}`,
    ].join(' | '),
  );
  const sizes = result.sources.map((s) =>
    [
      s.name,
      `${s.output.width} × ${s.output.height}`,
      `**${kb(s.outputBytes.jpeg)}**`,
      kb(s.outputBytes.webp),
      kb(s.outputBytes.png),
      `${times(s.outputBytes.webp, s.outputBytes.jpeg)} / ${times(s.outputBytes.png, s.outputBytes.jpeg)}`,
    ].join(' | '),
  );
  const jpegs = result.sources.map((s) => s.outputBytes.jpeg);
  const webps = result.sources.map((s) => s.outputBytes.webp);
  const pngs = result.sources.map((s) => s.outputBytes.png);
  const range = (values: number[]) =>
    Math.min(...values) === Math.max(...values)
      ? kb(values[0] ?? 0)
      : `${kb(Math.min(...values))}–${kb(Math.max(...values))}`;
  const smallest = result.sources.every(
    (s) => s.outputBytes.jpeg < s.outputBytes.webp && s.outputBytes.jpeg < s.outputBytes.png,
  );
  const largest = largestSource(result);
  const vcpu = result.memoryMB / LAMBDA_MB_PER_VCPU;
  return [
    `## Avatar: an upload resized to ${result.side} px`,
    '',
    'Photo-like uploads generated here, the same bytes every run (a sky with clouds and a sun, buildings with lit windows, textured grass, ±6 levels of grain), ' +
      "each through the avatar function's own `resizeAvatar` (lambda/shared/adapters/avatar-resize.ts: decode, put on white, Lanczos3 to the longer side's " +
      `${result.side} px, JPEG at quality ${result.jpegQuality}), in ${result.processes} fresh Node process${result.processes === 1 ? '' : 'es'} per upload bundled as the function is, ` +
      `${result.runsPerProcess} resizes each; on ${result.cpu}, Node ${result.node}. Median ± IQR/2.`,
    '',
    '| upload | bytes | Photon load | first resize (cold) | resize | decode / scale / encode / on white | WebAssembly memory | RSS |',
    '|---|---|---|---|---|---|---|---|',
    ...timing.map((row) => `| ${row} |`),
    '',
    "*Photon load* reads, compiles and instantiates its WebAssembly, which the function does on its first resize; *first resize* is that process's first, Photon's code still cold; *resize* is every later one, the function's warm figure. " +
      'The steps are timed once more per process with Photon directly; *on white* is what is left of the resize (copying the pixels out of WebAssembly and back, to composite transparency on white). ' +
      'WebAssembly memory never shrinks: its size once Photon is loaded, then after the last step. RSS: the process once the upload is read, then its peak.',
    '',
    `| upload | avatar | JPEG q${result.jpegQuality} | WebP (Photon: lossless only) | PNG | WebP / PNG ÷ JPEG |`,
    '|---|---|---|---|---|---|',
    ...sizes.map((row) => `| ${row} |`),
    '',
    `At ${result.side} px the JPEG is ${range(jpegs)}, Photon's WebP ${range(webps)} and PNG ${range(pngs)}: ` +
      (smallest
        ? 'JPEG is the smallest for every upload, the figure behind the choice of JPEG (Photon encodes WebP losslessly only, so it keeps the grain a photo has).'
        : '**JPEG is not the smallest for every upload**: the choice of JPEG needs another look.'),
    '',
    `Caveats: this machine's cores, not Lambda's. At ${result.memoryMB} MB Lambda gives the function ${vcpu.toFixed(2)} of a vCPU (one at ${LAMBDA_MB_PER_VCPU.toLocaleString('en-US')} MB), ` +
      `so expect about ${(1 / vcpu).toFixed(1)}× these times there before any difference between the CPUs` +
      (largest === undefined
        ? '.'
        : `: the ${largest.name} would take about ${(largest.resize.median / vcpu / 1000).toFixed(1)} s warm.`) +
      ' The images are generated, not photographs: what each format weighs depends on the content (fine detail and grain weigh most on the lossless ones), so trust the ratios between the formats more than the kilobytes.',
    '',
  ].join('\n');
};

export const summaryRows = (result: AvatarResult): SummaryRow[] => {
  const rows: SummaryRow[] = [];
  const largest = largestSource(result);
  if (largest !== undefined) {
    rows.push({
      metric: `Avatar resize of a ${largest.name} upload to ${result.side} px (warm, this machine)`,
      value: `${largest.resize.median.toFixed(0)} ms, peak RSS ${mb(largest.rss.peak)}`,
      goal: '–',
      met: null,
    });
  }
  const source = photoSource(result);
  if (source !== undefined) {
    const { jpeg, webp, png } = source.outputBytes;
    rows.push({
      metric: `Avatar at ${result.side} px from a ${source.name} photo: JPEG q${result.jpegQuality} vs Photon's WebP (lossless) vs PNG`,
      value: `${kb(jpeg)} vs ${kb(webp)} vs ${kb(png)}`,
      goal: 'JPEG the smallest',
      met: jpeg < webp && jpeg < png,
    });
  }
  return rows;
};
