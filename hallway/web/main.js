// Start-up and wiring: the session, the realtime connection, the sidebar kept live by the
// `inbox` stream, message search, the account, invite and admin dialogs, and the
// conversation named by the URL (#/c/<id>).

import { wireAccount } from "./account.js";
import { AwayWatch } from "./away.js";
import { wireAdmin } from "./admin.js";
import { api, onRenewed, onUnauthenticated, resumeSession, token } from "./api.js";
import { hideAuth, resetToken, showAuth, welcomeToken } from "./auth.js";
import { ConversationView } from "./conversation.js";
import { wireDialogs } from "./dialogs.js";
import { wireInvites } from "./invites.js";
import { notifyOf, showConversationSettings, wireNotifications } from "./notify.js";
import { forgetStoredOutboxes } from "./outbox.js";
import { onAvatarLinksExpired, wireProfile } from "./profile.js";
import { wireRetention } from "./retention.js";
import { Realtime } from "./realtime.js";
import { Search } from "./search.js";
import {
  conversationHref,
  redrawSidebar,
  renderSidebar,
  showConnection,
  showMe,
} from "./sidebar.js";
import {
  mergeConversation,
  nextDoNotDisturbEnd,
  state,
  updateConversation,
  updatePerson,
} from "./store.js";

const REFRESH_DELAY_MS = 250; // inbox frames in a burst cause one reload of the list
const SESSION_ENDED = "#session-ended";
const PASSWORD_CHANGED = "#password-changed";
const LOGGED_OUT_EVERYWHERE = "#logged-out-everywhere";
const ACCOUNT_DELETED = "#account-deleted";
const NOTICES = {
  [SESSION_ENDED]: "Your session has ended. Please log in again.",
  [PASSWORD_CHANGED]: "Your password is changed. Log in with it.",
  [LOGGED_OUT_EVERYWHERE]: "You are logged out on every device.",
  [ACCOUNT_DELETED]: "Your account is deleted.",
};

let view = null;
let awayWatch = null;
let search = null;
let ending = false;
// Where a logout on purpose leads: the server closes this tab's socket (4401) too, maybe
// before it answers the logout, and the tab must then still say why it was logged out.
let leavingTo = null;

function openId() {
  const match = /^#\/c\/(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Logging out starts a fresh page: no state of the last session survives. Once. */
function endSession(hash = "") {
  if (ending) return;
  ending = true;
  token.clear();
  history.replaceState(null, "", `${location.pathname}${hash}`);
  location.reload();
}

/** The server ended this session (a 401, or the socket closed with 4401). */
function sessionEnded() {
  endSession(leavingTo ?? SESSION_ENDED);
}

/** Log out: the server ends the session (its tokens and sockets, everywhere) first. */
async function logOut() {
  leavingTo = "";
  await api.logout().catch(() => {});
  forgetStoredOutboxes();
  endSession();
}

/** `call()` ends every session of mine, this one included, then the page says `hash`'s
 * notice; rejects (and stays) if the server could not. */
async function leaveThrough(hash, call) {
  leavingTo = hash;
  try {
    await call();
  } catch (failure) {
    leavingTo = null;
    throw failure;
  }
  forgetStoredOutboxes();
  endSession(hash);
}

const logOutEverywhere = () => leaveThrough(LOGGED_OUT_EVERYWHERE, api.endAllSessions);

/** {password, erase_messages} */
const deleteAccount = (fields) => leaveThrough(ACCOUNT_DELETED, () => api.deleteAccount(fields));

/** Reload a list soon after it is asked for: one request at a time, a burst of asks served
 * by one reload, and an ask during a reload served by one more after it (so a steady stream
 * of asks still reloads regularly, and an older answer never lands over a newer one).
 * `ask({stale: true})`: a change of mine was just stored, and an answer on its way may have
 * been read before it; that answer is dropped (the list keeps a read marker further than an
 * answer's, so one read before "Mark unread" would undo it). */
function refresher(load, apply) {
  let waiting = false;
  let loading = false;
  let askedWhileLoading = false;
  let changes = 0; // of mine, stored: an answer read before the latest is dropped
  const reload = async () => {
    waiting = false;
    loading = true;
    const readAfter = changes;
    const result = await load().catch(() => null);
    loading = false;
    if (result && readAfter === changes) apply(result);
    if (askedWhileLoading) {
      askedWhileLoading = false;
      ask();
    }
  };
  const ask = ({ stale = false } = {}) => {
    if (stale) changes += 1;
    if (loading) askedWhileLoading = true;
    else if (!waiting) {
      waiting = true;
      setTimeout(reload, REFRESH_DELAY_MS);
    }
  };
  return ask;
}

const refreshInbox = refresher(api.conversations, ({ conversations }) => {
  state.conversations = new Map(
    conversations.map((c) => [c.id, mergeConversation(state.conversations.get(c.id), c)]),
  );
  view?.catchUpSidebar(); // messages that arrived while the list was on its way
  renderSidebar(openId());
  showConversationSettings(openId());
  search.redrawNames();
});

/** Names, presence, "do not disturb" or deactivation changed: redraw whatever shows them.
 * `messages`: whether what messages show of people changed too (redrawing every message
 * makes every image in the list load again, so only then). */
function peopleChanged({ messages = true } = {}) {
  redrawSidebar(openId());
  search.redrawNames();
  view.refreshHeader();
  if (messages) view.rerenderAll();
  watchDoNotDisturbEnds();
}

/** What a message shows of its sender, repliers or readers. */
function shownInMessages(person) {
  if (!person) return "";
  const { display_name: name, avatar_url: avatarUrl, deactivated, deleted } = person;
  return JSON.stringify([name, avatarUrl, Boolean(deactivated), Boolean(deleted)]);
}

function messagesShowChange(before, after) {
  if (before.size !== after.size) return true;
  for (const [id, person] of after) {
    if (shownInMessages(before.get(id)) !== shownInMessages(person)) return true;
  }
  return false;
}

// setTimeout fires at once past this delay (about 24.8 days); a later end waits in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;
let doNotDisturbTimer = null;

/** The server announces "do not disturb" turned on or off, not its end: one timer for the
 * soonest end among the people redraws what shows it then (and sets itself again), rather
 * than polling. */
function watchDoNotDisturbEnds() {
  clearTimeout(doNotDisturbTimer);
  const end = nextDoNotDisturbEnd();
  if (end === null) return;
  const ended = () => {
    presenceChanged();
    watchDoNotDisturbEnds();
  };
  doNotDisturbTimer = setTimeout(ended, Math.min(end - Date.now() + 1, MAX_TIMER_MS));
}

/** Presence or "do not disturb" changed: redraw the dots and the header that show them. */
function presenceChanged() {
  redrawSidebar(openId());
  view.refreshHeader();
}

// People whom a live frame (`user.updated`, `presence`) changed since the people were last
// asked for: the answer on its way may have been read before that change, so for them the
// live version is kept.
const changedLive = new Set();

const loadPeople = () => {
  changedLive.clear();
  return api.people();
};

/** An answer of `loadPeople` becomes the people map. Every (re)connect reloads the
 * people, mostly to learn presence: the messages are redrawn only when something they show
 * changed meanwhile. */
function applyPeople({ users }) {
  const before = state.people;
  const kept = (p) => (changedLive.has(p.id) ? { ...p, ...before.get(p.id) } : p);
  state.people = new Map(users.map((p) => [p.id, kept(p)]));
  peopleChanged({ messages: messagesShowChange(before, state.people) });
}

const refreshPeople = refresher(loadPeople, applyPeople);

/** I left, was removed, or may no longer see it. */
function forget(conversationId) {
  state.conversations.delete(conversationId);
  if (openId() === conversationId) {
    view.close("You are no longer in that conversation.");
    location.hash = "#/";
  }
  renderSidebar(openId());
}

/** My read marker in a conversation moved (this tab, another one, or "Mark unread"): a
 * marker that went back is taken as it is, since a reloaded list never lowers one; one that
 * went further reloads the badges. */
function myReceipt(conversationId, seq) {
  const item = state.conversations.get(conversationId);
  if (!item || item.last_read_seq === seq) return;
  if (item.last_read_seq > seq) updateConversation(conversationId, { last_read_seq: seq });
  refreshInbox();
}

function onInbox(frame) {
  if (frame.kind === "removed") {
    forget(frame.conversation_id);
  } else if (frame.kind === "added") {
    refreshInbox();
  } else if (frame.kind === "activity") {
    if (frame.event === "receipt.updated" && frame.user_id === state.me.id) {
      myReceipt(frame.conversation_id, frame.last_read_seq);
      return;
    }
    // Others' receipts and reactions change nothing the list shows.
    const ignored =
      (frame.event === "receipt.updated" && frame.user_id !== state.me.id) ||
      frame.event.startsWith("reaction.");
    if (!ignored) refreshInbox();
  }
}

/** A person's profile changed (theirs, or mine in another tab): {user}. */
function onUserUpdated({ user }) {
  const before = shownInMessages(state.people.get(user.id));
  updatePerson(user);
  changedLive.add(user.id);
  if (user.id === state.me.id) {
    state.me = { ...state.me, display_name: user.display_name };
    showMe();
  }
  peopleChanged({ messages: shownInMessages(state.people.get(user.id)) !== before });
}

/** A batch of presence changes: {users: [{user_id, status}]}. */
function onPresence(frame) {
  let strangers = false;
  for (const { user_id: userId, status } of frame.users) {
    const person = state.people.get(userId);
    if (person) {
      state.people.set(userId, { ...person, presence: status });
      changedLive.add(userId);
    } else strangers = true;
  }
  if (strangers) refreshPeople();
  presenceChanged();
}

function onFrame(frame) {
  notifyOf(frame);
  if (frame.type === "ready") {
    // Inbox and presence frames are not replayed: after any (re)connect, load both again.
    refreshInbox();
    refreshPeople();
    awayWatch?.connected();
  } else if (frame.type === "inbox") onInbox(frame);
  else if (frame.type === "receipt") myReceipt(frame.conversation_id, frame.last_read_seq);
  else if (frame.type === "presence") onPresence(frame);
  else if (frame.type === "user.updated") onUserUpdated(frame);
  else if (frame.type === "error" && frame.code === "not_found" && frame.conversation_id) {
    forget(frame.conversation_id);
  } else {
    if (frame.kind === "receipt.updated" && frame.data.user_id === state.me.id) {
      myReceipt(frame.conversation_id, frame.data.last_read_seq);
    }
    view.handle(frame);
  }
}

function route() {
  const id = openId();
  document.body.dataset.view = id ? "conversation" : "list";
  if (id) view.open(id);
  else view.close();
  renderSidebar(id);
  search.conversationChanged(id);
  showConversationSettings(id);
}

/** A search result: its conversation, scrolled to the message. */
function showMessage(conversationId, messageId) {
  location.hash = conversationHref(conversationId);
  view.reveal(conversationId, messageId);
}

/** Show a conversation the user just created or joined, before the list reloads. */
function show(conversation) {
  if (!state.conversations.has(conversation.id)) {
    state.conversations.set(conversation.id, {
      ...conversation,
      unread_count: 0,
      last_message: null,
    });
  }
  location.hash = conversationHref(conversation.id);
  refreshInbox();
}

function showApp() {
  hideAuth();
  document.getElementById("app").hidden = false;
  showMe();
  const realtime = new Realtime(token.get(), {
    onFrame,
    onState: showConnection,
    onUnauthenticated: sessionEnded,
  });
  onRenewed((fresh) => realtime.renewToken(fresh));
  awayWatch = new AwayWatch(realtime);
  view = new ConversationView(realtime, {
    onSidebarChange: () => renderSidebar(openId()),
    onListStale: () => refreshInbox({ stale: true }),
    onLeft: forget,
    onUnknownPerson: refreshPeople,
  });
  search = new Search({ openId, onPick: showMessage });
  wireDialogs(show);
  wireAccount({ logOutEverywhere, deleteAccount });
  wireAdmin({
    onChange: peopleChanged,
    reloadPeople: async () => applyPeople(await loadPeople()),
  });
  wireInvites();
  wireProfile({ onChange: (me) => onUserUpdated({ user: me }) });
  onAvatarLinksExpired(refreshPeople);
  wireRetention();
  wireNotifications({
    openId,
    onOpen: showMessage,
    onSidebarChange: () => renderSidebar(openId()),
  });
  document.getElementById("log-out").addEventListener("click", logOut);
  document.getElementById("back").addEventListener("click", () => {
    location.hash = "#/";
  });
  window.addEventListener("hashchange", route);
  showConnection(realtime.state);
  realtime.start();
  refreshInbox();
  route();
  watchDoNotDisturbEnds(); // the people loaded before the app (startApp)
}

async function boot() {
  onUnauthenticated(sessionEnded);
  const notice = NOTICES[location.hash] ?? "";
  // A reset link opens the reset form, a welcome link the new account, whoever was here.
  if (resetToken() || welcomeToken()) token.clear();
  if (!token.get()) {
    showAuth((session) => {
      token.set(session);
      state.me = session.user;
      if (notice) history.replaceState(null, "", location.pathname);
      startApp();
    }, notice);
    return;
  }
  try {
    resumeSession();
    state.me = await api.me();
  } catch (error) {
    if (error.status === 401) endSession(SESSION_ENDED);
    else failed(error);
    return;
  }
  startApp();
}

/** Names are needed before anything is drawn: load the people first. */
async function startApp() {
  try {
    state.people = new Map((await api.people()).users.map((p) => [p.id, p]));
  } catch (error) {
    failed(error);
    return;
  }
  showApp();
}

function failed(error) {
  document.getElementById("boot-error").textContent = `Hallway cannot start: ${error.message}`;
}

boot();
