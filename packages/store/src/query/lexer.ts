/**
 * Tokens of the Cosmos SQL subset. Every token carries its 1-based position so that errors can
 * name where the query went wrong.
 * @module
 */
import { StoreError } from '../errors.ts';

export type TokenKind = 'ident' | 'number' | 'string' | 'param' | 'punct' | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Identifier or punctuation text, string contents, parameter name with `@`. */
  readonly text: string;
  readonly number?: number;
  /** 1-based offset of the first character. */
  readonly pos: number;
}

export function queryError(message: string, position: number): StoreError {
  return new StoreError('STORE_INVALID_QUERY', `${message} (at position ${position})`, { detail: { position } });
}

const twoChar = new Set(['!=', '<>', '<=', '>=']);
const oneChar = new Set(['*', ',', '.', '(', ')', '[', ']', '{', '}', ':', '=', '<', '>', '-']);
const escapes: Record<string, string> = {
  "'": "'",
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

/** Splits `text` into tokens; the last is `eof`. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    const pos = i + 1;
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length && isIdentPart(text[j]!)) j++;
      tokens.push({ kind: 'ident', text: text.slice(i, j), pos });
      i = j;
    } else if (c === '@') {
      let j = i + 1;
      while (j < text.length && isIdentPart(text[j]!)) j++;
      if (j === i + 1 || !isIdentStart(text[i + 1]!)) throw queryError('A parameter name must follow @', pos);
      tokens.push({ kind: 'param', text: text.slice(i, j), pos });
      i = j;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      const match = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i))!;
      const value = Number(match[0]);
      if (!Number.isFinite(value)) throw queryError(`The number ${match[0].slice(0, 32)} is out of range`, pos);
      if (isIdentPart(text[i + match[0].length] ?? '')) throw queryError('Malformed number', pos);
      tokens.push({ kind: 'number', text: match[0], number: value, pos });
      i += match[0].length;
    } else if (c === "'" || c === '"') {
      const [value, end] = readString(text, i);
      tokens.push({ kind: 'string', text: value, pos });
      i = end;
    } else if (twoChar.has(text.slice(i, i + 2))) {
      tokens.push({ kind: 'punct', text: text.slice(i, i + 2), pos });
      i += 2;
    } else if (oneChar.has(c)) {
      tokens.push({ kind: 'punct', text: c, pos });
      i++;
    } else {
      throw queryError(`Unexpected character ${JSON.stringify(c)}`, pos);
    }
  }
  tokens.push({ kind: 'eof', text: '', pos: text.length + 1 });
  return tokens;
}

function readString(text: string, start: number): [string, number] {
  const quote = text[start];
  let out = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === quote) return [out, i + 1];
    if (c !== '\\') {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1];
    if (e === 'u') {
      const hex = text.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw queryError('Malformed \\u escape in a string', i + 1);
      out += String.fromCharCode(Number.parseInt(hex, 16));
      i += 6;
    } else if (e !== undefined && Object.hasOwn(escapes, e)) {
      out += escapes[e];
      i += 2;
    } else {
      throw queryError('Unknown escape in a string', i + 1);
    }
  }
  throw queryError('Unterminated string', start + 1);
}
