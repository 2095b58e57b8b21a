// End-to-end suite: real redis-server, the loopback Discord server, the bot and worker processes.
import base from './jest.config.js';

/** @type {import('jest').Config} */
export default {
  ...base,
  testMatch: ['<rootDir>/test/e2e/**/*.e2e.test.ts', '<rootDir>/test/hostile/**/*.e2e.test.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
  testTimeout: 120000,
};
