// OCR text the annotator sees and fixes on a page: each span's text as read (the span list under the page),
// a word's text drawn in its box where it is not what the image shows (typed, added or corrected), and the
// editor that corrects a misread word (e). A correction changes only a token's `text`: the answer goes back
// with the task's text and offsets as asked, and the server rebuilds them and keeps what OCR read as
// `ocr_text` beside the token (vnerteach/corrections.py).

import { el } from "./util.js";
import { askText } from "./region.js";

// What OCR read for token i: its `ocr_text` (corrected before), else the task's text there as asked; null for a
// token added by hand that OCR never read.
export function readAs(task, i) {
  const t = task.tokens[i];
  if (typeof t.ocr_text === "string") return t.ocr_text;
  if (t.added === true) return null;
  return (task.text || "").slice(t.start, t.end);
}

export function isCorrected(task, i) {
  const read = readAs(task, i);
  return read !== null && read !== task.tokens[i].text;
}

// The text of tokens a..b (inclusive) as the annotator has them, with the spaces between them; or as OCR read them.
export function tokensText(task, a, b, asRead = false) {
  let out = "";
  for (let i = a; i <= b; i++) {
    const t = task.tokens[i];
    if (!t) break;
    const word = asRead ? (readAs(task, i) ?? t.text) : t.text;
    out += word + (i < b && t.ws !== false ? " " : "");
  }
  return out;
}

// A span's text from its tokens (with corrections), or from the task's text for a span without tokens.
export function spanText(task, span) {
  if (typeof span.token_start === "number" && typeof span.token_end === "number" && task.tokens) {
    return tokensText(task, span.token_start, span.token_end);
  }
  return (task.text || "").slice(span.start, span.end);
}

// Draw a word's own text in its box when the image does not show it as the task has it: a token added by hand
// (typed, or read from a region) or one whose OCR text was corrected. Drawn as text (textContent), sized to the box.
export function drawWord(box, task, i) {
  const t = task.tokens[i];
  const corrected = isCorrected(task, i);
  box.classList.toggle("corrected", corrected);
  let label = box.querySelector(".word-text");
  if (t.added !== true && !corrected) {
    if (label) label.remove();
    return;
  }
  if (!label) {
    label = el("span", "word-text");
    box.appendChild(label);
  }
  label.textContent = t.text;
  const b = t.bbox;
  if (Array.isArray(b)) label.style.fontSize = Math.max(6, Math.round((b[3] - b[1]) * 0.75)) + "px";
}

// The page's spans as a list under it: each span's label and its text as read, with what OCR read where a word
// was corrected.
export class SpanList {
  constructor(card, before, colors) {
    this.colors = colors;
    this.root = el("ol", "span-list");
    this.root.setAttribute("aria-label", "Spans and their text");
    card.insertBefore(this.root, before);
  }

  render(task, spans) {
    this.root.textContent = "";
    this.root.hidden = !spans.length;
    spans.forEach((s, k) => {
      const item = el("li", "span-item");
      item.dataset.span = String(k);
      const chip = el("span", "span-label", s.label || "");
      chip.style.setProperty("--c", this.colors(s.label));
      item.appendChild(chip);
      item.appendChild(el("span", "span-read", spanText(task, s)));
      if (typeof s.token_start === "number") {
        const read = tokensText(task, s.token_start, s.token_end, true);
        if (read !== spanText(task, s)) item.appendChild(el("span", "span-ocr", `OCR read ${read}`));
      }
      this.root.appendChild(item);
    });
  }

  destroy() {
    this.root.remove();
  }
}

// Ask for the corrected text of tokens a..b, in a small form under their box; resolves to the task with the
// tokens' new texts (one word per token), {error} when the words do not fit the tokens, or null if cancelled.
export async function editTokens(view, task, a, b) {
  const boxes = task.tokens.slice(a, b + 1).map((t) => t.bbox).filter(Array.isArray);
  if (!boxes.length) return null;
  const box = [Math.min(...boxes.map((x) => x[0])), Math.min(...boxes.map((x) => x[1])),
    Math.max(...boxes.map((x) => x[2])), Math.max(...boxes.map((x) => x[3]))];
  const read = tokensText(task, a, b, true);
  const note = a === b ? `Correct the text of this word (OCR read ${read})` : `Correct these ${b - a + 1} words (OCR read ${read})`;
  view.hold(box, false);
  let text;
  try {
    text = await askText(view.root, [...view.screenPoint(box[0], box[1]), ...view.screenPoint(box[2], box[3])], note,
      { value: tokensText(task, a, b), placeholder: "Enter saves, Esc cancels", editor: "correct-text" });
  } finally {
    view.release();
  }
  if (text === null) return null;
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length !== b - a + 1) {
    return { error: `${words.length} word${words.length === 1 ? "" : "s"} for ${b - a + 1} box${a === b ? "" : "es"}: ` +
      "a box holds one word (to correct a run, give one word per box)" };
  }
  const tokens = task.tokens.map((t, i) => (i >= a && i <= b ? { ...t, text: words[i - a] } : t));
  return { task: { ...task, tokens } };
}
