/** @type {import('jest').Config} */
/**
 * GitHub's workflow parser (`@actions/workflow-parser`, with `@actions/expressions`) ships ESM
 * only, with JSON imports Node's ESM cannot load: Jest loads its files through the module map
 * below and compiles them to CommonJS with the same SWC as the tests, where `require` reads JSON.
 */
const ESM_ONLY = '@actions/(?:workflow-parser|expressions)';

const common = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.tsx?$': ['@swc/jest'],
    [`/node_modules/${ESM_ONLY}/.+\\.js$`]: ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: [`/node_modules/(?!${ESM_ONLY}/)`],
  moduleNameMapper: {
    [`^(${ESM_ONLY})$`]: '<rootDir>/node_modules/$1/dist/index.js',
    [`^(${ESM_ONLY})/(.+)$`]: '<rootDir>/node_modules/$1/dist/$2.js',
  },
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
