// The browser's storage: conversations and settings live in localStorage, so nothing about a chat is kept on the
// server. A conversation: {id, title, model, thinking, updated, messages: [{role, content, reasoning, stats, error}]}.
'use strict';

const Store = (() => {
  const KEY_CONVS = 'rkchat.conversations';
  const KEY_SETTINGS = 'rkchat.settings';
  const KEY_CURRENT = 'rkchat.current';

  const read = (key, fallback) => {
    try {
      const v = JSON.parse(localStorage.getItem(key));
      return v ?? fallback;
    } catch {
      return fallback;  // a damaged entry must not stop the page
    }
  };
  const write = (key, value) => {
    try {
      localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch {
      return false;  // quota exceeded: the caller says so
    }
  };

  let conversations = read(KEY_CONVS, []);
  if (!Array.isArray(conversations)) conversations = [];

  const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);

  return {
    list: () => [...conversations].sort((a, b) => b.updated - a.updated),
    get: (id) => conversations.find((c) => c.id === id) || null,
    create(model) {
      const c = { id: newId(), title: 'New conversation', model, thinking: true, updated: Date.now(), messages: [] };
      conversations.push(c);
      this.save();
      return c;
    },
    remove(id) {
      conversations = conversations.filter((c) => c.id !== id);
      this.save();
    },
    // Saves every conversation; false when the browser refused (storage full).
    save: () => write(KEY_CONVS, conversations),
    exportJson: (id) => JSON.stringify(id ? conversations.filter((c) => c.id === id) : conversations, null, 2),
    current: () => localStorage.getItem(KEY_CURRENT),
    setCurrent: (id) => localStorage.setItem(KEY_CURRENT, id),
    settings: () => Object.assign({ system: '', temperature: '', top_p: '', top_k: '', max_tokens: '', api_key: '' },
      read(KEY_SETTINGS, {})),
    saveSettings: (s) => write(KEY_SETTINGS, s),
  };
})();
