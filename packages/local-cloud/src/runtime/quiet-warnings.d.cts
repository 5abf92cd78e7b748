/** Drops the AWS SDK's NodeVersionSupportWarning where `target` raises it; every other warning still shows. */
export declare const hideSdkNodeVersionWarning: (target?: NodeJS.Process) => void;
