// A SigV4-signed JSON POST to an endpoint, with one discipline for every
// call to the function (lookups, listings, admin operations):
// - one time limit per call, kept by an AbortSignal (with the caller's own
//   signal, if any); undici's header and body timers are off, as they run on
//   a coarse clock that fired hundreds of ms early under load;
// - the status is read before the body: a non-200 answer is a CallError
//   (`function-error` with the function's code when its body carries one,
//   else `http-status`), its body read only up to a small bound;
// - a 200 body is read up to a bound, parsed as JSON, then checked by the
//   caller's `parse` (the contract's answer to exactly this request):
//   anything else is `bad-response`, never a partial result;
// - text from the function that echoes the request (keys, signature) is
//   withheld from errors, which end up in logs.
// Interface: signedCall(endpoint, call) → the parsed answer, or CallError.

import { errorText } from '../../common/error-text.js';
import { CallError, type CallFailure } from './call-error.js';
import type { Endpoint } from './endpoint.js';

export interface SignedCall<T> {
  path: string;
  /** The request, serialized as JSON. */
  request: unknown;
  /** The whole call (signing, connecting, the answer read) ends by then. */
  timeoutMs: number;
  /** The caller giving up (a hedge answered, the client left): `aborted`. */
  signal?: AbortSignal;
  /** Largest 200 body accepted. */
  maxResponseBytes: number;
  /** Checks the JSON of a 200 answer and returns what the caller wants; throws (any Error) when it does not fit. */
  parse: (json: unknown) => T;
  /** Strings of the request that must not appear in an error (keys: an smtpd `auth` key is user:password). */
  secrets?: readonly string[];
  /** Put in front of every error message (e.g. the operation's name). */
  label?: string;
}

/** A non-200 body is read this far for the function's error code and message. */
const ERROR_BODY_BYTES = 64 * 1024;

/** Shorter strings would match ordinary words and hide nothing. */
const MIN_ECHO = 4;

export async function signedCall<T>(endpoint: Endpoint, call: SignedCall<T>): Promise<T> {
  const started = performance.now();
  let statusMs: number | undefined;
  let bytes: number | undefined;
  const done = (outcome: 'ok' | CallFailure): void =>
    endpoint.report({ endpoint, path: call.path, outcome, ms: performance.now() - started, ...(statusMs !== undefined && { statusMs }), ...(bytes !== undefined && { bytes }) });
  const prefix = call.label ? `${call.label}: ` : '';
  const fail = (code: CallFailure, message: string, status?: number, functionCode?: string): CallError => {
    done(code);
    return new CallError(code, `${prefix}${message}`, status, functionCode);
  };

  const timer = AbortSignal.timeout(call.timeoutMs);
  const signal = call.signal ? AbortSignal.any([timer, call.signal]) : timer;
  const stopped = (err: unknown): CallError =>
    timer.aborted
      ? fail('timeout', `no answer from ${endpoint.url.origin} within ${call.timeoutMs} ms`)
      : call.signal?.aborted
        ? fail('aborted', `the call to ${endpoint.url.origin} was abandoned`)
        : fail('network', `${endpoint.url.origin}: ${errorText(err)}`);

  const body = JSON.stringify(call.request);
  let headers: Record<string, string>;
  try {
    headers = await endpoint.signer.sign({ method: 'POST', url: endpoint.url, path: call.path, body, headers: { 'content-type': 'application/json' } });
  } catch (err) {
    throw fail('credentials', `cannot sign the request to ${endpoint.url.origin}: ${errorText(err)}`);
  }
  if (signal.aborted) throw stopped(signal.reason);
  const scrub = (text: string): string => withoutEchoes(text, headers, call.secrets ?? []);

  let res;
  try {
    const dispatcher = await endpoint.dispatcher();
    res = await dispatcher.request({ method: 'POST', path: call.path, headers, body, signal, headersTimeout: 0, bodyTimeout: 0 });
  } catch (err) {
    throw stopped(err);
  }
  statusMs = performance.now() - started;
  const status = res.statusCode;
  let text: string;
  try {
    text = await readLimited(res.body, status === 200 ? call.maxResponseBytes : ERROR_BODY_BYTES, status === 200);
    bytes = Buffer.byteLength(text);
  } catch (err) {
    if (err instanceof TooLarge) throw fail('bad-response', `HTTP ${status}: the answer is larger than ${call.maxResponseBytes} bytes`, status);
    throw stopped(err);
  }
  if (status !== 200) {
    const e = functionError(text, scrub);
    if (e) throw fail('function-error', `HTTP ${status} ${e.code}${e.message ? `: ${e.message}` : ''}`, status, e.code);
    throw fail('http-status', `HTTP ${status}`, status);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw fail('bad-response', 'the answer is not valid JSON', status);
  }
  let out: T;
  try {
    out = call.parse(json);
  } catch (err) {
    throw fail('bad-response', scrub(errorText(err)), status);
  }
  done('ok');
  return out;
}

class TooLarge extends Error {}

/** The body as text, at most `max` bytes: beyond it, a 200 answer is refused (TooLarge) and an error answer cut. */
async function readLimited(body: AsyncIterable<Buffer> & { destroy(err?: Error): unknown }, max: number, refuseLarger: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      if (refuseLarger) throw new TooLarge();
      chunks.push(chunk.subarray(0, chunk.length - (size - max)));
      break;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The function's error answer (`{"error": CODE, "message": …}`), its message as `scrub` lets it through; undefined for anything else. */
function functionError(text: string, scrub: (msg: string) => string): { code: string; message?: string } | undefined {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof j !== 'object' || j === null) return undefined;
  const { error, message } = j as { error?: unknown; message?: unknown };
  if (typeof error !== 'string' || !/^[\w.-]{1,64}$/.test(error)) return undefined;
  return { code: error, ...(typeof message === 'string' && { message: scrub(message).slice(0, 500) }) };
}

/** Text that echoes the request's keys, signature or session token is withheld whole. */
function withoutEchoes(text: string, headers: Record<string, string>, keys: readonly string[]): string {
  const secrets = [headers.authorization, headers['x-amz-security-token'], /Signature=([0-9a-f]+)/.exec(headers.authorization ?? '')?.[1]];
  const echoes = secrets.some((x) => x && text.includes(x)) || keys.some((k) => k.length >= MIN_ECHO && text.includes(k));
  return echoes ? '(details withheld: they echo the request)' : text;
}
