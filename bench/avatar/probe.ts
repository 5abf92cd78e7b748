import { readFileSync } from 'node:fs';
import type * as Photon from '@silvia-odwyer/photon-node';
import { AVATAR_JPEG_QUALITY, resizeAvatar } from '../../lambda/shared/adapters/avatar-resize';
import { PROBE_MARKER, type ProbeReport } from './result';

/**
 * One source image through the avatar function's own resize, in a fresh process, bundled as
 * the function is (bench/avatar/index.ts builds it with lib/bundling.ts's options and copies
 * Photon's WebAssembly beside it): `node probe.mjs <image file> <runs>`. It loads Photon
 * (timed apart: the function does it on its first resize), resizes the image `runs` times,
 * then times the steps once with Photon directly and encodes the same 256 px image the other
 * ways Photon can. The result is the last stdout line that starts with PROBE_MARKER. A
 * bundle's entry, never imported.
 */

interface PhotonModule {
  readonly __wasm: { readonly memory: { readonly buffer: ArrayBuffer } };
}

const timed = <T>(work: () => T): [T, number] => {
  const started = performance.now();
  const value = work();
  return [value, performance.now() - started];
};

const main = (): void => {
  const [file = '', runsArgument = '3'] = process.argv.slice(2);
  const source = new Uint8Array(readFileSync(file));
  const rssStart = process.memoryUsage.rss();

  const [photon, loadMs] = timed(() => require('@silvia-odwyer/photon-node') as typeof Photon);
  const memory = () => (photon as unknown as PhotonModule).__wasm.memory.buffer.byteLength;
  const loaded = memory();

  const resizeMs: number[] = [];
  let output: ReturnType<typeof resizeAvatar> | undefined;
  for (let run = 0; run < Number(runsArgument); run += 1) {
    const [resized, ms] = timed(() => resizeAvatar(source));
    output = resized;
    resizeMs.push(ms);
  }
  if (output === undefined) throw new Error('no run');
  const { width, height } = output;

  const [decoded, decode] = timed(() => photon.PhotonImage.new_from_byteslice(source));
  const [small, resize] = timed(() =>
    photon.resize(decoded, width, height, photon.SamplingFilter.Lanczos3),
  );
  const [, encode] = timed(() => small.get_bytes_jpeg(AVATAR_JPEG_QUALITY));
  const bytes = {
    jpeg: output.bytes.length,
    webp: small.get_bytes_webp().length,
    png: small.get_bytes().length,
  };
  decoded.free();
  small.free();

  const report: ProbeReport = {
    loadMs,
    resizeMs,
    stepsMs: { decode, resize, encode },
    output: { width, height },
    bytes,
    wasmMemory: { loaded, peak: memory() },
    // maxRSS is in KiB.
    rss: { start: rssStart, peak: process.resourceUsage().maxRSS * 1024 },
  };
  process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify(report)}\n`);
};

main();
