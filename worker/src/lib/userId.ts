/**
 * @module userId
 * What an `X-User-ID` header value is, as a pure function: the access log and the validator agree
 * on it. Placeholders start with "~", a character a real user id cannot contain, so they never
 * collide with an attendee.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
export const MISSING_USER = "~missing";
export const INVALID_USER = "~invalid";
export const ANONYMOUS_USER = "~anonymous";

export type UserIdCheck =
  | { kind: "valid"; userId: string }
  | { kind: "missing"; userId: typeof MISSING_USER }
  | { kind: "invalid"; userId: typeof INVALID_USER };

/** @param header the raw `X-User-ID` value, or null when absent */
export function checkUserId(header: string | null): UserIdCheck {
  if (header === null || header.trim() === "") return { kind: "missing", userId: MISSING_USER };
  if (!USER_ID_PATTERN.test(header)) return { kind: "invalid", userId: INVALID_USER };
  return { kind: "valid", userId: header };
}

/**
 * The id a request claims, before any key is checked: its valid `X-User-ID`, `~anonymous` when it
 * sent none and anonymous callers are allowed, else the placeholder `~missing` / `~invalid`.
 * The identity stage and the access log both use it, so they never disagree on a name.
 * @example claimedUserId(checkUserId(null), true) // "~anonymous"
 */
export function claimedUserId(check: UserIdCheck, allowAnonymous: boolean): string {
  return check.kind === "missing" && allowAnonymous ? ANONYMOUS_USER : check.userId;
}
