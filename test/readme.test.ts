import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { STAGES, type Stage } from '../lib/config';
import { synthPipeline } from './synth';
import { resourcesOfType } from './template-queries';

/** CloudWatch's list price of a standard-resolution alarm, per month (us-east-1). */
const ALARM_USD_PER_MONTH = 0.1;

const README = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');

describe("the README's idle cost line", () => {
  const line = README.split('\n\n').find((paragraph) =>
    paragraph.startsWith('Idle cost, per stage'),
  );
  const [, count = '', usd = ''] = /(\d+) alarms\s+\(\$(\d+\.\d\d)\b/.exec(line ?? '') ?? [];

  test('names an alarm count and its price', () => {
    expect({ count, usd }).toEqual({
      count: expect.stringMatching(/^\d+$/),
      usd: expect.any(String),
    });
  });

  test.each(STAGES)('counts the alarms the %s template holds, at $0.10 each', (stage: Stage) => {
    const alarms = Object.keys(
      resourcesOfType(synthPipeline(stage).template, 'AWS::CloudWatch::Alarm'),
    );
    expect(Number(count)).toBe(alarms.length);
    expect(Number(usd)).toBeCloseTo(alarms.length * ALARM_USD_PER_MONTH, 2);
  });
});
