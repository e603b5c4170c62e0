/**
 * @module usage
 * Finds `usage.total_tokens` in an OpenAI-style JSON body or server-sent event.
 */

/** `usage.total_tokens` from a parsed JSON value, or null. */
export function totalTokensOf(value: unknown): number | null {
  if (value === null || typeof value !== "object") return null;
  const usage = (value as { usage?: unknown }).usage;
  if (usage === null || typeof usage !== "object") return null;
  const total = (usage as { total_tokens?: unknown }).total_tokens;
  return typeof total === "number" && Number.isFinite(total) ? Math.round(total) : null;
}

/** `usage.total_tokens` from a JSON response body's text, or null when absent or not JSON. */
export function totalTokensInJson(text: string): number | null {
  try {
    return totalTokensOf(JSON.parse(text));
  } catch {
    return null;
  }
}

/** `usage.total_tokens` from one server-sent event (its `data:` lines), or null. */
export function totalTokensInEvent(event: string): number | null {
  if (!event.includes('"usage"')) return null;
  const data = event
    .split(/\r\n|\r|\n/)
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  return data && data !== "[DONE]" ? totalTokensInJson(data) : null;
}
