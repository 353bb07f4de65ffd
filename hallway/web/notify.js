// Notifications: my settings (the account panel's level and "do not disturb"), a
// conversation's (mute and level, in its header), and desktop notifications through the
// browser's Notification API. Permission is asked for only once I turn them on. A message
// notifies by the server's rule (docs/api.md, "Notification settings"; should_notify in
// hallway/domain/notification_settings.py), when the tab is hidden or shows another
// conversation; clicking the notification opens the conversation at the message.

import { api } from "./api.js";
import { friendly } from "./forms.js";
import { timeOfDay } from "./dom.js";
import {
  conversationTitle,
  inDoNotDisturb,
  personName,
  state,
  updateConversation,
} from "./store.js";

const ENABLED_KEY = "hallway.desktopNotifications";
const BODY_CHARS = 140;
const MINUTE_MS = 60_000;
const MORNING_HOUR = 9;

let settings = { level: "mentions", dnd_until: null };
let openConversation = () => null;
let openMessage = () => {};
let sidebarChanged = () => {};
const notified = new Set(); // message ids: a replayed event notifies once

/** The rule, as the server's should_notify: my own or a deleted message, no; "do not
 * disturb" still on, no; muted, no; then the level (the conversation's, else mine):
 * nothing, no; all, yes; mentions: a direct conversation, a mention of me, @channel/@here. */
export function shouldNotify(message, me, personal, conversation, now = Date.now()) {
  if (message.sender_id === me || message.deleted_at) return false;
  if (inDoNotDisturb(personal, now)) return false;
  if (conversation.muted) return false;
  const level = conversation.notify_level || personal.level;
  if (level === "nothing") return false;
  if (level === "all") return true;
  return (
    conversation.kind === "direct" ||
    (message.mentions ?? []).includes(me) ||
    message.mention_kind === "channel" ||
    message.mention_kind === "here"
  );
}

const supported = () => "Notification" in window;

function desktopEnabled() {
  return (
    supported() &&
    localStorage.getItem(ENABLED_KEY) === "on" &&
    Notification.permission === "granted"
  );
}

/** The message a frame brings: a followed conversation's event, or the inbox's activity of
 * one not followed (its preview, sender and mentions). */
function messageOf(frame) {
  if (frame.type === "event" && frame.kind === "message.created") return frame.data;
  if (frame.type === "inbox" && frame.kind === "activity" && frame.event === "message.created") {
    return {
      id: frame.message_id,
      sender_id: frame.sender_id,
      body: frame.preview ?? "",
      mentions: frame.mentions ?? [],
      mention_kind: frame.mention_kind ?? null,
      deleted_at: null,
      attachments: [],
    };
  }
  return null;
}

/** Every realtime frame passes here first; most are not new messages. */
export function notifyOf(frame) {
  const message = messageOf(frame);
  if (!message || !message.id || notified.has(message.id)) return;
  const conversationId = frame.conversation_id;
  const onScreen =
    document.visibilityState === "visible" && openConversation() === conversationId;
  const conversation = state.conversations.get(conversationId);
  if (onScreen || !conversation || !desktopEnabled()) return;
  if (!shouldNotify(message, state.me.id, settings, conversation)) return;
  notified.add(message.id);
  const sender = personName(message.sender_id);
  const title =
    conversation.kind === "direct" ? sender : `${sender} in ${conversationTitle(conversation)}`;
  const text = message.body || (message.attachments?.length ? "sent a file" : "");
  const notification = new Notification(title, {
    body: text.length > BODY_CHARS ? `${text.slice(0, BODY_CHARS)}…` : text,
    tag: message.id,
  });
  notification.onclick = () => {
    window.focus();
    openMessage(conversationId, message.id);
    notification.close();
  };
}

// --- the account panel: my settings -------------------------------------------------------

/** `dnd` select value as a time to send: minutes from now, or tomorrow morning. */
function dndUntil(choice) {
  if (choice === "off") return null;
  if (choice === "tomorrow") {
    const morning = new Date();
    morning.setDate(morning.getDate() + 1);
    morning.setHours(MORNING_HOUR, 0, 0, 0);
    return morning.toISOString();
  }
  return new Date(Date.now() + Number(choice) * MINUTE_MS).toISOString();
}

function wirePersonal() {
  const form = document.getElementById("notifications-form");
  const error = form.querySelector(".form-error");
  const desktop = form.elements.desktop;
  const hint = document.getElementById("desktop-hint");
  const dnd = form.elements.dnd;
  const current = dnd.querySelector('option[value="current"]');

  const show = () => {
    form.elements.level.value = settings.level;
    const on = inDoNotDisturb(settings);
    current.hidden = !on;
    current.textContent = on ? `Until ${timeOfDay(settings.dnd_until)}` : "";
    dnd.value = on ? "current" : "off";
    desktop.checked = desktopEnabled();
    if (!supported()) {
      desktop.disabled = true;
      hint.textContent = "This browser cannot show desktop notifications.";
    } else if (Notification.permission === "denied") {
      hint.textContent = "The browser blocks notifications from this site; allow them in its settings.";
    } else {
      hint.textContent = "Shown when this tab is hidden or shows another conversation.";
    }
  };

  const save = async (fields) => {
    error.textContent = "";
    try {
      settings = await api.setNotificationSettings(fields);
    } catch (failure) {
      error.textContent = friendly(failure);
    }
    show();
  };

  form.addEventListener("submit", (event) => event.preventDefault());
  form.elements.level.addEventListener("change", () => save({ level: form.elements.level.value }));
  dnd.addEventListener("change", () => {
    if (dnd.value !== "current") save({ dnd_until: dndUntil(dnd.value) });
  });
  desktop.addEventListener("change", async () => {
    if (!desktop.checked) {
      localStorage.setItem(ENABLED_KEY, "off");
      show();
      return;
    }
    // Asked only now, on the person's own click.
    const permission = await Notification.requestPermission();
    localStorage.setItem(ENABLED_KEY, permission === "granted" ? "on" : "off");
    show();
  });
  document.getElementById("open-account").addEventListener("click", show);
  api
    .notificationSettings()
    .then((loaded) => {
      settings = loaded;
      show();
    })
    .catch(() => show());
}

// --- the conversation header: mute and level ----------------------------------------------

function wireConversation() {
  const form = document.getElementById("conversation-notify-form");
  const error = form.querySelector(".field-error");
  form.addEventListener("submit", (event) => event.preventDefault());
  form.addEventListener("change", async () => {
    const conversationId = openConversation();
    if (!conversationId) return;
    const fields = {
      muted: form.elements.muted.checked,
      notify_level: form.elements.notify_level.value || null,
    };
    error.textContent = "";
    try {
      const saved = await api.setConversationNotifications(conversationId, fields);
      updateConversation(conversationId, { notify_level: saved.notify_level, muted: saved.muted });
      sidebarChanged();
    } catch (failure) {
      error.textContent = friendly(failure);
    }
    showConversationSettings(conversationId);
  });
}

/** The header's controls for the open conversation (again once the list has loaded). */
export function showConversationSettings(conversationId) {
  const form = document.getElementById("conversation-notify-form");
  const item = conversationId ? state.conversations.get(conversationId) : null;
  form.elements.muted.checked = Boolean(item?.muted);
  form.elements.notify_level.value = item?.notify_level ?? "";
  document.getElementById("conversation-notify").dataset.muted = item?.muted ? "true" : "false";
}

/** `openId()`: the conversation on screen; `onOpen(conversationId, messageId)`: show it at
 * the message; `onSidebarChange()`: a conversation's settings changed. */
export function wireNotifications({ openId, onOpen, onSidebarChange }) {
  openConversation = openId;
  openMessage = onOpen;
  sidebarChanged = onSidebarChange;
  wirePersonal();
  wireConversation();
}
