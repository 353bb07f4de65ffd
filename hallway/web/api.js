// HTTP: JSON both ways, the bearer token, and the one error shape
// {"error": {"code", "message", "details"}} turned into ApiError.

const TOKEN_KEY = "hallway.token";
const REFRESH_KEY = "hallway.refresh";
const PREFIX = "/api/v1";
// A token is renewed a fifth of its life before it expires, and never later than this.
const MAX_RENEW_LEAD_MS = 60_000;

/** The session's tokens live in sessionStorage: per tab, gone when the tab closes. The
 * access token is short-lived; the refresh token renews it (and is itself replaced each
 * time: a spent one used again ends the session). */
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  /** Keep a session (of a login, a welcome link or a refresh); renew it before it expires. */
  set: (session) => {
    sessionStorage.setItem(TOKEN_KEY, session.access_token);
    sessionStorage.setItem(REFRESH_KEY, session.refresh_token);
    scheduleRenewal(session.expires_in);
  },
  clear: () => {
    clearTimeout(renewTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(REFRESH_KEY);
  },
};

let renewTimer = null;
let renewing = null;
const renewedListeners = [];

/** Called with each fresh access token (the realtime socket re-authenticates with it). */
export function onRenewed(listener) {
  renewedListeners.push(listener);
}

function scheduleRenewal(expiresIn) {
  clearTimeout(renewTimer);
  const lead = Math.min((expiresIn * 1000) / 5, MAX_RENEW_LEAD_MS);
  renewTimer = setTimeout(() => renewSession().catch(() => {}), expiresIn * 1000 - lead);
}

/** Trade the refresh token for fresh tokens; one renewal at a time, since a refresh token
 * used twice ends the session. Resolves to the new access token, or rejects (ApiError). */
export function renewSession() {
  if (!renewing) {
    renewing = (async () => {
      const refreshToken = sessionStorage.getItem(REFRESH_KEY);
      if (!refreshToken) throw new ApiError(401, "session_revoked", "Not logged in.");
      const session = await request("POST", "/auth/refresh", { refresh_token: refreshToken });
      token.set(session);
      for (const listener of renewedListeners) listener(session.access_token);
      return session.access_token;
    })().finally(() => {
      renewing = null;
    });
  }
  return renewing;
}

/** After a reload the tab still holds its tokens: renew when the access token says it is
 * due (its `exp` claim), without spending the refresh token now. */
export function resumeSession() {
  const access = token.get();
  if (!access || !sessionStorage.getItem(REFRESH_KEY)) return;
  try {
    const claims = JSON.parse(atob(access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    scheduleRenewal(Math.max(claims.exp - Date.now() / 1000, 1));
  } catch {
    scheduleRenewal(1);
  }
}

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field name -> message, for every field the error names (`details.field` from the
   * domain, `details.fields[]` from request validation). */
  get fieldMessages() {
    const named = new Map();
    for (const f of this.details.fields ?? []) {
      named.set(String(f.field), f.message || this.message);
    }
    if (this.details.field) named.set(String(this.details.field), this.message);
    return named;
  }
}

let unauthenticated = () => {};

/** Called when a request made with a token answers 401: the session is over. */
export function onUnauthenticated(handler) {
  unauthenticated = handler;
}

async function request(method, path, body, retried = false) {
  const headers = {};
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  // FormData (uploads) sets its own multipart Content-Type; everything else is JSON.
  const multipart = body instanceof FormData;
  if (body !== undefined && !multipart) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(PREFIX + path, {
      method,
      headers,
      body: body === undefined || multipart ? body : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network_error", "Cannot reach the server. Check your connection.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.ok) return data;
  const error = data?.error ?? {
    code: "http_error",
    message: `The server answered ${response.status}.`,
  };
  const failure = new ApiError(response.status, error.code, error.message, error.details ?? {});
  if (response.status === 401 && bearer && error.code === "token_expired" && !retried) {
    // The tab slept past a renewal: renew, then ask once more.
    const renewed = await renewSession().catch(() => null);
    if (renewed) return request(method, path, body, true);
  }
  // A wrong current password (changing it, deleting the account) is the form's error, not
  // the end of the session.
  if (response.status === 401 && bearer && error.code !== "invalid_credentials") {
    unauthenticated(failure);
  }
  throw failure;
}

const id = encodeURIComponent;

export const api = {
  signup: (fields) => request("POST", "/auth/signup", fields),
  login: (fields) => request("POST", "/auth/login", fields),
  join: (fields) => request("POST", "/auth/join", fields),
  confirmSignup: (fields) => request("POST", "/auth/confirm", fields),
  me: () => request("GET", "/me"),
  logout: () => request("POST", "/auth/logout"),
  resetPassword: (fields) => request("POST", "/auth/password-reset", fields),
  sessions: () => request("GET", "/sessions"),
  endSession: (sessionId) => request("DELETE", `/sessions/${id(sessionId)}`),
  /** Log out everywhere, this session included. */
  endAllSessions: () => request("DELETE", "/sessions"),
  changePassword: (fields) => request("POST", "/me/password", fields),
  /** {password, erase_messages}: every session of mine ends with it. */
  deleteAccount: (fields) => request("DELETE", "/me", fields),
  deletePerson: (userId, eraseMessages) =>
    request("DELETE", `/users/${id(userId)}`, { erase_messages: eraseMessages }),
  deactivate: (userId) => request("POST", `/users/${id(userId)}/deactivate`),
  reactivate: (userId) => request("POST", `/users/${id(userId)}/reactivate`),
  setRole: (userId, role) => request("PATCH", `/users/${id(userId)}`, { role }),
  /** {max_uses, expires_in}: null leaves either to the server (any number, longest). */
  invite: (fields) => request("POST", "/invites", fields),
  invites: () => request("GET", "/invites"),
  revokeInvite: (code) => request("DELETE", `/invites/${id(code)}`),
  people: () => request("GET", "/users"),
  /** {display_name, status_text, status_emoji, time_zone}: "" clears a status or zone. */
  updateProfile: (fields) => request("PATCH", "/me/profile", fields),
  setAvatar: (file) => {
    const form = new FormData();
    form.append("file", file);
    return request("PUT", "/me/avatar", form);
  },
  removeAvatar: () => request("DELETE", "/me/avatar"),
  retention: () => request("GET", "/company/retention"),
  /** {retention: days | "forever", archive_expired} */
  setRetention: (fields) => request("PUT", "/company/retention", fields),
  // The sidebar shows up to 200 conversations (the API's largest page).
  conversations: () => request("GET", "/conversations?limit=200"),
  channels: () => request("GET", "/channels"),
  conversation: (conversationId) => request("GET", `/conversations/${id(conversationId)}`),
  createConversation: (fields) => request("POST", "/conversations", fields),
  addMembers: (conversationId, userIds) =>
    request("POST", `/conversations/${id(conversationId)}/members`, { user_ids: userIds }),
  removeMember: (conversationId, userId) =>
    request("DELETE", `/conversations/${id(conversationId)}/members/${id(userId)}`),
  messages: (conversationId, limit, before) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    return request("GET", `/conversations/${id(conversationId)}/messages?${query}`);
  },
  send: (conversationId, fields) =>
    request("POST", `/conversations/${id(conversationId)}/messages`, fields),
  edit: (messageId, body) => request("PATCH", `/messages/${id(messageId)}`, { body }),
  delete: (messageId) => request("DELETE", `/messages/${id(messageId)}`),
  react: (messageId, emoji) => request("PUT", `/messages/${id(messageId)}/reactions/${id(emoji)}`),
  unreact: (messageId, emoji) =>
    request("DELETE", `/messages/${id(messageId)}/reactions/${id(emoji)}`),
  upload: (conversationId, file) => {
    const form = new FormData();
    form.append("file", file);
    return request("POST", `/conversations/${id(conversationId)}/attachments`, form);
  },
  /** A window of a thread (thread_panel.js): its root and replies before `before`. */
  threadMessages: (conversationId, rootId, limit, before) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (before) query.set("before", before);
    const path = `/conversations/${id(conversationId)}/threads/${id(rootId)}/messages`;
    return request("GET", `${path}?${query}`);
  },
  message: (messageId) => request("GET", `/messages/${id(messageId)}`),
  markThreadRead: (rootId) => request("POST", `/threads/${id(rootId)}/read`),
  markRead: (conversationId, seq) =>
    request("POST", `/conversations/${id(conversationId)}/read`, { seq }),
  /** My marker back to just before the message of `seq`. */
  markUnread: (conversationId, seq) =>
    request("POST", `/conversations/${id(conversationId)}/unread`, { seq }),
  setTopic: (conversationId, topic) =>
    request("PUT", `/conversations/${id(conversationId)}/topic`, { topic }),
  archive: (conversationId) => request("POST", `/conversations/${id(conversationId)}/archive`),
  unarchive: (conversationId) =>
    request("DELETE", `/conversations/${id(conversationId)}/archive`),
  /** `conversationId`: only that conversation; `cursor`: the `next_cursor` of the last page. */
  search: (q, { conversationId, cursor, limit }) => {
    const query = new URLSearchParams({ q, limit: String(limit) });
    if (conversationId) query.set("conversation_id", conversationId);
    if (cursor) query.set("cursor", cursor);
    return request("GET", `/search?${query}`);
  },
  notificationSettings: () => request("GET", "/me/notifications"),
  /** {level?, dnd_until?}: what is left out stays. */
  setNotificationSettings: (fields) => request("PATCH", "/me/notifications", fields),
  /** {notify_level?, muted?} for one conversation of mine. */
  setConversationNotifications: (conversationId, fields) =>
    request("PATCH", `/conversations/${id(conversationId)}/notifications`, fields),
};
