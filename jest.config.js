/** @type {import('jest').Config} */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  setupFiles: ['<rootDir>/test/setup/quiet-sdk-warning.js'],
  setupFilesAfterEnv: ['aws-cdk-lib/testhelpers/jest-autoclean'],
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
};

module.exports = {
  // Two at a time even on two cores: the end-to-end files spend most of their time waiting
  // (visibility timeouts, a record age), and Jest's default here would be one.
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/test/e2e/'],
    },
    // The local cloud's own tests, with its own config.
    '<rootDir>/packages/local-cloud',
    {
      // One local cloud for the whole suite, started before it and stopped after.
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
    },
  ],
};
