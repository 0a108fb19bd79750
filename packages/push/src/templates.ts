/**
 * Notification Hubs' template expression language, compiled once per template body:
 *
 * | expression | renders |
 * | --- | --- |
 * | `$(prop)` / `$(prop, n)` | the property (case-insensitive name; empty when absent), clipped to n characters |
 * | `#(prop)` | like `$(prop)`, but a whole JSON string value that renders as a number becomes a JSON number |
 * | `.(prop)` / `.(prop, n)` | the property; over n characters it is cut and ends in `...` (n in all) |
 * | `%(prop)` | the property, URI-encoded |
 * | `'text'`, `"text"` | the text (inside `{…}`) |
 * | `{a + b + …}` | the concatenation, when a whole value is wrapped in braces |
 *
 * Bodies are JSON (expressions in string values) or XML (expressions in the text, values
 * XML-escaped); anything else is PUSH_TEMPLATE_INVALID_BODY. A malformed expression is
 * PUSH_TEMPLATE_SYNTAX with its position, raised when the installation is registered.
 * @module
 */
import { PushError, PushErrorCode } from './errors.ts';

/** Send properties by lower-cased name. */
export type Properties = ReadonlyMap<string, string>;

/** Lower-cases names and turns numbers and booleans into text, once per send. */
export function toProperties(properties: Readonly<Record<string, string | number | boolean>>): Properties {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(properties)) map.set(name.toLowerCase(), String(value));
  return map;
}

type Segment =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: '$' | '#' | '.' | '%'; readonly name: string; readonly n: number | undefined };

/** One string with its expressions, compiled. */
interface CompiledString {
  readonly segments: readonly Segment[];
  /** A lone `#(prop)`: renders as a JSON number when the value is one. */
  readonly numeric: boolean;
  /** Written as `{…}`: rendered even when it holds only literals. */
  readonly braced: boolean;
}

export interface CompiledTemplate {
  /** True when the body holds no expression (it renders as itself). */
  readonly constant: boolean;
  render(properties: Properties): string;
}

/** Characters of a template body: a platform takes 4 KB, so a larger template is a mistake (or an attack). */
export const MAX_TEMPLATE_BODY = 16_384;
const MAX_TEMPLATE_HEADERS = 32;
const MAX_HEADER_VALUE = 1_024;

const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const OPS = new Set(['$', '#', '.', '%']);

class Scanner {
  readonly text: string;
  readonly template: string;
  pos = 0;

  constructor(text: string, template: string) {
    this.text = text;
    this.template = template;
  }

  fail(message: string, pos = this.pos): never {
    throw new PushError(PushErrorCode.TemplateSyntax, `Template '${this.template}' at position ${pos}: ${message}.`, {
      status: 400,
      detail: { template: this.template, expression: this.text.slice(0, 200), position: pos },
    });
  }

  skipSpace(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++;
  }

  /** At `op(`: reads `op(name[, n])`. */
  property(): Segment {
    const start = this.pos;
    const op = this.text[this.pos] as '$' | '#' | '.' | '%';
    this.pos += 2;
    const close = this.text.indexOf(')', this.pos);
    if (close < 0) this.fail(`'${op}(' is not closed with ')'`, start);
    const inner = this.text.slice(this.pos, close);
    const [rawName = '', rawN, ...rest] = inner.split(',');
    const name = rawName.trim();
    if (name.length === 0 || /[()'"{}+]/.test(name)) this.fail(`'${op}(…)' needs a property name`, start);
    if (rest.length > 0) this.fail(`'${op}(…)' takes a name and at most one length`, start);
    let n: number | undefined;
    if (rawN !== undefined) {
      if (op === '#' || op === '%') this.fail(`'${op}(…)' takes no length`, start);
      if (!/^\s*\d{1,6}\s*$/.test(rawN)) this.fail(`the length in '${op}(…)' must be a whole number`, start);
      n = Number(rawN);
    }
    this.pos = close + 1;
    return { kind: op, name: name.toLowerCase(), n };
  }

  atProperty(): boolean {
    return OPS.has(this.text[this.pos] ?? '') && this.text[this.pos + 1] === '(';
  }
}

/** A string value: `{…}` is a concatenation; otherwise text with expressions inline. */
function compileString(text: string, template: string): CompiledString {
  const s = new Scanner(text, template);
  const segments: Segment[] = [];
  const trimmed = text.trim();
  const braced = trimmed.startsWith('{') && trimmed.endsWith('}');
  if (braced) {
    s.pos = text.indexOf('{') + 1;
    const end = text.lastIndexOf('}');
    for (;;) {
      s.skipSpace();
      if (s.pos >= end) s.fail('expected an expression');
      const c = text[s.pos]!;
      if (c === "'" || c === '"') {
        const close = text.indexOf(c, s.pos + 1);
        if (close < 0 || close > end) s.fail(`the literal is not closed with ${c}`);
        segments.push({ kind: 'text', text: text.slice(s.pos + 1, close) });
        s.pos = close + 1;
      } else if (s.atProperty()) {
        segments.push(s.property());
      } else {
        s.fail(`expected $( #( .( %( or a quoted literal, found '${c}'`);
      }
      s.skipSpace();
      if (s.pos === end) break;
      if (text[s.pos] !== '+') s.fail(`expected '+' or '}', found '${text[s.pos]}'`);
      s.pos++;
    }
  } else {
    let from = 0;
    while (s.pos < text.length) {
      if (s.atProperty()) {
        if (s.pos > from) segments.push({ kind: 'text', text: text.slice(from, s.pos) });
        segments.push(s.property());
        from = s.pos;
      } else {
        s.pos++;
      }
    }
    if (from < text.length) segments.push({ kind: 'text', text: text.slice(from) });
  }
  return { segments, numeric: segments.length === 1 && segments[0]!.kind === '#', braced };
}

function hasExpression(c: CompiledString): boolean {
  return c.braced || c.segments.some((s) => s.kind !== 'text');
}

function renderString(c: CompiledString, properties: Properties): string {
  let out = '';
  for (const seg of c.segments) {
    if (seg.kind === 'text') {
      out += seg.text;
      continue;
    }
    const value = properties.get(seg.name) ?? '';
    switch (seg.kind) {
      case '$':
        out += seg.n === undefined ? value : value.slice(0, seg.n);
        break;
      case '#':
        out += value;
        break;
      case '.':
        out += seg.n === undefined || value.length <= seg.n ? value : `${value.slice(0, Math.max(0, seg.n - 3))}...`;
        break;
      case '%':
        out += encodeURIComponent(value);
        break;
    }
  }
  return out;
}

type JsonShape =
  | { readonly kind: 'const'; readonly value: unknown }
  | { readonly kind: 'string'; readonly compiled: CompiledString }
  | { readonly kind: 'array'; readonly items: readonly JsonShape[] }
  | { readonly kind: 'object'; readonly entries: ReadonlyArray<readonly [string, JsonShape]> };

function shapeOf(value: unknown, template: string): JsonShape {
  if (typeof value === 'string') {
    const compiled = compileString(value, template);
    return hasExpression(compiled) ? { kind: 'string', compiled } : { kind: 'const', value };
  }
  if (Array.isArray(value)) {
    const items = value.map((v) => shapeOf(v, template));
    return items.every((i) => i.kind === 'const') ? { kind: 'const', value } : { kind: 'array', items };
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, shapeOf(v, template)] as const);
    return entries.every(([, s]) => s.kind === 'const') ? { kind: 'const', value } : { kind: 'object', entries };
  }
  return { kind: 'const', value };
}

function build(shape: JsonShape, properties: Properties): unknown {
  switch (shape.kind) {
    case 'const':
      return shape.value;
    case 'string': {
      const text = renderString(shape.compiled, properties);
      return shape.compiled.numeric && NUMBER.test(text) ? Number(text) : text;
    }
    case 'array':
      return shape.items.map((i) => build(i, properties));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, s] of shape.entries) out[k] = build(s, properties);
      return out;
    }
  }
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

function invalidBody(template: string, message: string): PushError {
  return new PushError(PushErrorCode.TemplateInvalidBody, `Template '${template}': ${message}.`, {
    status: 400,
    detail: { template },
  });
}

/** Compiles a template body; throws PUSH_TEMPLATE_INVALID_BODY or PUSH_TEMPLATE_SYNTAX. */
export function compileTemplate(body: unknown, template: string): CompiledTemplate {
  if (typeof body !== 'string' || body.trim().length === 0)
    throw invalidBody(template, 'the body must be a non-empty string');
  if (body.length > MAX_TEMPLATE_BODY) {
    throw invalidBody(template, `the body is ${body.length} characters long, over ${MAX_TEMPLATE_BODY}`);
  }
  const start = body.trimStart()[0];
  if (start === '<') {
    const compiled = compileString(body, template);
    if (!hasExpression(compiled)) return { constant: true, render: () => body };
    const escaped: CompiledString = { segments: compiled.segments, numeric: false, braced: false };
    return {
      constant: false,
      render(properties) {
        const safe = new Map([...properties].map(([k, v]) => [k, v.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!)]));
        return renderString(escaped, safe);
      },
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw invalidBody(template, `the body is neither JSON nor XML (${(err as Error).message})`);
  }
  const shape = shapeOf(parsed, template);
  if (shape.kind === 'const') return { constant: true, render: () => body };
  return { constant: false, render: (properties) => JSON.stringify(build(shape, properties)) };
}

/** Compiles header values; throws PUSH_TEMPLATE_INVALID_BODY when they are not a string map. */
export function compileHeaders(
  headers: unknown,
  template: string,
): (properties: Properties) => Record<string, string> | undefined {
  if (headers === undefined || headers === null) return () => undefined;
  if (typeof headers !== 'object' || Array.isArray(headers)) throw invalidBody(template, 'headers must be an object');
  const entries = Object.entries(headers);
  if (entries.length > MAX_TEMPLATE_HEADERS) throw invalidBody(template, `at most ${MAX_TEMPLATE_HEADERS} headers`);
  const compiled = entries.map(([name, value]) => {
    if (typeof value !== 'string') throw invalidBody(template, `header '${name}' must be a string`);
    if (name.length > 256 || value.length > MAX_HEADER_VALUE) {
      throw invalidBody(
        template,
        `header '${name.slice(0, 40)}' is too long (name 256, value ${MAX_HEADER_VALUE} characters)`,
      );
    }
    return [name, compileString(value, template)] as const;
  });
  return (properties) => Object.fromEntries(compiled.map(([name, c]) => [name, renderString(c, properties)]));
}
