// Runs one Lambda function's bundle in a worker thread, as the Node.js runtime
// would: the module is loaded once (cold start), then each message is one
// invocation. Plain JavaScript, because a worker cannot load TypeScript.

import Module, { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { hideSdkNodeVersionWarning } from './quiet-warnings.cjs';
import { missingRuntimeModule, RUNTIME_PROVIDED } from './runtime-modules.mjs';

const {
  file,
  exportName,
  functionName,
  functionArn,
  functionVersion,
  memorySize,
  logGroupName,
  appDir,
  runtimeModuleHook,
} = workerData;

hideSdkNodeVersionWarning();

// What the Node.js runtime provides (the AWS SDK v3) comes from the app's node_modules,
// for `import` (a resolve hook) and for `require` (CommonJS does not use the hooks). The
// hook runs on a thread of its own and every import waits for it, so it is registered
// only for code that imports a runtime module (the host read the code), or once an
// import the host could not see asks for one.
let hooked = false;
const registerRuntimeModules = () => {
  if (hooked) return;
  hooked = true;
  register(new URL('./runtime-modules.mjs', import.meta.url), {
    data: { appDir, functionName },
  });
};
if (runtimeModuleHook) registerRuntimeModules();

/** The runtime module an ERR_MODULE_NOT_FOUND is about, if it is one. */
const missingRuntimeSpecifier = (error) => {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND') return undefined;
  const specifier = /Cannot find (?:package|module) '([^']+)'/.exec(error.message ?? '')?.[1];
  return specifier !== undefined && RUNTIME_PROVIDED.test(specifier) ? specifier : undefined;
};

const importHandlerModule = async () => {
  const url = pathToFileURL(file).href;
  try {
    return await import(url);
  } catch (error) {
    if (hooked || !appDir || missingRuntimeSpecifier(error) === undefined) throw error;
    registerRuntimeModules();
    // A new URL: the failed one's module stays failed in the loader's cache.
    return await import(`${url}?runtime-modules`);
  }
};
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
  const module = await importHandlerModule();
  handler = module[exportName];
  if (typeof handler !== 'function') {
    throw new TypeError(`${file} does not export a function named ${exportName}`);
  }
  parentPort.postMessage({ type: 'ready' });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: toError(error) });
}

parentPort.on('message', async ({ id, event, deadline, invokedFunctionArn }) => {
  const context = {
    functionName,
    // A worker runs one version (its sandbox's): `$LATEST`, or the version an alias points at.
    functionVersion: functionVersion ?? '$LATEST',
    invokedFunctionArn: invokedFunctionArn ?? functionArn,
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
