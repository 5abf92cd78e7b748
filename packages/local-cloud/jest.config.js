/** @type {import('jest').Config} */
module.exports = {
  displayName: 'local-cloud',
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  setupFiles: ['<rootDir>/test/quiet-sdk-warning.js'],
};
