// The chat page: conversations from Store, answers streamed from the server's OpenAI API
// (/v1/chat/completions with stream: true), rendered as Markdown (marked) with highlighted code (highlight.js).
// It talks only to the server that served it (relative URLs); model output never makes the page fetch anything.
'use strict';

const $ = (id) => document.getElementById(id);
const ui = {
  sidebar: $('sidebar'), list: $('conversations'), messages: $('messages'), model: $('model'),
  thinking: $('thinking'), input: $('input'), send: $('send'), stop: $('stop'), composer: $('composer'),
  settings: $('settings'),
};
let models = [];        // [{id, label}]
let current = null;     // the conversation shown
let running = null;     // {controller, conv} while an answer streams
let loading = null;     // the model list being fetched: a message sent meanwhile waits for it

// ---- Markdown: model output is untrusted text. Raw HTML is shown as text, links only go to http(s)/mailto, and
// images become links, so that an answer cannot run script or make the browser fetch another host.
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const safeHref = (href) => (/^(https?:|mailto:)/i.test(href || '') ? href : '#');
marked.use({
  gfm: true,
  breaks: true,
  renderer: {
    html: (html) => escapeHtml(html),
    link: (href, title, text) => `<a href="${escapeHtml(safeHref(href))}" rel="noopener noreferrer" target="_blank">${text}</a>`,
    image: (href, title, text) => `<a href="${escapeHtml(safeHref(href))}" rel="noopener noreferrer" target="_blank">${escapeHtml(text || href)}</a>`,
    code(code, lang) {
      const language = (lang || '').split(/\s/)[0];
      let html;
      try {
        html = language && hljs.getLanguage(language) ? hljs.highlight(language, code, true).value : hljs.highlightAuto(code).value;
      } catch {
        html = escapeHtml(code);
      }
      return `<div class="code"><div class="code-bar"><span>${escapeHtml(language || 'code')}</span>` +
        `<button type="button" class="copy" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="hljs">${html}</code></pre></div>`;
    },
  },
});
const renderMarkdown = (text) => marked.parse(text || '');

// ---- The server.
function headers() {
  const h = { 'Content-Type': 'application/json' };
  const key = Store.settings().api_key;
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// An error the page shows in the conversation: {text, retry}.
class ChatError extends Error {
  constructor(text, retry = false) { super(text); this.retry = retry; }
}

async function errorFromResponse(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  const e = (body && body.error) || {};
  const msg = typeof e === 'string' ? e : e.message || res.statusText;
  if (res.status === 401) return new ChatError('The server wants an API key: set it in Settings (⚙).');
  if (res.status === 503) return new ChatError(`The server is busy (queue full). Retry in a moment. (${msg})`, true);
  if (e.type === 'exceed_context_size_error' || /context/i.test(msg) && res.status === 400) {
    const size = e.n_prompt_tokens && e.n_ctx ? ` (${e.n_prompt_tokens} tokens, the context holds ${e.n_ctx})` : '';
    return new ChatError(`The conversation is too long for the model's context${size}. Start a new conversation or delete earlier messages.`);
  }
  if (res.status === 404) return new ChatError(`Model not found: ${msg}`);
  if (res.status >= 500) return new ChatError(`The server failed: ${msg}`, true);
  return new ChatError(`The server refused the request (${res.status}): ${msg}`);
}

const unreachable = () => new ChatError(`Cannot reach the server at ${location.origin}: is rkchat serve still running?`, true);

async function fetchJson(path) {
  let res;
  try { res = await fetch(path, { headers: headers() }); } catch { throw unreachable(); }
  if (!res.ok) throw await errorFromResponse(res);
  return res.json();
}

function formatBytes(n) {
  if (!n) return '';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

// /v1/models names the models; /api/tags and /health add size, quantization and backend when the server has them.
async function loadModels() {
  const list = await fetchJson('/v1/models');
  const tags = await fetchJson('/api/tags').catch(() => ({ models: [] }));
  const health = await fetchJson('/health').catch(() => ({}));
  const byName = new Map((tags.models || []).map((m) => [m.name.replace(/:latest$/, ''), m]));
  models = (list.data || []).map((m) => {
    const t = byName.get(m.id) || {};
    const d = t.details || {};
    const meta = m.meta || {};
    const parts = [d.parameter_size, formatBytes(meta.size || t.size), d.quantization_level || meta.quantization,
      meta.backend || d.backend || health.backend].filter(Boolean);
    return { id: m.id, label: parts.length ? `${m.id} (${parts.join(', ')})` : m.id };
  });
  const chosen = ui.model.value;
  ui.model.replaceChildren(...models.map((m) => new Option(m.label, m.id)));
  if (chosen) ui.model.value = chosen;
}

// ---- Conversations list.
function renderList() {
  ui.list.replaceChildren(...Store.list().map((c) => {
    const li = document.createElement('li');
    li.className = c === current ? 'active' : '';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'title';
    open.textContent = c.title;
    open.setAttribute('aria-label', `Open conversation ${c.title}`);
    if (c === current) open.setAttribute('aria-current', 'true');
    open.onclick = () => { select(c); ui.sidebar.classList.remove('open'); };
    const action = (label, text, fn) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'icon';
      b.textContent = text;
      b.setAttribute('aria-label', `${label} ${c.title}`);
      b.onclick = fn;
      return b;
    };
    li.append(open,
      action('Rename', '✎', () => {
        const t = prompt('Rename the conversation', c.title);
        if (t && t.trim()) { c.title = t.trim(); Store.save(); renderList(); }
      }),
      action('Export', '⤓', () => download(`rkchat-${c.id}.json`, Store.exportJson(c.id))),
      action('Delete', '✕', () => {
        if (!confirm(`Delete "${c.title}"?`)) return;
        if (running && running.conv === c) stop();
        Store.remove(c.id);
        if (c === current) select(Store.list()[0] || newConversation());
        renderList();
      }));
    return li;
  }));
}

function download(name, text) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function newConversation() {
  const model = ui.model.value || (current && current.model) || (models[0] && models[0].id) || '';
  return Store.create(model);
}

function select(conv) {
  current = conv;
  Store.setCurrent(conv.id);
  // A conversation made while the list was empty (no key yet) or whose model has gone takes the first one.
  if (models.length && !models.some((m) => m.id === conv.model)) { conv.model = models[0].id; Store.save(); }
  if (conv.model) ui.model.value = conv.model;
  ui.thinking.checked = conv.thinking !== false;
  renderList();
  renderMessages();
}

// ---- Messages.
function statsLine(s) {
  if (!s) return '';
  const parts = [];
  if (s.tokens != null) parts.push(`${s.tokens} tokens`);
  if (s.ttft_ms != null) parts.push(`TTFT ${Math.round(s.ttft_ms)} ms`);
  if (s.tps != null) parts.push(`${s.tps.toFixed(1)} tok/s`);
  if (s.cached != null) parts.push(`${s.cached} cached prompt tokens`);
  return parts.join(' · ');
}

function messageNode(m, i) {
  const div = document.createElement('div');
  div.className = `msg ${m.role}`;
  div.dataset.index = i;
  if (m.role === 'user') {
    div.textContent = m.content;
    return div;
  }
  if (m.reasoning) {
    const d = document.createElement('details');
    d.className = 'thinking';
    const s = document.createElement('summary');
    s.textContent = m.pending && !m.content ? 'Thinking…' : 'Thought';
    const body = document.createElement('div');
    body.className = 'reasoning';
    body.textContent = m.reasoning;
    d.append(s, body);
    div.append(d);
  }
  const body = document.createElement('div');
  body.className = 'content';
  body.innerHTML = renderMarkdown(m.content);
  if (m.pending && !m.content && !m.reasoning) body.innerHTML = '<span class="dots" aria-label="Waiting for the answer">…</span>';
  div.append(body);
  if (m.stopped) div.append(Object.assign(document.createElement('div'), { className: 'note', textContent: 'Stopped.' }));
  if (m.error) {
    const e = document.createElement('div');
    e.className = 'error';
    e.setAttribute('role', 'alert');
    e.textContent = m.error;
    if (m.retry) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = 'Retry';
      b.setAttribute('aria-label', 'Retry');
      b.onclick = () => retry();
      e.append(' ', b);
    }
    div.append(e);
  }
  if (m.stats) div.append(Object.assign(document.createElement('div'), { className: 'stats', textContent: statsLine(m.stats) }));
  return div;
}

function renderMessages() {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.replaceChildren(...(current ? current.messages.map(messageNode) : []));
  if (current && !current.messages.length) {
    ui.messages.innerHTML = '<p class="empty">Ask anything. Conversations stay in this browser.</p>';
  }
  if (atBottom || running) ui.messages.scrollTop = ui.messages.scrollHeight;
}

// Re-renders only the streaming message, at most once a frame.
let frame = 0;
function renderLast() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    if (!current) return;
    const i = current.messages.length - 1;
    const old = ui.messages.querySelector(`.msg[data-index="${i}"]`);
    if (!old) return renderMessages();
    const openThinking = old.querySelector('details[open]') !== null;
    const node = messageNode(current.messages[i], i);
    if (openThinking) node.querySelector('details')?.setAttribute('open', '');
    old.replaceWith(node);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  });
}

// ---- Sending and streaming.
function requestBody(conv) {
  const s = Store.settings();
  const messages = [];
  if (s.system.trim()) messages.push({ role: 'system', content: s.system });
  for (const m of conv.messages) {
    if (m.pending || m.error && !m.content) continue;
    messages.push({ role: m.role, content: m.content });
  }
  const body = { model: conv.model, messages, stream: true, stream_options: { include_usage: true } };
  for (const k of ['temperature', 'top_p', 'top_k', 'max_tokens']) {
    if (s[k] !== '' && s[k] != null && !Number.isNaN(Number(s[k]))) body[k] = Number(s[k]);
  }
  if (conv.thinking === false) body.chat_template_kwargs = { enable_thinking: false };
  return body;
}

// Reads the SSE stream: content and reasoning deltas grow the answer; the last chunk carries usage and timings;
// an error event ends it.
async function readStream(res, answer, started) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const event = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return true;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new ChatError(`The answer failed: ${chunk.error.message || JSON.stringify(chunk.error)}`, true);
        const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
        if (delta.content || delta.reasoning_content) {
          if (answer.ttft_client == null) answer.ttft_client = performance.now() - started;
          answer.content += delta.content || '';
          answer.reasoning = (answer.reasoning || '') + (delta.reasoning_content || '');
          renderLast();
        }
        if (chunk.usage || chunk.timings) answer.stats = stats(chunk, answer);
      }
    }
  }
  return false;  // ended without [DONE]
}

function stats(chunk, answer) {
  const u = chunk.usage || {};
  const t = chunk.timings || {};
  return {
    tokens: u.completion_tokens ?? t.predicted_n,
    ttft_ms: t.prompt_ms ?? answer.ttft_client,
    tps: t.predicted_per_second,
    cached: (u.prompt_tokens_details && u.prompt_tokens_details.cached_tokens) ?? t.cache_n,
  };
}

async function send(text) {
  if (running || !current) return;
  if (loading) await loading.catch(() => {});
  if (running) return;
  const conv = current;
  if (!conv.model && models.length) conv.model = ui.model.value || models[0].id;
  if (!conv.model) {
    conv.messages.push({ role: 'assistant', content: '', error: 'No model available: the server lists none.' });
    return renderMessages();
  }
  if (text != null) {
    conv.messages.push({ role: 'user', content: text });
    if (conv.title === 'New conversation') conv.title = text.slice(0, 40);
  }
  const answer = { role: 'assistant', content: '', reasoning: '', pending: true, model: conv.model };
  conv.messages.push(answer);
  conv.updated = Date.now();
  Store.save();
  renderList();
  renderMessages();
  const controller = new AbortController();
  running = { controller, conv };
  setRunning(true);
  const started = performance.now();
  try {
    let res;
    try {
      res = await fetch('/v1/chat/completions', {
        method: 'POST', headers: headers(), body: JSON.stringify(requestBody(conv)), signal: controller.signal,
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw unreachable();
    }
    if (!res.ok) throw await errorFromResponse(res);
    const complete = await readStream(res, answer, started);
    if (!complete) throw new ChatError('The answer was cut off: the connection to the server ended early.', true);
    loadModels().catch(() => {});  // a model loaded on first use now has its size and backend to show
  } catch (e) {
    if (e.name === 'AbortError') answer.stopped = true;
    else if (e instanceof ChatError) { answer.error = e.message; answer.retry = e.retry; }
    else if (e instanceof TypeError) { answer.error = unreachable().message; answer.retry = true; }
    else answer.error = `Unexpected error: ${e.message}`;
  } finally {
    delete answer.pending;
    if (!answer.reasoning) delete answer.reasoning;
    running = null;
    setRunning(false);
    conv.updated = Date.now();
    if (!Store.save()) answer.error = 'The browser storage is full: export and delete old conversations.';
    if (conv === current) renderMessages();
  }
}

// Sends again after an error: the failed answer goes, the question stays.
function retry() {
  if (running || !current) return;
  const last = current.messages[current.messages.length - 1];
  if (last && last.role === 'assistant' && last.error) current.messages.pop();
  send(null);
}

function stop() {
  if (running) running.controller.abort();
}

function setRunning(on) {
  ui.send.hidden = on;
  ui.stop.hidden = !on;
  ui.model.disabled = on;
}

// ---- Settings.
const FIELDS = ['system', 'temperature', 'top_p', 'top_k', 'max_tokens', 'api_key'];
$('open-settings').onclick = () => {
  const s = Store.settings();
  for (const f of FIELDS) $(`s-${f}`).value = s[f];
  ui.settings.showModal();
};
ui.settings.addEventListener('close', async () => {
  if (ui.settings.returnValue !== 'save') return;
  const s = {};
  for (const f of FIELDS) s[f] = $(`s-${f}`).value;
  Store.saveSettings(s);
  await start();  // a new key may open the model list
});

// ---- Events.
ui.composer.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.input.value.trim();
  if (!text || running) return;
  ui.input.value = '';
  send(text);
});
ui.input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && running) { e.preventDefault(); stop(); }
});
ui.stop.onclick = stop;
$('new-chat').onclick = () => { select(newConversation()); ui.sidebar.classList.remove('open'); ui.input.focus(); };
$('export').onclick = () => download('rkchat-conversations.json', Store.exportJson());
$('menu').onclick = () => {
  const open = ui.sidebar.classList.toggle('open');
  $('menu').setAttribute('aria-expanded', String(open));
};
ui.model.onchange = () => { if (current) { current.model = ui.model.value; Store.save(); } };
ui.thinking.onchange = () => { if (current) { current.thinking = ui.thinking.checked; Store.save(); } };
ui.messages.addEventListener('click', async (e) => {
  const b = e.target.closest('button.copy');
  if (!b) return;
  const code = b.closest('.code').querySelector('code').innerText;
  try {
    await navigator.clipboard.writeText(code);
  } catch {  // plain http on a LAN address is no secure context: the old way still works
    const t = Object.assign(document.createElement('textarea'), { value: code });
    document.body.append(t);
    t.select();
    document.execCommand('copy');
    t.remove();
  }
  b.textContent = 'Copied';
  setTimeout(() => { b.textContent = 'Copy'; }, 1500);
});

// Shows the last conversation at once, then the models when the server has listed them.
async function start() {
  if (!current) select(Store.get(Store.current()) || Store.list()[0] || newConversation());
  let problem = null;
  loading = loadModels();
  try {
    await loading;
  } catch (e) {
    problem = e instanceof ChatError ? e.message : unreachable().message;
  }
  select(current);
  if (problem) {
    const p = Object.assign(document.createElement('div'), { className: 'error banner', textContent: problem });
    p.setAttribute('role', 'alert');
    ui.messages.prepend(p);
  }
}
start();
