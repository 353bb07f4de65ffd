// Friendly words for the server's errors, in one place: by error code, and for request
// validation by the field and pydantic's sentence ("String should have at least 1
// character"). Forms (forms.js), the composer, uploads and message actions all say errors
// through here; anything not known keeps the server's own sentence.

const MB = 1024 * 1024;

/** A size limit in words: "25 MB", "512 KB", "100 bytes" (rounded down: never promises
 * more than the server takes). */
export function sizeLimit(bytes) {
  if (bytes >= MB) return `${Math.floor(bytes / MB)} MB`;
  if (bytes >= 1024) return `${Math.floor(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

const numbers = new Intl.NumberFormat();

/** The first whole number in a sentence ("at most 10000 characters" -> 10000), or null. */
function numberIn(text) {
  const match = /(\d+)/.exec(text ?? "");
  return match ? Number(match[1]) : null;
}

/** Words by error code; a function gets the error. */
const BY_CODE = {
  account_deactivated: "This account has been deactivated. Ask an admin of your company.",
  session_revoked: "Your session has ended. Please log in again.",
  last_admin: "Your company needs at least one active admin. Make someone else an admin first.",
  admin_required: "Only an admin of your company can do that.",
  no_password: "This account signs in through your company's identity provider.",
  empty_body: "Type a message first.",
  body_too_long: (error) => {
    const limit = numberIn(error.message);
    return limit
      ? `Messages can be at most ${numbers.format(limit)} characters.`
      : "This message is too long.";
  },
  file_too_large: (error) => {
    const limit = Number(error.details?.limit ?? numberIn(error.message));
    return limit ? `Files can be at most ${sizeLimit(limit)}.` : "This file is too large.";
  },
  too_large: "That is too large to send.",
  image_too_large: "This image is too large to show.",
  empty_file: "This file is empty.",
  blocked_content_type: "Files of this type cannot be uploaded here.",
  unsupported_media_type: "Files of this type cannot be uploaded here.",
  invalid_attachments: "A file of this message is gone. Remove it and attach it again.",
  rate_limited: "You are sending too fast. Wait a moment and try again.",
  message_deleted: "That message was deleted.",
  not_sender: "Only the person who sent a message can edit it.",
  invalid_emoji: "That emoji cannot be used as a reaction.",
  too_many_reactions: "This message has all the reactions it can take.",
  too_many_emoji: "This message has all the different reactions it can take.",
  channel_name_taken: "There is already a channel with that name.",
  network_error: "Cannot reach the server. Check your connection.",
};

/** Words by field, for a field that must not be empty. */
const EMPTY_FIELD = {
  body: "Type a message first.",
  email: "Enter your email address.",
  password: "Enter your password.",
  display_name: "Enter your name.",
  title: "Give it a name.",
  company_name: "Enter your company's name.",
};

/** pydantic's sentences (details.fields[].message) in friendlier words. */
const VALIDATION = [
  [/^Field required$/i, (field) => EMPTY_FIELD[field] ?? "This is required."],
  [
    /^String should have at least (\d+) characters?$/i,
    (field, [, n]) =>
      n === "1"
        ? (EMPTY_FIELD[field] ?? "This cannot be empty.")
        : `Use at least ${numbers.format(Number(n))} characters.`,
  ],
  [
    /^String should have at most (\d+) characters?$/i,
    (field, [, n]) =>
      field === "body"
        ? `Messages can be at most ${numbers.format(Number(n))} characters.`
        : `Use at most ${numbers.format(Number(n))} characters.`,
  ],
  [/^List should have at least 1 item/i, () => "Pick at least one."],
  [/valid email address/i, () => "Enter an email address, like name@example.com."],
  [/^Input should be a valid integer/i, () => "Enter a whole number."],
  [/^Input should be greater than or equal to (\d+)/i, (_, [, n]) => `Use ${n} or more.`],
  [/^Input should be greater than (\d+)/i, (_, [, n]) => `Use more than ${n}.`],
  [/^Input should be less than or equal to (\d+)/i, (_, [, n]) => `Use at most ${n}.`],
];

/** A field's error (`field` as details.fields names it, "member_ids.0") in friendly words. */
export function friendlyField(field, message) {
  const name = String(field).split(".")[0];
  for (const [pattern, words] of VALIDATION) {
    const match = pattern.exec(message ?? "");
    if (match) return words(name, match);
  }
  return message;
}

/** What to tell people about an API error (an ApiError, or a socket's `error` frame):
 * friendly words for a known code or validation sentence, else the server's sentence. */
export function friendly(error) {
  const words = BY_CODE[error?.code];
  if (typeof words === "function") return words(error);
  if (words) return words;
  const first = error?.details?.fields?.[0];
  if (error?.code === "validation_error" && first) {
    const said = friendlyField(first.field, first.message);
    if (said !== first.message) return said;
  }
  return error?.message ?? "Something went wrong.";
}
