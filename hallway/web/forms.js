// API errors on forms: each message next to the field the error names (details.field or
// details.fields[]), or at the top of the form when it names none; codes whose server
// sentence is terse for people are said in friendlier words (errors.js).

import { friendly, friendlyField } from "./errors.js";

// Friendly words live in errors.js (also used by the composer and uploads); forms re-export
// them for the dialogs that import them from here.
export { friendly };

export function clearErrors(form) {
  for (const input of form.querySelectorAll("[aria-invalid]")) {
    input.removeAttribute("aria-invalid");
  }
  for (const slot of form.querySelectorAll(".field-error, .form-error")) slot.textContent = "";
}

/** `wording`: this form's own words for codes, `{code: {message, field?}}`; with `field`
 * the message goes next to that field (an error the server names no field for). */
export function showErrors(form, error, wording = {}) {
  clearErrors(form);
  const own = wording[error.code];
  const fields = own?.field ? new Map([[own.field, own.message]]) : error.fieldMessages;
  let first = null;
  for (const [field, message] of fields ?? []) {
    const name = CSS.escape(field.split(".")[0]); // "member_ids.0" is about member_ids
    const slot = form.querySelector(`[data-error-for="${name}"]`);
    if (!slot) continue;
    if (own?.field) slot.textContent = message;
    else if (field === error.details?.field) slot.textContent = friendly(error);
    else slot.textContent = friendlyField(field, message);
    const input = form.querySelector(`[name="${name}"]`);
    input?.setAttribute("aria-invalid", "true");
    first ??= input;
  }
  if (first) first.focus();
  else form.querySelector(".form-error").textContent = own?.message ?? friendly(error);
}

/** Run `action` with the form's submit button busy; errors land on the form (`wording`:
 * as for showErrors). */
export async function submitting(form, busyLabel, action, wording = {}) {
  const button = form.querySelector("button[type=submit]");
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyLabel;
  clearErrors(form);
  try {
    await action();
  } catch (error) {
    showErrors(form, error, wording);
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

/** The form's fields as an object of trimmed strings (passwords untouched). */
export function fieldsOf(form, names) {
  const values = {};
  for (const name of names) {
    const input = form.elements.namedItem(name);
    values[name] = input.type === "password" ? input.value : input.value.trim();
  }
  return values;
}
