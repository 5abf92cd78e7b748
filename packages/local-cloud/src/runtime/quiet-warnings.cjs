// The AWS SDK warns on every start that its releases after January 2027 need Node 22:
// a plain `Warning` whose message starts with NodeVersionSupportWarning, with no switch to
// turn it off. This drops that one warning where it is raised; every other warning is
// emitted as before. Raised, not listened for: Jest gives each test file its own
// `process`, whose emitWarning is the one the SDK calls.
// CommonJS, so that the TypeScript tools, Jest and the function worker (ESM) share it.
exports.hideSdkNodeVersionWarning = (target = process) => {
  const emitWarning = target.emitWarning;
  if (emitWarning.hidesSdkNodeVersionWarning) return;
  const filtered = function (warning, ...rest) {
    const text = typeof warning === 'string' ? warning : `${warning?.name} ${warning?.message}`;
    if (text.includes('NodeVersionSupportWarning')) return;
    return emitWarning.call(this, warning, ...rest);
  };
  filtered.hidesSdkNodeVersionWarning = true;
  target.emitWarning = filtered;
};
