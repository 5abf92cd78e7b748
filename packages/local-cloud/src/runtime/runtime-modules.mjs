// Module resolution hooks for a function's worker: what Lambda's Node.js runtime
// provides besides the bundle. The runtime ships the AWS SDK for JavaScript v3, so a
// function may import `@aws-sdk/*` without bundling it. Locally it is resolved from
// the app's own node_modules; a module that is not there is named, with the fix.
import { pathToFileURL } from 'node:url';

/** What the Node.js runtime has on its module path: the SDK v3 and the libraries it is made of. */
export const RUNTIME_PROVIDED = /^@(aws-sdk|smithy|aws-crypto)\//;

let appDir;
let functionName;

export const initialize = (data) => {
  appDir = data.appDir;
  functionName = data.functionName;
};

export const missingRuntimeModule = (specifier, where, fn) =>
  Object.assign(
    new Error(
      `${fn} imports ${specifier}, which Lambda's Node.js runtime provides and its bundle does not ` +
        `include; to run it locally, install it in the app (npm install --save-dev ${packageOf(specifier)}; ` +
        `looked in ${where}/node_modules)`,
    ),
    { code: 'ERR_MODULE_NOT_FOUND' },
  );

const packageOf = (specifier) => specifier.split('/').slice(0, 2).join('/');

export const resolve = async (specifier, context, nextResolve) => {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !RUNTIME_PROVIDED.test(specifier) || !appDir) {
      throw error;
    }
    try {
      return await nextResolve(specifier, {
        ...context,
        parentURL: pathToFileURL(`${appDir}/package.json`).href,
      });
    } catch {
      throw missingRuntimeModule(specifier, appDir, functionName);
    }
  }
};
