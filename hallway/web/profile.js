// Profiles: avatars (or initials) wherever a person is shown, the status line, and my own
// profile's editor in the Account dialog (name, status text and emoji, time zone, avatar
// with a preview).

import { api } from "./api.js";
import { h, safeUrl, timeOfDay } from "./dom.js";
import { clearErrors, showErrors, submitting } from "./forms.js";
import { inDoNotDisturb, state } from "./store.js";

let linksExpired = () => {};
// Links that failed to load: shown as initials from then on, so that a link that keeps
// failing (an avatar removed meanwhile) does not reload the people again and again.
const failed = new Set();

/** `refresh()`: load the people again, for fresh avatar links (they expire). */
export function onAvatarLinksExpired(refresh) {
  linksExpired = refresh;
}

function initials(name) {
  const words = (name ?? "").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((word) => Array.from(word)[0].toUpperCase()).join("") || "?";
}

/** A person's avatar, or their initials when they have none (or it cannot be loaded). */
export function avatar(userId, size = "small") {
  const person = state.people.get(userId);
  const name = person?.display_name ?? "Someone";
  const fallback = () => h("span", { class: `avatar ${size} initials`, "aria-hidden": "true" }, initials(name));
  const url = safeUrl(person?.avatar_url);
  if (!url || failed.has(url)) return fallback();
  const image = h("img", { class: `avatar ${size}`, src: url, alt: "", loading: "lazy" });
  image.addEventListener("error", () => {
    image.replaceWith(fallback());
    if (failed.has(url)) return;
    failed.add(url);
    linksExpired(); // most likely an expired link: the people's answer brings fresh ones
  });
  return image;
}

/** A person's presence dot; ringed (class `dnd`) while they are in "do not disturb". */
export function presenceDot(person) {
  const presence = person?.presence ?? "offline";
  const dnd = inDoNotDisturb(person);
  return h("span", {
    class: dnd ? `presence ${presence} dnd` : `presence ${presence}`,
    role: "img",
    "aria-label": dnd ? `${presence}, do not disturb` : presence,
  });
}

/** "Do not disturb until 17:30", or "" when they are not in it. */
export function doNotDisturbLine(person) {
  return inDoNotDisturb(person) ? `Do not disturb until ${timeOfDay(person.dnd_until)}` : "";
}

/** "🌴 On holiday", or "" for no status. */
export function statusLine(person) {
  return [person?.status_emoji, person?.status_text].filter(Boolean).join(" ");
}

/** The time a person's clock shows now, if they set their time zone. */
export function localTime(person) {
  if (!person?.time_zone) return "";
  try {
    const format = new Intl.DateTimeFormat(undefined, {
      hour: "2-digit",
      minute: "2-digit",
      timeZone: person.time_zone,
    });
    return `${format.format(new Date())} local time`;
  } catch {
    return "";
  }
}

function timeZones() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return zones.length ? zones : ["UTC"];
}

/** The profile section of the Account dialog. `onChange(me)`: my profile changed (the
 * server's answer). */
export function wireProfile({ onChange }) {
  const form = document.getElementById("profile-form");
  const done = document.getElementById("profile-done");
  const preview = document.getElementById("profile-avatar");
  const fileInput = document.getElementById("profile-avatar-input");
  const remove = document.getElementById("profile-avatar-remove");
  const zone = form.elements.time_zone;
  zone.replaceChildren(
    h("option", { value: "" }, "Not set"),
    ...timeZones().map((name) => h("option", { value: name }, name.replaceAll("_", " "))),
  );

  const showAvatar = () => {
    preview.replaceChildren(avatar(state.me.id, "large"));
    remove.hidden = !state.people.get(state.me.id)?.avatar_url;
  };
  const changed = (me) => {
    onChange(me);
    showAvatar();
  };

  const fill = () => {
    const me = state.people.get(state.me.id) ?? state.me;
    clearErrors(form);
    done.textContent = "";
    form.elements.display_name.value = me.display_name;
    form.elements.status_emoji.value = me.status_emoji ?? "";
    form.elements.status_text.value = me.status_text ?? "";
    const known = [...zone.options].some((option) => option.value === me.time_zone);
    if (me.time_zone && !known) zone.append(h("option", { value: me.time_zone }, me.time_zone));
    zone.value = me.time_zone ?? "";
    fileInput.value = "";
    showAvatar();
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    done.textContent = "";
    const fields = {
      display_name: form.elements.display_name.value.trim(),
      status_emoji: form.elements.status_emoji.value.trim(),
      status_text: form.elements.status_text.value.trim(),
      time_zone: zone.value,
    };
    submitting(form, "Saving…", async () => {
      changed(await api.updateProfile(fields));
      done.textContent = "Profile saved.";
    });
  });

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files[0];
    if (!file) return;
    done.textContent = "";
    clearErrors(form);
    // The chosen picture at once, from this device, while it uploads.
    const local = URL.createObjectURL(file);
    preview.replaceChildren(h("img", { class: "avatar large", src: local, alt: "" }));
    try {
      changed(await api.setAvatar(file));
      done.textContent = "Picture saved.";
    } catch (error) {
      showErrors(form, error);
      showAvatar();
    } finally {
      URL.revokeObjectURL(local);
      fileInput.value = "";
    }
  });

  remove.addEventListener("click", async () => {
    done.textContent = "";
    try {
      changed(await api.removeAvatar());
      done.textContent = "Picture removed.";
    } catch (error) {
      showErrors(form, error);
    }
  });

  document.getElementById("open-account").addEventListener("click", fill);
}
