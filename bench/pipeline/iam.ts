import { control } from 'cdk-local-cloud';
import type { Cloud } from './driver';
import type { PipelineResult } from './result';

/** One function's part of the local cloud's IAM report (`GET /iam`), as the bench reads it. */
interface FunctionReport {
  readonly function: string;
  readonly granted: readonly {
    readonly action: string;
    readonly resources: readonly string[];
    readonly calls: number;
  }[];
  readonly denied: readonly { readonly action: string; readonly resource: string }[];
}

/** The local cloud's IAM report: what each function's role granted, used and denied. */
export const iamReport = async (cloud: Cloud): Promise<readonly FunctionReport[]> =>
  ((await control(cloud, 'GET', '/iam')) as { functions: FunctionReport[] }).functions;

/** What the lifecycle left unused of each role, and what it was denied. */
export const iamAfterLifecycle = (
  report: readonly FunctionReport[],
): NonNullable<PipelineResult['iam']> => ({
  unused: report.flatMap((f) =>
    f.granted
      .filter((g) => g.calls === 0)
      .map((g) => ({ fn: f.function, action: g.action, resources: g.resources })),
  ),
  denied: report.flatMap((f) =>
    f.denied.map((d) => ({ fn: f.function, action: d.action, resource: d.resource })),
  ),
});
