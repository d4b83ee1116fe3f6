// The annotation app: fetches questions, shows one task at a time in its view, sends each answer at
// once through the outbox, keeps a history with undo (and the answers the server refused, until
// dismissed), and handles the keyboard.

import { Api, Heartbeat, Outbox } from "./api.js";
import { SpanList, editTokens, spanText } from "./correct.js";
import { PageView } from "./page.js";
import { addMissedText, addedTokens } from "./region.js";
import { VersionsPanel } from "./review.js";
import { markPage, turnPage } from "./upright.js";
import { TextView } from "./text.js";
import { el, isPageTask, labelColors, placeOf, preview } from "./util.js";

const BATCH = 10;
const LOW_WATER = 4;
// A model in the loop (ner.teach, ner.correct): one task held beyond the one on screen, and each task scored again
// as it is shown, so what the model learnt from the last answer shows on the next question.
const IN_LOOP_BATCH = 1;
const REFRESH_AGAIN_MS = 700; // the model was still updating: ask again after this
const REFRESH_TRIES = 20;
const SENT_WAIT_MS = 5000; // how long a refresh waits for the last answer to reach the server
const HISTORY_SHOWN = 12;
const HISTORY_KEPT = 100;
const REVIEW_VIEW = "review"; // the versions of an input, read-only, over an editor like ner_manual's
const MANUAL_VIEWS = new Set(["ner_manual", REVIEW_VIEW]);
const ICONS = { accept: "✓", reject: "✗", ignore: "⊘" };
const HIDDEN_META = new Set(["image_key", "model_version", "prefilled"]);
const SVG = "http://www.w3.org/2000/svg";
const BANNER_MS = 4000; // how long "All N answers saved" stays

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

// A version's spans as the editor takes them: copies, only those on this input's tokens; none for a reject.
// A share (0..1) after each answer as a small line, with a dashed line where it starts to pay (if given).
function trendLine(values, level) {
  const w = 120, h = 22, n = values.length;
  const y = (v) => (h - 1 - v * (h - 2)).toFixed(1);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "trend");
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("aria-hidden", "true");
  if (typeof level === "number") {
    const title = document.createElementNS(SVG, "title");
    title.textContent = `dashed: ${Math.round(level * 100)}%, above which it saves time`;
    svg.appendChild(title);
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("class", "trend-level");
    line.setAttribute("x1", "0");
    line.setAttribute("x2", String(w));
    line.setAttribute("y1", y(level));
    line.setAttribute("y2", y(level));
    svg.appendChild(line);
  }
  const path = document.createElementNS(SVG, "polyline");
  path.setAttribute("class", "trend-line");
  path.setAttribute("points", values.map((v, i) => `${((i * (w - 2)) / (n - 1) + 1).toFixed(1)},${y(v)}`).join(" "));
  svg.appendChild(path);
  return svg;
}

// What the card asks of the annotator, in one line (the review view's versions panel says it itself).
function askedOf(viewId, spans, labels) {
  if (viewId === "ner_manual") {
    return spans.length ? "Correct the pre-filled entities (fix, remove, add the missing ones), then accept"
      : `Mark every entity${labels.length ? ` (${labels.slice(0, 4).join(", ")}${labels.length > 4 ? ", …" : ""})` : ""}, then accept`;
  }
  if (viewId === "ner") return "Is the highlighted span exactly an entity of this label? Accept or reject";
  return null;
}

// Whether a review task's versions accepted any entity (an empty accept of it needs confirming).
function versionsHadEntities(task) {
  return (task.versions || []).some((v) => v.answer !== "reject" && Array.isArray(v.spans) && v.spans.length);
}

function versionSpans(version) {
  if (version.answer === "reject") return [];
  return (version.spans || []).filter((s) => typeof s.token_start === "number").map((s) => ({ ...s }));
}

class App {
  constructor() {
    const params = new URLSearchParams(location.search);
    this.api = new Api(params.get("token") || sessionStorage.getItem("vnerteach:token"));
    if (params.get("token")) sessionStorage.setItem("vnerteach:token", params.get("token"));
    this.api.annotator = params.get("session") || null; // a named annotator: /?session=alice
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
    this.waiting = null; // what the server's stream waits on, e.g. "OCR is running on scan.pdf page 3"
    this.outage = null; // {ids, back}: answers kept while the server was unreachable, until they are saved
    this.zoom = { mode: "width", z: 1 }; // the page zoom chosen last: carried over to the next page
    this.batch = BATCH;
    this.lowWater = LOW_WATER;
    this.clearBoxes = false;
  }

  async start() {
    this.bindKeys();
    this.bindButtons();
    this.bindAnnotator();
    for (let wait = 500; ; wait = Math.min(wait * 2, 5000)) {
      try {
        this.project = await this.api.project();
        break;
      } catch (err) {
        this.setStatus("offline", `Cannot reach the server (${err.message}); retrying…`);
        if (err.status === 401) return this.showMessage("Access token required", "Open the address the command printed, including its ?token=… part.");
        if (err.status === 400) return this.showMessage("Annotator name not accepted", err.message);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    const p = this.project;
    if (p.in_loop) { this.batch = IN_LOOP_BATCH; this.lowWater = IN_LOOP_BATCH; }
    this.labels = p.labels || [];
    this.colors = labelColors(this.labels, (p.config || {}).label_colors);
    $("p-dataset").textContent = p.dataset;
    $("p-view").textContent = p.view_id;
    $("p-session").textContent = p.session;
    $("p-session").title = p.session;
    $("annotator-name").value = p.annotator || "";
    document.title = `${p.dataset} · vnerteach`;
    this.nameButtons(p.view_id);
    $("instructions-button").hidden = !(p.config && p.config.instructions);
    this.renderLabels();
    this.updateProgress(p.progress);
    this.outbox = new Outbox(this.api, p.dataset, {
      ack: (progress) => { this.updateProgress(progress); },
      refused: (entry) => {
        this.renderHistory();
        this.toast(`The server refused an answer (${entry.reason}): it is not saved; see History`);
      },
      undoRefused: (entry, reason) => this.toast(`The server could not undo an answer (${reason})`),
      state: (state, err) => this.onOutbox(state, err),
    }, p.max_body);
    await this.loadHistory();
    this.renderHistory();
    this.onOutbox(this.outbox.size ? "sending" : "saved");
    this.api.onReach = (ok) => this.onReach(ok);
    this.renderTeam(p.annotators);
    this.heartbeat = new Heartbeat(this.api, (project) => {
      this.updateProgress(project.progress);
      this.renderTeam(project.annotators);
    });
    const sent = this.outbox.kick();
    if (this.outbox.undoing) await sent; // an undone task is asked again first: tell the server before asking
    window.addEventListener("online", () => this.outbox.kick());
    setInterval(() => { if (this.outbox.size && !this.outbox.sending) this.outbox.kick(); }, 5000);
    await this.fetchMore();
  }

  // The session's answers the server has stored, then those still waiting in this browser (a newer
  // answer to the same question replaces the stored one; an undo waiting here hides it).
  async loadHistory() {
    const session = this.project.session;
    let stored = [];
    try {
      stored = (await this.api.history(session, HISTORY_KEPT)).answers;
    } catch (err) { /* the history starts empty; the status bar tells when the server is away */ }
    const waiting = this.outbox.waiting(session);
    const hidden = new Set([...this.outbox.memory.values()].map((e) => this.outbox.idOf(e.session, e.hash)));
    const item = (answer) => ({ task: answer, spans: answer.spans || [], answer: answer.answer, session,
      id: this.outbox.idOf(session, answer._task_hash) });
    this.history = [...stored.map(item).filter((h) => !hidden.has(h.id)), ...waiting.map((e) => item(e.answer))]
      .slice(-HISTORY_KEPT);
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
      const res = await this.api.questions(this.project.session, this.batch, this.firstFetch);
      this.firstFetch = false;
      if (document.body.dataset.conn === "offline" && !this.outbox.size) this.onOutbox("saved");
      for (const task of res.tasks) {
        const h = task._task_hash;
        if (this.seen.has(h) || this.outbox.has(h)) continue;
        this.seen.add(h);
        this.queue.push(task);
      }
      if (res.error) this.toast(`The source failed: ${res.error}`);
      this.waiting = res.tasks.length ? null : res.waiting || null;
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
    if (this.queue.length < this.lowWater && !this.exhausted) this.fetchMore();
  }

  showNext() {
    const task = this.queue.shift();
    if (!task) {
      this.show(null);
      if (!this.exhausted) this.fetchMore();
      return;
    }
    this.show(task, (task.spans || []).map((s) => ({ ...s })));
    if (this.project.in_loop) this.refreshCurrent();
    if (this.queue.length < this.lowWater) this.fetchMore();
  }

  // The task on screen as the model sees it now: once this browser's answers have reached the server, the server
  // waits for the model to learn them and scores the task again. Its new pre-fill or score replaces the old one
  // unless the annotator has started editing; "model updating" shows until the model has caught up.
  async refreshCurrent() {
    let cur = this.current;
    if (!cur) return;
    for (let waited = 0; (this.outbox.size || this.outbox.sending) && waited < SENT_WAIT_MS; waited += 100) {
      if (this.current !== cur) return;
      this.setModelState(cur, "updating");
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let tries = 0; tries < REFRESH_TRIES; tries++) {
      if (tries) await new Promise((r) => setTimeout(r, REFRESH_AGAIN_MS));
      if (this.current !== cur) return;
      let res;
      try {
        res = await this.api.refresh(this.project.session, cur.task._task_hash);
      } catch (err) {
        break; // shown as it is: the server is away or refused; the status bar says so
      }
      if (this.current !== cur) return;
      if (res.progress) this.updateProgress(res.progress);
      if (!res.task) {
        this.setModelState(cur, null);
        if (!res.unknown) this.showNext(); // the model no longer asks it (its words were rejected meanwhile)
        return;
      }
      if (!cur.touched) { // an annotator's edits are never replaced
        if (JSON.stringify(res.task.spans || []) !== JSON.stringify(cur.task.spans || [])) {
          this.show(res.task, (res.task.spans || []).map((s) => ({ ...s })));
        } else {
          cur.task = res.task;
        }
      }
      cur = this.current;
      if (!res.updating) break;
      this.setModelState(cur, "updating");
    }
    this.setModelState(cur, null);
  }

  // "model updating" on the card while the model has not learnt the latest answers yet.
  setModelState(cur, state) {
    if (!cur || this.current !== cur) return;
    const card = $("card");
    let badge = card.querySelector(".model-state");
    if (!state) { if (badge) badge.remove(); return; }
    if (!badge) {
      badge = el("div", "model-state", "model updating…");
      badge.title = "The model is still learning your last answers: this task will be scored again when it is done";
      card.prepend(badge);
    }
  }

  // views

  show(task, spans) {
    const t0 = performance.now();
    const card = $("card");
    if (this.current && this.current.view) this.current.view.destroy();
    if (this.current && this.current.versions) this.current.versions.destroy();
    card.textContent = "";
    card.className = "card";
    this.current = null;
    if (!task) {
      if (this.exhausted || (this.progress && this.progress.done)) {
        this.showMessage("No tasks left", "Every task of this source is answered. Your answers are saved; you can close this tab.");
      } else {
        card.appendChild(el("p", "muted", "Loading the next task…"));
        if (this.waiting) card.appendChild(el("p", "waiting", this.waiting));
      }
      $("task-notes").hidden = true;
      this.updateButtons();
      return;
    }
    this.resetNotes(task);
    const viewId = task._view_id || this.project.view_id;
    const editable = MANUAL_VIEWS.has(viewId);
    const page = isPageTask(task);
    card.classList.add(page ? "is-page" : "is-text", "view-" + viewId);
    this.current = { task, spans, view: null, viewId, editable, versions: null, chosen: null };
    const inHead = this.renderHeader(card, task, viewId, spans);
    // The header shows the question's score or pattern: its view shows the span without them.
    const shown = inHead.size ? spans.map(({ score, ...rest }) => rest) : spans;
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
      onLookAt: (key, page) => this.otherPage(key, page),
    };
    if (page) { // the spans' text as read, under the page
      const list = new SpanList(card, body.nextSibling, this.colors);
      options.onSpans = (shownSpans, shownTask) => list.render(shownTask, shownSpans);
    }
    const asked = askedOf(viewId, spans, this.labels);
    if (asked) card.insertBefore(el("p", "asked", asked), body);
    this.renderMeta(card, task, inHead); // before the view, which sizes itself to the room left
    if (viewId === REVIEW_VIEW) {
      this.current.versions = new VersionsPanel(card, body, task, { colors: this.colors,
        onChoose: (k) => this.chooseVersion(k), onPreview: (k) => this.previewVersion(k) });
      const first = Array.isArray(task.versions) ? task.versions[0] : null;
      if (first && first.answer !== "reject") { // the editor starts from it (the server pre-fills its spans)
        this.current.chosen = 0;
        this.current.versions.setChosen(0);
      }
    }
    if (page) {
      this.current.view = new PageView(body, task, shown, options);
      markPage(this.current.view, task);
    } else {
      this.current.view = new TextView(body, task, shown, options);
      // A long text scrolls inside the card: open it on its first span (a page view does this itself).
      const first = body.querySelector("mark.ent");
      if (first && card.scrollHeight > card.clientHeight) first.scrollIntoView({ block: "center" });
    }
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

  // The card's header: the question's label, and its pattern (a pattern match) or its score (a model's
  // suggestion). Returns the meta keys it shows, so they are not shown twice.
  renderHeader(card, task, viewId, spans) {
    const inHead = new Set();
    const question = viewId === "ner" && spans.length === 1 ? spans[0] : null;
    const label = question ? question.label : !MANUAL_VIEWS.has(viewId) && task.label;
    if (!label) return inHead;
    const head = el("div", "card-head");
    const chip = el("span", "chip", label);
    chip.style.setProperty("--c", this.colors(label));
    head.appendChild(chip);
    if (question && typeof question.start === "number") {
      const text = (task.text || "").slice(question.start, question.end).replace(/\s+/g, " ");
      head.appendChild(el("span", "span-text", text.length > 80 ? text.slice(0, 79) + "…" : text));
    }
    const score = question && (typeof question.score === "number" ? question.score : task.score);
    if (question && question.pattern) {
      head.appendChild(el("span", "pattern", `pattern ${question.pattern}`));
      ["pattern", "score"].forEach((k) => inHead.add(k));
    } else if (typeof score === "number") {
      head.appendChild(el("span", "score", `score ${score.toFixed(2)}`));
      inHead.add("score");
    } else if (question && question.score === null) {
      const none = el("span", "score no-score", "no score yet");
      none.title = "The model has not learnt enough answers for its scores to mean anything";
      head.appendChild(none);
      inHead.add("score");
    }
    card.appendChild(head);
    return inHead;
  }

  renderMeta(card, task, inHead) {
    const meta = task.meta || {};
    const shown = Object.entries(meta).filter(([k, v]) => (v === null ? k === "confidence" : typeof v !== "object")
      && !HIDDEN_META.has(k) && !inHead.has(k)).map(([k, v]) => [k, v === null ? "none yet (still learning)" : v]);
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
    const numbered = this.project.view_id !== REVIEW_VIEW; // in review, keys 1-9 choose a version
    bar.hidden = !manual || !this.labels.length;
    this.labels.forEach((label, i) => {
      const b = el("button", "label-btn" + (i === this.activeLabel ? " active" : ""));
      b.type = "button";
      b.style.setProperty("--c", this.colors(label));
      b.appendChild(el("span", "label-name", label));
      if (i < 9 && numbered) b.appendChild(el("kbd", null, String(i + 1)));
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
    cur.lastRange = [a, b];
    cur.touched = true;
    cur.confirmEmpty = false;
    cur.view.setSpans(kept);
    cur.view.root.getBoundingClientRect();
    this.perf.mark("select", start);
  }

  // Review: start the editor from version k (its spans; none for a version that rejected the input).
  chooseVersion(k) {
    const cur = this.current;
    const versions = cur && cur.viewId === REVIEW_VIEW && Array.isArray(cur.task.versions) ? cur.task.versions : [];
    const version = versions[k];
    if (!version) return;
    cur.chosen = k;
    cur.spans = versionSpans(version);
    cur.view.setSpans(cur.spans);
    cur.versions.setChosen(k);
    if (version.answer === "reject") this.toast("This version rejected the input: press x to reject it, or mark entities and accept");
  }

  // Review on a page: while a version is hovered, the page shows its spans (read-only); then the editor's again.
  previewVersion(k) {
    const cur = this.current;
    if (!cur || !cur.view || !cur.versions) return;
    const version = k === null ? null : cur.task.versions[k];
    cur.view.setSpans(version ? versionSpans(version) : cur.spans);
  }

  // Another page of the document on screen, to read: its image made on the server ({image_key, page, width, height}).
  async otherPage(key, page) {
    try {
      const other = await this.api.request("GET", `/api/document-page?image_key=${encodeURIComponent(key)}&page=${page}`);
      return { ...other, url: this.api.imageUrl(other.image_key) };
    } catch (err) {
      this.toast(`Cannot show page ${page}: ${err.message}`);
      return null;
    }
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

  // Correct what OCR read (e): the word under the pointer, else the words of the span marked last. Only the tokens'
  // text changes here; the server rebuilds the task's text and offsets and keeps what OCR read beside each token.
  async correctText() {
    const cur = this.current;
    if (!cur || !cur.editable || !(cur.view instanceof PageView) || cur.view.held) return;
    const hovered = cur.view.hovered;
    const range = typeof hovered === "number" ? [hovered, hovered] : cur.lastRange;
    if (!range || !cur.task.tokens[range[0]]) {
      this.toast("Point at a word (or mark it) and press e to correct what OCR read");
      return;
    }
    cur.view.hideTip();
    const got = await editTokens(cur.view, cur.task, range[0], range[1]);
    if (!got || this.current !== cur) return;
    if (got.error) { this.toast(got.error); return; }
    cur.task = got.task;
    cur.touched = true;
    cur.view.retext(got.task, range[0], range[1]);
  }

  // r: the page on screen read again turned a further 90 degrees (the server reads it; the spans marked on it go).
  async turnCurrent() {
    const cur = this.current;
    if (!cur || !cur.editable || cur.viewId === REVIEW_VIEW || cur.turning) return;
    if (!(cur.task.meta && cur.task.meta.image_key)) { this.toast("Only a page of a document can be turned"); return; }
    cur.turning = true;
    cur.view.root.classList.add("turning");
    let res;
    try {
      res = await turnPage(this.api, this.project.session, cur.task);
    } catch (err) {
      if (this.current === cur) this.toast(`Cannot turn the page: ${err.message}`);
      return;
    } finally {
      cur.turning = false;
      if (cur.view) cur.view.root.classList.remove("turning");
    }
    if (this.current !== cur || !res || !res.task) return;
    const dropped = cur.spans.length;
    this.show(res.task, []);
    this.current.touched = true; // the annotator's turn: a refresh must not put the old page back
    this.toast(`Page turned to ${res.task.meta.rotation}° and read again` +
      (dropped === 1 ? ": the span marked on it was dropped" : dropped ? `: the ${dropped} spans marked on it were dropped` : ""));
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
    cur.touched = true;
    cur.confirmEmpty = false;
    cur.view.setSpans(cur.spans);
  }

  // answers

  answer(kind) {
    const cur = this.current;
    if (!cur) return;
    const answer = { ...cur.task, spans: cur.spans.map((s) => ({ ...s })), answer: kind,
      _view_id: cur.viewId, _timestamp: Math.floor(Date.now() / 1000) };
    if (!cur.editable && !cur.task.spans) delete answer.spans;
    Object.assign(answer, this.notes());
    if (cur.viewId === REVIEW_VIEW) {
      answer.chosen_version = cur.chosen;
      if (kind === "accept" && !cur.spans.length && versionsHadEntities(cur.task)) {
        if (!cur.confirmEmpty) { // accepting nothing where annotators marked something: ask once more
          cur.confirmEmpty = true;
          this.toast("No entities marked, but the annotators marked some: choose a version (1-9) or mark them; " +
            "press a again to store no entities");
          return;
        }
        answer.confirmed_empty = true;
      }
    }
    const added = addedTokens(cur.task);
    if (added.length) answer.added_tokens = added;
    this.outbox.put(this.project.session, answer);
    this.history.push({ task: cur.task, spans: answer.spans || [], answer: kind, session: this.project.session,
      id: this.outbox.idOf(this.project.session, answer._task_hash) });
    if (this.history.length > HISTORY_KEPT) this.history.shift();
    this.renderHistory();
    this.showNext();
  }

  // Take the last answer back (the server deletes it, or it never leaves this browser) and show its task again.
  undo() {
    const last = this.history.pop();
    if (!last) return;
    this.outbox.undo(last.session, last.task._task_hash);
    this.seen.add(last.task._task_hash); // the server offers it again: it is shown already
    if (this.current) this.queue.unshift(this.current.task);
    this.show(last.task, last.spans.map((s) => ({ ...s })));
    this.renderHistory();
    this.toast(`Undone: the ${last.answer} is taken back; answer the task again`);
  }

  // Refused answers first (all of them, also those of earlier tabs), each with its reason and a
  // dismiss button; then the latest answers.
  renderHistory() {
    const list = $("history");
    list.textContent = "";
    const refused = this.outbox ? [...this.outbox.refused.entries()].sort((a, b) => b[1].seq - a[1].seq) : [];
    for (const [id, entry] of refused) {
      const item = this.historyItem(entry.answer, entry.answer.spans || [], "refused", "!");
      item.querySelector(".hist-text").prepend(`${entry.answer.answer}: `);
      item.lastChild.appendChild(el("span", "hist-reason", `Not saved: ${entry.reason}`));
      const dismiss = el("button", "hist-dismiss", "Dismiss");
      dismiss.type = "button";
      dismiss.title = "Forget this answer: the server refused it and it is not saved";
      dismiss.addEventListener("click", () => this.dismiss(id));
      item.appendChild(dismiss);
      list.appendChild(item);
    }
    const isRefused = (h) => this.outbox && this.outbox.refused.has(h.id);
    for (const h of this.history.filter((h) => !isRefused(h)).slice(-HISTORY_SHOWN).reverse()) {
      list.appendChild(this.historyItem(h.task, h.spans, h.answer, ICONS[h.answer]));
    }
    $("btn-undo").disabled = !this.history.length;
  }

  // One answer in the history: its spans' text and labels (or the start of its text), then its file and page.
  historyItem(task, spans, kind, icon) {
    const item = el("li", "hist hist-" + kind);
    item.appendChild(el("span", "hist-icon", icon));
    const body = el("span", "hist-body");
    const what = el("span", "hist-text");
    spans.forEach((s, i) => {
      if (i) what.appendChild(document.createTextNode(", "));
      what.appendChild(el("span", "hist-span", spanText(task, s)));
      const label = el("span", "hist-label", s.label);
      label.style.setProperty("--c", this.colors(s.label));
      what.appendChild(label);
    });
    if (!spans.length) what.textContent = preview(task);
    body.appendChild(what);
    const place = placeOf(task);
    if (place) body.appendChild(el("span", "hist-where", place));
    item.appendChild(body);
    return item;
  }

  dismiss(id) {
    this.outbox.dismiss(id);
    this.history = this.history.filter((h) => h.id !== id);
    this.renderHistory();
    this.onOutbox(this.outboxState, this.outboxError);
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
    if (progress.candidates) parts.unshift(`${progress.questions} questions from ${progress.candidates} candidates`);
    if (frac !== null) {
      const handled = (progress.team ?? progress.answered) + progress.skipped + (progress.failed || 0);
      parts.unshift(progress.estimated ? `~${Math.round(frac * 100)}%` : `${Math.round(frac * 100)}% (${handled} of ${progress.total})`);
    }
    $("progress-text").textContent = parts.join(" · ");
    this.showPayoff(progress.payoff || []);
    this.showSkipped(progress);
    if (!this.current && progress.done && !this.queue.length) {
      this.exhausted = true;
      this.show(null);
    }
  }

  // The other annotators of this run, with their answers (and who is idle), once there is more than one.
  renderTeam(annotators) {
    const team = annotators || [];
    $("team").hidden = team.length < 2;
    $("team").textContent = "Team: " + team.map((a) => `${a.name || "unnamed"} ${a.answered}${a.idle ? " (idle)" : ""}`)
      .join(" · ");
  }

  // Whether the model in the loop pays: the share of its pre-fills kept (ner.correct), of its questions accepted
  // (ner.teach), over the latest answers, with the same share after each of the answers before as a trend line.
  showPayoff(figures) {
    $("payoff-box").hidden = !figures.length;
    const box = $("payoff");
    box.textContent = "";
    for (const f of figures) {
      const row = el("div", "payoff");
      row.dataset.name = f.name;
      const what = f.name === "kept"
        ? [`pre-fills kept`, `${f.hits} of ${f.of} pre-filled spans kept unchanged over the last ${f.answers} inputs ` +
           `(of ${f.window}). Above ${Math.round(f.break_even * 100)}% pre-filling saves time; below, ner.manual is faster.`]
        : [`questions accepted`, `${f.hits} of ${f.of} of the last ${f.answers} questions (of ${f.window}) accepted`];
      const value = f.value === null ? "–" : `${Math.round(f.value * 100)}%`;
      row.title = what[1];
      row.appendChild(el("span", "payoff-value", value));
      row.appendChild(el("span", "payoff-what small", ` ${what[0]} (last ${f.answers})`));
      if (f.trend.length > 1) row.appendChild(trendLine(f.trend, f.break_even));
      box.appendChild(row);
    }
  }

  // Tasks of the source that could not be used: how many, and the latest ones with file, line and reason.
  showSkipped(progress) {
    const n = progress.failed || 0;
    const latest = progress.failures || [];
    $("skipped-box").hidden = !n;
    if (!n) return;
    $("skipped-title").textContent = `Skipped ${n} bad task${n > 1 ? "s" : ""}`;
    const list = $("skipped");
    list.textContent = "";
    for (const message of latest.slice().reverse()) list.appendChild(el("li", null, message));
    if (n > (this.skippedShown || 0) && latest.length) this.toast(`Skipped ${latest[latest.length - 1]}`);
    this.skippedShown = n;
  }

  // "All answers saved" only when the outbox is empty and no refused answer waits to be dismissed.
  onOutbox(state, err) {
    this.outboxState = state;
    this.outboxError = err;
    const n = this.outbox ? this.outbox.size : 0;
    const refused = this.outbox ? this.outbox.refused.size : 0;
    const also = refused ? `; ${refused} refused by the server (see History)` : "";
    if (n && state === "offline") {
      const why = err && err.status ? `Not saved yet (the server says: ${err.message})` : `Server unreachable (${err && err.message})`;
      this.setStatus("offline", `${why}: ${n} answer(s) kept in this browser, retrying…${also}`);
    } else if (n) {
      this.setStatus("sending", `Saving ${n} answer(s)…${also}`);
    } else if (refused) {
      this.setStatus("refused", `${refused} answer(s) refused by the server and not saved: see History`);
    } else {
      this.setStatus("saved", "All answers saved");
    }
    this.renderBanner();
    if (n && this.outbox.storageFull) this.toast("Browser storage is full: unsaved answers are only in memory until the server is back");
  }

  // The server went away (ok false) or came back: kept answers are sent at once, and the banner follows.
  onReach(ok) {
    if (!ok) this.outage = { ids: new Set(), back: false };
    else if (this.outage) {
      this.outage.back = true;
      this.outbox.kick();
    }
    this.renderBanner();
  }

  // While the server is unreachable: how many answers this browser keeps. When it is back: that they are
  // being saved, then that they are saved (only once none waits), and then the banner goes.
  renderBanner() {
    const outage = this.outage;
    if (!outage) return;
    const banner = $("banner");
    clearTimeout(this.bannerTimer);
    for (const id of this.outbox.memory.keys()) outage.ids.add(id);
    const kept = this.outbox.size;
    const answers = (n) => `${n} answer${n === 1 ? "" : "s"}`;
    let state, text;
    if (!outage.back) {
      state = "offline";
      text = kept ? `Server unreachable — ${answers(kept)} kept in this browser, sent when it is back`
        : "Server unreachable — your answers so far are saved; new ones are kept in this browser until it is back";
    } else if (kept) {
      state = "sending";
      text = `Server is back — saving ${answers(kept)}…`;
    } else {
      const refused = [...outage.ids].filter((id) => this.outbox.refused.has(id)).length;
      const saved = outage.ids.size - refused;
      state = refused ? "refused" : "saved";
      text = refused ? `${answers(saved)} saved; ${refused} refused by the server (see History)`
        : saved > 1 ? `All ${saved} answers saved` : saved ? "1 answer saved" : "Server is back";
      this.outage = null;
      this.bannerTimer = setTimeout(() => { banner.hidden = true; }, BANNER_MS);
    }
    banner.className = "banner " + state;
    banner.textContent = text;
    banner.hidden = false;
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

  // The buttons say what they do in this view: in a manual view, reject leaves the whole input out of training.
  nameButtons(viewId) {
    const manual = MANUAL_VIEWS.has(viewId);
    const words = manual
      ? { accept: ["accept", "Accept (a): the entities marked are all the input has; it is learnt as it is"],
          reject: ["leave out", "Reject (x): leave this input out of training (it cannot be annotated as asked)"] }
      : { accept: ["accept", "Accept (a): the highlighted span is exactly an entity of this label"],
          reject: ["reject", "Reject (x): it is not (the model learns that too)"] };
    for (const [kind, [word, title]] of Object.entries(words)) {
      const button = $(`btn-${kind}`);
      button.title = title;
      button.querySelector("span").firstChild.textContent = word + " ";
    }
  }

  updateButtons() {
    const has = Boolean(this.current);
    for (const id of ["btn-accept", "btn-reject", "btn-ignore"]) $(id).disabled = !has;
    $("btn-undo").disabled = !this.history.length;
  }

  // The flag (f) and the comment (c) of the task on screen: stored with its answer, as Prodigy's flag is.
  resetNotes(task) {
    $("task-notes").hidden = false;
    this.setFlag(task.flagged === true);
    $("comment").value = typeof task.comment === "string" ? task.comment : "";
  }

  setFlag(on) {
    $("btn-flag").classList.toggle("on", on);
    $("btn-flag").setAttribute("aria-pressed", String(on));
  }

  notes() {
    const out = {};
    if ($("btn-flag").classList.contains("on")) out.flagged = true;
    const comment = $("comment").value.trim();
    if (comment) out.comment = comment;
    return out;
  }

  // The recipe's --instructions, as plain text (the file is the user's, but shown as text like every task).
  toggleInstructions(show) {
    const text = (this.project && this.project.config && this.project.config.instructions) || "";
    if (!text) return;
    $("instructions-text").textContent = text;
    const box = $("instructions");
    box.hidden = show === undefined ? !box.hidden : !show;
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
    $("instructions-button").addEventListener("click", () => this.toggleInstructions());
    $("instructions-close").addEventListener("click", () => this.toggleInstructions(false));
    $("btn-flag").addEventListener("click", () => this.setFlag(!$("btn-flag").classList.contains("on")));
    $("comment").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === "Escape") e.target.blur(); });
    $("help").addEventListener("click", (e) => { if (e.target === $("help")) this.toggleHelp(false); });
  }

  // Annotate under another name: the page reloads as /?session=NAME (an empty name: the run's own session).
  bindAnnotator() {
    $("annotator").addEventListener("submit", (e) => {
      e.preventDefault();
      const params = new URLSearchParams(location.search);
      const name = $("annotator-name").value.trim();
      if (name) params.set("session", name); else params.delete("session");
      location.search = params.toString();
    });
  }

  bindKeys() {
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      // One letter means the same with Caps Lock on ("A" is "a"); named keys (Backspace, Escape) are left as they are.
      const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      if (key === "h" || key === "?") { this.toggleHelp(); e.preventDefault(); return; }
      if (key === "Escape") {
        this.toggleHelp(false);
        this.toggleInstructions(false);
        if (this.current && this.current.view) this.current.view.cancel();
        return;
      }
      if (!$("help").hidden) return;
      if (key === "i") { this.toggleInstructions(); e.preventDefault(); return; }
      if (!$("instructions").hidden) return;
      const view = this.current && this.current.view;
      if (this.current && key === "f") { this.setFlag(!$("btn-flag").classList.contains("on")); return; }
      if (this.current && key === "c") { e.preventDefault(); $("comment").focus(); return; }
      if (key === "a" || key === "x" || key === " ") {
        e.preventDefault();
        if (e.repeat) return;
        this.answer({ a: "accept", x: "reject", " ": "ignore" }[key]);
      } else if (key === "Backspace") {
        e.preventDefault();
        if (!e.repeat) this.undo();
      } else if (/^[1-9]$/.test(key) && this.current && this.current.viewId === REVIEW_VIEW) {
        this.chooseVersion(Number(key) - 1);
      } else if (/^[1-9]$/.test(key)) {
        this.setLabel(Number(key) - 1);
      } else if (view instanceof PageView && (key === "+" || key === "=")) {
        view.zoomBy(1.25);
      } else if (view instanceof PageView && key === "-") {
        view.zoomBy(1 / 1.25);
      } else if (view instanceof PageView && (key === "0" || key === "w")) {
        view.fit("width");
      } else if (view instanceof PageView && key === "p") {
        view.fit("page");
      } else if (view instanceof PageView && (key === "[" || key === "]")) {
        view.lookAt(key === "[" ? -1 : 1);
      } else if (view instanceof PageView && key === "b") {
        this.toggleBoxes();
      } else if (view instanceof PageView && key === "e") {
        e.preventDefault(); // not typed into the editor it opens
        this.correctText();
      } else if (view instanceof PageView && key === "r") {
        if (!e.repeat) this.turnCurrent();
      }
    });
    // Buttons keep focus after a click; let space and enter go to the app, not re-click them.
    document.addEventListener("click", (e) => { if (e.target.closest("button")) e.target.closest("button").blur(); });
  }
}

const app = new App();
window.vnerteach = app; // for the benchmark and the browser tests: app.perf, app.current, app.outbox
app.start();
