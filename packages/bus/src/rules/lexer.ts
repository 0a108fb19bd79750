/**
 * Tokenizer for the Service Bus SQL filter and rule-action language. Hand-written, one pass,
 * positions are 1-based character offsets into the source (what error messages report).
 * @module
 */
import { BusError, type BusErrorCode } from '../errors.ts';

export const TokenKind = {
  Identifier: 'identifier',
  /** `[delimited name]` or `"quoted name"`: never a keyword. */
  QuotedIdentifier: 'quoted identifier',
  String: 'string',
  Integer: 'integer',
  Decimal: 'decimal',
  Operator: 'operator',
  End: 'end of input',
} as const;
export type TokenKind = (typeof TokenKind)[keyof typeof TokenKind];

export interface Token {
  readonly kind: TokenKind;
  /** The identifier, the decoded string literal, the number's text, or the operator. */
  readonly text: string;
  /** 1-based character offset of the token's first character. */
  readonly position: number;
}

const operators = ['<>', '!=', '>=', '<=', '=', '<', '>', '+', '-', '*', '/', '%', '(', ')', ',', '.', ';'];

const isIdentStart = (c: string): boolean => /[A-Za-z_@$#]/.test(c) || c.charCodeAt(0) > 0x7f;
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_@$#]/.test(c) || c.charCodeAt(0) > 0x7f;
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** Raises the language's syntax error (`BUS_INVALID_FILTER` or `BUS_INVALID_ACTION`). */
export type SyntaxErrorFactory = (message: string, position: number) => BusError;

export function syntaxErrorFactory(code: BusErrorCode, expression: string): SyntaxErrorFactory {
  return (message, position) =>
    new BusError(code, `${message} at position ${position}`, { detail: { position, expression } });
}

/** Splits `source` into tokens, ending with one `End` token. */
export function tokenize(source: string, fail: SyntaxErrorFactory): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= n) throw fail('unterminated string literal', start + 1);
        const d = source[i]!;
        if (d === "'") {
          if (source[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += d;
        i++;
      }
      tokens.push({ kind: TokenKind.String, text, position: start + 1 });
      continue;
    }
    if (c === '[' || c === '"') {
      const close = c === '[' ? ']' : '"';
      let text = '';
      i++;
      for (;;) {
        if (i >= n) throw fail(`unterminated identifier, expected '${close}'`, start + 1);
        const d = source[i]!;
        if (d === close) {
          if (source[i + 1] === close) {
            text += close;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += d;
        i++;
      }
      if (text.length === 0) throw fail('empty identifier', start + 1);
      tokens.push({ kind: TokenKind.QuotedIdentifier, text, position: start + 1 });
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(source[i + 1]))) {
      let decimal = false;
      while (isDigit(source[i])) i++;
      if (source[i] === '.' && isDigit(source[i + 1])) {
        decimal = true;
        i++;
        while (isDigit(source[i])) i++;
      } else if (source[i] === '.' && !isIdentStart(source[i + 1] ?? ' ')) {
        // `5.` is a decimal literal; `5.x` is left for the parser to reject.
        decimal = true;
        i++;
      }
      if (source[i] === 'e' || source[i] === 'E') {
        const expStart = i;
        i++;
        if (source[i] === '+' || source[i] === '-') i++;
        if (!isDigit(source[i])) throw fail('expected digits in exponent', expStart + 1);
        while (isDigit(source[i])) i++;
        decimal = true;
      }
      if (i < n && isIdentPart(source[i]!)) throw fail('invalid number', start + 1);
      tokens.push({
        kind: decimal ? TokenKind.Decimal : TokenKind.Integer,
        text: source.slice(start, i),
        position: start + 1,
      });
      continue;
    }
    if (isIdentStart(c)) {
      while (i < n && isIdentPart(source[i]!)) i++;
      tokens.push({ kind: TokenKind.Identifier, text: source.slice(start, i), position: start + 1 });
      continue;
    }
    const op = operators.find((o) => source.startsWith(o, i));
    if (op === undefined) throw fail(`unexpected character '${c}'`, start + 1);
    i += op.length;
    tokens.push({ kind: TokenKind.Operator, text: op, position: start + 1 });
  }
  tokens.push({ kind: TokenKind.End, text: '', position: n + 1 });
  return tokens;
}
