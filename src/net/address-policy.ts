import ipaddr from 'ipaddr.js';

/**
 * Which IP addresses the bot may connect to when it fetches a link a member wrote. Every special-purpose
 * range of the IANA IPv4 and IPv6 special-purpose registries is refused (and multicast, reserved, site-local),
 * and in IPv6 anything outside global unicast (2000::/3) is refused as well, so a range IANA adds later in
 * unassigned space is refused before this list learns its name. An IPv4-mapped address (::ffff:a.b.c.d) is
 * the IPv4 address itself on a dual-stack socket, so it is judged as that address.
 *
 * Addresses are parsed with ipaddr.js (IPv6 canonicalised by the WHATWG URL parser first), which reads
 * every form a resolver or URL parser may hand over: dotted, shortened (127.1), decimal (2130706433), hex
 * (0x7f000001), octal (0177.0.0.1), IPv6 with an embedded IPv4 tail, with brackets or a zone id.
 */

export type AddressVerdict =
  | { allowed: true; address: string }
  | { allowed: false; address: string; range: string };

type Range = readonly [cidr: string, name: string];

const IPV4_REFUSED: readonly Range[] = [
  ['0.0.0.0/8', 'this network'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared address space'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation (TEST-NET-1)'],
  ['192.31.196.0/24', 'AS112'],
  ['192.52.193.0/24', 'AMT'],
  ['192.88.99.0/24', '6to4 relay anycast'],
  ['192.168.0.0/16', 'private'],
  ['192.175.48.0/24', 'AS112 direct delegation'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation (TEST-NET-2)'],
  ['203.0.113.0/24', 'documentation (TEST-NET-3)'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'limited broadcast'],
  ['240.0.0.0/4', 'reserved'],
];

const IPV6_REFUSED: readonly Range[] = [
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'IPv4-compatible'],
  ['::ffff:0:0:0/96', 'IPv4-translated'],
  ['64:ff9b::/96', 'NAT64'],
  ['64:ff9b:1::/48', 'local-use NAT64'],
  ['100::/64', 'discard-only'],
  ['100:0:0:1::/64', 'dummy prefix'],
  ['2001::/32', 'Teredo'],
  ['2001:2::/48', 'benchmarking'],
  ['2001::/23', 'IETF protocol assignments'],
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', '6to4'],
  ['2620:4f:8000::/48', 'AS112 direct delegation'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'SRv6 SIDs'],
  ['fc00::/7', 'unique local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

const v4Ranges = IPV4_REFUSED.map(([cidr, name]) => [ipaddr.IPv4.parseCIDR(cidr), name] as const);
const v6Ranges = IPV6_REFUSED.map(([cidr, name]) => [ipaddr.IPv6.parseCIDR(cidr), name] as const);

/** Strips the brackets a URL puts around an IPv6 host. */
function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * Parses an address. IPv6 text goes through the WHATWG URL parser first (a strict IPv6 parser whose
 * output is the canonical hex form), because ipaddr.js reads a deprecated IPv4-compatible `::a.b.c.d` as
 * the mapped `::ffff:a.b.c.d`. IPv4 text keeps every form inet_aton accepts (decimal, hex, octal, short).
 */
function parse(text: string): { address: ipaddr.IPv4 | ipaddr.IPv6; zoned: boolean } | undefined {
  if (text.includes(':')) {
    const [bare = '', zone] = text.split('%');
    if (zone === '' || text.split('%').length > 2) return undefined;
    let canonical: string;
    try {
      canonical = unbracket(new URL(`http://[${bare}]/`).hostname);
    } catch {
      return undefined;
    }
    if (!ipaddr.IPv6.isValid(canonical)) return undefined;
    return { address: ipaddr.IPv6.parse(canonical), zoned: zone !== undefined };
  }
  if (!ipaddr.IPv4.isValid(text)) return undefined;
  return { address: ipaddr.IPv4.parse(text), zoned: false };
}

/** Whether `host` (a URL hostname, with or without IPv6 brackets) is an IP address rather than a name. */
export function isIpLiteral(host: string): boolean {
  return parse(unbracket(host.trim())) !== undefined;
}

/** Judges one IP address. Anything that does not parse as an address is refused. */
export function classifyAddress(input: string): AddressVerdict {
  const parsed = parse(unbracket(input.trim()));
  if (!parsed) return { allowed: false, address: input, range: 'not an IP address' };
  if (parsed.address.kind() === 'ipv4') return classifyV4(parsed.address as ipaddr.IPv4);
  const v6 = parsed.address as ipaddr.IPv6;
  const address = v6.toString();
  if (parsed.zoned) return { allowed: false, address, range: 'scoped (zone id)' };
  if (v6.isIPv4MappedAddress()) {
    const inner = classifyV4(v6.toIPv4Address());
    return inner.allowed
      ? { allowed: true, address }
      : { ...inner, address, range: `IPv4-mapped ${inner.range}` };
  }
  for (const [range, name] of v6Ranges) {
    if (v6.match(range)) return { allowed: false, address, range: name };
  }
  if (!v6.match(GLOBAL_UNICAST)) return { allowed: false, address, range: 'not global unicast' };
  return { allowed: true, address };
}

function classifyV4(v4: ipaddr.IPv4): AddressVerdict {
  const address = v4.toString();
  for (const [range, name] of v4Ranges) {
    if (v4.match(range)) return { allowed: false, address, range: name };
  }
  return { allowed: true, address };
}

export function isAllowedAddress(address: string): boolean {
  return classifyAddress(address).allowed;
}

/** Thrown (at connect time) when a link leads to an address the policy refuses; nothing was connected. */
export class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
  readonly code = 'E_REFUSED_ADDRESS';
  constructor(
    readonly host: string,
    readonly verdict: Extract<AddressVerdict, { allowed: false }>,
  ) {
    super(`${host} leads to a refused address (${verdict.address}: ${verdict.range})`);
  }
}
