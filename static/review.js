// The review view's versions: each way annotators answered the input, read-only and numbered for keys
// 1-9, with who gave it. Choosing one copies its spans into the editor below it.
// Task text only ever goes through textContent.

import { TextView } from "./text.js";
import { el, isPageTask } from "./util.js";

export class VersionsPanel {
  // options: {colors(label), onChoose(k), onPreview(k or null): a page shows the hovered version's spans}
  constructor(container, before, task, options) {
    this.root = el("div", "versions");
    this.colors = options.colors;
    this.items = [];
    const versions = Array.isArray(task.versions) ? task.versions : [];
    const onText = !isPageTask(task) && Array.isArray(task.tokens) && task.tokens.length;
    versions.forEach((v, k) => {
      const item = el("div", "version");
      item.dataset.k = String(k);
      item.title = k < 9 ? `Choose this version (${k + 1}) to edit` : "Choose this version to edit";
      const head = el("div", "version-head");
      if (k < 9) head.appendChild(el("kbd", null, String(k + 1)));
      head.appendChild(el("span", "version-who", (v.names || v.annotators || []).join(", ")));
      const spans = Array.isArray(v.spans) ? v.spans : [];
      const what = v.answer === "reject" ? "rejected the input" : spans.length === 1 ? "1 entity" : `${spans.length} entities`;
      head.appendChild(el("span", "version-answer " + (v.answer === "reject" ? "is-reject" : "is-accept"), what));
      item.appendChild(head);
      const body = el("div", "version-body");
      if (v.answer !== "reject" && onText) {
        new TextView(body, task, spans.filter((s) => typeof s.token_start === "number"), { editable: false, colors: options.colors });
      } else if (v.answer !== "reject") {
        this.chips(body, task, spans, "");
      }
      if (Array.isArray(v.rejected) && v.rejected.length) this.chips(body, task, v.rejected, "not ");
      if (v.answer !== "reject" && !spans.length && !(v.rejected || []).length) body.appendChild(el("span", "muted", "no entities"));
      item.appendChild(body);
      item.addEventListener("click", () => options.onChoose(k));
      if (!onText && options.onPreview) {
        item.addEventListener("pointerenter", () => options.onPreview(k));
        item.addEventListener("pointerleave", () => options.onPreview(null));
      }
      this.root.appendChild(item);
      this.items.push(item);
    });
    container.insertBefore(this.root, before);
    this.caption = el("div", "review-caption", versions.length > 1
      ? "Your answer: choose a version (1-9) or mark the entities, then accept; reject rejects the input"
      : "Your answer: the annotators agree; edit if needed, then accept; reject rejects the input");
    container.insertBefore(this.caption, before);
  }

  // Spans as "text LABEL" chips: for a page, whose versions are listed beside the one page shown.
  chips(body, task, spans, prefix) {
    for (const s of spans) {
      const chip = el("span", "version-span" + (prefix ? " is-not" : ""));
      chip.appendChild(el("span", "version-span-text", prefix + (task.text || "").slice(s.start, s.end)));
      const label = el("span", "hist-label", s.label);
      label.style.setProperty("--c", this.colors(s.label));
      chip.appendChild(label);
      body.appendChild(chip);
    }
  }

  setChosen(k) {
    this.items.forEach((item, j) => item.classList.toggle("chosen", j === k));
  }

  destroy() {
    this.root.remove();
    this.caption.remove();
  }
}
