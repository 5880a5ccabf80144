// Playwright drives Debian's chromium (never a downloaded browser), headless, one test at a time: the tests share
// the servers they start, and the machine is small.
const path = require('path');
const { defineConfig } = require('@playwright/test');

const artifacts = process.env.RKCHAT_WEB_ARTIFACTS || path.join(__dirname, '../../build/web-artifacts');

module.exports = defineConfig({
  testDir: __dirname,
  testMatch: /.*\.spec\.js/,
  outputDir: path.join(artifacts, 'results'),
  timeout: 90_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  use: {
    headless: true,
    launchOptions: { executablePath: process.env.CHROMIUM || '/usr/bin/chromium' },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
});
