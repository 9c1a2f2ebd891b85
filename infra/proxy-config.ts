// The hosts' side of a deployment: the lines of /etc/cloudtable/cloudtable.toml
// that point the proxy (and an operator's `cloudtable load`) at it, printed
// as stack outputs. A stack output is one line, so each section is a TOML
// inline table.

/**
 * The `[upstream]` section (the reader) on one line; the same configuration as
 *
 *   [upstream]
 *   url = "…"
 *   region = "…"
 */
export function upstreamToml(url: string, region: string): string {
  return `upstream = { url = "${url}", region = "${region}" }`;
}

/** The `[admin]` section (the admin function) on one line, for operators. */
export function adminToml(url: string, region: string): string {
  return `admin = { url = "${url}", region = "${region}" }`;
}
