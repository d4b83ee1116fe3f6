// The annotation app: fetches questions, shows one task at a time in its view, sends each answer at
// once through the outbox, keeps a history with undo, and handles the keyboard.

import { Api, Outbox } from "./api.js";
import { PageView } from "./page.js";
import { addMissedText, addedTokens } from "./region.js";
import { TextView } from "./text.js";
import { el, isPageTask, labelColors, preview } from "./util.js";

const BATCH = 10;
const LOW_WATER = 4;
const HISTORY_SHOWN = 12;
const HISTORY_KEPT = 100;
const MANUAL_VIEWS = new Set(["ner_manual"]);
const ICONS = { accept: "✓", reject: "✗", ignore: "⊘" };

const $ = (id) => document.getElementById(id);

class Perf {
  // Timings in ms measured in the page with performance.now(); read by the benchmark and tests.
  constructor() { this.last = {}; this.all = {}; }
  mark(name, t0) {
    const ms = performance.now() - t0;
    this.last[name] = ms;
    (this.all[name] = this.all[name] || []).push(ms);
    requestAnimationFrame(() => {
      const frame = performance.now() - t0;
      this.last[name + "Frame"] = frame;
      (this.all[name + "Frame"] = this.all[name + "Frame"] || []).push(frame);
    });
  }
}

class App {
  constructor() {
    const params = new URLSearchParams(location.search);
    this.api = new Api(params.get("token") || sessionStorage.getItem("vnerteach:token"));
    if (params.get("token")) sessionStorage.setItem("vnerteach:token", params.get("token"));
    this.perf = new Perf();
    this.queue = [];
    this.history = [];
    this.current = null; // {task, spans, view}
    this.seen = new Set();
    this.fetching = false;
    this.exhausted = false;
    this.firstFetch = true;
    this.activeLabel = 0;
    this.progress = null;
    this.notice = "";
    this.zoom = { mode: "width", z: 1 }; // the page zoom chosen last: carried over to the next page
    this.clearBoxes = false;
  }

  async start() {
    this.bindKeys();
    this.bindButtons();
    for (let wait = 500; ; wait = Math.min(wait * 2, 5000)) {
      try {
        this.project = await this.api.project();
        break;
      } catch (err) {
        this.setStatus("offline", `Cannot reach the server (${err.message}); retrying…`);
        if (err.status === 401) return this.showMessage("Access token required", "Open the address the command printed, including its ?token=… part.");
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    const p = this.project;
    this.labels = p.labels || [];
    this.colors = labelColors(this.labels);
    $("p-dataset").textContent = p.dataset;
    $("p-view").textContent = p.view_id;
    $("p-session").textContent = p.session;
    document.title = `${p.dataset} · vnerteach`;
    this.renderLabels();
    this.updateProgress(p.progress);
    this.outbox = new Outbox(this.api, p.dataset, {
      ack: (progress) => { this.updateProgress(progress); },
      reject: (message, entries) => this.toast(`The server refused ${entries.length} answer(s): ${message}`),
      state: (state, err) => this.onOutbox(state, err),
    });
    this.onOutbox(this.outbox.size ? "sending" : "saved");
    this.outbox.kick();
    window.addEventListener("online", () => this.outbox.kick());
    setInterval(() => { if (this.outbox.size && !this.outbox.sending) this.outbox.kick(); }, 5000);
    await this.fetchMore();
  }

  // questions

  // Ask again later (the stream is slow, answers are pending, or the server is away); one timer at a time.
  retryFetch(ms) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => { this.retryTimer = null; this.fetchMore(); }, ms);
  }

  async fetchMore() {
    if (this.fetching || this.exhausted || this.retryTimer) return;
    this.fetching = true;
    try {
      const res = await this.api.questions(this.project.session, BATCH, this.firstFetch);
      this.firstFetch = false;
      if (document.body.dataset.conn === "offline" && !this.outbox.size) this.onOutbox("saved");
      for (const task of res.tasks) {
        const h = task._task_hash;
        if (this.seen.has(h) || this.outbox.has(h)) continue;
        this.seen.add(h);
        this.queue.push(task);
      }
      if (res.error) this.toast(`The source failed: ${res.error}`);
      this.updateProgress(res.progress);
      if (!res.tasks.length) {
        // Nothing new: the stream is slow, or the last questions are out with answers pending.
        if (res.progress && res.progress.done) this.exhausted = true;
        else this.retryFetch(1000);
        return;
      }
    } catch (err) {
      this.setStatus("offline", `Cannot load questions (${err.message}); retrying…`);
      this.retryFetch(2000);
      return;
    } finally {
      this.fetching = false;
      if (!this.current) this.showNext();
    }
    if (this.queue.length < LOW_WATER && !this.exhausted) this.fetchMore();
  }

  showNext() {
    const task = this.queue.shift();
    if (!task) {
      this.show(null);
      if (!this.exhausted) this.fetchMore();
      return;
    }
    this.show(task, (task.spans || []).map((s) => ({ ...s })));
    if (this.queue.length < LOW_WATER) this.fetchMore();
  }

  // views

  show(task, spans) {
    const t0 = performance.now();
    const card = $("card");
    if (this.current && this.current.view) this.current.view.destroy();
    card.textContent = "";
    card.className = "card";
    this.current = null;
    if (!task) {
      if (this.exhausted || (this.progress && this.progress.done)) {
        this.showMessage("No tasks left", "Every task of this source is answered. Your answers are saved; you can close this tab.");
      } else {
        card.appendChild(el("p", "muted", "Loading the next task…"));
      }
      this.updateButtons();
      return;
    }
    const viewId = task._view_id || this.project.view_id;
    const editable = MANUAL_VIEWS.has(viewId);
    const page = isPageTask(task);
    card.classList.add(page ? "is-page" : "is-text", "view-" + viewId);
    this.current = { task, spans, view: null, viewId, editable };
    this.renderHeader(card, task, viewId, spans);
    const body = el("div", "card-body");
    card.appendChild(body);
    const options = {
      editable,
      colors: this.colors,
      perf: this.perf,
      onSelect: (a, b, t0) => this.select(a, b, t0),
      onRemove: (k) => this.removeSpan(k),
      imageUrl: this.imageUrl(task),
      zoom: this.zoom,
      onZoom: (zoom) => { this.zoom = zoom; },
      clearBoxes: this.clearBoxes,
      onToggleBoxes: () => this.toggleBoxes(),
      onRegion: (box, t) => this.addRegion(box, t),
    };
    this.renderMeta(card, task); // before the view, which sizes itself to the room left
    if (page) this.current.view = new PageView(body, task, spans, options);
    else this.current.view = new TextView(body, task, spans, options);
    this.updateButtons();
    card.getBoundingClientRect();
    this.perf.mark("show", t0);
  }

  imageUrl(task) {
    const key = task.meta && task.meta.image_key;
    if (key) return this.api.imageUrl(key);
    if (typeof task.image === "string" && /^data:image\/(png|jpeg|gif|webp);base64,/.test(task.image)) return task.image;
    return null;
  }

  renderHeader(card, task, viewId, spans) {
    if (viewId === "ner") {
      const head = el("div", "card-head");
      const span = spans[0];
      const label = (span && span.label) || task.label || "";
      const chip = el("span", "chip", label);
      chip.style.setProperty("--c", this.colors(label));
      head.appendChild(chip);
      if (span && typeof span.start === "number") {
        const text = (task.text || "").slice(span.start, span.end).replace(/\s+/g, " ");
        head.appendChild(el("span", "span-text", text.length > 80 ? text.slice(0, 79) + "…" : text));
      }
      const score = span && span.score !== undefined ? span.score : task.score;
      if (score !== undefined && score !== null) head.appendChild(el("span", "score", `score ${Number(score).toFixed(2)}`));
      card.appendChild(head);
    } else if (!MANUAL_VIEWS.has(viewId) && task.label) {
      const head = el("div", "card-head");
      const chip = el("span", "chip", task.label);
      chip.style.setProperty("--c", this.colors(task.label));
      head.appendChild(chip);
      card.appendChild(head);
    }
  }

  renderMeta(card, task) {
    const meta = task.meta || {};
    const shown = Object.entries(meta).filter(([k, v]) => v !== null && typeof v !== "object" && k !== "image_key");
    if (!shown.length) return;
    const box = el("div", "meta");
    for (const [k, v] of shown.slice(0, 8)) {
      const item = el("span", "meta-item");
      item.appendChild(el("b", null, k + ": "));
      item.appendChild(document.createTextNode(String(v).slice(0, 120)));
      box.appendChild(item);
    }
    card.appendChild(box);
  }

  renderLabels() {
    const bar = $("labels");
    bar.textContent = "";
    const manual = MANUAL_VIEWS.has(this.project.view_id);
    bar.hidden = !manual || !this.labels.length;
    this.labels.forEach((label, i) => {
      const b = el("button", "label-btn" + (i === this.activeLabel ? " active" : ""));
      b.type = "button";
      b.style.setProperty("--c", this.colors(label));
      b.appendChild(el("span", "label-name", label));
      if (i < 9) b.appendChild(el("kbd", null, String(i + 1)));
      b.addEventListener("click", () => this.setLabel(i));
      bar.appendChild(b);
    });
  }

  setLabel(i) {
    if (i < 0 || i >= this.labels.length) return;
    this.activeLabel = i;
    [...$("labels").children].forEach((b, j) => b.classList.toggle("active", j === i));
  }

  // editing spans (manual views)

  select(a, b, t0) {
    const cur = this.current;
    if (!cur || !cur.editable || !this.labels.length) return;
    const start = t0 && t0 > 0 ? t0 : performance.now();
    const tokens = cur.task.tokens;
    while (a < b && !tokens[a].text.trim()) a++;
    while (b > a && !tokens[b].text.trim()) b--;
    if (!tokens[a].text.trim()) return;
    const label = this.labels[this.activeLabel];
    const kept = cur.spans.filter((s) => s.token_end < a || s.token_start > b);
    kept.push({ start: tokens[a].start, end: tokens[b].end, token_start: a, token_end: b, label });
    kept.sort((x, y) => x.token_start - y.token_start);
    cur.spans = kept;
    cur.view.setSpans(kept);
    cur.view.root.getBoundingClientRect();
    this.perf.mark("select", start);
  }

  // A rectangle drawn over no token: read the text there (or have it typed) and mark it.
  async addRegion(box, t0) {
    const cur = this.current;
    if (!cur || !cur.editable || !this.labels.length) return;
    const got = await addMissedText(this.api, cur.view, cur.task, box);
    if (!got || this.current !== cur) return;
    cur.task = got.task;
    cur.view.addTokens(got.task);
    this.select(got.first, got.last, t0);
    this.perf.mark("region", t0 && t0 > 0 ? t0 : performance.now());
  }

  toggleBoxes() {
    this.clearBoxes = !this.clearBoxes;
    const view = this.current && this.current.view;
    if (view instanceof PageView) view.setClearBoxes(this.clearBoxes);
  }

  removeSpan(k) {
    const cur = this.current;
    if (!cur || !cur.editable) return;
    cur.spans = cur.spans.filter((_, j) => j !== k);
    cur.view.setSpans(cur.spans);
  }

  // answers

  answer(kind) {
    const cur = this.current;
    if (!cur) return;
    const answer = { ...cur.task, spans: cur.spans.map((s) => ({ ...s })), answer: kind,
      _view_id: cur.viewId, _timestamp: Math.floor(Date.now() / 1000) };
    if (!cur.editable && !cur.task.spans) delete answer.spans;
    const added = addedTokens(cur.task);
    if (added.length) answer.added_tokens = added;
    this.outbox.put(this.project.session, answer);
    this.history.push({ task: cur.task, spans: answer.spans || [], answer: kind });
    if (this.history.length > HISTORY_KEPT) this.history.shift();
    this.renderHistory();
    this.showNext();
  }

  undo() {
    const last = this.history.pop();
    if (!last) return;
    if (this.current) this.queue.unshift(this.current.task);
    this.show(last.task, last.spans.map((s) => ({ ...s })));
    this.renderHistory();
    this.toast(`Undone: answer again to replace the ${last.answer}`);
  }

  renderHistory() {
    const list = $("history");
    list.textContent = "";
    for (const h of this.history.slice(-HISTORY_SHOWN).reverse()) {
      const item = el("li", "hist hist-" + h.answer);
      item.appendChild(el("span", "hist-icon", ICONS[h.answer]));
      item.appendChild(el("span", "hist-text", preview(h.task, h.spans)));
      list.appendChild(item);
    }
    $("btn-undo").disabled = !this.history.length;
  }

  // status

  updateProgress(progress) {
    if (!progress) return;
    this.progress = progress;
    const fill = $("progress-fill");
    const frac = typeof progress.progress === "number" ? progress.progress : null;
    fill.style.width = frac === null ? "0%" : (frac * 100).toFixed(1) + "%";
    $("progress").classList.toggle("unknown", frac === null);
    $("progress").setAttribute("aria-valuenow", frac === null ? "0" : String(Math.round(frac * 100)));
    const parts = [`${progress.answered} this session`, `${progress.dataset} in dataset`];
    if (frac !== null) parts.unshift(`${Math.round(frac * 100)}%`);
    $("progress-text").textContent = parts.join(" · ");
    if (!this.current && progress.done && !this.queue.length) {
      this.exhausted = true;
      this.show(null);
    }
  }

  onOutbox(state, err) {
    const n = this.outbox ? this.outbox.size : 0;
    if (state === "offline") {
      this.setStatus("offline", `Server unreachable (${err && err.message}): ${n} answer(s) kept in this browser, retrying…`);
    } else if (state === "sending" || n) {
      this.setStatus("sending", `Saving ${n} answer(s)…`);
    } else {
      this.setStatus("saved", "All answers saved");
    }
    if (this.outbox && this.outbox.storageFull) this.toast("Browser storage is full: unsaved answers are only in memory until the server is back");
  }

  setStatus(state, text) {
    $("conn").className = "dot " + state;
    $("status-text").textContent = text;
    document.body.dataset.conn = state;
  }

  toast(text) {
    const t = el("div", "toast", text);
    document.body.appendChild(t);
    setTimeout(() => t.remove(), 3500);
  }

  showMessage(title, text) {
    const card = $("card");
    card.textContent = "";
    card.className = "card message";
    card.appendChild(el("h1", null, title));
    card.appendChild(el("p", "muted", text));
  }

  updateButtons() {
    const has = Boolean(this.current);
    for (const id of ["btn-accept", "btn-reject", "btn-ignore"]) $(id).disabled = !has;
    $("btn-undo").disabled = !this.history.length;
  }

  toggleHelp(show) {
    const help = $("help");
    help.hidden = show === undefined ? !help.hidden : !show;
  }

  // input

  bindButtons() {
    $("btn-accept").addEventListener("click", () => this.answer("accept"));
    $("btn-reject").addEventListener("click", () => this.answer("reject"));
    $("btn-ignore").addEventListener("click", () => this.answer("ignore"));
    $("btn-undo").addEventListener("click", () => this.undo());
    $("help-button").addEventListener("click", () => this.toggleHelp());
    $("help-close").addEventListener("click", () => this.toggleHelp(false));
    $("help").addEventListener("click", (e) => { if (e.target === $("help")) this.toggleHelp(false); });
  }

  bindKeys() {
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      const key = e.key;
      if (key === "h" || key === "?") { this.toggleHelp(); e.preventDefault(); return; }
      if (key === "Escape") {
        this.toggleHelp(false);
        if (this.current && this.current.view) this.current.view.cancel();
        return;
      }
      if (!$("help").hidden) return;
      const view = this.current && this.current.view;
      if (key === "a" || key === "x" || key === " ") {
        e.preventDefault();
        if (e.repeat) return;
        this.answer({ a: "accept", x: "reject", " ": "ignore" }[key]);
      } else if (key === "Backspace") {
        e.preventDefault();
        if (!e.repeat) this.undo();
      } else if (/^[1-9]$/.test(key)) {
        this.setLabel(Number(key) - 1);
      } else if (view instanceof PageView && (key === "+" || key === "=")) {
        view.zoomBy(1.25);
      } else if (view instanceof PageView && key === "-") {
        view.zoomBy(1 / 1.25);
      } else if (view instanceof PageView && (key === "0" || key === "w")) {
        view.fit("width");
      } else if (view instanceof PageView && key === "f") {
        view.fit("page");
      } else if (view instanceof PageView && key === "b") {
        this.toggleBoxes();
      }
    });
    // Buttons keep focus after a click; let space and enter go to the app, not re-click them.
    document.addEventListener("click", (e) => { if (e.target.closest("button")) e.target.closest("button").blur(); });
  }
}

const app = new App();
window.vnerteach = app; // for the benchmark and the browser tests: app.perf, app.current, app.outbox
app.start();
