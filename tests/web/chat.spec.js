// The chat page against a real `rkchat serve` (SmolLM2 and the tiny Qwen3 fixture), in Debian's chromium.
// Every test blocks the network to anything but the server and checks nothing else was asked for.
const fs = require('fs');
const path = require('path');
const { test, expect } = require('@playwright/test');
const { startServer, modelsDir, brokenModelDir, metric } = require('./server');

const ARTIFACTS = process.env.RKCHAT_WEB_ARTIFACTS || path.join(__dirname, '../../build/web-artifacts');
test.describe.configure({ mode: 'serial' });

// Opens the page with settings preset (unless the page saved its own) and the network limited to the server.
async function openPage(page, url, settings = {}) {
  const outside = [];
  const origin = new URL(url).origin;
  await page.context().route('**/*', (route) => {
    const u = route.request().url();
    if (new URL(u).origin === origin) return route.continue();
    outside.push(u);
    return route.abort();
  });
  await page.addInitScript((s) => {
    if (!localStorage.getItem('rkchat.settings')) localStorage.setItem('rkchat.settings', JSON.stringify(s));
  }, { max_tokens: '48', temperature: '0', ...settings });
  await page.goto(url);
  return outside;
}

const input = (page) => page.getByRole('textbox', { name: 'Message', exact: true });
const lastAnswer = (page) => page.locator('.msg.assistant').last();

// Sends `text` and resolves with the lengths the answer went through until its figures (or an error) showed.
async function sendAndWatch(page, text) {
  const watching = page.evaluate(() => new Promise((resolve) => {
    const seen = [];
    const obs = new MutationObserver(() => {
      const all = document.querySelectorAll('.msg.assistant');
      const last = all[all.length - 1];
      if (!last) return;
      const len = (last.querySelector('.content') || {}).innerText?.length || 0;
      if (seen[seen.length - 1] !== len) seen.push(len);
      if (last.querySelector('.stats, .error, .note')) { obs.disconnect(); resolve(seen); }
    });
    obs.observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
  }));
  await input(page).fill(text);
  await input(page).press('Enter');
  return watching;
}

const FIGURES = /^\d+ tokens · TTFT \d+ ms · [\d.]+ tok\/s · \d+ cached prompt tokens$/;

test.describe('a server with two models', () => {
  let server;
  test.beforeAll(async () => { server = await startServer(['--models', modelsDir()]); });
  test.afterAll(async () => { await server?.stop(); });

  test('the page loads from the server alone', async ({ page }) => {
    const asked = [];
    page.on('request', (r) => asked.push(r.url()));
    const outside = await openPage(page, server.url);
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(2);
    await expect(page.getByLabel('Model')).toContainText('smollm2');
    await page.waitForLoadState('networkidle');
    expect(outside).toEqual([]);
    expect(asked.length).toBeGreaterThan(5);  // the page, its scripts and styles, the model list
    for (const u of asked) expect(new URL(u).origin).toBe(server.url);
    // marked and highlight.js came from the binary and work
    expect(await page.evaluate(() => typeof marked.parse === 'function' && typeof hljs.highlightAuto === 'function')).toBe(true);
    // An answer is untrusted: its images, raw HTML and script links must not fetch or run anything.
    const hostile = '![x](http://203.0.113.9/a.png) <img src="http://203.0.113.9/b.png" onerror="window.pwned=1">' +
      ' [l](javascript:window.pwned=1) <script>window.pwned=1</script>\n\n```js\nlet a = 1;\n```';
    const html = await page.evaluate((md) => {
      const d = document.createElement('div');
      d.innerHTML = renderMarkdown(md);
      document.getElementById('messages').append(d);
      return d.innerHTML;
    }, hostile);
    await page.waitForTimeout(300);
    expect(html).not.toMatch(/<img|<script|href="javascript/i);
    expect(html).toContain('class="hljs"');
    expect(await page.evaluate(() => window.pwned)).toBeUndefined();
    expect(outside).toEqual([]);
    // Every control has a name a screen reader can say.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea')]
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent.trim() || e.closest('label')))
      .map((e) => e.outerHTML));
    expect(unnamed).toEqual([]);
    // Shift+Enter adds a line; nothing is sent.
    await input(page).fill('line one');
    await input(page).press('Shift+Enter');
    await input(page).pressSequentially('line two');
    await expect(input(page)).toHaveValue('line one\nline two');
    await expect(page.locator('.msg')).toHaveCount(0);
    await input(page).fill('');
    // Reasoning (Qwen3's reasoning_content) is shown folded above the answer.
    const thought = await page.evaluate(() => {
      const n = messageNode({ role: 'assistant', content: 'The answer.', reasoning: 'Let me think.' }, 0);
      const d = n.querySelector('details.thinking');
      return d && { open: d.open, text: d.querySelector('.reasoning').textContent, first: n.firstChild === d };
    });
    expect(thought).toEqual({ open: false, text: 'Let me think.', first: true });
    // The server answers an unchanged file with 304 (its ETag), an unknown one with 404.
    const first = await fetch(`${server.url}/assets/app.js`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const again = await fetch(`${server.url}/assets/app.js`, { headers: { 'If-None-Match': first.headers.get('etag') } });
    expect(again.status).toBe(304);
    expect((await fetch(`${server.url}/assets/nothing.js`)).status).toBe(404);
  });

  test('an answer streams in, then shows its figures', async ({ page }) => {
    const outside = await openPage(page, server.url, { max_tokens: '96' });
    await page.getByLabel('Model').selectOption('smollm2');
    const lengths = await sendAndWatch(page, 'Write a Python function that reverses a string.');
    const answer = lastAnswer(page);
    await expect(answer.locator('.error')).toHaveCount(0);
    // grew in several steps (rendered Markdown may lose a character when a fence or emphasis closes)
    const grown = lengths.filter((n) => n > 0);
    expect(grown.length).toBeGreaterThanOrEqual(3);
    expect(grown.at(-1)).toBeGreaterThan(grown[0] + 20);
    await expect(answer.locator('.stats')).toHaveText(FIGURES);
    expect(outside).toEqual([]);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-desktop.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await expect(page.getByLabel('Show conversations')).toBeVisible();
    await expect(page.locator('#sidebar')).not.toBeInViewport();  // slid away once the width is a phone's
    await page.screenshot({ path: path.join(ARTIFACTS, 'chat-phone.png') });
  });

  test('stop ends a long answer and the server frees the slot', async ({ page }) => {
    await openPage(page, server.url, { max_tokens: '1500' });
    // ignore_eos: the answer runs to its 1500 tokens however fast the machine, so it is still running when stopped.
    await page.route('**/v1/chat/completions', (route) =>
      route.continue({ postData: JSON.stringify({ ...route.request().postDataJSON(), ignore_eos: true }) }));
    await page.getByLabel('Model').selectOption('smollm2');
    await input(page).fill('Write a very long story about a dragon who learns to sail, in many chapters.');
    await input(page).press('Enter');
    await expect(page.getByRole('button', { name: 'Stop' })).toBeVisible();
    await expect.poll(async () => (await lastAnswer(page).locator('.content').innerText()).length).toBeGreaterThan(40);
    expect(await metric(server.url, 'rkchat_active_sequences')).toBeGreaterThanOrEqual(1);
    await page.keyboard.press('Escape');
    await expect(lastAnswer(page).locator('.note')).toHaveText('Stopped.');
    await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
    await expect.poll(() => metric(server.url, 'rkchat_active_sequences'), { timeout: 5_000 }).toBe(0);
    expect((await lastAnswer(page).locator('.content').innerText()).length).toBeGreaterThan(40);  // kept
  });

  test('a conversation switches models, and thinking off goes with the request', async ({ page }) => {
    await openPage(page, server.url);
    const bodies = [];
    page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) bodies.push(r.postDataJSON()); });
    await page.getByLabel('Model').selectOption('smollm2');
    await sendAndWatch(page, 'Say hello.');
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
    await page.getByLabel('Model').selectOption('tiny-qwen3');
    await page.getByLabel('Thinking').uncheck();
    await sendAndWatch(page, 'And now?');
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
    expect(bodies.map((b) => b.model)).toEqual(['smollm2', 'tiny-qwen3']);
    expect(bodies[0].chat_template_kwargs).toBeUndefined();
    expect(bodies[1].chat_template_kwargs).toEqual({ enable_thinking: false });
    expect(bodies[1].messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(bodies[1].stream_options).toEqual({ include_usage: true });
  });

  test('a reload finds the conversation', async ({ page }) => {
    await openPage(page, server.url);
    await sendAndWatch(page, 'Name three colours.');
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
    const answer = await lastAnswer(page).locator('.content').textContent();
    await page.getByRole('button', { name: '+ New conversation' }).click();
    await expect(page.locator('.msg')).toHaveCount(0);
    await page.reload();
    await page.getByRole('button', { name: 'Open conversation Name three colours.' }).click();
    await expect(page.locator('.msg.user')).toHaveText('Name three colours.');
    await expect(lastAnswer(page).locator('.content')).toHaveText(answer);
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
  });
});

test.describe('a server with an API key', () => {
  const key = `k-${Math.random().toString(36).slice(2)}`;
  let server;
  test.beforeAll(async () => { server = await startServer(['-m', process.env.RKCHAT_SMOLLM2, '--api-key', key]); });
  test.afterAll(async () => { await server?.stop(); });

  test('the key from the settings opens the server', async ({ page }) => {
    const auth = [];
    page.on('request', (r) => { if (r.url().includes('/v1/')) auth.push(r.headers().authorization); });
    // The page is open (the key is typed into it); the API is not.
    expect((await fetch(`${server.url}/`)).status).toBe(200);
    expect((await fetch(`${server.url}/assets/style.css`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/models`)).status).toBe(401);
    const outside = await openPage(page, server.url);
    await expect(page.getByRole('alert')).toContainText('API key');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(1);
    await sendAndWatch(page, 'Say hello.');
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
    expect(auth.at(-1)).toBe(`Bearer ${key}`);
    expect(outside).toEqual([]);
  });

  test('a stopped server is said to be unreachable', async ({ page }) => {
    await openPage(page, server.url, { api_key: key });
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(1);
    await server.stop();
    await sendAndWatch(page, 'Are you there?');
    await expect(lastAnswer(page).getByRole('alert')).toContainText('Cannot reach the server');
    await expect(lastAnswer(page).getByRole('button', { name: 'Retry' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  });
});

test.describe('a small, busy server', () => {
  let server;
  test.beforeAll(async () => {
    server = await startServer(['-m', process.env.RKCHAT_SMOLLM2, '--parallel', '1', '--queue', '0', '-c', '1024']);
  });
  test.afterAll(async () => { await server?.stop(); });

  test('a prompt longer than the context is said to be', async ({ page }) => {
    await openPage(page, server.url);
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(1);
    await sendAndWatch(page, 'word '.repeat(1500));
    await expect(lastAnswer(page).getByRole('alert')).toContainText(/too long for the model's context \(\d+ tokens, the context holds 1024\)/);
  });

  test('a full queue is said to be, and Retry sends again', async ({ page }) => {
    await openPage(page, server.url);
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(1);
    // Another client holds the only slot.
    const other = new AbortController();
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: other.signal,
      // ignore_eos: it holds the slot for 900 tokens however fast the machine, past the page's request below.
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Tell a long story.' }], stream: true, max_tokens: 900, ignore_eos: true }),
    });
    expect(res.status).toBe(200);
    await expect.poll(() => metric(server.url, 'rkchat_active_sequences')).toBe(1);
    await sendAndWatch(page, 'Say hello.');
    await expect(lastAnswer(page).getByRole('alert')).toContainText('busy');
    other.abort();
    await expect.poll(() => metric(server.url, 'rkchat_active_sequences'), { timeout: 5_000 }).toBe(0);
    await lastAnswer(page).getByRole('button', { name: 'Retry' }).click();
    await expect(lastAnswer(page).locator('.stats')).toHaveText(FIGURES);
    await expect(page.locator('.msg.user')).toHaveCount(1);  // the question was not sent twice
  });
});

test.describe('a server whose model fails to load', () => {
  let server;
  test.beforeAll(async () => { server = await startServer(['--models', brokenModelDir()]); });
  test.afterAll(async () => { await server?.stop(); });

  test('the failure is said in the conversation', async ({ page }) => {
    await openPage(page, server.url);
    await expect(page.getByLabel('Model').locator('option')).toHaveCount(1);
    await sendAndWatch(page, 'Hello?');
    await expect(lastAnswer(page).getByRole('alert')).toContainText(/The server failed: .*broken/);
    await expect(lastAnswer(page).getByRole('button', { name: 'Retry' })).toBeVisible();
    await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  });
});
