// Who may talk to the server: the Host names it answers (a page on a rebound DNS name must not reach it) and the
// origins whose pages may call its API and event stream (CORS). Pure decisions; server.ts applies them per request.
import { BynerError } from '../errors.js';

export interface OriginPolicyOptions {
  /** The address the server listens on; answered as a Host too. */
  listenHost: string;
  /** More Host names to answer (`--allowed-host`): names or IP addresses, without a port. */
  allowedHosts?: readonly string[];
  /** Origins (`scheme://host[:port]`) of other sites whose pages may call the API (`--cors-origin`). */
  corsOrigins?: readonly string[];
}

/** Why a request is refused, as the JSON body says it. */
export interface Refusal {
  status: 403 | 421;
  error: string;
  expected: string;
  received: string;
  hint: string;
}

export type SiteDecision = { allowed: true; corsOrigin?: string } | { allowed: false; refusal: Refusal };

/** Request headers the policy reads (Node's lower-case names). */
export interface SiteHeaders {
  host?: string;
  origin?: string;
  'sec-fetch-site'?: string;
}

/** Always answered: the loopback names. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];
const NAME = /^[a-z0-9_.-]+$/;
const IPV6 = /^[0-9a-f:.]+$/;
/** Request headers a cross-origin page may send (EventSource sends Last-Event-ID when it reconnects). */
const CORS_REQUEST_HEADERS = 'accept, cache-control, last-event-id';
const CORS_MAX_AGE_S = 600;

/** A host name or address in the form hosts are compared in: lower case, no brackets, no trailing dot. */
function canonicalHost(name: string): string {
  let h = name.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  if (h.startsWith('::ffff:') && h.includes('.')) h = h.slice(7); // IPv4-mapped IPv6
  return h;
}

/** Splits a Host header into its name (canonical) and port; null when it is not `name[:port]` or `[v6][:port]`. */
export function parseHostHeader(header: string): { name: string; port: number | null } | null {
  const h = header.trim().toLowerCase();
  let name: string;
  let rest: string;
  if (h.startsWith('[')) {
    const close = h.indexOf(']');
    if (close < 0) return null;
    name = h.slice(1, close);
    rest = h.slice(close + 1);
    if (!IPV6.test(name)) return null;
  } else {
    const colon = h.indexOf(':');
    name = colon < 0 ? h : h.slice(0, colon);
    rest = colon < 0 ? '' : h.slice(colon);
    if (!NAME.test(name)) return null;
  }
  if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
  name = canonicalHost(name);
  return name === '' ? null : { name, port: rest === '' ? null : Number(rest.slice(1)) };
}

/** `scheme://host[:port]` as browsers serialize it in the Origin header; throws BYNER_CONFIG otherwise. */
export function canonicalOrigin(origin: string): string {
  const bad = (why: string) =>
    new BynerError('BYNER_CONFIG', `invalid CORS origin: ${why}`, {
      expected: 'an origin such as http://localhost:3000 or https://app.example.com (no path, no *)',
      received: JSON.stringify(origin),
    });
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw bad('only http and https origins');
  if (url.username || url.password || url.search || url.hash || !/^[a-z]+:\/\/[^/]+\/?$/i.test(origin)) {
    throw bad('an origin has no path, query or credentials');
  }
  return url.origin;
}

export class OriginPolicy {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;

  constructor(readonly options: OriginPolicyOptions) {
    this.hosts = new Set(
      [...LOOPBACK, options.listenHost, ...(options.allowedHosts ?? [])].map(canonicalHost),
    );
    this.origins = new Set((options.corsOrigins ?? []).map(canonicalOrigin));
  }

  /**
   * Refuses (421) a Host that is not one of ours: the loopback names, the listen address, the `--allowed-host`
   * names, or the address the connection arrived at (`localAddress`, e.g. a LAN address when listening on
   * 0.0.0.0). Any port. A page on a rebound DNS name sends its own name, so it is refused.
   */
  checkHost(header: string | undefined, localAddress: string | undefined): Refusal | null {
    const parsed = header === undefined ? null : parseHostHeader(header);
    if (
      parsed !== null &&
      (this.hosts.has(parsed.name) ||
        (localAddress !== undefined && parsed.name === canonicalHost(localAddress)))
    ) {
      return null;
    }
    const shown = [...this.hosts].map((h) => (h.includes(':') ? `[${h}]` : h)).join(', ');
    const name = parsed?.name ?? 'a-name';
    return {
      status: 421,
      error: 'this server does not answer for that Host',
      expected: `a Host of ${shown} (any port), or a name given with --allowed-host`,
      received: header === undefined ? 'no Host header' : JSON.stringify(header),
      hint: `to reach the server under this name, start it with --allowed-host ${name.includes(':') ? `[${name}]` : name} (names are checked against DNS rebinding)`,
    };
  }

  /**
   * Decides on a request to the API or the event stream. Allowed: same-origin requests (the dashboard page),
   * requests without Origin and without a same-site/cross-site Sec-Fetch-Site (curl, scripts, a typed-in URL),
   * and requests from an origin given with `--cors-origin` (then `corsOrigin` is set for the CORS headers).
   * Everything else is refused with 403: a page of another site must not read the API or start tick production.
   */
  checkSite(headers: SiteHeaders): SiteDecision {
    const { origin } = headers;
    const site = headers['sec-fetch-site'];
    if (origin !== undefined) {
      if (this.isSameOrigin(origin, headers.host)) return { allowed: true };
      const canonical = this.canonicalOrNull(origin);
      if (canonical !== null && this.origins.has(canonical)) return { allowed: true, corsOrigin: canonical };
      return { allowed: false, refusal: this.crossSite(`Origin ${JSON.stringify(origin)}`, origin) };
    }
    if (site === 'cross-site' || site === 'same-site') {
      return { allowed: false, refusal: this.crossSite(`Sec-Fetch-Site: ${site} without an Origin`, null) };
    }
    return { allowed: true };
  }

  /** Headers of the answer to a CORS preflight from an allowed origin. */
  preflightHeaders(corsOrigin: string): Record<string, string> {
    return {
      ...corsHeaders(corsOrigin),
      'access-control-allow-methods': 'GET, HEAD',
      'access-control-allow-headers': CORS_REQUEST_HEADERS,
      'access-control-max-age': String(CORS_MAX_AGE_S),
    };
  }

  private canonicalOrNull(origin: string): string | null {
    try {
      return canonicalOrigin(origin);
    } catch {
      return null;
    }
  }

  /** The page's origin names this server as the request's Host does (http or https: a TLS proxy in front). */
  private isSameOrigin(origin: string, host: string | undefined): boolean {
    const canonical = this.canonicalOrNull(origin);
    const parsed = host === undefined ? null : parseHostHeader(host);
    if (canonical === null || parsed === null) return false;
    const url = new URL(canonical);
    const defaultPort = url.protocol === 'https:' ? 443 : 80;
    const originPort = url.port === '' ? defaultPort : Number(url.port);
    return canonicalHost(url.hostname) === parsed.name && originPort === (parsed.port ?? defaultPort);
  }

  private crossSite(received: string, origin: string | null): Refusal {
    const allowed = [...this.origins];
    return {
      status: 403,
      error: 'cross-site request refused',
      expected: `a request from this server's own page, from a tool that sends no Origin, or from ${
        allowed.length > 0 ? `one of the origins ${allowed.join(', ')}` : 'an origin given with --cors-origin'
      }`,
      received,
      hint:
        origin !== null && this.canonicalOrNull(origin) !== null
          ? `to let pages of ${origin} call the API, start the server with --cors-origin ${this.canonicalOrNull(origin)}`
          : 'a page of another site may not call the API or open the event stream',
    };
  }
}

/** The CORS headers of an answer to an allowed origin. */
export function corsHeaders(corsOrigin: string): Record<string, string> {
  return { 'access-control-allow-origin': corsOrigin, vary: 'Origin' };
}
