// The password hash schemes `cloudtable hash` makes, apart from the command
// itself so the CLI can list them without loading bcrypt and sha-crypt.

export const HASH_SCHEMES = ['bcrypt', 'sha512'] as const;
export type HashScheme = (typeof HASH_SCHEMES)[number];
