// The server API and the outbox: answers wait in localStorage until the server confirms them.

export class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The server's key for this app, written into the page it served; a page of another origin cannot read it.
function appKeyIn(doc) {
  const meta = doc.querySelector('meta[name="vnerteach-app"]');
  return meta ? meta.content : "";
}

export class Api {
  constructor(token) {
    this.token = token || null;
    this.appKey = appKeyIn(document);
  }

  headers(json) {
    const h = { "X-Vnerteach-App": this.appKey };
    if (this.token) h["X-Access-Token"] = this.token;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async request(method, path, body, renewed = false) {
    const init = { method, headers: this.headers(body !== undefined), cache: "no-store" };
    if (body !== undefined) init.body = JSON.stringify(body);
    const res = await fetch(path, init);
    if (res.status === 403 && !renewed && await this.renewKey()) return this.request(method, path, body, true);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new HttpError(res.status, (data && data.error) || res.statusText || "request failed");
    return data;
  }

  // A restarted server has a new key: read it from the app's page again.
  async renewKey() {
    try {
      const res = await fetch("/", { cache: "no-store" });
      const key = appKeyIn(new DOMParser().parseFromString(await res.text(), "text/html"));
      if (!key || key === this.appKey) return false;
      this.appKey = key;
      return true;
    } catch (e) {
      return false;
    }
  }

  project() { return this.request("GET", "/api/project"); }

  questions(session, n, restart) {
    const q = new URLSearchParams({ session, n: String(n) });
    if (restart) q.set("restart", "1");
    return this.request("GET", "/api/questions?" + q);
  }

  answers(session, answers) { return this.request("POST", "/api/answers", { session, answers }); }

  imageUrl(key) {
    return "/api/image/" + encodeURIComponent(key) + (this.token ? "?token=" + encodeURIComponent(this.token) : "");
  }
}

const PREFIX = "vnerteach:outbox:";
const BATCH = 20;

// Answers not yet confirmed by the server. One localStorage entry per (session, task hash): a newer
// answer to the same question replaces the older one; entries are sent in order, one request at a time.
export class Outbox {
  constructor(api, dataset, handlers) {
    this.api = api;
    this.dataset = dataset;
    this.on = handlers; // {ack(progress, saved), reject(message, entries), state(state)}
    this.memory = new Map(); // entries kept here too; localStorage may be full or unavailable
    this.seq = Date.now() * 1000;
    this.sending = false;
    this.retryMs = 0;
    this.timer = null;
    this.storageFull = false;
    this.load();
  }

  load() {
    try {
      for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (!key || !key.startsWith(PREFIX)) continue;
        try {
          const entry = JSON.parse(localStorage.getItem(key));
          if (entry && entry.dataset === this.dataset) this.memory.set(key, entry);
        } catch (e) { /* a damaged entry cannot be sent: leave it */ }
      }
    } catch (e) { /* storage disabled: memory only */ }
  }

  keyOf(session, hash) { return PREFIX + session + ":" + hash; }

  has(hash) {
    for (const entry of this.memory.values()) if (entry.hash === hash) return true;
    return false;
  }

  get size() { return this.memory.size; }

  put(session, answer) {
    const entry = { session, dataset: this.dataset, hash: answer._task_hash, seq: ++this.seq, answer };
    const key = this.keyOf(session, entry.hash);
    this.memory.set(key, entry);
    try {
      localStorage.setItem(key, JSON.stringify(entry));
      this.storageFull = false;
    } catch (e) {
      this.storageFull = true; // kept in memory; the status bar says so
    }
    this.kick();
  }

  remove(key, seq) {
    const entry = this.memory.get(key);
    if (!entry || entry.seq !== seq) return; // answered again meanwhile: send the newer one too
    this.memory.delete(key);
    try { localStorage.removeItem(key); } catch (e) { /* nothing to do */ }
  }

  nextBatch() {
    const entries = [...this.memory.entries()].sort((a, b) => a[1].seq - b[1].seq);
    if (!entries.length) return [];
    const session = entries[0][1].session;
    return entries.filter(([, e]) => e.session === session).slice(0, BATCH);
  }

  async kick() {
    if (this.sending) { this.again = true; return; }
    clearTimeout(this.timer);
    this.sending = true;
    try {
      for (;;) {
        this.again = false;
        const batch = this.nextBatch();
        if (!batch.length) break;
        this.on.state("sending");
        try {
          const res = await this.api.answers(batch[0][1].session, batch.map(([, e]) => e.answer));
          batch.forEach(([key, e]) => this.remove(key, e.seq));
          this.retryMs = 0;
          this.on.ack(res.progress, res.saved);
        } catch (err) {
          if (err instanceof HttpError && (err.status === 400 || err.status === 413 || err.status === 415)) {
            // The server will never take these: drop them from the queue and say so.
            batch.forEach(([key, e]) => this.remove(key, e.seq));
            this.on.reject(err.message, batch.map(([, e]) => e));
            continue;
          }
          this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : 500, 8000);
          this.on.state("offline", err);
          this.timer = setTimeout(() => this.kick(), this.retryMs);
          return;
        }
      }
    } finally {
      this.sending = false;
    }
    if (this.again) return this.kick();
    this.on.state("saved");
  }
}
