import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

jest.setTimeout(120_000);

// The moto patches are Python, tested in Python (python/test_moto_patches.py) against a real
// moto server; this runs those tests as part of npm test.
test('the moto patches pass their own tests (python -m unittest)', () => {
  const python = process.env.LOCAL_CLOUD_PYTHON || 'python3';
  const run = spawnSync(python, ['-m', 'unittest', 'discover', '-s', 'python', '-p', 'test_*.py'], {
    cwd: path.resolve(__dirname, '..'),
    encoding: 'utf8',
  });
  const output = `${run.stdout}${run.stderr}`;
  expect({ status: run.status, output }).toEqual({
    status: 0,
    output: expect.stringMatching(/\nOK/),
  });
});
