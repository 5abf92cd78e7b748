/*
 * The business metrics a handler writes: Powertools Metrics prints each EMF document as one
 * JSON line on process.stdout (through a Console of its own, outside POWERTOOLS_DEV), so the
 * lines are read off a spy on process.stdout.write.
 */

export const NAMESPACE = 'CustomerPipeline-test';
export const FUNCTION_VERSION = '7';

/** What Lambda and the infrastructure give `service`'s function; call before it loads. */
export const metricsEnvironment = (service: string): void => {
  Object.assign(process.env, {
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
    AWS_LAMBDA_FUNCTION_VERSION: FUNCTION_VERSION,
  });
  delete process.env.POWERTOOLS_DEV;
  delete process.env.POWERTOOLS_METRICS_DISABLED;
};

export interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** Captures stdout around every test of the file; `documents()` are the EMF lines so far. */
export const captureEmf = () => {
  let written: string[] = [];
  beforeEach(() => {
    written = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  const documents = (): EmfDocument[] =>
    written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{') && line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as EmfDocument);

  /**
   * Every datapoint written, one per metric and dimension set, sorted:
   * `RecordsFailed{service=welcome,reason=Busy} 1 Count`. Each document is checked to be in
   * the stage's namespace and to hold one value per metric.
   */
  const series = (): string[] =>
    documents()
      .flatMap((document) => {
        const [directive, ...others] = document._aws.CloudWatchMetrics;
        expect(others).toEqual([]);
        expect(directive?.Namespace).toBe(NAMESPACE);
        return (directive?.Dimensions ?? []).flatMap((set) =>
          (directive?.Metrics ?? []).map(({ Name, Unit }) => {
            const dimensions = set.map((name) => `${name}=${String(document[name])}`).join(',');
            return `${Name}{${dimensions}} ${JSON.stringify(document[Name])} ${Unit}`;
          }),
        );
      })
      .sort();

  return { documents, series };
};
