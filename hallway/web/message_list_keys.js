// The message list as one tab stop (a roving tabindex): Tab lands on one message (the one
// last focused, else the newest), whose buttons follow it in the tab order; Up and Down move
// to the previous and next message, Home and End to the first and last. The focused message
// shows its actions (app.css: .message:focus-within). A message drawn again while focused
// (a reaction came in) gets its focus back.

const INTERACTIVE = "button, a[href], input, textarea, select";
const MOVES = new Set(["ArrowUp", "ArrowDown", "Home", "End"]);

export class MessageListKeys {
  /** `scroller`: the scrolling box around `list` (the <ol> of li.message). */
  constructor(scroller, list) {
    this.scroller = scroller;
    this.list = list;
    this.currentKey = null; // the message the tab stop is on, once one was focused
    list.addEventListener("focusin", (event) => {
      const item = event.target.closest("li.message");
      if (item && item.dataset.key !== this.currentKey) {
        this.currentKey = item.dataset.key;
        this.update();
      }
    });
    list.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** Forget the place (another conversation). */
  reset() {
    this.currentKey = null;
  }

  items() {
    return [...this.list.querySelectorAll(":scope > li.message")];
  }

  current() {
    const items = this.items();
    const key = this.currentKey;
    return (key && items.find((item) => item.dataset.key === key)) || items[items.length - 1];
  }

  /** After every render: one message in the tab order, the others' controls out of it. */
  update() {
    const current = this.current();
    // With messages, the list is the tab stop; the box itself only while it is empty.
    this.scroller.tabIndex = current ? -1 : 0;
    for (const item of this.items()) {
      const here = item === current;
      item.tabIndex = here ? 0 : -1;
      for (const control of item.querySelectorAll(INTERACTIVE)) {
        if (here && control.dataset.roved !== undefined) {
          control.removeAttribute("tabindex");
          delete control.dataset.roved;
        } else if (!here && control.dataset.roved === undefined && control.tabIndex >= 0) {
          control.tabIndex = -1;
          control.dataset.roved = "";
        }
      }
    }
  }

  onKey(event) {
    if (!MOVES.has(event.key) || event.altKey || event.metaKey) return;
    // Keys in a text field (editing a message) are the field's.
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const item = event.target.closest("li.message");
    if (!item) return;
    const items = this.items();
    const at = items.indexOf(item);
    const next = {
      ArrowUp: items[at - 1],
      ArrowDown: items[at + 1],
      Home: items[0],
      End: items[items.length - 1],
    }[event.key];
    event.preventDefault();
    if (next) {
      next.focus({ preventScroll: true });
      next.scrollIntoView({ block: "nearest" });
    }
  }

  /** Before the list is drawn again: returns a function that, after it, gives focus back
   * to the same message (the same button in it, or the message) if drawing took it away. */
  rememberFocus() {
    const focused = document.activeElement;
    const item = focused?.closest?.("li.message");
    if (!item || item.parentElement !== this.list) return () => {};
    const key = item.dataset.key;
    const action = focused === item ? null : focused.dataset?.action;
    const emoji = focused.dataset?.emoji;
    return () => {
      if (focused.isConnected && document.activeElement === focused) return;
      const again = this.items().find((li) => li.dataset.key === key);
      if (!again) return;
      let target = again;
      if (action) {
        const selector = emoji
          ? `[data-action="${action}"][data-emoji="${CSS.escape(emoji)}"]`
          : `[data-action="${action}"]`;
        target = again.querySelector(selector) ?? again;
      }
      target.focus({ preventScroll: true });
    };
  }
}
