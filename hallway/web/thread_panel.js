// The thread side panel: one thread of the open conversation beside it (the whole screen
// on a phone), with its root, its replies (a history window of its own, older windows
// loading on scrolling up) and a composer of its own. Replies arrive live from the
// conversation's `message.created` events whose thread_root_id is the root, the root's
// counts from `thread.updated` (conversation.js hands both over). Esc closes it.

import { api } from "./api.js";
import { announce, h, reconcile } from "./dom.js";
import { messageKey, renderMessage } from "./messages.js";
import { pendingMessage, personName, state } from "./store.js";

const THREAD_WINDOW_SIZE = 30;
const LOAD_OLDER_WITHIN_PX = 120;
const NEAR_BOTTOM_PX = 80;
const UI = { editing: null, draft: "", picking: null, moderator: false, inThread: true };

function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16));
  return hex.map((x) => x.padStart(2, "0")).join("");
}

export class ThreadPanel {
  /** `onClose()`: the panel closed (focus goes back to the conversation). */
  constructor({ onClose }) {
    this.onClose = onClose;
    this.conversationId = null;
    this.root = null;
    this.replies = new Map(); // id -> reply
    this.pending = new Map(); // client_msg_id -> my reply on its way
    this.cursor = null;
    this.hasMore = false;
    this.loadingOlder = null;
    this.generation = 0;
    this.cache = new Map();
    this.build();
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
    this.form = h(
      "form",
      { id: "thread-composer" },
      h("label", { for: "thread-input", class: "visually-hidden" }, "Reply in thread"),
      this.input,
      h("button", { type: "submit" }, "Reply"),
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
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.scroller.addEventListener("scroll", () => this.maybeLoadOlder());
  }

  get isOpen() {
    return this.root !== null;
  }

  /** Open the thread of `root` (a root message of the open conversation). */
  async open(conversationId, root) {
    if (this.isOpen && this.root.id === root.id) {
      this.input.focus();
      return;
    }
    this.reset();
    const generation = this.generation;
    this.conversationId = conversationId;
    this.root = root;
    this.element.hidden = false;
    document.getElementById("main").dataset.thread = "open";
    document.body.dataset.thread = "open";
    this.render("bottom");
    this.status.textContent = "Loading…";
    this.input.focus();
    try {
      const page = await api.threadMessages(conversationId, root.id, THREAD_WINDOW_SIZE);
      if (generation !== this.generation) return;
      this.root = page.root;
      this.addWindow(page);
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
    this.root = null;
    this.replies.clear();
    this.pending.clear();
    this.cache.clear();
    this.cursor = null;
    this.hasMore = false;
    this.loadingOlder = null;
    this.list.replaceChildren();
    this.rootList.replaceChildren();
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

  addWindow(page) {
    for (const reply of page.messages) this.replies.set(reply.id, reply);
    this.cursor = page.next_cursor;
    this.hasMore = page.has_more;
  }

  // --- live ----------------------------------------------------------------------------------

  /** A `message.created` of the open conversation that is a reply. */
  receive(message) {
    if (!this.isOpen || message.thread_root_id !== this.root.id) return;
    if (message.sender_id === state.me.id && message.client_msg_id) {
      this.pending.delete(message.client_msg_id);
    }
    if (this.replies.has(message.id)) return;
    this.replies.set(message.id, message);
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
      if (data.root_id !== this.root.id) return;
      this.root = {
        ...this.root,
        reply_count: data.reply_count,
        last_reply_at: data.last_reply_at,
        reply_user_ids: data.reply_user_ids,
      };
      this.render();
      return;
    }
    const id = kind.startsWith("reaction.") ? data.message_id : data.id;
    const reply = this.replies.get(id);
    if (kind === "message.deleted" && reply) {
      this.replies.set(id, { ...reply, body: "", attachments: [], deleted_at: data.deleted_at });
      this.render();
    } else if (kind === "message.edited" && reply) {
      this.replies.set(id, { ...reply, body: data.body, edited_at: data.edited_at });
      this.render();
    }
  }

  markRead() {
    if (!this.isOpen || document.visibilityState !== "visible") return;
    api.markThreadRead(this.root.id).catch(() => {});
  }

  // --- rendering -----------------------------------------------------------------------------

  messages() {
    const confirmed = [...this.replies.values()].sort((a, b) => a.seq - b.seq);
    return [...confirmed, ...this.pending.values()];
  }

  nearBottom() {
    const box = this.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  render(scroll = "auto") {
    if (!this.isOpen) return;
    const box = this.scroller;
    const stick = scroll === "bottom" || (scroll === "auto" && this.nearBottom());
    const fromBottom = box.scrollHeight - box.scrollTop;
    this.rootList.replaceChildren(renderMessage(this.root, UI));
    reconcile(this.list, this.messages(), messageKey, (m) => renderMessage(m, UI), this.cache);
    const count = this.root.reply_count ?? 0;
    this.count.textContent = count === 1 ? "1 reply" : `${count} replies`;
    this.status.textContent = this.hasMore ? "" : count ? "" : "No replies yet.";
    if (stick) box.scrollTop = box.scrollHeight;
    else if (scroll === "older") box.scrollTop = box.scrollHeight - fromBottom;
  }

  maybeLoadOlder() {
    if (!this.isOpen || !this.hasMore || this.loadingOlder) return;
    if (this.scroller.scrollTop > LOAD_OLDER_WITHIN_PX) return;
    const generation = this.generation;
    this.status.textContent = "Loading older replies…";
    this.loadingOlder = api
      .threadMessages(this.conversationId, this.root.id, THREAD_WINDOW_SIZE, this.cursor)
      .then((page) => {
        if (generation !== this.generation) return;
        this.addWindow(page);
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

  async send() {
    const body = this.input.value;
    if (!this.isOpen || !body.trim()) return;
    const clientMsgId = newClientMsgId();
    const generation = this.generation;
    const rootId = this.root.id;
    this.input.value = "";
    this.error.textContent = "";
    this.pending.set(clientMsgId, pendingMessage(clientMsgId, body, { threadRootId: rootId }));
    this.render("bottom");
    try {
      const fields = { body, client_msg_id: clientMsgId, thread_root_id: rootId };
      const message = await api.send(this.conversationId, fields);
      if (generation === this.generation) this.receive(message);
    } catch (error) {
      if (generation !== this.generation) return;
      this.pending.delete(clientMsgId);
      this.input.value = body;
      this.error.textContent = `Not sent: ${error.message}`;
      this.render();
    }
  }
}
