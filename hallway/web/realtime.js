// One WebSocket per tab (docs/realtime.md): auth as the first frame, follow the open
// conversation, send messages while live, and after any disconnect reconnect with back-off
// and resume every followed conversation from the last seq seen, so each event is handed on
// exactly once, in order.

import { ApiError, renewSession } from "./api.js";

const PING_INTERVAL_MS = 15_000;
// No frame at all (not even a pong) for this long: the link is dead even if no close came.
const SILENCE_MS = 2 * PING_INTERVAL_MS + 5_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;
const CLOSE_UNAUTHENTICATED = 4401;

/** A send the socket could not answer: it was not live, or it went before the answer. The
 * message may or may not be stored; send it over HTTP with the same client_msg_id. */
export class NotSentHere extends Error {}

/**
 * States, as a UI shows them: "connecting" until the first `ready`, "live" after it,
 * "reconnecting" between a lost connection and the next `ready`, "offline" while the browser
 * has no network (it retries as soon as the network is back) or after the token was refused.
 */
export class Realtime {
  constructor(accessToken, { onFrame, onState, onUnauthenticated }) {
    this.token = accessToken;
    this.onFrame = onFrame;
    this.onState = onState;
    this.onUnauthenticated = onUnauthenticated;
    this.state = "connecting";
    this.lastSeq = new Map(); // followed conversation -> newest seq handed on
    this.healing = new Set(); // conversations re-subscribed after a hole, until `subscribed`
    this.sends = new Map(); // ref -> {resolve, reject} of a send waiting for its answer
    this.refs = 0;
    this.socket = null;
    this.backoff = FIRST_BACKOFF_MS;
    this.retryTimer = null;
    this.pingTimer = null;
    this.silenceTimer = null;
    this.stopped = false;
    this.liveListeners = []; // called after every `ready` (the outbox sends what waited)
    this.onOnline = () => this.connectNow();
    this.onOffline = () => this.lose("offline");
    window.addEventListener("online", this.onOnline);
    window.addEventListener("offline", this.onOffline);
  }

  start() {
    if (navigator.onLine) this.connect();
    else this.setState("offline");
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this.onOnline);
    window.removeEventListener("offline", this.onOffline);
    clearTimeout(this.retryTimer);
    this.drop();
    this.setState("offline");
  }

  /** A fresh access token: the socket lives on past the old one's expiry, and the next
   * connection authenticates with it. */
  renewToken(accessToken) {
    this.token = accessToken;
    this.send({ type: "auth", token: accessToken });
  }

  /** Follow a conversation, replaying every event after `afterSeq` first. */
  follow(conversationId, afterSeq) {
    this.lastSeq.set(conversationId, afterSeq);
    this.subscribe(conversationId);
  }

  unfollow(conversationId) {
    this.healing.delete(conversationId);
    if (this.lastSeq.delete(conversationId)) {
      this.send({ type: "unsubscribe", conversation_id: conversationId });
    }
  }

  /** Call `listener()` each time the socket becomes live (after every `ready`). */
  addLiveListener(listener) {
    this.liveListeners.push(listener);
  }

  typing(conversationId) {
    this.send({ type: "typing", conversation_id: conversationId });
  }

  /** Send a message over the socket: the stored message, or ApiError for a refusal (the
   * HTTP API's codes), or NotSentHere when the socket can't tell. */
  sendMessage(conversationId, fields) {
    if (!this.isLive()) return Promise.reject(new NotSentHere("not connected"));
    this.refs += 1;
    const ref = `send-${this.refs}`;
    const answer = new Promise((resolve, reject) => this.sends.set(ref, { resolve, reject }));
    this.socket.send(
      JSON.stringify({ type: "send", ref, conversation_id: conversationId, ...fields }),
    );
    return answer;
  }

  // --- internals -------------------------------------------------------------------------

  setState(state) {
    if (state !== this.state) {
      this.state = state;
      this.onState(state);
    }
  }

  isLive() {
    return this.state === "live" && this.socket?.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (this.isLive()) this.socket.send(JSON.stringify(frame));
  }

  subscribe(conversationId) {
    this.send({
      type: "subscribe",
      conversation_id: conversationId,
      after_seq: this.lastSeq.get(conversationId),
    });
  }

  connect() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/api/v1/realtime`);
    this.socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: this.token }));
    socket.onmessage = (message) => this.receive(JSON.parse(message.data));
    socket.onclose = (close) => {
      if (close.code === CLOSE_UNAUTHENTICATED && close.reason === "token_expired") {
        // The tab slept past its renewal: renew (api.js hands the socket the new token),
        // then reconnect; a failed renewal ends the session there.
        this.drop();
        renewSession()
          .then(() => this.connectNow())
          .catch(() => {});
      } else if (close.code === CLOSE_UNAUTHENTICATED) {
        this.stop();
        this.onUnauthenticated();
      } else {
        this.lose("reconnecting");
      }
    };
    this.watchSilence();
  }

  /** Forget the current socket without waiting for its close handshake. */
  drop() {
    clearInterval(this.pingTimer);
    clearTimeout(this.silenceTimer);
    for (const waiting of this.sends.values()) {
      waiting.reject(new NotSentHere("the connection was lost before the answer"));
    }
    this.sends.clear();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onopen = socket.onmessage = socket.onclose = null;
      socket.close();
    }
  }

  /** The connection is gone: retry with back-off, or wait for the network to come back. */
  lose(state) {
    this.drop();
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    if (state === "offline" || !navigator.onLine) {
      this.setState("offline");
      return;
    }
    this.setState("reconnecting");
    const delay = this.backoff * (0.5 + Math.random());
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  connectNow() {
    if (this.stopped) return;
    this.backoff = FIRST_BACKOFF_MS;
    this.drop();
    this.connect();
  }

  watchSilence() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => this.lose("reconnecting"), SILENCE_MS);
  }

  receive(frame) {
    this.watchSilence();
    if (frame.ref !== undefined && (frame.type === "sent" || frame.type === "error")) {
      this.answerSend(frame);
      return;
    }
    switch (frame.type) {
      case "ready":
        this.backoff = FIRST_BACKOFF_MS;
        this.setState("live");
        this.healing.clear();
        clearInterval(this.pingTimer);
        this.pingTimer = setInterval(() => this.send({ type: "ping" }), PING_INTERVAL_MS);
        for (const conversationId of this.lastSeq.keys()) this.subscribe(conversationId);
        this.onFrame(frame);
        for (const listener of this.liveListeners) listener();
        return;
      case "event":
        this.receiveEvent(frame);
        return;
      case "resync":
        if (!this.lastSeq.has(frame.conversation_id)) return;
        this.lastSeq.set(frame.conversation_id, frame.last_seq);
        this.onFrame(frame);
        return;
      case "subscribed":
        this.healing.delete(frame.conversation_id);
        if (this.lastSeq.has(frame.conversation_id)) this.onFrame(frame);
        return;
      case "typing":
        if (this.lastSeq.has(frame.conversation_id)) this.onFrame(frame);
        return;
      case "error":
        if (frame.conversation_id) this.lastSeq.delete(frame.conversation_id);
        this.onFrame(frame);
        return;
      case "pong":
      case "authenticated": // a renewed token accepted; api.js schedules the next renewal
        return;
      default:
        this.onFrame(frame);
    }
  }

  answerSend(frame) {
    const waiting = this.sends.get(frame.ref);
    if (!waiting) return;
    this.sends.delete(frame.ref);
    if (frame.type === "sent") waiting.resolve(frame.message);
    else {
      // rate_limited says when to try again at the frame's top level.
      const details = { retry_after: frame.retry_after, ...(frame.details ?? {}) };
      waiting.reject(new ApiError(0, frame.code, frame.message, details));
    }
  }

  receiveEvent(frame) {
    const seen = this.lastSeq.get(frame.conversation_id);
    if (seen === undefined || frame.seq <= seen) return; // not followed, or a duplicate
    if (frame.seq > seen + 1) {
      // A hole (the server promises none): ask again, once, from the last seq we have.
      if (!this.healing.has(frame.conversation_id)) {
        this.healing.add(frame.conversation_id);
        this.subscribe(frame.conversation_id);
      }
      return;
    }
    this.lastSeq.set(frame.conversation_id, frame.seq);
    this.onFrame(frame);
  }
}
