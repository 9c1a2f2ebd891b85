// The hosts' side of a deployment: the lines of /etc/cloudtable/cloudtable.toml
// that point the proxy (and an operator's `cloudtable load`) at it, printed
// as stack outputs. A stack output is one line, so each section is a TOML
// inline table.

export interface Endpoint {
  url: string;
  region: string;
}

/**
 * The `[upstream]` section (the readers) on one line. One endpoint is the
 * same configuration as
 *
 *   [upstream]
 *   url = "…"
 *   region = "…"
 *
 * and several (one per region, home first) the same as one
 * `[[upstream.endpoints]]` table each, with its url and region.
 */
export function upstreamToml(endpoints: Endpoint[]): string {
  if (endpoints.length === 1) return `upstream = { url = "${endpoints[0]!.url}", region = "${endpoints[0]!.region}" }`;
  const list = endpoints.map((e) => `{ url = "${e.url}", region = "${e.region}" }`).join(', ');
  return `upstream = { region = "${endpoints[0]!.region}", endpoints = [${list}] }`;
}

/** The `[admin]` section (the admin function) on one line, for operators. */
export function adminToml(url: string, region: string): string {
  return `admin = { url = "${url}", region = "${region}" }`;
}
