// The building blocks of the configuration schema (schema.ts) and the three
// things done with it: parse a file's tree into the typed configuration
// (defaults filled, unknown keys refused), overlay command-line flags through
// the same kinds, and list every key for the README's reference table.
//
// A schema is a tree. Its nodes are named for the property the code reads
// (`deadlineMs`) and carry the key the file writes (`deadline_ms`):
//   key      one value of a Kind (kinds.ts), with its default and doc;
//   section  a TOML table of known keys ([upstream]);
//   named    a table of tables keyed by a name the user chooses ([tables.NAME]);
//   list     an array of tables ([[sockmap.listen]]).
// Out<N> is the TypeScript type a node parses to; config.ts checks that it
// is exactly the `Config` the rest of the code uses.

import { ConfigError, type Kind } from './kinds.js';

interface KeyOptions {
  /** One line for the README. */
  doc: string;
  /** The flag that overrides this key, on the commands that offer it. */
  flag?: string;
  /** How the README shows the default when it is not a plain value. */
  defaultDoc?: string;
}

export interface KeyNode<T = unknown, Optional extends boolean = boolean> extends KeyOptions {
  node: 'key';
  file: string;
  kind: Kind<T>;
  optional: Optional;
  /** The default as the file would write it (seconds, "0660"…), parsed like a file value. */
  default?: unknown;
  /** The default is another key's value (its dotted file path, parsed before this one). */
  defaultFrom?: string;
  /** The default is the NAME of the enclosing [x.NAME] table. */
  defaultIsName?: boolean;
  /** No default: the key must be given. */
  required?: boolean;
}

export interface SectionNode<F extends Fields = Fields> {
  node: 'section';
  file: string;
  fields: F;
  /** Rules across this section's keys, run on the parsed value. */
  check?: (value: never, where: string) => void;
}

export interface NamedNode<I extends SectionNode = SectionNode> {
  node: 'named';
  file: string;
  nameKind: Kind<string>;
  item: I;
}

export interface ListNode<I extends SectionNode = SectionNode> {
  node: 'list';
  file: string;
  item: I;
  default: unknown[];
  doc: string;
  defaultDoc: string;
  flag?: string;
}

export type Node = KeyNode | SectionNode | NamedNode | ListNode;
export type Fields = Record<string, Node>;

type OptionalFields<F extends Fields> = { [K in keyof F]: F[K] extends KeyNode<unknown, true> ? K : never }[keyof F];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The type a node parses to. */
export type Out<N> =
  N extends KeyNode<infer T, boolean>
    ? T
    : N extends SectionNode<infer F>
      ? Simplify<{ [K in Exclude<keyof F, OptionalFields<F>>]: Out<F[K]> } & { [K in OptionalFields<F>]?: Out<F[K]> }>
      : N extends NamedNode<infer I>
        ? Record<string, Out<I>>
        : N extends ListNode<infer I>
          ? Out<I>[]
          : never;

/** A key with a default: `default` as the file writes it, or `defaultFrom` another key, or `defaultIsName`. */
export function key<T>(file: string, kind: Kind<T>, o: KeyOptions & { default?: unknown; defaultFrom?: string; defaultIsName?: boolean; required?: boolean }): KeyNode<T, false> {
  if (o.default === undefined && o.defaultFrom === undefined && !o.defaultIsName && !o.required) throw new Error(`schema: ${file} needs a default, or required, or optionalKey`);
  return { node: 'key', file, kind, optional: false, ...o };
}

/** A key that may be absent (the code sees `undefined`): say in `defaultDoc` what absence means. */
export function optionalKey<T>(file: string, kind: Kind<T>, o: KeyOptions & { defaultDoc: string }): KeyNode<T, true> {
  return { node: 'key', file, kind, optional: true, ...o };
}

export function section<F extends Fields>(file: string, fields: F, check?: (value: Out<SectionNode<F>>, where: string) => void): SectionNode<F> {
  return { node: 'section', file, fields, ...(check && { check: check as (value: never, where: string) => void }) };
}

export function named<I extends SectionNode>(file: string, nameKind: Kind<string>, item: I): NamedNode<I> {
  return { node: 'named', file, nameKind, item };
}

export function list<I extends SectionNode>(file: string, item: I, o: { default: unknown[]; doc: string; defaultDoc: string; flag?: string }): ListNode<I> {
  return { node: 'list', file, item, ...o };
}

type Raw = Record<string, unknown>;

/** What parsing has seen so far: values by dotted file path (for defaultFrom), and the name of the enclosing [x.NAME]. */
interface Context {
  values: Map<string, unknown>;
  name?: string;
}

function table(raw: unknown, where: string): Raw {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${where} must be a table`);
  return raw as Raw;
}

function join(path: string, file: string): string {
  return path === '' ? file : `${path}.${file}`;
}

/** Parses a file's tree (or a part of it) with `node`; `path` is the dotted key of `raw` (empty at the top). */
export function parseNode<N extends Node>(node: N, raw: unknown, path: string, ctx: Context = { values: new Map() }): Out<N> {
  return parseAny(node, raw, path, ctx) as Out<N>;
}

function parseAny(node: Node, raw: unknown, path: string, ctx: Context): unknown {
  switch (node.node) {
    case 'key':
      return parseKey(node, raw, path, ctx);
    case 'section': {
      const r = table(raw, path === '' ? 'the configuration' : `[${path}]`);
      const known = Object.values(node.fields).map((f) => f.file);
      for (const k of Object.keys(r)) {
        if (known.includes(k)) continue;
        throw new ConfigError(path === '' ? `unknown section [${k}] (known: ${known.join(', ')})` : `[${path}]: unknown key ${k} (known: ${known.join(', ')})`);
      }
      const out: Raw = {};
      for (const [prop, field] of Object.entries(node.fields)) {
        const value = parseAny(field, r[field.file], join(path, field.file), ctx);
        if (value !== undefined) out[prop] = value;
      }
      node.check?.(out as never, path);
      return out;
    }
    case 'named': {
      const out: Raw = {};
      for (const [name, value] of Object.entries(table(raw, `[${path}]`))) {
        node.nameKind.parse(name, `${path}: ${JSON.stringify(name)}`);
        out[name] = parseAny(node.item, value, `${path}.${name}`, { ...ctx, name });
      }
      return out;
    }
    case 'list': {
      // A list whose default is empty is optional (upstream.endpoints); given, it must hold something.
      if (raw === undefined && Array.isArray(node.default) && node.default.length === 0) return [];
      const items = raw === undefined ? node.default : raw;
      if (!Array.isArray(items) || items.length === 0) throw new ConfigError(`${path} must be a non-empty list of [[${path}]] tables`);
      return items.map((item, i) => parseAny(node.item, item, `${path}[${i}]`, ctx));
    }
  }
}

function parseKey(node: KeyNode, raw: unknown, path: string, ctx: Context): unknown {
  let value: unknown;
  if (raw !== undefined) value = node.kind.parse(raw, path);
  else if (node.required) throw new ConfigError(`${path} is required`);
  else if (node.default !== undefined) value = node.kind.parse(node.default, path);
  else if (node.defaultIsName) value = node.kind.parse(ctx.name, path);
  else if (node.defaultFrom !== undefined) {
    if (!ctx.values.has(node.defaultFrom)) throw new Error(`schema: ${path} defaults to ${node.defaultFrom}, which is not parsed before it`);
    value = ctx.values.get(node.defaultFrom);
  }
  ctx.values.set(path, value);
  return value;
}

/** The key or list node at a dotted file path of fixed sections, and the sections leading to it. */
function find(root: SectionNode, path: string): { node: KeyNode | ListNode; parents: string[] } {
  const parts = path.split('.');
  let at: Node = root;
  for (const part of parts) {
    const next: Node | undefined = at.node === 'section' ? Object.values(at.fields).find((f) => f.file === part) : undefined;
    if (!next) throw new Error(`schema: no key ${path}`);
    at = next;
  }
  if (at.node !== 'key' && at.node !== 'list') throw new Error(`schema: ${path} is not a key`);
  return { node: at, parents: parts };
}

/** The dotted file path of the key (or list) each flag overrides. */
export function flagPaths(node: Node, path = ''): Map<string, string> {
  const out = new Map<string, string>();
  if ((node.node === 'key' || node.node === 'list') && node.flag) out.set(node.flag, path);
  if (node.node === 'section') for (const f of Object.values(node.fields)) for (const [flag, p] of flagPaths(f, join(path, f.file))) out.set(flag, p);
  return out;
}

/**
 * Puts a flag's value into a file's tree at `path`, after checking it with
 * the key's own kind, so a flag is refused exactly as the file would refuse
 * it, with the flag named. Text from the command line is read as the file
 * would write it (numbers, booleans, comma-separated lists).
 */
export function overlay(root: SectionNode, tree: Raw, path: string, value: unknown, flag: string): void {
  const { node, parents } = find(root, path);
  let fileValue = value;
  if (node.node === 'key') {
    if (typeof value === 'string' && node.kind.fromText) fileValue = node.kind.fromText(value);
    node.kind.parse(fileValue, flag);
  } else {
    if (!Array.isArray(value) || value.length === 0) throw new ConfigError(`${flag} needs at least one value`);
    value.forEach((item) => parseAny(node.item, item, flag, { values: new Map() }));
  }
  let at = tree;
  for (const part of parents.slice(0, -1)) {
    const next = table(at[part], `[${part}]`);
    at[part] = next;
    at = next;
  }
  at[parents.at(-1)!] = fileValue;
}

export interface ReferenceRow {
  key: string;
  default: string;
  type: string;
  doc: string;
}

/** Every key of the schema, in order, as the README's reference table lists them. */
export function referenceRows(node: Node, path = ''): ReferenceRow[] {
  switch (node.node) {
    case 'key':
      return [{ key: path, default: defaultText(node), type: node.kind.describe, doc: withFlag(node.doc, node.flag) }];
    case 'section':
      return Object.values(node.fields).flatMap((f) => referenceRows(f, join(path, f.file)));
    case 'named':
      return referenceRows(node.item, `${path}.NAME`);
    case 'list':
      return [
        { key: path, default: node.defaultDoc, type: `list of [[${path}]] tables`, doc: withFlag(node.doc, node.flag) },
        ...referenceRows(node.item, `${path}[]`),
      ];
  }
}

function withFlag(doc: string, flag: string | undefined): string {
  return flag ? `${doc} (flag \`${flag}\`)` : doc;
}

function defaultText(node: KeyNode): string {
  if (node.defaultDoc !== undefined) return node.defaultDoc;
  if (node.default !== undefined) return `\`${node.kind.show ? node.kind.show(node.default) : String(node.default)}\``;
  if (node.defaultFrom !== undefined) return `\`${node.defaultFrom}\``;
  if (node.defaultIsName) return '`NAME`';
  return node.required ? 'required' : '';
}
