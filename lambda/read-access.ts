// Which IAM principals may read which tables through the reader function.
// IAM lets every mail host call the reader; this narrows it per table, from
// the principal AWS verified and put in the Function URL's request context.
// The rules come from CLOUDTABLE_READ_ACCESS (JSON, set by the CDK
// construct's `access` map, or the local backend's identities file):
//
//   { "passwd": ["arn:aws:iam::123456789012:role/mail-1"], "*": [...] }
//
// A table listed is readable only by the principals listed for it; `*`
// gives the rule for every table not listed; without either, a table is
// readable by every caller IAM lets in (as before there were rules).

import { ContractError, LIMITS } from '../common/contract/lookup.js';
import type { IamPrincipal } from './function-url.js';

export const READ_ACCESS_ENV = 'CLOUDTABLE_READ_ACCESS';

/** Table name (or `*`) → principals allowed to read it. */
export type ReadAccess = Record<string, string[]>;

/**
 * A principal as written in a rule: a role ARN (any session of it), a user
 * ARN, or an account (`123456789012` or `arn:aws:iam::123456789012:root`:
 * every principal of that account).
 */
const ROLE = /^arn:aws:iam::(\d{12}):role\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,64})$/;
const USER = /^arn:aws:iam::(\d{12}):user\/(?:[\x21-\x7e]*\/)?[\w+=,.@-]{1,64}$/;
const ACCOUNT = /^(?:arn:aws:iam::)?(\d{12})(?::root)?$/;
const ASSUMED_ROLE = /^arn:aws:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/[^/]+$/;

/** Checks rules: table names and principal forms; throws an Error naming the first problem. */
export function checkReadAccess(raw: unknown): ReadAccess {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('read access must be an object: table → list of principal ARNs');
  const out: ReadAccess = {};
  for (const [table, list] of Object.entries(raw)) {
    if (table !== '*' && !LIMITS.tableName.test(table)) throw new Error(`read access: ${JSON.stringify(table)} is not a table name`);
    if (!Array.isArray(list)) throw new Error(`read access of ${table}: expected a list of principal ARNs`);
    out[table] = list.map((p) => {
      if (typeof p !== 'string' || !(ROLE.test(p) || USER.test(p) || ACCOUNT.test(p))) {
        throw new Error(`read access of ${table}: ${JSON.stringify(p)} is not a role ARN, user ARN or account id`);
      }
      return p;
    });
  }
  return out;
}

/** The rules of the environment, or undefined when none are set. */
export function readAccessFromEnv(env: NodeJS.ProcessEnv): ReadAccess | undefined {
  const text = env[READ_ACCESS_ENV];
  if (text === undefined || text === '') return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${READ_ACCESS_ENV} is not valid JSON`);
  }
  return checkReadAccess(raw);
}

/** Whether `rule` names this principal. */
export function principalMatches(rule: string, p: IamPrincipal): boolean {
  const account = ACCOUNT.exec(rule);
  if (account) return p.accountId === account[1];
  const user = USER.exec(rule);
  if (user) return p.userArn === rule;
  const role = ROLE.exec(rule);
  if (!role) return false;
  // A session's ARN keeps only the role's name, not its path.
  const session = ASSUMED_ROLE.exec(p.userArn);
  return session !== null && session[1] === role[1] && session[2] === role[2];
}

/** Whether `principal` may read `table`; no rules: everyone. */
export function mayRead(access: ReadAccess | undefined, table: string, principal: IamPrincipal | undefined): boolean {
  if (access === undefined) return true;
  const rules = Object.hasOwn(access, table) ? access[table] : access['*'];
  if (rules === undefined) return true;
  return principal !== undefined && rules.some((r) => principalMatches(r, principal));
}

/** Throws the reader's 403 when the principal may not read the table. */
export function requireRead(access: ReadAccess | undefined, table: string, principal: IamPrincipal | undefined): void {
  if (!mayRead(access, table, principal)) {
    throw new ContractError(403, 'access-denied', `${principal?.userArn ?? 'an unidentified caller'} may not read table ${table}`);
  }
}
