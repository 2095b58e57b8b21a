import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { classifyAddress, isAllowedAddress, isIpLiteral } from '../../src/net/address-policy.js';

const refused = (address: string) => {
  const verdict = classifyAddress(address);
  return verdict.allowed ? 'allowed' : verdict.range;
};

describe('IPv4 special-purpose ranges are refused, first to last address', () => {
  test.each([
    ['0.0.0.0/8', '0.0.0.0', '0.255.255.255', 'this network'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255', 'private'],
    ['100.64.0.0/10', '100.64.0.0', '100.127.255.255', 'shared address space'],
    ['127.0.0.0/8', '127.0.0.0', '127.255.255.255', 'loopback'],
    ['169.254.0.0/16', '169.254.0.0', '169.254.255.255', 'link-local'],
    ['172.16.0.0/12', '172.16.0.0', '172.31.255.255', 'private'],
    ['192.0.0.0/24', '192.0.0.0', '192.0.0.255', 'IETF protocol assignments'],
    ['192.0.2.0/24', '192.0.2.0', '192.0.2.255', 'documentation (TEST-NET-1)'],
    ['192.31.196.0/24', '192.31.196.0', '192.31.196.255', 'AS112'],
    ['192.52.193.0/24', '192.52.193.0', '192.52.193.255', 'AMT'],
    ['192.88.99.0/24', '192.88.99.0', '192.88.99.255', '6to4 relay anycast'],
    ['192.168.0.0/16', '192.168.0.0', '192.168.255.255', 'private'],
    ['192.175.48.0/24', '192.175.48.0', '192.175.48.255', 'AS112 direct delegation'],
    ['198.18.0.0/15', '198.18.0.0', '198.19.255.255', 'benchmarking'],
    ['198.51.100.0/24', '198.51.100.0', '198.51.100.255', 'documentation (TEST-NET-2)'],
    ['203.0.113.0/24', '203.0.113.0', '203.0.113.255', 'documentation (TEST-NET-3)'],
    ['224.0.0.0/4', '224.0.0.0', '239.255.255.255', 'multicast'],
    ['240.0.0.0/4', '240.0.0.0', '255.255.255.254', 'reserved'],
    ['255.255.255.255/32', '255.255.255.255', '255.255.255.255', 'limited broadcast'],
  ])('%s', (_cidr, first, last, name) => {
    expect(refused(first)).toBe(name);
    expect(refused(last)).toBe(name);
  });

  test('the metadata address and the usual private ones', () => {
    for (const a of [
      '169.254.169.254',
      '127.0.0.1',
      '10.1.2.3',
      '192.168.1.1',
      '172.20.0.1',
      '100.100.100.200',
    ]) {
      expect(isAllowedAddress(a)).toBe(false);
    }
  });
});

describe('IPv6 special-purpose ranges are refused', () => {
  test.each([
    ['::/128', '::', 'unspecified'],
    ['::1/128', '::1', 'loopback'],
    ['::/96 (IPv4-compatible)', '::7f00:1', 'IPv4-compatible'],
    ['::/96 (IPv4-compatible, public tail)', '::8.8.8.8', 'IPv4-compatible'],
    ['::ffff:0:0:0/96 (IPv4-translated)', '::ffff:0:7f00:1', 'IPv4-translated'],
    ['64:ff9b::/96 (NAT64)', '64:ff9b::7f00:1', 'NAT64'],
    ['64:ff9b::/96 (NAT64, public tail)', '64:ff9b::808:808', 'NAT64'],
    ['64:ff9b:1::/48', '64:ff9b:1:ffff::1', 'local-use NAT64'],
    ['100::/64', '100::1', 'discard-only'],
    ['100:0:0:1::/64', '100:0:0:1::1', 'dummy prefix'],
    ['2001::/32 (Teredo)', '2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:2::/48', '2001:2::1', 'benchmarking'],
    ['2001::/23 (start)', '2001:1::1', 'IETF protocol assignments'],
    ['2001::/23 (end)', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff', 'IETF protocol assignments'],
    ['2001:db8::/32', '2001:db8::1', 'documentation'],
    ['2001:db8::/32 (end)', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', 'documentation'],
    ['2002::/16 (6to4 of loopback)', '2002:7f00:1::1', '6to4'],
    ['2002::/16 (6to4 of public)', '2002:808:808::1', '6to4'],
    ['2620:4f:8000::/48', '2620:4f:8000::1', 'AS112 direct delegation'],
    ['3fff::/20', '3fff:fff::1', 'documentation'],
    ['5f00::/16', '5f00::1', 'SRv6 SIDs'],
    ['fc00::/7 (fc)', 'fc00::1', 'unique local'],
    ['fc00::/7 (fd)', 'fdff:ffff::1', 'unique local'],
    ['fe80::/10 (start)', 'fe80::1', 'link-local'],
    ['fe80::/10 (not only fe80:)', 'fe9a:1234::1', 'link-local'],
    ['fe80::/10 (end)', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'link-local'],
    ['fec0::/10', 'fec0::1', 'site-local'],
    ['ff00::/8 (all nodes)', 'ff02::1', 'multicast'],
    ['ff00::/8 (global scope)', 'ff0e::1', 'multicast'],
    ['outside 2000::/3', '4000::1', 'not global unicast'],
    ['outside 2000::/3 (low)', '1::1', 'not global unicast'],
  ])('%s', (_name, address, range) => {
    expect(refused(address)).toBe(range);
  });
});

describe('IPv4-mapped addresses are judged as the IPv4 address they carry', () => {
  test.each([
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::FFFF:7F00:0001', 'IPv4-mapped loopback'],
    ['0:0:0:0:0:ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::ffff:169.254.169.254', 'IPv4-mapped link-local'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:0.0.0.0', 'IPv4-mapped this network'],
  ])('%s', (address, range) => {
    expect(refused(address)).toBe(range);
  });

  test('a mapped public address passes', () => {
    expect(refused('::ffff:8.8.8.8')).toBe('allowed');
    expect(refused('::ffff:808:808')).toBe('allowed');
  });
});

describe('every way of writing a loopback or private address is recognised', () => {
  test.each([
    ['decimal', '2130706433', 'loopback'],
    ['hex', '0x7f000001', 'loopback'],
    ['hex parts', '0x7f.0x0.0x0.0x1', 'loopback'],
    ['octal', '0177.0.0.1', 'loopback'],
    ['octal whole', '017700000001', 'loopback'],
    ['short (two parts)', '127.1', 'loopback'],
    ['short (three parts)', '127.0.1', 'loopback'],
    ['short hex', '0x7f.1', 'loopback'],
    ['zero-padded', '127.000.000.001', 'loopback'],
    ['decimal metadata', '2852039166', 'link-local'],
    ['zero', '0', 'this network'],
    ['bracketed v6', '[::1]', 'loopback'],
    ['long v6', '0:0:0:0:0:0:0:1', 'loopback'],
    ['padded v6', '0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
    ['bracketed mapped', '[::ffff:7f00:1]', 'IPv4-mapped loopback'],
    ['v6 with a zone id', 'fe80::1%eth0', 'scoped (zone id)'],
    ['global v6 with a zone id', '2606:4700::1%eth0', 'scoped (zone id)'],
  ])('%s: %s', (_form, address, range) => {
    expect(refused(address)).toBe(range);
  });

  test('what is not an address is refused, never guessed at', () => {
    for (const text of [
      '',
      'localhost',
      'example.com',
      '1.2.3.4.5',
      '256.0.0.1',
      '::ffff::1',
      '[::1',
      '08.0.0.1',
    ]) {
      expect(refused(text)).toBe('not an IP address');
      expect(isIpLiteral(text)).toBe(false);
    }
  });

  test('isIpLiteral tells addresses from names', () => {
    expect(isIpLiteral('127.0.0.1')).toBe(true);
    expect(isIpLiteral('[::1]')).toBe(true);
    expect(isIpLiteral('::ffff:7f00:1')).toBe(true);
    expect(isIpLiteral('localhost')).toBe(false);
    expect(isIpLiteral('cdn.example')).toBe(false);
  });
});

describe('public addresses pass', () => {
  test.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '9.255.255.255',
    '11.0.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.255',
    '192.0.3.0',
    '192.88.98.255',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '203.0.112.255',
    '223.255.255.255',
    '2606:4700::1',
    '2001:4860:4860::8888',
    '2a00:1450:4001:81b::200e',
    '2001:200::1',
    '2001:db9::1',
    '2003::1',
    '2620:4f:7fff::1',
  ])('%s', (address) => {
    expect(classifyAddress(address)).toEqual({ allowed: true, address: ipaddr.parse(address).toString() });
  });
});

describe('properties', () => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

  test('a decimal, hex or mapped spelling of an IPv4 address gets the same verdict as the address', () => {
    fc.assert(
      fc.property(v4, (dotted) => {
        const n = dotted.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
        const allowed = isAllowedAddress(dotted);
        expect(isAllowedAddress(String(n))).toBe(allowed);
        expect(isAllowedAddress(`0x${n.toString(16)}`)).toBe(allowed);
        expect(isAllowedAddress(`::ffff:${dotted}`)).toBe(allowed);
      }),
      { numRuns: 2000 },
    );
  });

  test('whatever ipaddr.js itself names as special is refused here too', () => {
    const v6 = fc
      .tuple(
        fc.constantFrom(
          '2001:',
          '2002:',
          '2620:4f:',
          '3fff:',
          '2400:',
          '2001:0:',
          'fe80:',
          'fc00:',
          '64:ff9b:',
          '',
        ),
        fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }),
      )
      .map(([prefix, groups]) => {
        const head = prefix.split(':').filter(Boolean);
        return [...head, ...groups.slice(head.length).map((g) => g.toString(16))].join(':');
      });
    fc.assert(
      fc.property(fc.oneof(v4, v6), (address) => {
        const range = ipaddr.parse(address).range();
        if (range !== 'unicast' && range !== 'ipv4Mapped') expect(isAllowedAddress(address)).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });
});

test('an IPv4-compatible address is not misread as a mapped one', () => {
  // ipaddr.js alone reads ::8.8.8.8 as ::ffff:8.8.8.8; the policy must judge the address as written.
  expect(classifyAddress('::8.8.8.8')).toEqual({
    allowed: false,
    address: '::808:808',
    range: 'IPv4-compatible',
  });
  expect(classifyAddress('::127.0.0.1')).toMatchObject({ allowed: false, address: '::7f00:1' });
});
