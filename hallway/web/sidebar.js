// The sidebar: my conversations by last activity in two sections (channels; direct
// messages and groups), unread ones in bold with their badges, the last message and presence
// dots for direct conversations; and the connection state.

import { h, reconcile, timeElement } from "./dom.js";
import { mentionBadge } from "./mentions.js";
import { avatar, presenceDot } from "./profile.js";
import { conversationTitle, directPeer, personName, sortedConversations, state } from "./store.js";

const CONNECTION_LABELS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};
const PREVIEW_CHARS = 80;

// Each section keeps its own list and elements. An item is an `li.conversation-item` with
// `data-conversation-id`, `data-kind` and `data-unread`; its `.item-badges` holds the unread
// badge, and is where more badges (mentions) go.
const SECTIONS = [
  { key: "channels", title: "Channels", holds: (c) => c.kind === "channel" },
  { key: "direct", title: "Direct messages", holds: (c) => c.kind !== "channel" },
];
const caches = new Map(SECTIONS.map((section) => [section.key, new Map()]));

const container = () => document.getElementById("conversation-list");

/** The section's <ul>, made on first use. */
function sectionList(section) {
  const root = container();
  let element = root.querySelector(`section[data-section="${section.key}"]`);
  if (!element) {
    const headingId = `sidebar-section-${section.key}`;
    element = h(
      "section",
      { class: "sidebar-section", dataset: { section: section.key }, "aria-labelledby": headingId },
      h("h2", { id: headingId }, section.title),
      h("ul", {}),
    );
    root.append(element);
  }
  return element;
}
// Archived channels are listed apart, below the sections (their own list and elements).
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
    // The person's picture (or initials), their presence on its corner.
    return h("span", { class: "peer" }, avatar(peer), presenceDot(state.people.get(peer)));
  }
  const symbol = conversation.kind === "channel" ? "#" : "◆";
  return h("span", { class: "kind", "aria-hidden": "true" }, symbol);
}

function renderItem(conversation) {
  const unread = conversation.unread_count;
  return h(
    "li",
    {
      class: "conversation-item",
      dataset: {
        conversationId: conversation.id,
        kind: conversation.kind,
        unread: String(unread),
      },
    },
    h(
      "a",
      {
        href: conversationHref(conversation.id),
        class: unread > 0 ? "unread" : null,
        dataset: { id: conversation.id },
      },
      marker(conversation),
      h("span", { class: "name" }, conversationTitle(conversation)),
      timeElement(conversation.last_activity_at, { compact: true }),
      h("span", { class: "preview" }, preview(conversation)),
      h(
        "span",
        { class: "item-badges" },
        unread > 0 && !conversation.muted
          ? h(
              "span",
              { class: "badge", "aria-label": `${unread} unread` },
              unread > 99 ? "99+" : String(unread),
            )
          : null,
        mentionBadge(conversation),
      ),
    ),
  );
}

/** Draw the list; `openId` is marked as the current page. */
export function renderSidebar(openId) {
  const conversations = sortedConversations();
  const archived = conversations.filter((c) => c.archived_at);
  for (const section of SECTIONS) {
    const items = conversations.filter((c) => !c.archived_at && section.holds(c));
    const element = sectionList(section);
    element.hidden = items.length === 0;
    reconcile(element.querySelector("ul"), items, (c) => c.id, renderItem, caches.get(section.key));
  }
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
  for (const cache of [...caches.values(), archivedCache]) {
    for (const entry of cache.values()) entry.item = null;
  }
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
