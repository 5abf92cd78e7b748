// The AWS SDK warns on every start that its releases after January 2027 need Node 22:
// a plain `Warning` whose message names NodeVersionSupportWarning, with no switch to
// turn it off. This hides that one warning and prints every other one as Node would.
// CommonJS, so that the TypeScript tools and the function worker (plain ESM) share it.
exports.hideSdkNodeVersionWarning = () => {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (!`${warning.name} ${warning.message}`.includes('NodeVersionSupportWarning')) {
      process.stderr.write(`${warning.name}: ${warning.message}\n`);
    }
  });
};
