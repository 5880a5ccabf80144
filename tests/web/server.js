// Starts a real `rkchat serve` on a free loopback port for the browser tests, and stops it.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const BIN = process.env.RKCHAT_BIN || path.join(__dirname, '../../build/ci/rkchat');
const FIXTURES = process.env.RKCHAT_FIXTURES_DIR || path.join(__dirname, '../../../shared/fixtures');

// The model folders made for a run go when it ends.
const tempDirs = [];
process.on('exit', () => { for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true }); });
const tempDir = (prefix) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
};

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A folder with SmolLM2 and the tiny Qwen3 fixture, for --models.
function modelsDir() {
  const smollm2 = process.env.RKCHAT_SMOLLM2;
  if (!smollm2 || !fs.existsSync(smollm2)) throw new Error('RKCHAT_SMOLLM2 must name SmolLM2 (scripts/fetch-smollm2.sh)');
  const dir = tempDir('rkchat-web-models-');
  fs.symlinkSync(smollm2, path.join(dir, 'smollm2.gguf'));
  fs.symlinkSync(path.join(FIXTURES, 'tiny-qwen3-q8_0.gguf'), path.join(dir, 'tiny-qwen3.gguf'));
  return dir;
}

// A folder with one model whose file is cut short: it is listed, and fails when it loads.
function brokenModelDir() {
  const dir = tempDir('rkchat-web-broken-');
  const whole = fs.readFileSync(path.join(FIXTURES, 'tiny-qwen3-q8_0.gguf'));
  fs.writeFileSync(path.join(dir, 'broken.gguf'), whole.subarray(0, Math.floor(whole.length / 2)));
  return dir;
}

// Starts the server with `args` and waits (up to 60 s) until /health answers.
async function startServer(args) {
  const port = await freePort();
  const parallel = args.includes('--parallel') ? [] : ['--parallel', '2'];
  const proc = spawn(BIN, ['serve', '--host', '127.0.0.1', '--port', String(port), ...parallel, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`rkchat serve exited (${proc.exitCode}): ${log}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`rkchat serve did not come up: ${log}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

// The sum of a Prometheus metric over its labels.
async function metric(url, name, headers = {}) {
  const text = await (await fetch(`${url}/metrics`, { headers })).text();
  let sum = 0;
  let seen = false;
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+([-+\d.eE]+|NaN)$/);
    if (m && m[1] === name) { sum += Number(m[3]); seen = true; }
  }
  if (!seen) throw new Error(`/metrics has no ${name}`);
  return sum;
}

module.exports = { startServer, modelsDir, brokenModelDir, metric };
