// The small table set `npm start` loads, one table per common smtpd.conf use.
// The credentials hash is sha512-crypt of "secret", as `smtpctl encrypt` makes.

export interface SampleTable {
  name: string;
  service: string;
  entries: Array<[string, string]>;
}

export const SAMPLE_TABLES: SampleTable[] = [
  {
    name: 'aliases',
    service: 'alias',
    entries: [
      ['root', 'alice'],
      ['postmaster', 'root'],
      ['abuse', 'root, security@example.org'],
      ['devnull', '/dev/null'],
    ],
  },
  {
    name: 'virtual',
    service: 'alias',
    entries: [
      ['alice@example.org', 'alice'],
      ['bob@example.org', 'bob'],
      ['sales@example.org', 'alice, bob'],
    ],
  },
  {
    name: 'domains',
    service: 'domain',
    entries: [
      ['example.org', 'example.org'],
      ['example.net', 'example.net'],
    ],
  },
  {
    name: 'passwd',
    service: 'credentials',
    entries: [['alice', 'alice:$6$U44ZZsU3qGbqtf3n$xt.EGbtTP5yeXFqUKCtfyED1playnb/RD/DmKL7K1WYfIOZKTsJfkd6h7ltNXWXdedyDmYLmsHqrodEUzjmEx0']],
  },
  {
    name: 'users',
    service: 'userinfo',
    entries: [
      ['alice', '1000:1000:/home/alice'],
      ['bob', '1001:1001:/home/bob'],
    ],
  },
];
