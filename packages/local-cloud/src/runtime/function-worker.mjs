// Runs one Lambda function's bundle in a worker thread, as the Node.js runtime
// would: the module is loaded once (cold start), then each message is one
// invocation. Plain JavaScript, because a worker cannot load TypeScript.

import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { hideSdkNodeVersionWarning } from './quiet-warnings.cjs';
import { missingRuntimeModule, RUNTIME_PROVIDED } from './runtime-modules.mjs';

const { file, exportName, functionName, functionArn, memorySize, logGroupName, appDir } =
  workerData;

hideSdkNodeVersionWarning();

// What the Node.js runtime provides (the AWS SDK v3) comes from the app's node_modules,
// for `import` (a resolve hook) and for `require` (CommonJS does not use the hooks).
register(new URL('./runtime-modules.mjs', import.meta.url), {
  data: { appDir, functionName },
});
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  try {
    return resolveFilename.call(this, request, parent, isMain, options);
  } catch (error) {
    if (error?.code !== 'MODULE_NOT_FOUND' || !RUNTIME_PROVIDED.test(request) || !appDir) {
      throw error;
    }
    try {
      return resolveFilename.call(this, request, parent, isMain, { paths: [appDir] });
    } catch {
      throw missingRuntimeModule(request, appDir, functionName);
    }
  }
};

const toError = (error) => ({
  errorType: error?.name ?? 'Error',
  errorMessage: error?.message ?? String(error),
});

let handler;
try {
  const module = await import(pathToFileURL(file).href);
  handler = module[exportName];
  if (typeof handler !== 'function') {
    throw new TypeError(`${file} does not export a function named ${exportName}`);
  }
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: toError(error) });
}

parentPort.on('message', async ({ id, event, deadline }) => {
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: functionArn,
    memoryLimitInMB: String(memorySize),
    awsRequestId: id,
    logGroupName,
    logStreamName: `local/${id}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const payload = await handler(event, context);
    parentPort.postMessage({ type: 'result', id, ok: true, payload });
  } catch (error) {
    parentPort.postMessage({ type: 'result', id, ok: false, error: toError(error) });
  }
});
