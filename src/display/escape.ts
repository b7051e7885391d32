// Escaping for every context where the display helpers put user text (token
// labels, titles, captions): HTML, plotly's pseudo-HTML labels, and JSON
// embedded in an inline <script>.

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @example
 * escapeHtml("<img src=x onerror=alert(1)>"); // "&lt;img src=x onerror=alert(1)&gt;"
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ENTITIES[character]);
}

/**
 * Escapes text for plotly labels (tick text, titles, hover text, legend names).
 *
 * plotly.js reads a small HTML subset in labels (`<b>`, `<br>`, `<a href>`,
 * `<span style>`) and decodes `&lt;`, `&gt;` and `&amp;`. Escaping those three
 * characters makes plotly draw the text exactly as given.
 */
export function escapePlotlyText(text: string): string {
  return text.replace(/[&<>]/g, (character) => HTML_ENTITIES[character]);
}

/**
 * Serialises a value as JSON that is safe inside an inline `<script>` element.
 *
 * `<`, `>` and `&` become `\u003c`, `\u003e` and `\u0026`, so no string inside
 * can close the script (`</script>`) or open a comment (`<!--`). U+2028 and
 * U+2029 are escaped too because older JavaScript parsers reject them in strings.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * Makes library source safe to inline in a `<script>` element by breaking every
 * `</script` sequence (`<\/script` means the same inside JavaScript strings,
 * regular expressions and comments).
 */
export function scriptSafeSource(source: string): string {
  return source.replace(/<\/(script)/gi, "<\\/$1");
}
