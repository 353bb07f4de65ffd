// The composer's length counter: hidden until the message nears the server's limit, then
// "9,500 / 10,000" (announced politely), red past the limit, where sending is disabled.

import { h } from "./dom.js";

/** The server's default `HALLWAY_MAX_BODY_CHARS`, counted as it counts: in code points. */
export const MAX_BODY_CHARS = 10_000;
const SHOW_FROM_CHARS = 9_000;
const numbers = new Intl.NumberFormat();

export function codePoints(text) {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

export class LengthCounter {
  /** `input`: a composer's textarea; `submit`: its Send button; `id`: the counter's own
   * (the conversation's composer and the thread panel's each have one). */
  constructor(input, submit, id = "composer-count") {
    this.input = input;
    this.submit = submit;
    this.element = h("p", { id, class: "composer-count", "aria-live": "polite", hidden: true });
    input.after(this.element);
    const describedBy = input.getAttribute("aria-describedby") ?? "";
    input.setAttribute("aria-describedby", `${describedBy} ${id}`.trim());
    input.addEventListener("input", () => this.update());
    this.update();
  }

  /** Whether the text is longer than the server takes. */
  over() {
    return codePoints(this.input.value) > MAX_BODY_CHARS;
  }

  /** Call after the text was set from code (a draft, a sent message cleared). */
  update() {
    // Counting is skipped for anything that cannot be near the limit (a UTF-16 length is
    // at least the code point count).
    const length = this.input.value.length < SHOW_FROM_CHARS ? 0 : codePoints(this.input.value);
    const shown = length >= SHOW_FROM_CHARS;
    const over = length > MAX_BODY_CHARS;
    this.element.hidden = !shown;
    this.element.classList.toggle("over", over);
    const text = `${numbers.format(length)} / ${numbers.format(MAX_BODY_CHARS)}`;
    const said = over ? `${text}: too long to send` : text;
    if (shown && this.element.textContent !== said) this.element.textContent = said;
    if (!shown) this.element.textContent = "";
    this.submit.disabled = over;
    if (over) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }
}
