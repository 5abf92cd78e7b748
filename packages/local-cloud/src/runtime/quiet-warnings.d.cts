/** Hides the AWS SDK's NodeVersionSupportWarning; every other warning still prints. */
export declare const hideSdkNodeVersionWarning: () => void;
