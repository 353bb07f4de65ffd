// The thread side panel: one thread of the open conversation beside it (the whole screen
// on a phone), with its root, its replies (a history window of its own, older windows
// loading on scrolling up) and a composer of its own. Replies arrive live from the
// conversation's `message.created` events whose thread_root_id is the root, the root's
// counts from `thread.updated`, edits, deletions and reactions from theirs (conversation.js
// hands them over). A reply goes through the conversation's outbox (outbox.js), as a message
// does: queued while offline, sent once when the socket is back. Its messages have the same
// buttons as the conversation's (message_actions.js), less thread and "Mark unread" ones.
// Esc closes it.

import { api } from "./api.js";
import { LengthCounter } from "./composer_counter.js";
import { announce, h, reconcile } from "./dom.js";
import { MentionAutocomplete } from "./mentions.js";
import { MessageActions } from "./message_actions.js";
import { MessageListKeys } from "./message_list_keys.js";
import { messageKey, renderMessage } from "./messages.js";
import { newClientMsgId, personName, state, Timeline } from "./store.js";

const THREAD_WINDOW_SIZE = 30;
const LOAD_OLDER_WITHIN_PX = 120;
const NEAR_BOTTOM_PX = 80;

export class ThreadPanel {
  /** `onClose()`: the panel closed (focus goes back to the conversation). `outbox`: the
   * conversation view's (outbox.js), which sends replies and says how each is doing.
   * `members()`: whom `@` offers in the reply composer (the conversation's, mentions.js). */
  constructor({ onClose, outbox, members }) {
    this.onClose = onClose;
    this.outbox = outbox;
    this.conversationId = null;
    this.rootId = null;
    this.timeline = null; // the root and its loaded replies (store.js)
    this.loadingOlder = null;
    this.generation = 0;
    this.cache = new Map(); // reply key -> drawn element (dom.js reconcile)
    this.rootCache = new Map();
    this.build();
    this.actions = new MessageActions(this.scroller, {
      find: (key) => this.timeline?.messages().find((m) => messageKey(m) === key) ?? null,
      rerender: (...keys) => this.rerender(...keys),
      showError: (text) => {
        this.error.textContent = text;
      },
      onRetry: (message) => this.outbox.retry(message.client_msg_id),
      onDiscard: (message) => {
        this.timeline.pending.delete(message.client_msg_id);
        this.outbox.discard(message.client_msg_id);
        this.render();
      },
      inThread: true,
    });
    this.keys = new MessageListKeys(this.scroller, this.list); // one tab stop, arrow keys
    // The reply composer counts and completes as the conversation's does (composer.js).
    this.counter = new LengthCounter(this.input, this.sendButton, "thread-input-count");
    this.mentions = new MentionAutocomplete(this.input, members);
  }

  build() {
    this.title = h("h2", { id: "thread-title" }, "Thread");
    this.count = h("p", { id: "thread-count", class: "thread-count" });
    this.closeButton = h(
      "button",
      { type: "button", class: "quiet", "aria-label": "Close the thread", title: "Close (Esc)" },
      "×",
    );
    this.rootList = h("ol", { class: "thread-root", "aria-label": "Thread root" });
    this.status = h("p", { class: "thread-status" });
    this.list = h("ol", { id: "thread-replies", role: "log", "aria-label": "Replies" });
    this.scroller = h(
      "div",
      { class: "thread-scroller", tabindex: "0" },
      this.rootList,
      this.status,
      this.list,
    );
    this.input = h("textarea", {
      id: "thread-input",
      name: "body",
      rows: "1",
      placeholder: "Reply…",
    });
    this.error = h("p", { class: "field-error", role: "alert" });
    this.sendButton = h("button", { type: "submit" }, "Reply");
    this.form = h(
      "form",
      { id: "thread-composer" },
      h("label", { for: "thread-input", class: "visually-hidden" }, "Reply in thread"),
      this.input,
      this.sendButton,
      this.error,
    );
    this.element = h(
      "aside",
      { id: "thread-panel", role: "region", "aria-labelledby": "thread-title", hidden: true },
      h("header", { class: "thread-header" }, h("div", {}, this.title, this.count), this.closeButton),
      this.scroller,
      this.form,
    );
    document.getElementById("main").append(this.element);

    this.closeButton.addEventListener("click", () => this.close());
    this.element.addEventListener("keydown", (event) => {
      // An Esc something inside took (the mention list closing) does not close the panel.
      if (event.key === "Escape" && !event.defaultPrevented) {
        event.preventDefault();
        this.close();
      }
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (this.mentions.onKeydown(event)) return;
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.scroller.addEventListener("scroll", () => this.maybeLoadOlder());
  }

  get isOpen() {
    return this.rootId !== null;
  }

  /** The root as last known (its counts kept live by thread.updated). */
  get root() {
    return this.timeline?.byId.get(this.rootId) ?? null;
  }

  /** Open the thread of `root` (a root message of the open conversation). */
  async open(conversationId, root) {
    if (this.isOpen && this.rootId === root.id) {
      this.input.focus();
      return;
    }
    this.reset();
    const generation = this.generation;
    this.conversationId = conversationId;
    this.rootId = root.id;
    this.timeline = new Timeline();
    this.timeline.add(root);
    // My replies still on their way (or refused) since the thread was last open.
    for (const pending of this.outbox.pendingIn(conversationId, root.id)) {
      this.timeline.pending.set(pending.client_msg_id, pending);
    }
    this.element.hidden = false;
    document.getElementById("main").dataset.thread = "open";
    document.body.dataset.thread = "open";
    this.render("bottom");
    this.status.textContent = "Loading…";
    this.input.focus();
    try {
      const page = await api.threadMessages(conversationId, root.id, THREAD_WINDOW_SIZE);
      if (generation !== this.generation) return;
      this.timeline.byId.set(root.id, page.root);
      this.timeline.addWindow(page);
      this.render("bottom");
      this.markRead();
    } catch (error) {
      if (generation !== this.generation) return;
      this.status.textContent = `Could not load the thread: ${error.message}`;
    }
  }

  reset() {
    this.generation += 1;
    this.conversationId = null;
    this.rootId = null;
    this.timeline = null;
    this.cache.clear();
    this.rootCache.clear();
    this.loadingOlder = null;
    this.list.replaceChildren();
    this.rootList.replaceChildren();
    this.actions.reset();
    this.keys.reset();
    this.error.textContent = "";
  }

  close() {
    if (!this.isOpen) return;
    this.reset();
    this.element.hidden = true;
    delete document.getElementById("main").dataset.thread;
    delete document.body.dataset.thread;
    this.onClose();
  }

  /** Whether I may delete anyone's message here (the conversation view's rule). */
  setModerator(moderator) {
    if (this.actions.setModerator(moderator)) this.rerenderAll();
  }

  // --- live ----------------------------------------------------------------------------------

  /** A confirmed reply of the open conversation (its `message.created` event, or the
   * outbox's answer to my send). */
  receive(message) {
    if (!this.isOpen || message.thread_root_id !== this.rootId) return;
    if (!this.timeline.add(message)) {
      this.render(); // the other of its two confirmations: it only settles the pending one
      return;
    }
    this.render(message.sender_id === state.me.id ? "bottom" : "auto");
    if (message.sender_id !== state.me.id && !message.deleted_at) {
      announce(`${personName(message.sender_id)} in the thread: ${message.body || "a file"}`);
      this.markRead();
    }
  }

  /** A `thread.updated`, `message.edited`, `message.deleted` or reaction event. */
  apply(kind, data) {
    if (!this.isOpen) return;
    if (kind === "thread.updated") {
      const root = this.root;
      if (data.root_id !== this.rootId || !root) return;
      const { reply_count, last_reply_at, reply_user_ids } = data;
      this.timeline.byId.set(root.id, { ...root, reply_count, last_reply_at, reply_user_ids });
      this.render();
    } else if (this.timeline.apply(kind, data)) {
      this.render();
    }
  }

  /** How one of my replies on its way is doing (outbox.js): "sending", "queued", "failed". */
  setPendingStatus(clientMsgId, status, error) {
    if (this.isOpen && this.timeline.setPendingStatus(clientMsgId, status, error)) this.render();
  }

  markRead() {
    if (!this.isOpen || document.visibilityState !== "visible") return;
    api.markThreadRead(this.rootId).catch(() => {});
  }

  // --- rendering -----------------------------------------------------------------------------

  replies() {
    return this.timeline.messages().filter((message) => message.id !== this.rootId);
  }

  nearBottom() {
    const box = this.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  render(scroll = "auto") {
    const root = this.root;
    if (!root) return;
    const box = this.scroller;
    const stick = scroll === "bottom" || (scroll === "auto" && this.nearBottom());
    const fromBottom = box.scrollHeight - box.scrollTop;
    const draw = (message) => renderMessage(message, this.actions.ui);
    const restoreFocus = this.keys.rememberFocus();
    reconcile(this.rootList, [root], messageKey, draw, this.rootCache);
    reconcile(this.list, this.replies(), messageKey, draw, this.cache);
    this.keys.update();
    restoreFocus();
    const count = root.reply_count ?? 0;
    this.count.textContent = count === 1 ? "1 reply" : `${count} replies`;
    this.status.textContent = this.timeline.hasMore || count ? "" : "No replies yet.";
    if (stick) box.scrollTop = box.scrollHeight;
    else if (scroll === "older") box.scrollTop = box.scrollHeight - fromBottom;
  }

  /** Render these messages again although their objects did not change (ui state did). */
  rerender(...keys) {
    for (const key of keys) {
      for (const cache of [this.cache, this.rootCache]) {
        const entry = cache.get(key);
        if (entry) entry.item = null;
      }
    }
    this.render();
  }

  rerenderAll() {
    this.rerender(...this.cache.keys(), ...this.rootCache.keys());
  }

  maybeLoadOlder() {
    const timeline = this.timeline;
    if (!this.isOpen || !timeline.hasMore || this.loadingOlder) return;
    if (this.scroller.scrollTop > LOAD_OLDER_WITHIN_PX) return;
    const generation = this.generation;
    this.status.textContent = "Loading older replies…";
    this.loadingOlder = api
      .threadMessages(this.conversationId, this.rootId, THREAD_WINDOW_SIZE, timeline.cursor)
      .then((page) => {
        if (generation !== this.generation) return;
        timeline.addWindow(page);
        this.render("older");
      })
      .catch((error) => {
        if (generation === this.generation) {
          this.status.textContent = `Could not load older replies: ${error.message}`;
        }
      })
      .finally(() => {
        if (generation === this.generation) this.loadingOlder = null;
      });
  }

  // --- replying ------------------------------------------------------------------------------

  /** My reply: shown at once as on its way, then handed to the outbox (as the conversation's
   * composer does), which sends it or keeps it queued until it can. */
  send() {
    const body = this.input.value;
    if (!this.isOpen || !body.trim() || this.counter.over()) return;
    const clientMsgId = newClientMsgId();
    this.input.value = "";
    this.counter.update();
    this.error.textContent = "";
    const message = this.timeline.addPending(clientMsgId, body, { threadRootId: this.rootId });
    this.render("bottom");
    this.outbox.add(this.conversationId, message, {
      body,
      client_msg_id: clientMsgId,
      thread_root_id: this.rootId,
    });
  }
}
