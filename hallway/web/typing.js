// Typing in the open conversation: telling others that I am typing, and showing who else is.

import { personName } from "./store.js";

// docs/realtime.md: send typing every 2-3 s while typing (the server drops repeats within 1 s).
const TYPING_EVERY_MS = 2_500;

export class TypingView {
  constructor(realtime) {
    this.realtime = realtime;
    this.line = document.getElementById("typing");
    this.typists = new Map(); // user id -> timer that hides them
    this.lastSent = 0;
    this.timer = null;
  }

  /** I typed in the conversation: tell others at most every TYPING_EVERY_MS; typing on
   * within that time is told once it is over, so the indicator comes back soon after a
   * message hid it. `typing()` says whether I still am (the composer holds text). */
  typed(conversationId, typing) {
    if (!typing() || this.timer) return;
    const wait = this.lastSent + TYPING_EVERY_MS - Date.now();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (typing()) {
        this.lastSent = Date.now();
        this.realtime.typing(conversationId);
      }
    }, Math.max(wait, 0));
  }

  /** My message went out (or the conversation closed): nothing more to tell. */
  stopTelling() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Someone else is typing, for `seconds` unless told again. */
  show(userId, seconds) {
    clearTimeout(this.typists.get(userId));
    this.typists.set(userId, setTimeout(() => this.hide(userId), seconds * 1000));
    this.render();
  }

  /** They stopped (their message arrived, or their time ran out). */
  hide(userId) {
    clearTimeout(this.typists.get(userId));
    if (this.typists.delete(userId)) this.render();
  }

  /** The conversation closed: nobody is typing in it, and I tell nothing more. */
  clear() {
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.typists.clear();
    this.render();
    this.stopTelling();
  }

  render() {
    const names = [...this.typists.keys()].map(personName);
    this.line.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : "Several people are typing…";
  }
}
