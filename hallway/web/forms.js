// API errors on forms: each message next to the field the error names (details.field or
// details.fields[]), or at the top of the form when it names none; codes whose server
// sentence is terse for people are said in friendlier words.

/** Friendly words for error codes, wherever the client shows them. */
const WORDING = {
  account_deactivated: "This account has been deactivated. Ask an admin of your company.",
  session_revoked: "Your session has ended. Please log in again.",
  last_admin: "Your company needs at least one active admin. Make someone else an admin first.",
  admin_required: "Only an admin of your company can do that.",
  no_password: "This account signs in through your company's identity provider.",
};

/** What to tell people about an API error: friendly words for a known code, else the
 * server's own sentence. */
export function friendly(error) {
  return WORDING[error.code] ?? error.message;
}

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
    slot.textContent = message;
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
