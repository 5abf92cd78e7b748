import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { callApi, readLocalCloudState, stopLocalCloud } from 'cdk-local-cloud';
import { copyApp, editFile } from '../../local/app-copy';
import { launchCustomerPipeline } from '../../local/launch';
import { sleep } from '../pipeline/driver';
import { measure } from '../stats';
import type { WatchRun } from './result';

const HANDLER = 'lambda/api/handler.ts';
const ANCHOR = '    return await route(event);';
/** The edited handler answers with this header, set to the edit's number. */
const HEADER = 'x-bench-edit';
const POLL_MS = 10;

/** `reloaded api in 0.31 s (…)` → 310. */
const reloadMs = (line: string): number | null => {
  const match = /^reloaded .* in ([\d.]+) s \(/.exec(line);
  return match ? Math.round(Number(match[1]) * 1000) : null;
};

/**
 * `npm start -- --watch` on a copy of the app: `edits` saves of the API's handler, each a new
 * header value, timed from the write to the first answer carrying it (requests sent every
 * 10 ms), beside what the reload line says of the same reload.
 */
export const timeWatch = async (
  edits: number,
  timeScale: string,
  log: (line: string) => void,
): Promise<WatchRun> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'customer-pipeline-bench-watch-'));
  const app = copyApp(path.join(dir, 'app'));
  const launched = await launchCustomerPipeline({ appDir: app, dir, timeScale, args: ['--watch'] });
  try {
    // Ready does not wait for watch mode's first builds; this line says they are done.
    let warmUp: RegExpExecArray | null = null;
    for (const deadline = Date.now() + 60_000; warmUp === null; await sleep(100)) {
      warmUp = /^watching .*\(ready to watch in ([\d.]+) s\)$/m.exec(
        fs.readFileSync(launched.logFile, 'utf8'),
      );
      if (warmUp === null && Date.now() > deadline) throw new Error('watch mode never started');
    }
    const cloud = { state: await readLocalCloudState(launched.stateFile) };
    const created = await callApi(cloud, 'POST', '/customers', {
      fullName: 'Watch Bench',
      email: `watch-${Date.now()}@example.com`,
      dateOfBirth: '1990-01-01',
    });
    const { id } = created.body as { id: string };
    const read = () => callApi(cloud, 'GET', `/customers/${id}`);
    await read(); // a warm worker, as a developer's last request left it
    const savedToServedMs: number[] = [];
    let previous = ANCHOR;
    for (let edit = 1; edit <= edits; edit += 1) {
      const next = `    const answer = await route(event);\n    return { ...answer, headers: { ...answer.headers, '${HEADER}': '${edit}' } };`;
      const savedAt = Date.now();
      editFile(app, HANDLER, previous, next);
      previous = next;
      for (;;) {
        const response = await read();
        if (response.headers.get(HEADER) === String(edit)) break;
        if (Date.now() - savedAt > 30_000) throw new Error(`edit ${edit} never served`);
        await sleep(POLL_MS);
      }
      savedToServedMs.push(Date.now() - savedAt);
      log(`  edit ${edit}/${edits}: saved → served in ${savedToServedMs.at(-1)} ms`);
      // Apart, as a developer's saves are.
      await sleep(500);
    }
    const reloadLinesMs = fs
      .readFileSync(launched.logFile, 'utf8')
      .split('\n')
      .map(reloadMs)
      .filter((ms): ms is number => ms !== null);
    return {
      skipped: false,
      warmUpSeconds: Number(warmUp[1]),
      savedToServed: measure(savedToServedMs, 'ms'),
      reloadLines: measure(reloadLinesMs, 'ms'),
    };
  } finally {
    await stopLocalCloud(launched.child);
    fs.rmSync(dir, { recursive: true, force: true });
  }
};
