import type { Measured } from '../stats';

// What the synth-time section measures: its part of bench/results.json.

/** This app's `cdk synth` may take at most this multiple of the reference app's. */
export const GOAL_RATIO = 1.5;

export interface AppPhases {
  /** `cdk synth` wall time, spawn to exit: the figure the goal compares. */
  readonly cli: Measured;
  /** The app's command alone, without the CLI. */
  readonly app: Measured;
  /** Of each CLI synth: its wall time less aws-cdk-lib's phases (the CLI, launchers, exits). */
  readonly outsideApp: Measured;
  /** Of the app alone: npx, tsx and process exits (its wall time less aws-cdk-lib's phases). */
  readonly launcher: Measured;
  /** aws-cdk-lib's counters of the CLI synths. */
  readonly load: Measured;
  readonly constructionWithoutBundling: Measured;
  readonly bundling: Measured;
  readonly validation: Measured;
  readonly synthesisWithoutValidation: Measured;
  /** validateTemplates of the app alone with the built-in validation off: the plugins'. */
  readonly pluginValidation: Measured;
  /** The esbuild runs, by the asset whose bundling started each. */
  readonly functions: { asset: string; wall: Measured; esbuild: Measured }[];
  /** How many functions were bundled. */
  readonly bundledAssets: number;
}

export interface SynthTimeResult {
  readonly cliVersion: string;
  readonly node: string;
  readonly cpu: string;
  readonly runs: { readonly cli: number; readonly app: number };
  /** Each app's command, as its cdk.json gives it to the CLI. */
  readonly commands: { readonly ours: string; readonly reference: string };
  /** 1-minute load average when the runs started and ended: other work skews every figure. */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly ours: AppPhases;
  readonly reference: AppPhases;
  /** ours.cli / reference.cli, of the medians. */
  readonly ratio: number;
  readonly goalMet: boolean;
}
