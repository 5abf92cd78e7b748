import type { Measured } from '../stats';

// What the avatar section measures: its part of bench/results.json.

/** The line before a probe's report on its stdout (the probe: bench/avatar/probe.ts). */
export const PROBE_MARKER = '@@avatar-probe@@';

/** What one probe process reports for one source image. */
export interface ProbeReport {
  /** Reading, compiling and instantiating Photon's WebAssembly. */
  readonly loadMs: number;
  /** Each `resizeAvatar` (decode, on white, resize, JPEG), the first one cold. */
  readonly resizeMs: readonly number[];
  /** One more time, step by step with Photon itself. */
  readonly stepsMs: { readonly decode: number; readonly resize: number; readonly encode: number };
  readonly output: { readonly width: number; readonly height: number };
  /** The 256 px image in each format Photon encodes: JPEG at the function's quality, WebP (lossless, Photon's only), PNG. */
  readonly bytes: { readonly jpeg: number; readonly webp: number; readonly png: number };
  /** WebAssembly memory once Photon is loaded, and after the last step (it never shrinks). */
  readonly wasmMemory: { readonly loaded: number; readonly peak: number };
  /** Resident set before Photon was loaded (the source read), and the process's peak. */
  readonly rss: { readonly start: number; readonly peak: number };
}

export interface SourceResult {
  /** e.g. `4000 × 3000 JPEG (12 MP)`. */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly format: 'jpeg' | 'png';
  readonly bytes: number;
  /** Whether the function would take it: within the upload limit and the decode limits. */
  readonly accepted: boolean;
  readonly output: { readonly width: number; readonly height: number };
  /** Photon's load, once per process. */
  readonly load: Measured;
  /** The first resize of each process, cold (Photon's code not yet warm). */
  readonly firstResize: Measured;
  /** Every later resize: decode, on white, resize, encode. */
  readonly resize: Measured;
  /** The steps, timed once more per process with Photon directly. */
  readonly steps: {
    readonly decode: Measured;
    readonly resize: Measured;
    readonly encode: Measured;
  };
  /** Bytes at 256 px (the same in every process: the code is deterministic). */
  readonly outputBytes: { readonly jpeg: number; readonly webp: number; readonly png: number };
  /** Largest over the processes, in bytes. */
  readonly wasmMemory: { readonly loaded: number; readonly peak: number };
  readonly rss: { readonly start: number; readonly peak: number };
}

export interface AvatarResult {
  readonly node: string;
  readonly cpu: string;
  readonly processes: number;
  readonly runsPerProcess: number;
  /** The function's memory, and the share of a vCPU Lambda gives it (1,769 MB is one). */
  readonly memoryMB: number;
  readonly jpegQuality: number;
  readonly side: number;
  readonly maxBytes: number;
  readonly sources: readonly SourceResult[];
}
