import { hideSdkNodeVersionWarning } from '../src/runtime/quiet-warnings.cjs';

const fakeProcess = () => {
  const emitted: unknown[] = [];
  const target = {
    emitWarning: (warning: unknown) => {
      emitted.push(warning);
    },
  } as unknown as NodeJS.Process;
  return { target, emitted };
};

const SDK_WARNING =
  'NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after the first week of January 2027\nwill require node >=22.';

describe('hideSdkNodeVersionWarning', () => {
  test('drops the AWS SDK’s Node 22 notice, raised as a string or an Error', () => {
    const { target, emitted } = fakeProcess();
    hideSdkNodeVersionWarning(target);
    target.emitWarning(SDK_WARNING);
    target.emitWarning(new Error(SDK_WARNING));
    expect(emitted).toEqual([]);
  });

  test('lets every other warning through, once, even when installed twice', () => {
    const { target, emitted } = fakeProcess();
    hideSdkNodeVersionWarning(target);
    hideSdkNodeVersionWarning(target);
    target.emitWarning('Buffer() is deprecated');
    expect(emitted).toEqual(['Buffer() is deprecated']);
  });
});
