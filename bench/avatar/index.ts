import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AVATAR_JPEG_QUALITY, AVATAR_SIDE } from '../../lambda/shared/adapters/avatar-resize';
import {
  AVATAR_HEAD_BYTES,
  DEFAULT_AVATAR_LIMITS,
  inspectAvatar,
} from '../../lambda/shared/domain/avatar-image';
import { buildOptions, bundle, copyBundleAssets } from '../cold-start/build';
import { HANDLERS } from '../cold-start/handlers';
import type { Section, SectionContext } from '../section';
import { measure } from '../stats';
import { photo, type SourceFormat } from './images';
import { render, summaryRows } from './report';
import { type AvatarResult, PROBE_MARKER, type ProbeReport, type SourceResult } from './result';

/** The uploads measured: a photo as a phone might send it resized, the same as PNG, and a 12 MP original. */
export const SOURCES: readonly {
  readonly width: number;
  readonly height: number;
  readonly format: SourceFormat;
}[] = [
  { width: 1200, height: 900, format: 'jpeg' },
  { width: 1200, height: 900, format: 'png' },
  { width: 4000, height: 3000, format: 'jpeg' },
];

const CONTENT_TYPE: Readonly<Record<SourceFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
};

export const sourceName = (width: number, height: number, format: SourceFormat): string => {
  const megapixels = (width * height) / 1e6;
  return `${width} × ${height} ${format.toUpperCase()}${megapixels >= 2 ? ` (${megapixels.toFixed(0)} MP)` : ''}`;
};

/** The probe's report: the last marked line of its stdout. */
export const parseProbeOutput = (stdout: string): ProbeReport => {
  const line = stdout
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith(PROBE_MARKER));
  if (line === undefined) throw new Error('the avatar probe printed no result');
  const report = JSON.parse(line.slice(PROBE_MARKER.length)) as ProbeReport;
  if (!Array.isArray(report.resizeMs) || report.resizeMs.length === 0) {
    throw new Error(`malformed probe result: ${line}`);
  }
  return report;
};

const maxOf = (values: readonly number[]): number => Math.max(...values);

/** One source's figures from its processes' reports. */
export const sourceResult = (
  source: { readonly width: number; readonly height: number; readonly format: SourceFormat },
  bytes: number,
  accepted: boolean,
  reports: readonly ProbeReport[],
): SourceResult => {
  const [first] = reports;
  if (first === undefined) throw new Error('no probe report');
  const sizes = new Set(reports.map((r) => JSON.stringify(r.bytes)));
  if (sizes.size !== 1) throw new Error(`the outputs differ between processes: ${[...sizes]}`);
  return {
    name: sourceName(source.width, source.height, source.format),
    ...source,
    bytes,
    accepted,
    output: first.output,
    load: measure(
      reports.map((r) => r.loadMs),
      'ms',
    ),
    firstResize: measure(
      reports.map((r) => r.resizeMs[0] ?? 0),
      'ms',
    ),
    resize: measure(
      reports.flatMap((r) => r.resizeMs.slice(1)),
      'ms',
    ),
    steps: {
      decode: measure(
        reports.map((r) => r.stepsMs.decode),
        'ms',
      ),
      resize: measure(
        reports.map((r) => r.stepsMs.resize),
        'ms',
      ),
      encode: measure(
        reports.map((r) => r.stepsMs.encode),
        'ms',
      ),
    },
    outputBytes: first.bytes,
    wasmMemory: {
      loaded: maxOf(reports.map((r) => r.wasmMemory.loaded)),
      peak: maxOf(reports.map((r) => r.wasmMemory.peak)),
    },
    rss: {
      start: maxOf(reports.map((r) => r.rss.start)),
      peak: maxOf(reports.map((r) => r.rss.peak)),
    },
  };
};

const run = async ({ quick, log }: SectionContext): Promise<AvatarResult> => {
  const processes = quick ? 1 : 3;
  // The first resize of each process is cold and kept apart: at least two more.
  const runs = quick ? 3 : 6;
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-avatar-'));
  try {
    const probe = await bundle(
      buildOptions('ours', path.join(__dirname, 'probe.ts'), path.join(workdir, 'probe'), []),
    );
    copyBundleAssets(probe);
    const sources: SourceResult[] = [];
    for (const source of SOURCES) {
      const name = sourceName(source.width, source.height, source.format);
      const bytes = photo(source.width, source.height, source.format);
      const file = path.join(workdir, `${source.width}x${source.height}.${source.format}`);
      fs.writeFileSync(file, bytes);
      const contentType = CONTENT_TYPE[source.format];
      const { accepted } = inspectAvatar(
        bytes.subarray(0, AVATAR_HEAD_BYTES),
        contentType,
        bytes.length,
        DEFAULT_AVATAR_LIMITS,
      );
      const reports: ProbeReport[] = [];
      for (let p = 0; p < processes; p += 1) {
        const { stdout } = await promisify(execFile)(
          process.execPath,
          [probe.file, file, String(runs)],
          {
            env: { PATH: process.env.PATH ?? '/usr/bin:/bin', TZ: 'UTC' },
            maxBuffer: 1024 * 1024,
            timeout: 300_000,
          },
        );
        reports.push(parseProbeOutput(stdout));
      }
      const result = sourceResult(source, bytes.length, accepted, reports);
      log(
        `  ${name}, ${(bytes.length / 1e3).toFixed(0)} KB: resize ${result.resize.median.toFixed(0)} ms ` +
          `(first ${result.firstResize.median.toFixed(0)} ms, Photon's load ${result.load.median.toFixed(0)} ms); ` +
          `256 px JPEG ${result.outputBytes.jpeg} B, WebP ${result.outputBytes.webp} B, PNG ${result.outputBytes.png} B`,
      );
      sources.push(result);
    }
    return {
      node: process.version,
      cpu: `${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`,
      processes,
      runsPerProcess: runs,
      memoryMB: HANDLERS.find((spec) => spec.name === 'avatar')?.memorySize ?? 0,
      jpegQuality: AVATAR_JPEG_QUALITY,
      side: AVATAR_SIDE,
      maxBytes: DEFAULT_AVATAR_LIMITS.maxBytes,
      sources,
    };
  } finally {
    fs.rmSync(workdir, { recursive: true, force: true });
  }
};

/**
 * Photo-like uploads through the avatar function's resize, each in fresh processes bundled as
 * the function is: the time to decode, resize and encode, the memory it takes, and what the
 * 256 px avatar weighs as JPEG, Photon's WebP and PNG.
 */
export const avatar: Section<AvatarResult> = { name: 'avatar', run, render, summaryRows };
