// Building DOM without HTML strings: text always becomes Text nodes, so user content can
// never turn into markup. The one innerHTML in the client is a message's body_html, which
// the server rendered and sanitised (messages.js).

/** h("button", {class: "x", onclick: f, "aria-label": "Send"}, "Send", childElement) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value" || name === "checked") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/**
 * Make `container`'s children the rendering of `items`, in order. An element is reused while
 * its item is the very same object; the store replaces an object whenever it changes, so a
 * changed item is rendered again and an unchanged one keeps its element (and focus).
 */
export function reconcile(container, items, keyOf, render, cache) {
  const keys = new Set(items.map(keyOf));
  for (const [key, entry] of cache) {
    if (!keys.has(key)) {
      entry.el.remove();
      cache.delete(key);
    }
  }
  items.forEach((item, index) => {
    const key = keyOf(item);
    let entry = cache.get(key);
    if (!entry || entry.item !== item) {
      const el = render(item);
      entry?.el.replaceWith(el);
      entry = { item, el };
      cache.set(key, entry);
    }
    const here = container.children[index] ?? null;
    if (here !== entry.el) container.insertBefore(entry.el, here);
  });
}

/** A link or image source only if it is http(s): never javascript: or data: from a server. */
export function safeUrl(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const dayFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

/** A <time> showing the hour (and the day, if not today; `compact`: only the day), with
 * the full date on hover. */
export function timeElement(iso, { compact = false } = {}) {
  const date = new Date(iso);
  const format = isToday(date) ? timeFormat : compact ? dateFormat : dayFormat;
  return h("time", { datetime: iso, title: fullFormat.format(date) }, format.format(date));
}

/** The hour as text ("17:30"), with the day when it is not today ("Dec 8, 09:00"). */
export function timeOfDay(iso) {
  const date = new Date(iso);
  return (isToday(date) ? timeFormat : dayFormat).format(date);
}

function isToday(date) {
  return date.toDateString() === new Date().toDateString();
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const RELATIVE_UNITS = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
];
const RELATIVE_WITHIN_S = 7 * 86_400;

/** A <time> saying how long ago: "just now", "5 minutes ago", "yesterday"; past a week, the
 * local date and hour. The full date on hover. */
export function relativeTime(iso) {
  const date = new Date(iso);
  const seconds = (date.getTime() - Date.now()) / 1000;
  let text = "just now";
  if (Math.abs(seconds) >= RELATIVE_WITHIN_S) text = dayFormat.format(date);
  else {
    const [unit, size] = RELATIVE_UNITS.find(([, length]) => Math.abs(seconds) >= length) ?? [];
    if (unit) text = relativeFormat.format(Math.round(seconds / size), unit);
  }
  return h("time", { datetime: iso, title: fullFormat.format(date) }, text);
}

/** Tell screen readers something once, politely (the #announcer live region). */
export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A fresh text node in a later task is announced even when the text repeats.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** "1 member", "3 members". */
export function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
