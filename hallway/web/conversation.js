// The open conversation: history in windows (older ones load while scrolling up, without
// moving what is on screen), opening at a message (a search result), live events, optimistic
// sending, edits, deletes, reactions, typing, and the read marker.

import { api } from "./api.js";
import { announce, h, plural, reconcile } from "./dom.js";
import { formatSize, messageKey, renderMessage } from "./messages.js";
import { NotSentHere } from "./realtime.js";
import {
  Timeline,
  conversationTitle,
  directPeer,
  isDeactivated,
  isDeleted,
  personName,
  state,
  updateConversation,
} from "./store.js";

const WINDOW_SIZE = 30;
// Opening at an older message loads the largest windows the API gives, up to 2,000 messages
// back; further than that, the user scrolls on from there.
const REVEAL_WINDOW_SIZE = 100;
const REVEAL_WINDOWS = 20;
const FOUND_MS = 2_000; // how long a message opened from search stays marked
const LOAD_OLDER_WITHIN_PX = 200;
const NEAR_BOTTOM_PX = 80;
// docs/realtime.md: send typing every 2-3 s while typing (the server drops repeats within 1 s).
const TYPING_EVERY_MS = 2_500;
const RUN_WITHIN_MS = 5 * 60_000; // one sender's messages this close share one header
const DETAIL_EVENTS = new Set(["member.added", "member.removed", "conversation.updated"]);
const NOTHING_OPEN = "Pick a conversation, or start a new one.";

/** crypto.randomUUID exists only in secure contexts; plain http on a LAN address is not one. */
function newClientMsgId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16));
  return hex.map((x) => x.padStart(2, "0")).join("");
}

export class ConversationView {
  constructor(realtime, { onSidebarChange, onLeft, onUnknownPerson }) {
    this.realtime = realtime;
    this.onSidebarChange = onSidebarChange;
    this.onLeft = onLeft;
    this.onUnknownPerson = onUnknownPerson;
    this.root = document.getElementById("conversation");
    this.empty = document.getElementById("no-conversation");
    this.title = document.getElementById("conversation-title");
    this.subtitle = document.getElementById("conversation-subtitle");
    this.leaveButton = document.getElementById("leave-conversation");
    this.scroller = document.getElementById("messages");
    this.list = document.getElementById("message-list");
    this.historyStatus = document.getElementById("history-status");
    this.jump = document.getElementById("jump-latest");
    this.typingLine = document.getElementById("typing");
    this.composer = document.getElementById("composer");
    this.input = document.getElementById("composer-input");
    this.composerError = document.getElementById("composer-error");
    this.stagedList = document.getElementById("staged-files");
    this.fileInput = document.getElementById("attach-input");

    this.id = null;
    this.opened = null; // settles once the open conversation's newest window is shown
    this.revealing = null; // the message id last asked for by reveal()
    this.generation = 0; // bumped on every open/close/reload: late answers are dropped
    this.conversation = null;
    this.timeline = null;
    this.seenSeq = 0; // the newest seq this conversation has seen (window or event)
    this.cache = new Map();
    this.ui = { editing: null, draft: "", picking: null, moderator: false };
    this.typists = new Map(); // user id -> timer that hides them
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.readSeq = 0;
    this.drafts = new Map();
    this.staged = []; // files for the next message: {name, size, status, attachment?, error?}
    this.wire();
  }

  wire() {
    this.scroller.addEventListener("scroll", () => {
      this.maybeLoadOlder();
      if (this.nearBottom()) this.jump.hidden = true;
    });
    this.list.addEventListener("click", (event) => this.onListClick(event));
    this.list.addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveEdit(event.target);
    });
    this.list.addEventListener("input", (event) => {
      if (event.target.name === "body") this.ui.draft = event.target.value;
    });
    this.list.addEventListener("keydown", (event) => {
      if (event.target.name !== "body") return;
      if (event.key === "Escape") this.stopEditing();
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        event.target.form.requestSubmit();
      }
    });
    this.historyStatus.addEventListener("click", (event) => {
      if (event.target.closest("button") && this.timeline) {
        this.timeline.olderFailed = false;
        this.loadOlder();
      }
    });
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.composer.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => this.typed());
    this.input.addEventListener("paste", (event) => {
      if (event.clipboardData.files.length) {
        event.preventDefault();
        this.attach(event.clipboardData.files);
      }
    });
    document.getElementById("attach").addEventListener("click", () => this.fileInput.click());
    this.fileInput.addEventListener("change", () => {
      this.attach(this.fileInput.files);
      this.fileInput.value = "";
    });
    this.stagedList.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-index]");
      if (button) {
        this.staged.splice(Number(button.dataset.index), 1);
        this.renderStaged();
      }
    });
    this.jump.addEventListener("click", () => {
      this.scroller.scrollTop = this.scroller.scrollHeight;
      this.jump.hidden = true;
    });
    this.leaveButton.addEventListener("click", () => this.leave());
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  // --- opening and closing ---------------------------------------------------------------

  /** Resolves once the newest window is shown (or could not be loaded). */
  open(conversationId) {
    if (this.id !== conversationId) {
      this.close();
      this.id = conversationId;
      this.opened = this.loadNewest(conversationId);
    }
    return this.opened;
  }

  async loadNewest(conversationId) {
    const generation = this.generation;
    this.root.hidden = false;
    this.empty.hidden = true;
    this.empty.textContent = NOTHING_OPEN;
    this.input.value = this.drafts.get(conversationId) ?? "";
    const known = state.conversations.get(conversationId);
    if (known) this.showHeader(known);
    this.timeline = new Timeline();
    this.historyStatus.textContent = "Loading…";
    try {
      // The window comes with the last_seq it was read at (one snapshot): following from it
      // misses nothing and repeats nothing.
      const [conversation, page] = await Promise.all([
        api.conversation(conversationId),
        api.messages(conversationId, WINDOW_SIZE),
      ]);
      if (generation !== this.generation) return;
      this.showHeader(conversation);
      this.readSeq = conversation.last_read_seq;
      this.timeline.addWindow(page);
      this.seenSeq = page.last_seq;
      this.catchUpSidebar();
      this.realtime.follow(conversationId, page.last_seq);
      this.render("bottom");
      this.markRead();
      this.maybeLoadOlder();
    } catch (error) {
      if (generation !== this.generation) return;
      this.historyStatus.textContent =
        error.code === "not_found"
          ? "This conversation does not exist, or you are not in it."
          : `Could not load the conversation: ${error.message}`;
    }
  }

  /** `notice`: why, in place of the usual hint (e.g. "you were removed"). */
  close(notice = null) {
    if (notice) this.empty.textContent = notice;
    if (this.id) {
      this.realtime.unfollow(this.id);
      this.drafts.set(this.id, this.input.value);
    }
    this.id = null;
    this.generation += 1;
    this.conversation = null;
    this.timeline = null;
    this.seenSeq = 0;
    this.cache.clear();
    this.list.replaceChildren();
    this.ui = { editing: null, draft: "", picking: null, moderator: false };
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.typists.clear();
    this.renderTyping();
    this.stopTypingTimer();
    this.jump.hidden = true;
    this.composerError.textContent = "";
    this.staged = [];
    this.renderStaged();
    this.root.hidden = true;
    this.empty.hidden = false;
  }

  /** After `resync`: the newest window again; my messages on their way stay. */
  async reload() {
    const generation = ++this.generation;
    try {
      const page = await api.messages(this.id, WINDOW_SIZE);
      if (generation !== this.generation) return;
      const fresh = new Timeline();
      fresh.pending = this.timeline.pending;
      fresh.addWindow(page);
      this.timeline = fresh;
      this.seenSeq = Math.max(this.seenSeq, page.last_seq);
      this.render("bottom");
    } catch (error) {
      this.composerError.textContent = `Could not reload the conversation: ${error.message}`;
    }
  }

  async refreshDetails() {
    const generation = this.generation;
    const conversation = await api.conversation(this.id).catch(() => null);
    if (conversation && generation === this.generation) this.showHeader(conversation);
  }

  showHeader(conversation) {
    this.conversation = conversation;
    const { title, members } = conversation;
    updateConversation(conversation.id, { title, members });
    const myRole = conversation.members.find((m) => m.user_id === state.me.id)?.role;
    const moderator = state.me.role === "admin" || myRole === "owner";
    if (moderator !== this.ui.moderator) {
      this.ui.moderator = moderator;
      this.rerenderAll();
    }
    this.refreshHeader();
    this.onSidebarChange();
  }

  /** Title and subtitle; again when someone's presence changes. */
  refreshHeader() {
    const conversation = this.conversation;
    if (!conversation) return;
    this.title.textContent = conversationTitle(conversation);
    const peer = directPeer(conversation);
    const gone =
      peer && (isDeleted(peer) ? "Account deleted" : isDeactivated(peer) && "Deactivated");
    if (gone) {
      this.subtitle.textContent = gone;
      delete this.subtitle.dataset.presence;
    } else if (peer) {
      const presence = state.people.get(peer)?.presence ?? "offline";
      this.subtitle.textContent = presence === "online" ? "Online" : "Offline";
      this.subtitle.dataset.presence = presence;
    } else {
      const names = conversation.members.map((m) => m.display_name);
      const kind = conversation.kind === "channel" ? "Channel" : "Group";
      const count = plural(names.length, "member");
      this.subtitle.textContent = `${kind} · ${count}: ${names.join(", ")}`;
      delete this.subtitle.dataset.presence;
    }
    this.leaveButton.hidden = conversation.kind === "direct";
  }

  // --- rendering ---------------------------------------------------------------------------

  nearBottom() {
    const box = this.scroller;
    return box.scrollHeight - box.scrollTop - box.clientHeight < NEAR_BOTTOM_PX;
  }

  /** scroll: "bottom" (go there), "older" (keep what is on screen where it is, as a window
   * is added above), "auto" (follow the bottom if already there). Returns: at the bottom. */
  render(scroll = "auto") {
    if (!this.timeline) return false;
    const box = this.scroller;
    const stick = scroll === "bottom" || (scroll === "auto" && this.nearBottom());
    const fromBottom = box.scrollHeight - box.scrollTop;
    reconcile(
      this.list,
      this.timeline.messages(),
      messageKey,
      (message) => renderMessage(message, this.ui),
      this.cache,
    );
    this.markRuns();
    this.renderHistoryStatus();
    if (stick) box.scrollTop = box.scrollHeight;
    else if (scroll === "older") box.scrollTop = box.scrollHeight - fromBottom;
    return stick;
  }

  /** Render these messages again although their objects did not change (ui state did). */
  rerender(...keys) {
    for (const key of keys) {
      const entry = this.cache.get(key);
      if (entry) entry.item = null;
    }
    this.render();
  }

  rerenderAll() {
    this.rerender(...this.cache.keys());
  }

  /** Consecutive messages of one sender within a few minutes show one header. */
  markRuns() {
    let previous = null;
    for (const item of this.list.children) {
      const at = Date.parse(item.querySelector("time").dateTime);
      const continued =
        previous !== null &&
        previous.sender === item.dataset.sender &&
        at - previous.at < RUN_WITHIN_MS;
      item.classList.toggle("continued", continued);
      previous = { sender: item.dataset.sender, at };
    }
  }

  renderHistoryStatus() {
    const status = this.historyStatus;
    if (this.timeline.olderFailed) {
      status.replaceChildren(
        "Could not load earlier messages. ",
        h("button", { type: "button" }, "Try again"),
      );
    } else if (this.timeline.olderLoad) {
      status.textContent = "Loading earlier messages…";
    } else if (this.timeline.hasMore) {
      status.textContent = "";
    } else {
      status.textContent = "This is the beginning of the conversation.";
    }
  }

  maybeLoadOlder() {
    if (this.timeline?.hasMore && this.scroller.scrollTop < LOAD_OLDER_WITHIN_PX) {
      this.loadOlder();
    }
  }

  /** The window before the oldest loaded one; a caller while it loads waits for the same. */
  loadOlder(size = WINDOW_SIZE) {
    const timeline = this.timeline;
    if (!timeline?.hasMore || timeline.olderFailed) return Promise.resolve();
    if (!timeline.olderLoad) {
      timeline.olderLoad = this.fetchOlder(timeline, size);
      this.renderHistoryStatus();
    }
    return timeline.olderLoad;
  }

  async fetchOlder(timeline, size) {
    try {
      timeline.addWindow(await api.messages(this.id, size, timeline.cursor));
    } catch {
      timeline.olderFailed = true;
    } finally {
      timeline.olderLoad = null;
    }
    if (timeline !== this.timeline) return; // another conversation, or reloaded, meanwhile
    this.render("older");
    // A tall screen may still show the top: keep going until it is filled.
    this.maybeLoadOlder();
  }

  /** Open a conversation at one of its messages: load older windows until it is there,
   * scroll to it, focus it and mark it for a moment. */
  async reveal(conversationId, messageId) {
    this.revealing = messageId;
    await this.open(conversationId);
    const timeline = this.timeline;
    const missing = () =>
      timeline === this.timeline &&
      timeline.hasMore &&
      !timeline.olderFailed &&
      !timeline.byId.has(messageId);
    for (let n = 0; n < REVEAL_WINDOWS && missing(); n += 1) {
      await this.loadOlder(REVEAL_WINDOW_SIZE);
    }
    // Another conversation or another result was picked meanwhile: that one wins.
    if (!timeline || timeline !== this.timeline || this.revealing !== messageId) return;
    const element = this.cache.get(messageId)?.el;
    if (!element) {
      if (missing()) {
        this.composerError.textContent = "That message is further back: scroll up to reach it.";
      }
      return;
    }
    element.scrollIntoView({ block: "center" });
    element.focus({ preventScroll: true });
    element.classList.add("found");
    setTimeout(() => element.classList.remove("found"), FOUND_MS);
  }

  // --- live frames -------------------------------------------------------------------------

  /** Frames of the open conversation: event, typing, resync, error. */
  handle(frame) {
    if (frame.conversation_id !== this.id || !this.timeline) return;
    if (frame.type === "event") {
      this.seenSeq = Math.max(this.seenSeq, frame.seq);
      updateConversation(this.id, { last_seq: frame.seq });
      this.onEvent(frame);
    } else if (frame.type === "typing" && frame.user_id !== state.me.id) {
      this.showTyping(frame.user_id, frame.expires_in);
    } else if (frame.type === "resync") this.reload();
    else if (frame.type === "error") this.composerError.textContent = frame.message;
  }

  onEvent({ kind, data }) {
    if (kind === "message.created") {
      this.receive(data);
      return;
    }
    if (this.timeline.apply(kind, data)) {
      this.render();
      const changed = this.timeline.byId.get(data.id);
      if (changed && this.conversationItem()?.last_message?.id === changed.id) {
        updateConversation(this.id, { last_message: changed });
        this.onSidebarChange();
      }
    }
    if (DETAIL_EVENTS.has(kind)) this.refreshDetails();
  }

  /** The sidebar's item may be older than what this conversation has seen: a list answer
   * read before an event can arrive after it, or before the item existed to take the event
   * (the server sends no `inbox` frames for a followed conversation to correct it). */
  catchUpSidebar() {
    const item = this.conversationItem();
    if (!item || !this.timeline) return;
    const change = {};
    if (this.seenSeq > item.last_seq) change.last_seq = this.seenSeq;
    const newest = this.timeline.newestMessage();
    if (newest && (!item.last_message || item.last_message.seq < newest.seq)) {
      change.last_message = newest;
      if (Date.parse(newest.created_at) > Date.parse(item.last_activity_at)) {
        change.last_activity_at = newest.created_at;
      }
    }
    if (Object.keys(change).length === 0) return;
    updateConversation(this.id, change);
    this.onSidebarChange();
  }

  conversationItem() {
    return state.conversations.get(this.id);
  }

  /** A confirmed message, from its event or from the answer to my POST. */
  receive(message) {
    if (!this.timeline.add(message)) {
      this.render(); // the other of the two confirmations: it only settles the pending one
      return;
    }
    const mine = message.sender_id === state.me.id;
    const atBottom = this.render(mine ? "bottom" : "auto");
    const item = this.conversationItem();
    const change = { last_message: message, last_activity_at: message.created_at };
    // A message deleted since (a replayed `message.created` of it has no content) is
    // neither announced nor unread.
    if (!mine && !message.deleted_at) {
      if (!state.people.has(message.sender_id)) this.onUnknownPerson();
      this.hideTyping(message.sender_id);
      announce(`${personName(message.sender_id)}: ${message.body || "sent a file"}`);
      if (!atBottom) this.jump.hidden = false;
      if (document.visibilityState !== "visible" && item) {
        change.unread_count = item.unread_count + 1;
      }
    }
    updateConversation(this.id, change);
    this.onSidebarChange();
    this.markRead();
  }

  markRead() {
    if (!this.timeline || document.visibilityState !== "visible") return;
    const newest = this.timeline.newestSeqFromOthers();
    if (newest <= this.readSeq) return;
    // Messages only: a receipt is itself an event, so reading "up to the last event" would
    // make two people with the conversation open answer each other's receipts forever.
    const before = this.readSeq;
    this.readSeq = newest;
    updateConversation(this.id, { unread_count: 0, last_read_seq: newest });
    this.onSidebarChange();
    api.markRead(this.id, newest).catch(() => {
      this.readSeq = Math.min(this.readSeq, before);
    });
  }

  // --- typing ------------------------------------------------------------------------------

  /** Tell others at most every TYPING_EVERY_MS; typing on within that time is told once it
   * is over, so the indicator comes back soon after a message hid it. */
  typed() {
    if (!this.id || !this.input.value.trim() || this.typingTimer) return;
    const wait = this.lastTypingSent + TYPING_EVERY_MS - Date.now();
    this.typingTimer = setTimeout(() => {
      this.typingTimer = null;
      if (this.id && this.input.value.trim()) {
        this.lastTypingSent = Date.now();
        this.realtime.typing(this.id);
      }
    }, Math.max(wait, 0));
  }

  stopTypingTimer() {
    clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }

  showTyping(userId, seconds) {
    clearTimeout(this.typists.get(userId));
    this.typists.set(userId, setTimeout(() => this.hideTyping(userId), seconds * 1000));
    this.renderTyping();
  }

  hideTyping(userId) {
    clearTimeout(this.typists.get(userId));
    if (this.typists.delete(userId)) this.renderTyping();
  }

  renderTyping() {
    const names = [...this.typists.keys()].map(personName);
    this.typingLine.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : "Several people are typing…";
  }

  // --- my actions --------------------------------------------------------------------------

  send() {
    const body = this.input.value;
    if (!this.timeline) return;
    if (this.staged.some((file) => file.status === "uploading")) {
      this.composerError.textContent = "Wait for the files to finish uploading.";
      return;
    }
    const attachments = this.staged.filter((f) => f.status === "ready").map((f) => f.attachment);
    if (!body.trim() && !attachments.length) return;
    const clientMsgId = newClientMsgId();
    this.stopTypingTimer();
    this.input.value = "";
    this.composerError.textContent = "";
    this.staged = [];
    this.renderStaged();
    this.timeline.addPending(clientMsgId, body, attachments);
    this.render("bottom");
    this.deliver(clientMsgId);
  }

  /** Upload files for the next message; each shows as uploading, ready or failed. */
  attach(files) {
    const conversationId = this.id;
    for (const file of files) {
      const staged = { name: file.name, size: file.size, status: "uploading" };
      this.staged.push(staged);
      api
        .upload(conversationId, file)
        .then((attachment) => Object.assign(staged, { status: "ready", attachment }))
        .catch((error) => Object.assign(staged, { status: "failed", error: error.message }))
        .finally(() => {
          if (this.id === conversationId) this.renderStaged();
        });
    }
    this.renderStaged();
  }

  renderStaged() {
    const labels = { uploading: "uploading…", ready: "ready", failed: "not uploaded" };
    this.stagedList.replaceChildren(
      ...this.staged.map((file, index) =>
        h(
          "li",
          { class: file.status },
          `${file.name} (${formatSize(file.size)}) · ${labels[file.status]}`,
          file.error ? `: ${file.error}` : null,
          h(
            "button",
            { type: "button", dataset: { index }, "aria-label": `Remove ${file.name}` },
            "×",
          ),
        ),
      ),
    );
  }

  /** Send a pending message over the realtime socket, or POST it when the socket can't
   * (not live, or lost before the answer); both repeat its client_msg_id, as a retry does,
   * so it is created once. */
  async deliver(clientMsgId) {
    const timeline = this.timeline;
    const pending = timeline.pending.get(clientMsgId);
    if (!pending) return;
    timeline.setPendingStatus(clientMsgId, "sending");
    this.render();
    const conversationId = this.id;
    const fields = {
      body: pending.body,
      client_msg_id: clientMsgId,
      attachment_ids: pending.attachments.map((file) => file.id),
    };
    try {
      const message = await this.realtime
        .sendMessage(conversationId, fields)
        .catch((error) => {
          if (error instanceof NotSentHere) return api.send(conversationId, fields);
          throw error;
        });
      if (timeline === this.timeline) this.receive(message);
    } catch (error) {
      if (timeline !== this.timeline) return;
      timeline.setPendingStatus(clientMsgId, "failed", error.message);
      this.render();
    }
  }

  onListClick(event) {
    const button = event.target.closest("button[data-action]");
    const item = button?.closest("li.message");
    if (!item) return;
    const key = item.dataset.key;
    const message = this.timeline.messages().find((m) => messageKey(m) === key);
    if (!message) return;
    const action = button.dataset.action;
    if (action === "pick") {
      const previous = this.ui.picking;
      this.ui.picking = previous === message.id ? null : message.id;
      this.rerender(key, previous);
    } else if (action === "react" || action === "toggle-reaction") {
      this.ui.picking = null;
      this.rerender(key);
      this.toggleReaction(message, button.dataset.emoji);
    } else if (action === "edit") {
      const previous = this.ui.editing;
      this.ui.editing = message.id;
      this.ui.draft = message.body;
      this.rerender(key, previous);
      this.list.querySelector(".editor textarea")?.focus();
    } else if (action === "cancel-edit") {
      this.stopEditing();
    } else if (action === "delete") {
      if (window.confirm("Delete this message for everyone?")) {
        api.delete(message.id).catch((error) => {
          this.composerError.textContent = `Could not delete: ${error.message}`;
        });
      }
    } else if (action === "retry") {
      this.deliver(message.client_msg_id);
    } else if (action === "discard") {
      this.timeline.pending.delete(message.client_msg_id);
      this.render();
    }
  }

  toggleReaction(message, emoji) {
    const mine = message.reactions.find((r) => r.emoji === emoji)?.me;
    (mine ? api.unreact : api.react)(message.id, emoji).catch((error) => {
      this.composerError.textContent = `Could not react: ${error.message}`;
    });
  }

  stopEditing() {
    const editing = this.ui.editing;
    this.ui.editing = null;
    if (editing) this.rerender(editing);
  }

  async saveEdit(form) {
    const id = this.ui.editing;
    const original = this.timeline.byId.get(id);
    const body = form.elements.body.value;
    if (!original || body === original.body) {
      this.stopEditing();
      return;
    }
    try {
      await api.edit(id, body); // the message.edited event updates the message
      if (this.ui.editing === id) this.stopEditing();
    } catch (error) {
      form.querySelector(".field-error").textContent = error.message;
    }
  }

  async leave() {
    const conversation = this.conversation;
    if (!conversation || !window.confirm(`Leave ${conversationTitle(conversation)}?`)) return;
    try {
      await api.removeMember(conversation.id, state.me.id);
      this.onLeft(conversation.id);
    } catch (error) {
      this.composerError.textContent = `Could not leave: ${error.message}`;
    }
  }
}
