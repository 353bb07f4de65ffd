// One message as an element. Buttons carry data-action; the conversation view handles
// their clicks in one place. A confirmed message shows the server's rendering of its body
// (`body_html`); anything else of a message is text nodes.

import { h, relativeTime, safeUrl, timeElement } from "./dom.js";
import { foldable } from "./message_fold.js";
import { mentionsMe } from "./mentions.js";
import { avatar } from "./profile.js";
import { isDeactivated, personName, state } from "./store.js";

export const EMOJIS = ["👍", "❤️", "😂", "🎉", "👀", "🙏"];

export function messageKey(message) {
  return message.id ?? `pending:${message.client_msg_id}`;
}

/** ui: {editing: id | null, draft: string, picking: id | null, moderator: bool (may delete
 * anyone's message: an admin, or the conversation's owner), inThread: bool (drawn in the
 * thread panel, thread_panel.js: no thread summary or button, no "Mark unread")} */
export function renderMessage(message, ui) {
  const mine = message.sender_id === state.me.id;
  const deleted = Boolean(message.deleted_at);
  const editing = message.id !== null && ui.editing === message.id;
  const classes = ["message"];
  if (mine) classes.push("mine");
  if (message.status) classes.push(message.status);
  if (deleted) classes.push("deleted");
  if (mentionsMe(message)) classes.push("mentions-me");
  return h(
    "li",
    {
      class: classes.join(" "),
      // Focusable by a tap or click (not by Tab), which shows its actions on touch screens.
      tabindex: "-1",
      dataset: { key: messageKey(message), sender: message.sender_id ?? "" },
    },
    h(
      "div",
      { class: "meta" },
      avatar(message.sender_id),
      h("span", { class: "sender" }, mine ? "You" : personName(message.sender_id)),
      !mine && isDeactivated(message.sender_id)
        ? h("span", { class: "deactivated" }, " (deactivated)")
        : null,
      " ",
      timeElement(message.created_at),
      message.edited_at && !deleted ? h("span", { class: "edited" }, " (edited)") : null,
      // Said where a reply shows outside its thread; in the panel every one is.
      message.thread_root_id && !ui.inThread
        ? h("span", { class: "thread" }, " · reply in a thread")
        : null,
    ),
    editing ? editor(ui.draft) : foldable(body(message, deleted), message, messageKey(message)),
    attachments(message.attachments),
    reactions(message),
    ui.inThread ? null : threadSummary(message),
    message.status ? delivery(message) : null,
    message.id && !deleted && !editing
      ? actions(mine, ui.moderator, ui.picking === message.id, {
          threadable: !ui.inThread && !message.thread_root_id,
          // A thread's replies are not what a conversation's unread marker counts.
          unreadSeq: ui.inThread ? null : message.seq,
        })
      : null,
  );
}

/** A thread root's "N replies · last reply <time>" with up to 5 repliers: opens the thread. */
function threadSummary(message) {
  if (!message.reply_count) return null;
  const count = message.reply_count === 1 ? "1 reply" : `${message.reply_count} replies`;
  const repliers = (message.reply_user_ids ?? []).map((id) => personName(id));
  return h(
    "button",
    {
      type: "button",
      class: "thread-summary",
      dataset: { action: "open-thread" },
      "aria-label": `${count}, last reply ${new Date(message.last_reply_at).toLocaleString()}, from ${repliers.join(", ")}: open the thread`,
    },
    h(
      "span",
      { class: "repliers", "aria-hidden": "true" },
      repliers.map((name) => h("span", { class: "replier", title: name }, initials(name))),
    ),
    h("span", { class: "reply-count" }, count),
    " · last reply ",
    relativeTime(message.last_reply_at),
  );
}

function initials(name) {
  const words = name.trim().split(/\s+/).filter(Boolean);
  return words.slice(0, 2).map((word) => Array.from(word)[0].toUpperCase()).join("") || "?";
}

function body(message, deleted) {
  if (deleted) return h("p", { class: "body" }, "This message was deleted.");
  // A message not yet confirmed (mine, sending or failed) has no body_html: its plain body
  // shows as text until the server's copy arrives. So does one from an event logged before
  // the server rendered bodies. Text keeps its lines with white-space: pre-wrap.
  if (message.id === null || typeof message.body_html !== "string") {
    return h("p", { class: "body" }, message.body);
  }
  const formatted = h("div", { class: "body formatted" });
  // The one place the client puts data into innerHTML: body_html is rendered and sanitised
  // by the server (hallway/domain/message_format.py: a fixed set of tags, text escaped,
  // links only http(s) and mailto, raw HTML never passed through).
  formatted.innerHTML = message.body_html;
  return formatted;
}

function editor(draft) {
  return h(
    "form",
    { class: "editor", dataset: { action: "save-edit" } },
    h("label", { class: "visually-hidden", for: "edit-body" }, "Edit message"),
    h("textarea", { id: "edit-body", name: "body", rows: "2", value: draft }),
    h(
      "div",
      { class: "editor-buttons" },
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", dataset: { action: "cancel-edit" } }, "Cancel"),
    ),
    h("p", { class: "field-error", role: "alert" }),
  );
}

// Attachment links come signed from the server; anything not http(s) is not shown.
function attachments(files) {
  if (!files?.length) return null;
  return h(
    "ul",
    { class: "attachments" },
    files.map((file) => {
      const url = safeUrl(file.url);
      const thumbnail = safeUrl(file.thumbnail_url);
      const label = `${file.filename} (${formatSize(file.size)})`;
      const content = thumbnail
        ? h("img", { src: thumbnail, alt: file.filename, loading: "lazy" })
        : h("span", {}, label);
      return h(
        "li",
        {},
        url
          ? h("a", { href: url, target: "_blank", rel: "noopener", title: label }, content)
          : content,
      );
    }),
  );
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function reactions(message) {
  if (!message.reactions.length) return null;
  return h(
    "ul",
    { class: "reactions", "aria-label": "Reactions" },
    message.reactions.map((r) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            dataset: { action: "toggle-reaction", emoji: r.emoji },
            "aria-pressed": r.me ? "true" : "false",
            "aria-label": `${r.emoji} ${r.count}${r.me ? ", including you" : ""}`,
          },
          `${r.emoji} ${r.count}`,
        ),
      ),
    ),
  );
}

function delivery(message) {
  if (message.status === "sending") return h("p", { class: "delivery" }, "Sending…");
  if (message.status === "queued") {
    return h("p", { class: "delivery" }, "Queued: sends when the connection is back");
  }
  return h(
    "p",
    { class: "delivery", role: "alert" },
    `Not sent: ${message.error} `,
    h("button", { type: "button", dataset: { action: "retry" } }, "Retry"),
    " ",
    h("button", { type: "button", dataset: { action: "discard" } }, "Discard"),
  );
}

function actions(mine, moderator, picking, { threadable, unreadSeq }) {
  return h(
    "div",
    { class: "actions" },
    h(
      "button",
      { type: "button", dataset: { action: "pick" }, "aria-expanded": picking ? "true" : "false" },
      "React",
    ),
    threadable
      ? h("button", { type: "button", dataset: { action: "open-thread" } }, "Reply in thread")
      : null,
    mine ? h("button", { type: "button", dataset: { action: "edit" } }, "Edit") : null,
    mine || moderator
      ? h("button", { type: "button", dataset: { action: "delete" } }, "Delete")
      : null,
    // Only others' messages count as unread (seen_by.js, conversation.js).
    !mine && unreadSeq
      ? h("button", { type: "button", dataset: { action: "unread" } }, "Mark unread")
      : null,
    picking
      ? h(
          "div",
          { class: "picker", role: "group", "aria-label": "Pick a reaction" },
          EMOJIS.map((emoji) =>
            h(
              "button",
              {
                type: "button",
                dataset: { action: "react", emoji },
                "aria-label": `React with ${emoji}`,
              },
              emoji,
            ),
          ),
          h(
            "button",
            {
              type: "button",
              dataset: { action: "more-emoji" },
              "aria-haspopup": "dialog",
              "aria-label": "More emoji",
              title: "More emoji",
            },
            "…",
          ),
        )
      : null,
  );
}
