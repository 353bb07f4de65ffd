// The open conversation: opening it (the newest window, then following it live from the
// seq that window was read at), its header, live events, sending, and the read marker. Its
// parts are views of their own: the messages (timeline.js), the composer (composer.js) and
// who is typing (typing.js).

import { api } from "./api.js";
import { ChannelBar } from "./channel_bar.js";
import { Composer } from "./composer.js";
import { announce, plural } from "./dom.js";
import { friendly } from "./errors.js";
import { Outbox } from "./outbox.js";
import { mentionsMe } from "./mentions.js";
import { doNotDisturbLine, localTime, statusLine } from "./profile.js";
import { NotSentHere } from "./realtime.js";
import { SeenBy } from "./seen_by.js";
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
import { ThreadPanel } from "./thread_panel.js";
import { TimelineView, WINDOW_SIZE } from "./timeline.js";
import { TypingView } from "./typing.js";

const DETAIL_EVENTS = new Set(["member.added", "member.removed", "conversation.updated"]);
const NOTHING_OPEN = "Pick a conversation, or start a new one.";

export class ConversationView {
  constructor(realtime, { onSidebarChange, onListStale, onLeft, onUnknownPerson }) {
    this.realtime = realtime;
    this.onSidebarChange = onSidebarChange;
    this.onListStale = onListStale;
    this.onLeft = onLeft;
    this.onUnknownPerson = onUnknownPerson;
    this.root = document.getElementById("conversation");
    this.empty = document.getElementById("no-conversation");
    this.title = document.getElementById("conversation-title");
    this.subtitle = document.getElementById("conversation-subtitle");
    this.leaveButton = document.getElementById("leave-conversation");
    this.typing = new TypingView(realtime);
    this.composer = new Composer({
      typing: this.typing,
      onSend: (clientMsgId, body, attachments) => this.send(clientMsgId, body, attachments),
      members: () => this.conversation?.members ?? [],
    });
    this.messages = new TimelineView({
      onRetry: (clientMsgId) => this.outbox.retry(clientMsgId),
      onDiscard: (clientMsgId) => this.outbox.discard(clientMsgId),
      showError: (text) => this.composer.showError(text),
      onMarkUnread: (message) => this.markUnread(message),
    });
    this.seenBy = new SeenBy();
    this.channelBar = new ChannelBar({
      onChanged: (conversation) => this.showHeader(conversation),
      showError: (text) => this.composer.showError(text),
    });
    // My messages and thread replies on their way, queued while they cannot go (outbox.js).
    this.outbox = new Outbox(realtime, {
      onStatus: (conversationId, clientMsgId, status, error) => {
        if (conversationId !== this.id || !this.timeline) return;
        if (this.timeline.setPendingStatus(clientMsgId, status, error)) this.messages.render();
        else this.thread.setPendingStatus(clientMsgId, status, error);
      },
      onSent: (conversationId, message) => {
        if (conversationId !== this.id || !this.timeline) return;
        if (message.thread_root_id) this.thread.receive(message);
        else this.receive(message);
      },
      userId: state.me.id,
    });

    this.id = null;
    this.opened = null; // settles once the open conversation's newest window is shown
    this.generation = 0; // bumped on every open/close/reload: late answers are dropped
    this.conversation = null;
    this.seenSeq = 0; // the newest seq this conversation has seen (window or event)
    this.readSeq = 0;
    // Threads (thread_panel.js): a root's summary or "Reply in thread" opens its panel.
    this.thread = new ThreadPanel({
      onClose: () => this.composer.input.focus(),
      outbox: this.outbox,
      members: () => this.conversation?.members ?? [],
    });
    document.getElementById("message-list").addEventListener("click", (event) => {
      const button = event.target.closest('button[data-action="open-thread"]');
      const key = button?.closest("li.message")?.dataset.key;
      const message = key && this.timeline?.byId.get(key);
      if (message) this.thread.open(this.id, message);
    });
    this.leaveButton.addEventListener("click", () => this.leave());
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  /** The open conversation's Timeline (store.js), or null. */
  get timeline() {
    return this.messages.timeline;
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
    this.composer.open(conversationId);
    const known = state.conversations.get(conversationId);
    if (known) this.showHeader(known);
    const timeline = new Timeline();
    for (const pending of this.outbox.pendingIn(conversationId)) {
      timeline.pending.set(pending.client_msg_id, pending);
    }
    this.messages.show(conversationId, timeline);
    this.messages.say("Loading…");
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
      this.messages.render("bottom");
      this.seenBy.render(this.timeline);
      this.markRead();
      this.messages.maybeLoadOlder();
    } catch (error) {
      if (generation !== this.generation) return;
      this.messages.say(
        error.code === "not_found"
          ? "This conversation does not exist, or you are not in it."
          : `Could not load the conversation: ${error.message}`,
      );
    }
  }

  /** `notice`: why, in place of the usual hint (e.g. "you were removed"). */
  close(notice = null) {
    if (notice) this.empty.textContent = notice;
    if (this.id) this.realtime.unfollow(this.id);
    this.thread.close();
    this.composer.close();
    this.id = null;
    this.generation += 1;
    this.conversation = null;
    this.seenSeq = 0;
    this.messages.clear();
    this.typing.clear();
    this.seenBy.clear();
    this.channelBar.show(null);
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
      this.messages.show(this.id, fresh);
      this.seenSeq = Math.max(this.seenSeq, page.last_seq);
      this.messages.render("bottom");
      this.seenBy.render(this.timeline);
    } catch (error) {
      this.composer.showError(`Could not reload the conversation: ${error.message}`);
    }
  }

  /** Open a conversation at one of its messages (a search result). */
  reveal(conversationId, messageId) {
    const opened = this.open(conversationId);
    return this.revealReply(conversationId, messageId, opened).then((root) =>
      this.messages.reveal(root?.id ?? messageId, opened),
    );
  }

  /** A reply shows in its thread only: its thread opens beside the conversation, and its
   * root is the message to scroll to. Resolves to the root, or null for no reply. */
  async revealReply(conversationId, messageId, opened) {
    const found = await api.message(messageId).catch(() => null);
    if (!found?.thread_root_id) return null;
    const root = await api.message(found.thread_root_id).catch(() => null);
    await opened;
    if (root && this.id === conversationId) this.thread.open(conversationId, root);
    return root;
  }

  async refreshDetails() {
    const generation = this.generation;
    const conversation = await api.conversation(this.id).catch(() => null);
    if (conversation && generation === this.generation) this.showHeader(conversation);
  }

  showHeader(conversation) {
    this.conversation = conversation;
    const { title, members, topic, archived_at: archivedAt } = conversation;
    updateConversation(conversation.id, { title, members, topic, archived_at: archivedAt });
    this.seenBy.setMembers(conversation);
    if (this.timeline) this.seenBy.render(this.timeline);
    this.channelBar.show(conversation);
    const myRole = conversation.members.find((m) => m.user_id === state.me.id)?.role;
    const moderator = state.me.role === "admin" || myRole === "owner";
    this.messages.setModerator(moderator);
    this.thread.setModerator(moderator);
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
      const person = state.people.get(peer);
      const presence = person?.presence ?? "offline";
      const label = { online: "Online", away: "Away" }[presence] ?? "Offline";
      const about = [label, doNotDisturbLine(person), statusLine(person), localTime(person)];
      this.subtitle.textContent = about.filter(Boolean).join(" · ");
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

  /** Names, avatars or marks changed: draw every message and "Seen by" again. */
  rerenderAll() {
    this.messages.rerenderAll();
    this.thread.rerenderAll();
    if (this.timeline) this.seenBy.render(this.timeline);
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
      this.typing.show(frame.user_id, frame.expires_in);
    } else if (frame.type === "resync") this.reload();
    else if (frame.type === "error") this.composer.showError(friendly(frame));
  }

  onEvent({ kind, data }) {
    if (kind === "message.created") {
      if (data.sender_id === state.me.id && data.client_msg_id) {
        this.outbox.confirmed(data.client_msg_id);
      }
      // Replies show in their thread only; their root shows the count (thread.updated).
      if (data.thread_root_id) this.thread.receive(data);
      else this.receive(data);
      return;
    }
    if (kind === "receipt.updated") this.seenBy.receipt(data);
    this.thread.apply(kind, data);
    if (kind === "thread.updated") {
      const root = this.timeline.byId.get(data.root_id);
      if (!root) return;
      const { reply_count, last_reply_at, reply_user_ids } = data;
      this.timeline.byId.set(root.id, { ...root, reply_count, last_reply_at, reply_user_ids });
      this.messages.render();
      return;
    }
    if (this.timeline.apply(kind, data)) {
      this.messages.render();
      const changed = this.timeline.byId.get(data.id);
      if (changed && this.conversationItem()?.last_message?.id === changed.id) {
        updateConversation(this.id, { last_message: changed });
        this.onSidebarChange();
      }
    }
    if (DETAIL_EVENTS.has(kind)) this.refreshDetails();
    this.seenBy.render(this.timeline);
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
      // The other of the two confirmations: it only settles the pending one.
      this.messages.render();
      return;
    }
    const mine = message.sender_id === state.me.id;
    const atBottom = this.messages.render(mine ? "bottom" : "auto");
    const item = this.conversationItem();
    const change = { last_message: message, last_activity_at: message.created_at };
    // A message deleted since (a replayed `message.created` of it has no content) is
    // neither announced nor unread.
    if (!mine && !message.deleted_at) {
      if (!state.people.has(message.sender_id)) this.onUnknownPerson();
      this.typing.hide(message.sender_id);
      announce(`${personName(message.sender_id)}: ${message.body || "sent a file"}`);
      if (!atBottom) this.messages.offerJump();
      if (document.visibilityState !== "visible" && item) {
        change.unread_count = item.unread_count + 1;
        if (mentionsMe(message)) change.mention_count = (item.mention_count ?? 0) + 1;
      }
    }
    updateConversation(this.id, change);
    this.onSidebarChange();
    this.seenBy.render(this.timeline);
    this.markRead();
  }

  /** "Mark unread" on a message: my marker goes back to just before it. This tab keeps
   * its own marker, so it does not read the message again at once; the next message from
   * someone else, or opening the conversation again, reads it. */
  async markUnread(message) {
    const conversationId = this.id;
    try {
      const { last_read_seq: seq } = await api.markUnread(conversationId, message.seq);
      if (conversationId !== this.id) return;
      const unread = this.timeline
        .messages()
        .filter((m) => m.id && m.seq > seq && m.sender_id !== state.me.id && !m.deleted_at);
      updateConversation(conversationId, { last_read_seq: seq, unread_count: unread.length });
      this.onSidebarChange();
      // A list answer read before the marker went back may still be on its way, and would
      // take it forward again: it is dropped, and the list loaded once more.
      this.onListStale();
    } catch (error) {
      this.composer.showError(`Could not mark unread: ${error.message}`);
    }
  }

  markRead() {
    if (!this.timeline || document.visibilityState !== "visible") return;
    const newest = this.timeline.newestSeqFromOthers();
    if (newest <= this.readSeq) return;
    // Messages only: a receipt is itself an event, so reading "up to the last event" would
    // make two people with the conversation open answer each other's receipts forever.
    const before = this.readSeq;
    this.readSeq = newest;
    updateConversation(this.id, { unread_count: 0, mention_count: 0, last_read_seq: newest });
    this.onSidebarChange();
    api.markRead(this.id, newest).catch(() => {
      this.readSeq = Math.min(this.readSeq, before);
    });
  }

  // --- my actions --------------------------------------------------------------------------

  /** A message from the composer: shown at once as on its way, then handed to the outbox,
   * which sends it over the socket or POSTs it (both with its client_msg_id, as a retry
   * does, so it is created once), or keeps it queued until it can. */
  send(clientMsgId, body, attachments) {
    const message = this.timeline.addPending(clientMsgId, body, { attachments });
    this.messages.render("bottom");
    this.outbox.add(this.id, message, {
      body,
      client_msg_id: clientMsgId,
      attachment_ids: attachments.map((file) => file.id),
    });
  }

  async leave() {
    const conversation = this.conversation;
    if (!conversation || !window.confirm(`Leave ${conversationTitle(conversation)}?`)) return;
    try {
      await api.removeMember(conversation.id, state.me.id);
      this.onLeft(conversation.id);
    } catch (error) {
      this.composer.showError(`Could not leave: ${error.message}`);
    }
  }
}
