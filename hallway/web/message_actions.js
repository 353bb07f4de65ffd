// What is done to a message from its buttons, in whichever list draws it (the conversation's
// timeline, the thread panel): react (the quick picker or the full one), edit, delete, mark
// unread, retry or discard a send. One place, so that both lists behave alike; each list
// draws its messages with `ui` (messages.js renderMessage) and says how to find and redraw.

import { api } from "./api.js";
import { openEmojiPicker } from "./emoji_picker.js";
import { friendly } from "./errors.js";
import { messageKey } from "./messages.js";

export class MessageActions {
  /** `element`: holds the list's li.message items (their clicks, edits and keys bubble to
   * it). `find(key)`: the message drawn under that key, or null; `rerender(...keys)`: draw
   * these again (only `ui` changed); `showError(text)`: say why an action failed;
   * `onRetry(message)`, `onDiscard(message)`: a refused send of mine; `onMarkUnread(message)`.
   * `inThread`: the list is a thread's (messages.js: no thread buttons, no "Mark unread"). */
  constructor(element, { find, rerender, showError, onRetry, onDiscard, onMarkUnread, inThread }) {
    this.element = element;
    this.find = find;
    this.rerender = rerender;
    this.showError = showError;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.onMarkUnread = onMarkUnread;
    this.inThread = Boolean(inThread);
    this.ui = this.freshUi();
    element.addEventListener("click", (event) => this.onClick(event));
    element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveEdit(event.target);
    });
    element.addEventListener("input", (event) => {
      if (event.target.name === "body") this.ui.draft = event.target.value;
    });
    element.addEventListener("keydown", (event) => {
      if (!event.target.closest?.(".editor")) return;
      if (event.key === "Escape") {
        // Closes the editor only, not what holds the list (the thread panel closes on Esc).
        event.stopPropagation();
        this.stopEditing();
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        event.target.form.requestSubmit();
      }
    });
  }

  /** renderMessage's `ui`: editing, draft, picking, moderator, inThread. */
  freshUi() {
    return { editing: null, draft: "", picking: null, moderator: false, inThread: this.inThread };
  }

  /** Another thread, or another conversation (`moderator` false until it is known):
   * nothing is being edited or picked. */
  reset({ moderator = this.ui.moderator } = {}) {
    this.ui = { ...this.freshUi(), moderator };
  }

  /** Whether I may delete anyone's message here (an admin, or the conversation's owner);
   * true when that changed. */
  setModerator(moderator) {
    if (moderator === this.ui.moderator) return false;
    this.ui.moderator = moderator;
    return true;
  }

  onClick(event) {
    const button = event.target.closest("button[data-action]");
    const item = button?.closest("li.message");
    if (!item || !this.element.contains(item)) return;
    const key = item.dataset.key;
    const message = this.find(key);
    if (!message) return;
    const action = button.dataset.action;
    if (action === "pick") {
      const previous = this.ui.picking;
      this.ui.picking = previous === message.id ? null : message.id;
      this.rerender(key, previous);
    } else if (action === "more-emoji") {
      this.pickAnyEmoji(button, message, key);
    } else if (action === "react" || action === "toggle-reaction") {
      this.ui.picking = null;
      this.rerender(key);
      this.toggleReaction(message, button.dataset.emoji);
    } else if (action === "edit") {
      const previous = this.ui.editing;
      this.ui.editing = message.id;
      this.ui.draft = message.body;
      this.rerender(key, previous);
      this.element.querySelector(".editor textarea")?.focus();
    } else if (action === "cancel-edit") {
      this.stopEditing();
    } else if (action === "delete") {
      if (window.confirm("Delete this message for everyone?")) {
        api.delete(message.id).catch((error) => {
          this.showError(`Could not delete: ${friendly(error)}`);
        });
      }
    } else if (action === "unread") {
      this.onMarkUnread?.(message);
    } else if (action === "retry") {
      this.onRetry(message);
    } else if (action === "discard") {
      this.onDiscard(message);
    }
  }

  /** The full emoji picker (emoji_picker.js) for a reaction; closing it closes the quick
   * picker too and puts focus on the message's React button. */
  pickAnyEmoji(button, message, key) {
    openEmojiPicker({
      anchor: button,
      onPick: (emoji) => this.toggleReaction(message, emoji),
      onClose: () => {
        if (this.ui.picking !== message.id) return;
        this.ui.picking = null;
        this.rerender(key);
        const item = [...this.element.querySelectorAll("li.message")].find(
          (element) => element.dataset.key === key,
        );
        item?.querySelector('button[data-action="pick"]')?.focus();
      },
    });
  }

  toggleReaction(message, emoji) {
    // The message as drawn now: reactions may have changed since the button was.
    const current = this.find(messageKey(message)) ?? message;
    const mine = current.reactions.find((r) => r.emoji === emoji)?.me;
    (mine ? api.unreact : api.react)(message.id, emoji).catch((error) => {
      this.showError(`Could not react: ${friendly(error)}`);
    });
  }

  stopEditing() {
    const editing = this.ui.editing;
    this.ui.editing = null;
    if (editing) this.rerender(editing);
  }

  async saveEdit(form) {
    const id = this.ui.editing;
    const original = id && this.find(id);
    const body = form.elements.body.value;
    if (!original || body === original.body) {
      this.stopEditing();
      return;
    }
    try {
      await api.edit(id, body); // the message.edited event updates the message
      if (this.ui.editing === id) this.stopEditing();
    } catch (error) {
      form.querySelector(".field-error").textContent = friendly(error);
    }
  }
}
