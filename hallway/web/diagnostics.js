// /diagnostics: live checks of this browser against this server, each with pass or fail and
// how long it took: the API, the session (the one this tab keeps in sessionStorage, as the
// client does), a realtime round trip, resuming after a forced reconnect without a gap, a
// message seen by a second tab (an iframe of /diagnostics?peer=1, told through a
// BroadcastChannel), and a file uploaded and downloaded byte for byte.

import { ApiError, api, resumeSession, token } from "./api.js";
import { h } from "./dom.js";
import { friendly } from "./errors.js";

const BROADCAST = "hallway-diagnostics";
const ANSWER_MS = 10_000;

/** One WebSocket with the frames it received: `next(match)` waits for the first that
 * matches (received already or still to come). */
class Link {
  static open() {
    return new Promise((resolve, reject) => {
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const socket = new WebSocket(`${scheme}://${location.host}/api/v1/realtime`);
      const link = new Link(socket);
      socket.onopen = () => {
        link.send({ type: "auth", token: token.get() });
        resolve(link);
      };
      socket.onerror = () => reject(new Error("the socket could not connect"));
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.frames = [];
    this.waiters = [];
    socket.onmessage = (message) => this.take(JSON.parse(message.data));
    socket.onclose = (close) => {
      for (const waiter of this.waiters.splice(0)) {
        waiter.reject(new Error(`the socket closed (${close.code} ${close.reason})`));
      }
    };
  }

  take(frame) {
    const at = this.waiters.findIndex((waiter) => waiter.match(frame));
    if (at === -1) this.frames.push(frame);
    else this.waiters.splice(at, 1)[0].resolve(frame);
  }

  next(match, what, ms = ANSWER_MS) {
    const at = this.frames.findIndex(match);
    if (at !== -1) return Promise.resolve(this.frames.splice(at, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve, reject };
      this.waiters.push(waiter);
      setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index !== -1) {
          this.waiters.splice(index, 1);
          reject(new Error(`no ${what} within ${ms / 1000} s`));
        }
      }, ms);
    });
  }

  send(frame) {
    this.socket.send(JSON.stringify(frame));
  }

  close() {
    this.socket.close();
  }

  /** Follow a conversation from `afterSeq`; resolves once subscribed. */
  async follow(conversationId, afterSeq) {
    this.send({ type: "subscribe", conversation_id: conversationId, after_seq: afterSeq });
    await this.next(
      (f) =>
        (f.type === "subscribed" || f.type === "error") && f.conversation_id === conversationId,
      "answer to subscribe",
    ).then((frame) => {
      if (frame.type === "error") throw new Error(`subscribe refused: ${frame.message}`);
    });
  }

  /** The `message.created` event of a message, by its id. */
  created(conversationId, messageId) {
    return this.next(
      (f) =>
        f.type === "event" &&
        f.conversation_id === conversationId &&
        f.kind === "message.created" &&
        f.data.id === messageId,
      "message event",
    );
  }
}

async function ready() {
  const link = await Link.open();
  const frame = await link.next(
    (f) => f.type === "ready" || f.type === "error",
    "ready after auth",
  );
  if (frame.type === "error") throw new Error(`auth refused: ${frame.message}`);
  return link;
}

const nonce = () => Math.random().toString(36).slice(2, 10);
const newId = () => (crypto.randomUUID ? crypto.randomUUID() : `diag-${nonce()}${nonce()}`);

async function newestSeq(conversationId) {
  return (await api.messages(conversationId, 1)).last_seq;
}

function sendOverHttp(conversationId, body, extra = {}) {
  return api.send(conversationId, { body, client_msg_id: newId(), ...extra });
}

/** My own diagnostics channel (a group needs another person; a channel may have just me). */
async function diagnosticsConversation(me) {
  const title = `diagnostics-${me.id.slice(0, 8)}`;
  const { conversations } = await api.conversations();
  const mine = conversations.find((c) => c.kind === "channel" && c.title === title);
  if (mine) return mine;
  try {
    return await api.createConversation({ kind: "channel", title, member_ids: [] });
  } catch (error) {
    if (error.code !== "channel_name_taken") throw error;
    const { channels } = await api.channels();
    const channel = channels.find((c) => c.title.toLowerCase() === title.toLowerCase());
    if (!channel) throw error;
    await api.addMembers(channel.id, [me.id]);
    return channel;
  }
}

// --- the checks ------------------------------------------------------------------------------

/** Each: {id, name, run(context) -> detail text}; one that throws fails, and `needs` names a
 * context entry without which it is skipped. */
const CHECKS = [
  {
    id: "api",
    name: "API reachable",
    async run() {
      const response = await fetch("healthz", { cache: "no-store" });
      if (!response.ok) throw new Error(`GET /healthz answered ${response.status}`);
      const ready = await fetch("readyz", { cache: "no-store" });
      if (!ready.ok) throw new Error(`up, but GET /readyz answered ${ready.status}`);
      return "GET /healthz and /readyz answered 200";
    },
  },
  {
    id: "token",
    name: "Signed in (token valid)",
    async run(context) {
      if (!token.get()) {
        const error = new Error("Not logged in in this tab.");
        error.link = { href: "./", text: "Log in, then open /diagnostics from that tab" };
        throw error;
      }
      resumeSession();
      context.me = await api.me();
      return `as ${context.me.display_name} (${context.me.email})`;
    },
  },
  {
    id: "socket",
    name: "Realtime round trip",
    needs: "me",
    async run(context) {
      const started = performance.now();
      context.link = await ready();
      const readyMs = performance.now() - started;
      const pinged = performance.now();
      context.link.send({ type: "ping" });
      await context.link.next((f) => f.type === "pong", "pong");
      const pongMs = performance.now() - pinged;
      return `ready ${readyMs.toFixed(0)} ms after connecting; ping → pong ${pongMs.toFixed(1)} ms`;
    },
  },
  {
    id: "conversation",
    name: "Test conversation",
    needs: "me",
    async run(context) {
      context.conversation = await diagnosticsConversation(context.me);
      return `#${context.conversation.title} (only you)`;
    },
  },
  {
    id: "resume",
    name: "Resume after a forced reconnect",
    needs: "link",
    async run(context) {
      const id = context.conversation.id;
      const link = context.link;
      await link.follow(id, await newestSeq(id));
      const before = await sendOverHttp(id, `diagnostics: before the reconnect ${nonce()}`);
      const seen = (await link.created(id, before.id)).seq;
      link.close();
      // Sent while this tab has no socket: the next one must replay it, right after `seen`.
      const missed = await sendOverHttp(id, `diagnostics: while away ${nonce()}`);
      const again = await ready();
      context.link = again;
      await again.follow(id, seen);
      const first = await again.next(
        (f) => f.type === "event" && f.conversation_id === id,
        "replayed event",
      );
      if (first.seq !== seen + 1) throw new Error(`a gap: expected seq ${seen + 1}, got ${first.seq}`);
      if (first.data.id !== missed.id) {
        await again.created(id, missed.id);
      }
      return `reconnected and resumed from seq ${seen}: seq ${first.seq} replayed, no gap`;
    },
  },
  {
    id: "peer",
    name: "Second tab sees a message",
    needs: "conversation",
    async run(context) {
      const id = context.conversation.id;
      const channel = new BroadcastChannel(BROADCAST);
      const heard = (type, what) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no ${what} within 15 s`)), 15_000);
          channel.addEventListener("message", function listen(event) {
            if (event.data?.type !== type) return;
            clearTimeout(timer);
            channel.removeEventListener("message", listen);
            resolve(event.data);
          });
        });
      const peerReady = heard("peer-ready", "answer from the second tab");
      const frame = h("iframe", {
        src: `diagnostics?peer=1&conversation=${encodeURIComponent(id)}`,
        title: "Second tab for diagnostics",
        class: "diagnostics-peer",
      });
      document.body.append(frame);
      try {
        await peerReady;
        const body = `diagnostics: to the other tab ${nonce()}`;
        const received = heard("peer-received", "message seen by the second tab");
        const sentAt = performance.now();
        await sendOverHttp(id, body);
        const seen = await received;
        if (seen.body !== body) throw new Error("the second tab saw another message");
        return `the other tab saw it over its own socket ${(performance.now() - sentAt).toFixed(0)} ms after sending`;
      } finally {
        frame.remove();
        channel.close();
      }
    },
  },
  {
    id: "files",
    name: "Upload and download",
    needs: "conversation",
    async run(context) {
      const id = context.conversation.id;
      const text = `Hallway diagnostics ${nonce()} ${new Date().toISOString()}\n`;
      const bytes = new TextEncoder().encode(text);
      const file = new File([bytes], "diagnostics.txt", { type: "text/plain" });
      const uploaded = await api.upload(id, file);
      let url = uploaded.url;
      if (!url) {
        const message = await sendOverHttp(id, "diagnostics: a file", {
          attachment_ids: [uploaded.id],
        });
        url = message.attachments[0]?.url;
      }
      if (!url) throw new Error("the server gave no link to the file");
      const response = await fetch(url, { cache: "no-store" });
      if (!response.ok) throw new Error(`the signed link answered ${response.status}`);
      const back = new Uint8Array(await response.arrayBuffer());
      const same = back.length === bytes.length && back.every((byte, i) => byte === bytes[i]);
      if (!same) throw new Error(`got ${back.length} bytes back, not the ${bytes.length} sent`);
      return `${bytes.length} bytes up and the same bytes down through the signed link`;
    },
  },
];

// --- running and showing them -------------------------------------------------------------

function row(check) {
  return h(
    "li",
    { class: "diagnostics-check", dataset: { check: check.id, status: "pending" } },
    h("span", { class: "diagnostics-status" }, "…"),
    h("span", { class: "diagnostics-name" }, check.name),
    h("span", { class: "diagnostics-time" }),
    h("span", { class: "diagnostics-detail" }),
  );
}

const STATUS_TEXT = { pass: "Pass", fail: "Fail", skipped: "Skipped", running: "Running" };

function show(element, status, ms, detail, link) {
  element.dataset.status = status;
  element.querySelector(".diagnostics-status").textContent = STATUS_TEXT[status];
  element.querySelector(".diagnostics-time").textContent =
    ms === null ? "" : `${ms.toFixed(0)} ms`;
  const slot = element.querySelector(".diagnostics-detail");
  slot.replaceChildren(detail);
  if (link) slot.append(" ", h("a", { href: link.href }, link.text));
}

async function runChecks() {
  const list = document.getElementById("diagnostics-checks");
  const summary = document.getElementById("diagnostics-summary");
  const again = document.getElementById("diagnostics-again");
  again.hidden = true;
  summary.textContent = "Running…";
  const rows = CHECKS.map((check) => [check, row(check)]);
  list.replaceChildren(...rows.map(([, element]) => element));
  const context = {};
  let failed = 0;
  for (const [check, element] of rows) {
    if (check.needs && !context[check.needs]) {
      show(element, "skipped", null, "needs a check above to pass");
      failed += 1;
      continue;
    }
    show(element, "running", null, "");
    const started = performance.now();
    try {
      const detail = await check.run(context);
      show(element, "pass", performance.now() - started, detail);
    } catch (error) {
      failed += 1;
      const said = error instanceof ApiError ? friendly(error) : error.message;
      show(element, "fail", performance.now() - started, said, error.link);
    }
  }
  context.link?.close();
  summary.textContent =
    failed === 0 ? `All ${CHECKS.length} checks passed.` : `${failed} of ${CHECKS.length} checks did not pass.`;
  document.body.dataset.done = failed === 0 ? "pass" : "fail";
  again.hidden = false;
}

/** The second tab: follows the conversation over a socket of its own and says through the
 * BroadcastChannel when it is ready and each message it sees. */
async function runPeer() {
  document.getElementById("diagnostics").replaceChildren(
    h("p", {}, "The second tab of Hallway diagnostics."),
  );
  const channel = new BroadcastChannel(BROADCAST);
  const conversationId = new URLSearchParams(location.search).get("conversation");
  try {
    resumeSession();
    const link = await ready();
    await link.follow(conversationId, await newestSeq(conversationId));
    link.socket.addEventListener("message", (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "event" && frame.kind === "message.created") {
        channel.postMessage({ type: "peer-received", body: frame.data.body });
      }
    });
    // Frames that came with the subscription are in `link.frames`; none is a new message.
    channel.postMessage({ type: "peer-ready" });
  } catch (error) {
    channel.postMessage({ type: "peer-failed", message: error.message });
  }
}

if (new URLSearchParams(location.search).get("peer")) runPeer();
else {
  document.getElementById("diagnostics-again").addEventListener("click", runChecks);
  runChecks();
}
