// The mail host's side of a deployment: the lines of /etc/cloudtable/cloudtable.toml
// that point the proxy at it, printed as stack outputs.

/**
 * The `[upstream]` section as one TOML line (an inline table), since a stack
 * output is one line. It parses to the same configuration as
 *
 *   [upstream]
 *   url = "…"
 *   region = "…"
 */
export function upstreamToml(url: string, region: string): string {
  return `upstream = { url = "${url}", region = "${region}" }`;
}
