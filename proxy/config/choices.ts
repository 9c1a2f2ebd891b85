// The fixed sets of words some configuration keys take. They live here, not
// with the code that acts on them, so that the configuration names them
// without loading that code (the socketmap server, the logger).

/** Which client a socketmap listener serves: decides the reply limit and `%` escaping. */
export const DIALECTS = ['postfix', 'sendmail'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** How a socketmap map answers "not found": MeTA1 also knows NOMORE (not found, stop searching). */
export const NOT_FOUND_CODES = ['NOTFOUND', 'NOMORE'] as const;
export type NotFoundCode = (typeof NOT_FOUND_CODES)[number];

/** The answer to a socketmap map that is not served. */
export const UNKNOWN_MAP_ANSWERS = ['PERM', 'NOTFOUND'] as const;
export type UnknownMapAnswer = (typeof UNKNOWN_MAP_ANSWERS)[number];
/** The answer to a table the function does not have (and nothing of it cached): TEMP delays mail, PERM is not found to Sendmail. */
export const MISSING_TABLE_ANSWERS = ['TEMP', 'PERM'] as const;
export type MissingTableAnswer = (typeof MISSING_TABLE_ANSWERS)[number];

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
