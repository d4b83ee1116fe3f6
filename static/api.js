// The server API and the outbox: answers wait in localStorage until the server stores or refuses them.

export class HttpError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data; // the JSON reply, if any (a 413 states the server's body limit)
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
    this.lastTry = 0; // performance.now() when a request last ended, replied or failed
    this.reachable = true;
    this.onReach = null; // (reachable, err) when the server goes away or comes back
  }

  // Any reply, even an error status, means the server is there; only a failed fetch means it is not.
  reached(ok, err) {
    this.lastTry = performance.now();
    if (ok === this.reachable) return;
    this.reachable = ok;
    if (this.onReach) this.onReach(ok, err);
  }

  headers(json) {
    const h = { "X-Vnerteach-App": this.appKey };
    if (this.token) h["X-Access-Token"] = this.token;
    if (json) h["Content-Type"] = "application/json";
    return h;
  }

  async request(method, path, body, extra, renewed = false, timeoutMs = 0) {
    const sentKey = this.appKey;
    const init = { method, headers: { ...this.headers(body !== undefined), ...extra }, cache: "no-store" };
    if (body !== undefined) init.body = JSON.stringify(body);
    if (timeoutMs) init.signal = AbortSignal.timeout(timeoutMs);
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      this.reached(false, err);
      throw err;
    }
    this.reached(true);
    if (res.status === 403 && !renewed && await this.renewKey(sentKey)) return this.request(method, path, body, extra, true, timeoutMs);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new HttpError(res.status, (data && data.error) || res.statusText || "request failed", data);
    return data;
  }

  // A restarted server has a new key: read it from the app's page again, unless a request that was
  // refused at the same time already has (then the key `stale` was sent with is renewed too).
  async renewKey(stale) {
    if (this.appKey !== stale) return true;
    try {
      const res = await fetch("/", { cache: "no-store" });
      const key = appKeyIn(new DOMParser().parseFromString(await res.text(), "text/html"));
      if (!key || key === stale) return false;
      this.appKey = key;
      return true;
    } catch (e) {
      return false;
    }
  }

  // The project as this app's annotator sees it (the name of ?session=alice, if any).
  project(timeoutMs = 0) {
    const query = this.annotator ? "?" + new URLSearchParams({ session: this.annotator }) : "";
    return this.request("GET", "/api/project" + query, undefined, undefined, false, timeoutMs);
  }

  questions(session, n, restart) {
    const q = new URLSearchParams({ session, n: String(n) });
    if (restart) q.set("restart", "1");
    return this.request("GET", "/api/questions?" + q);
  }

  // The count lets the server refuse an answer that alone is over its body limit.
  answers(session, answers) {
    return this.request("POST", "/api/answers", { session, answers }, { "X-Answer-Count": String(answers.length) });
  }

  undo(session, taskHash) { return this.request("POST", "/api/undo", { session, task_hash: taskHash }); }

  // A question on screen, scored again by the model in the loop once it has learnt the answers sent so far.
  refresh(session, taskHash) { return this.request("POST", "/api/refresh", { session, task_hash: taskHash }); }

  // The session's latest stored answers, oldest first.
  history(session, n) {
    return this.request("GET", "/api/history?" + new URLSearchParams({ session, n: String(n) }));
  }

  imageUrl(key) {
    return "/api/image/" + encodeURIComponent(key) + (this.token ? "?token=" + encodeURIComponent(this.token) : "");
  }
}

// When nothing has been heard from the server for a while (the app is idle, or a request hangs), asks it
// whether it is still there; Api.onReach says when that changes.
export class Heartbeat {
  constructor(api, onProject, everyMs = 2000) {
    this.api = api;
    this.onProject = onProject;
    this.everyMs = everyMs;
    this.beating = false;
    this.timer = setInterval(() => this.beat(), everyMs);
  }

  async beat() {
    if (this.beating || performance.now() - this.api.lastTry < this.everyMs) return;
    this.beating = true;
    try {
      this.onProject(await this.api.project(2 * this.everyMs));
    } catch (err) { /* Api.onReach has been told */ } finally {
      this.beating = false;
    }
  }
}

const PREFIX = "vnerteach:outbox:";
const REFUSED = "vnerteach:refused:";
const BATCH = 20;
const ENVELOPE = 64; // bytes of a request besides the session and the answers

const utf8 = new TextEncoder();

// Write an entry to localStorage (remove it with no value); false when storage is full or disabled.
function persist(key, value) {
  try {
    if (value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch (e) {
    return false;
  }
}

// Answers not yet stored by the server. One entry per (session, task hash), kept in localStorage too:
// a newer answer to the same question replaces the older one; entries are sent in order, one request at
// a time, in batches that fit the server's body limit. An entry leaves only when the server says it
// stored it, or refused it (then it is kept in `refused`, with the reason, until dismissed). A request
// that fails as a whole (too large, network, server error) is split and sent again. Undoing an answer
// that still waits here drops it; undoing one that is stored (or on its way) queues an undo entry,
// kept and retried the same way and sent alone, after the entries before it.
export class Outbox {
  constructor(api, dataset, handlers, maxBody) {
    this.api = api;
    this.dataset = dataset;
    this.on = handlers; // {ack(progress), refused(entry), undoRefused(entry, reason), state(state, err)}
    this.maxBody = maxBody || null; // the server's limit for a request body, from /api/project or a 413
    this.limit = BATCH; // answers per request: halved when a request fails, doubled when one succeeds
    this.memory = new Map(); // id -> entry; kept here too: localStorage may be full or unavailable
    this.refused = new Map(); // id -> entry with the server's reason
    this.stored = new Set(); // task hashes whose answers the server stored, from here
    this.inflight = new Set(); // ids of the entries being sent right now
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
        const into = key && key.startsWith(PREFIX) ? this.memory : key && key.startsWith(REFUSED) ? this.refused : null;
        if (!into) continue;
        try {
          const entry = JSON.parse(localStorage.getItem(key));
          if (!entry || entry.dataset !== this.dataset) continue;
          if (entry.bytes === undefined) entry.bytes = utf8.encode(JSON.stringify(entry.answer)).length;
          entry.attempted = true; // an earlier page may have sent it
          into.set(this.idOf(entry.session, entry.hash, entry.undo), entry);
        } catch (e) { /* a damaged entry cannot be sent: leave it */ }
      }
    } catch (e) { /* storage disabled: memory only */ }
  }

  idOf(session, hash, undo) { return (undo ? "undo:" : "") + session + ":" + hash; }

  // Whether this browser has answered the question: the answer waits, was stored, or was refused.
  has(hash) {
    if (this.stored.has(hash)) return true;
    for (const entry of [...this.memory.values(), ...this.refused.values()]) if (entry.hash === hash && !entry.undo) return true;
    return false;
  }

  // A session's answers waiting to be sent, oldest first.
  waiting(session) {
    return [...this.memory.values()].filter((e) => !e.undo && e.session === session).sort((a, b) => a.seq - b.seq);
  }

  // Take an answer back: one refused, or waiting here and never sent, is dropped; for one the server
  // has or may have (sent, or being sent), an undo entry follows it.
  undo(session, hash) {
    const id = this.idOf(session, hash);
    this.stored.delete(hash);
    if (this.refused.has(id)) return this.dismiss(id);
    const waiting = this.memory.get(id);
    if (waiting && !this.inflight.has(id)) {
      this.memory.delete(id);
      persist(PREFIX + id);
      if (!waiting.attempted) {
        if (!this.sending) this.on.state(this.size ? "sending" : "saved");
        return;
      }
    }
    const entry = { session, dataset: this.dataset, hash, seq: ++this.seq, bytes: 0, undo: true };
    const undoId = this.idOf(session, hash, true);
    this.memory.set(undoId, entry);
    this.storageFull = !persist(PREFIX + undoId, entry);
    this.kick();
  }

  get size() { return this.memory.size; }

  get undoing() { return [...this.memory.values()].some((e) => e.undo); }

  put(session, answer) {
    const bytes = utf8.encode(JSON.stringify(answer)).length;
    const entry = { session, dataset: this.dataset, hash: answer._task_hash, seq: ++this.seq, bytes, answer };
    const id = this.idOf(session, entry.hash);
    this.dismiss(id); // answered again: the new answer is the one that counts
    this.memory.set(id, entry);
    this.storageFull = !persist(PREFIX + id, entry); // if full, kept in memory; the status bar says so
    this.kick();
  }

  // The server has stored this entry, or refused it: it leaves the queue unless answered again meanwhile.
  settle(id, seq, reason) {
    const entry = this.memory.get(id);
    if (!entry || entry.seq !== seq) return;
    this.memory.delete(id);
    persist(PREFIX + id);
    if (reason === undefined) {
      if (entry.undo) this.stored.delete(entry.hash);
      else this.stored.add(entry.hash);
      return;
    }
    const refused = { ...entry, reason };
    this.refused.set(id, refused);
    persist(REFUSED + id, refused);
    this.on.refused(refused);
  }

  dismiss(id) {
    if (!this.refused.delete(id)) return;
    persist(REFUSED + id);
  }

  // The oldest entries of the oldest session, as many as fit one request (at least one); an undo alone.
  nextBatch() {
    const entries = [...this.memory.entries()].sort((a, b) => a[1].seq - b[1].seq);
    if (!entries.length) return [];
    if (entries[0][1].undo) return [entries[0]];
    const session = entries[0][1].session;
    const batch = [];
    let bytes = ENVELOPE + utf8.encode(session).length;
    for (const item of entries) {
      if (item[1].session !== session) continue;
      if (item[1].undo) break;
      bytes += item[1].bytes + 1;
      if (batch.length && (batch.length >= this.limit || (this.maxBody && bytes > this.maxBody))) break;
      batch.push(item);
    }
    return batch;
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
        let res, failure;
        const [id, first] = batch[0];
        this.inflight = new Set(batch.map(([i]) => i));
        for (const [, e] of batch) e.attempted = true;
        try {
          res = first.undo ? await this.api.undo(first.session, first.hash)
            : await this.api.answers(first.session, batch.map(([, e]) => e.answer));
        } catch (err) {
          failure = err;
          res = err.data;
        } finally {
          this.inflight.clear();
        }
        if (first.undo && (!failure || failure.status === 400)) {
          // Undone, or refused for good (a malformed undo): it leaves the queue either way.
          this.settle(id, first.seq);
          this.retryMs = 0;
          if (failure) this.on.undoRefused(first, failure.message);
          else this.on.ack(res && res.progress);
          continue;
        }
        if (res && res.max_body) this.maxBody = res.max_body;
        const results = res && res.results;
        if (Array.isArray(results) && results.length === batch.length
            && results.every((r) => r && (r.status === "stored" || r.status === "refused"))) {
          batch.forEach(([id, e], i) => this.settle(id, e.seq, results[i].status === "refused" ? String(results[i].reason) : undefined));
          this.limit = Math.min(BATCH, this.limit * 2);
          this.retryMs = 0;
          if (res.progress) this.on.ack(res.progress);
          continue;
        }
        // Nothing is final without a result per answer: send fewer at a time, and wait unless the
        // server only said the request was too large.
        if (!first.undo) this.limit = Math.max(1, Math.floor(batch.length / 2));
        if (failure && failure.status === 413 && batch.length > 1) continue;
        this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : 500, 8000);
        this.on.state("offline", failure || new Error("the server's reply has no result per answer"));
        this.timer = setTimeout(() => this.kick(), this.retryMs);
        return;
      }
    } finally {
      this.sending = false;
    }
    if (this.again) return this.kick();
    this.on.state("saved");
  }
}
