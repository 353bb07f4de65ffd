// The sidebar: my conversations by last activity, with unread badges, the last message and
// presence dots for direct conversations; and the connection state.

import { h, reconcile, timeElement } from "./dom.js";
import { conversationTitle, directPeer, personName, sortedConversations, state } from "./store.js";

const CONNECTION_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};
const PREVIEW_CHARS = 80;

const list = () => document.getElementById("conversation-list");
const cache = new Map();
// Archived channels are listed apart, below the others (their own list and elements).
const archivedList = () => document.getElementById("archived-list");
const archivedCache = new Map();

export function conversationHref(conversationId) {
  return `#/c/${encodeURIComponent(conversationId)}`;
}

function preview(conversation) {
  const message = conversation.last_message;
  if (!message) return "No messages yet";
  if (message.deleted_at) return "Message deleted";
  const text = message.body.trim() || (message.attachments.length ? "📎 File" : "");
  const short = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
  if (message.sender_id === state.me.id) return `You: ${short}`;
  return conversation.kind === "direct" ? short : `${personName(message.sender_id)}: ${short}`;
}

function marker(conversation) {
  const peer = directPeer(conversation);
  if (peer) {
    const presence = state.people.get(peer)?.presence ?? "offline";
    return h("span", { class: `presence ${presence}`, role: "img", "aria-label": presence });
  }
  const symbol = conversation.kind === "channel" ? "#" : "◆";
  return h("span", { class: "kind", "aria-hidden": "true" }, symbol);
}

function renderItem(conversation) {
  const unread = conversation.unread_count;
  return h(
    "li",
    {},
    h(
      "a",
      { href: conversationHref(conversation.id), dataset: { id: conversation.id } },
      marker(conversation),
      h("span", { class: "name" }, conversationTitle(conversation)),
      timeElement(conversation.last_activity_at, { compact: true }),
      h("span", { class: "preview" }, preview(conversation)),
      unread > 0
        ? h(
            "span",
            { class: "badge", "aria-label": `${unread} unread` },
            unread > 99 ? "99+" : String(unread),
          )
        : null,
    ),
  );
}

/** Draw the list; `openId` is marked as the current page. */
export function renderSidebar(openId) {
  const conversations = sortedConversations();
  const archived = conversations.filter((c) => c.archived_at);
  reconcile(list(), conversations.filter((c) => !c.archived_at), (c) => c.id, renderItem, cache);
  reconcile(archivedList(), archived, (c) => c.id, renderItem, archivedCache);
  document.getElementById("archived-section").hidden = archived.length === 0;
  for (const link of document.querySelectorAll("#conversation-list a, #archived-list a")) {
    if (link.dataset.id === openId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.getElementById("no-conversations").hidden = conversations.length > 0;
  const unread = conversations.reduce((sum, c) => sum + c.unread_count, 0);
  document.title = unread > 0 ? `(${unread}) Hallway` : "Hallway";
}

/** Redraw every item (names or presence changed). */
export function redrawSidebar(openId) {
  for (const entry of [...cache.values(), ...archivedCache.values()]) entry.item = null;
  renderSidebar(openId);
}

export function showConnection(connectionState) {
  for (const indicator of document.querySelectorAll(".connection")) {
    indicator.dataset.state = connectionState;
    indicator.textContent = CONNECTION_LABELS[connectionState];
  }
}

export function showMe() {
  document.getElementById("me-name").textContent = state.me.display_name;
  const admin = state.me.role === "admin";
  document.getElementById("invite-people").hidden = !admin;
  document.getElementById("manage-people").hidden = !admin;
}
