/**
 * The integration test: the whole app against a real PostgreSQL and Kafka broker.
 * `devstack test` runs it (tests: users-integration in devstack.yaml), which provides both.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, testRegex: '.*\\.e2e-spec\\.ts$', testTimeout: 60000 };
