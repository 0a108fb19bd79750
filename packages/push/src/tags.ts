/**
 * Tags and tag expressions, with Notification Hubs' limits: a tag is 1–120 characters of
 * `A-Za-z0-9_@#.:-`, an installation carries at most 60, and an expression (`&&`, `||`, `!`,
 * parentheses; precedence `!` over `&&` over `||`) names at most 20 tags when it uses only `||`
 * and at most 6 otherwise. The special tags `$InstallationId:{id}` and `$UserId:{id}` may appear in
 * expressions (the braces are part of the tag; written without them they are added).
 *
 * A parsed expression evaluates against a tag set, and says which tags a matching installation
 * must carry at least one of ({@link TagExpression.indexTags}), so a fan-out reads the tag index
 * instead of every installation.
 * @module
 */
import { PushError, PushErrorCode } from './errors.ts';

export const MAX_TAG_LENGTH = 120;
export const MAX_TAGS_PER_INSTALLATION = 60;
/** Tags an expression may name when it uses only `||`. */
export const MAX_OR_TAGS = 20;
/** Tags an expression may name when it uses `&&` or `!`. */
export const MAX_MIXED_TAGS = 6;

const TAG_CHAR = /[A-Za-z0-9_@#.:-]/;
const TAG = /^[A-Za-z0-9_@#.:-]{1,120}$/;
const SPECIAL = ['$InstallationId:', '$UserId:'] as const;

/** Checks one caller tag; throws PUSH_INVALID_TAG naming it. */
export function validateTag(tag: unknown): string {
  if (typeof tag !== 'string') {
    throw new PushError(PushErrorCode.InvalidTag, `A tag must be a string, got ${typeof tag}.`, {
      status: 400,
      detail: { reason: 'type' },
    });
  }
  if (TAG.test(tag)) return tag;
  const reason = tag.length === 0 ? 'empty' : tag.length > MAX_TAG_LENGTH ? 'length' : 'charset';
  const why =
    reason === 'empty'
      ? 'is empty'
      : reason === 'length'
        ? `is ${tag.length} characters long, over ${MAX_TAG_LENGTH}`
        : 'has a character outside A-Za-z0-9_@#.:-';
  throw new PushError(PushErrorCode.InvalidTag, `Tag '${tag.slice(0, 130)}' ${why}.`, {
    status: 400,
    detail: { tag: tag.slice(0, 130), reason },
  });
}

/** Validates and deduplicates a tag list (order kept); at most `max` tags. */
export function validateTags(tags: unknown, max = MAX_TAGS_PER_INSTALLATION): string[] {
  if (!Array.isArray(tags)) {
    throw new PushError(PushErrorCode.InvalidTag, 'Tags must be an array of strings.', {
      status: 400,
      detail: { reason: 'type' },
    });
  }
  const unique = [...new Set(tags.map(validateTag))];
  if (unique.length > max) {
    throw new PushError(PushErrorCode.InvalidTag, `${unique.length} tags given; at most ${max} are allowed.`, {
      status: 400,
      detail: { reason: 'count', count: unique.length, limit: max },
    });
  }
  return unique;
}

export type TagNode =
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'not'; readonly operand: TagNode }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly TagNode[] };

export interface TagExpression {
  readonly source: string;
  readonly root: TagNode;
  /** Distinct tags named. */
  readonly tags: readonly string[];
  /** True when the expression uses only `||` (no `&&`, no `!`). */
  readonly orOnly: boolean;
  /** Whether a set of tags satisfies the expression. */
  matches(tags: ReadonlySet<string>): boolean;
  /**
   * Tags of which every match carries at least one, or undefined when a match may carry none (a
   * top-level `!`): then only a scan finds every match. For an expression of `||` only, exactly
   * the installations carrying one of these tags match.
   */
  readonly indexTags: readonly string[] | undefined;
}

type Token = { kind: '&&' | '||' | '!' | '(' | ')' | 'tag' | 'end'; text: string; pos: number };

function syntax(source: string, pos: number, message: string, expected: string): PushError {
  return new PushError(PushErrorCode.TagExpressionInvalid, `Tag expression at position ${pos}: ${message}.`, {
    status: 400,
    detail: { position: pos, expected, expression: source.slice(0, 200) },
  });
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '&' || c === '|') {
      if (source[i + 1] !== c) throw syntax(source, i, `'${c}' must be doubled ('${c}${c}')`, `${c}${c}`);
      tokens.push({ kind: c === '&' ? '&&' : '||', text: c + c, pos: i });
      i += 2;
    } else if (c === '!' || c === '(' || c === ')') {
      tokens.push({ kind: c, text: c, pos: i });
      i++;
    } else if (c === '$') {
      const prefix = SPECIAL.find((p) => source.startsWith(p, i));
      if (prefix === undefined)
        throw syntax(source, i, "only $InstallationId: and $UserId: tags start with '$'", 'tag');
      let j = i + prefix.length;
      let value: string;
      if (source[j] === '{') {
        const close = source.indexOf('}', j);
        if (close < 0) throw syntax(source, j, `'{' of ${prefix} is not closed`, '}');
        value = source.slice(j + 1, close);
        j = close + 1;
      } else {
        const start = j;
        while (j < source.length && TAG_CHAR.test(source[j]!)) j++;
        value = source.slice(start, j);
      }
      if (value.length === 0) throw syntax(source, i + prefix.length, `${prefix} names no id`, 'id');
      tokens.push({ kind: 'tag', text: `${prefix}{${value}}`, pos: i });
      i = j;
    } else if (TAG_CHAR.test(c)) {
      const start = i;
      while (i < source.length && TAG_CHAR.test(source[i]!)) i++;
      const text = source.slice(start, i);
      if (text.length > MAX_TAG_LENGTH) {
        throw syntax(source, start, `tag is ${text.length} characters long, over ${MAX_TAG_LENGTH}`, 'tag');
      }
      tokens.push({ kind: 'tag', text, pos: start });
    } else {
      throw syntax(source, i, `unexpected character '${c}'`, 'tag, operator or parenthesis');
    }
  }
  tokens.push({ kind: 'end', text: '', pos: source.length });
  return tokens;
}

/** Parses and checks the limits; throws PUSH_TAG_EXPRESSION_INVALID (with the position) or …_TOO_COMPLEX. */
export function parseTagExpression(source: unknown): TagExpression {
  if (typeof source !== 'string') throw syntax(String(source), 0, 'the expression must be a string', 'tag');
  const tokens = tokenize(source);
  let at = 0;
  const peek = () => tokens[at]!;
  const next = () => tokens[at++]!;
  const describe = (t: Token) => (t.kind === 'end' ? 'the end' : `'${t.text}'`);

  const parseOr = (): TagNode => {
    const operands = [parseAnd()];
    while (peek().kind === '||') {
      next();
      operands.push(parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'or', operands };
  };
  const parseAnd = (): TagNode => {
    const operands = [parseUnary()];
    while (peek().kind === '&&') {
      next();
      operands.push(parseUnary());
    }
    return operands.length === 1 ? operands[0]! : { kind: 'and', operands };
  };
  const parseUnary = (): TagNode => {
    const t = next();
    if (t.kind === '!') return { kind: 'not', operand: parseUnary() };
    if (t.kind === 'tag') return { kind: 'tag', tag: t.text };
    if (t.kind === '(') {
      const inner = parseOr();
      const close = next();
      if (close.kind !== ')') throw syntax(source, close.pos, `expected ')' but found ${describe(close)}`, ')');
      return inner;
    }
    throw syntax(source, t.pos, `expected a tag, '!' or '(' but found ${describe(t)}`, 'tag');
  };

  const root = parseOr();
  const last = peek();
  if (last.kind !== 'end') throw syntax(source, last.pos, `unexpected ${describe(last)}`, "'&&', '||' or the end");

  const tags = [...new Set(tokens.filter((t) => t.kind === 'tag').map((t) => t.text))];
  const orOnly = tokens.every((t) => t.kind !== '&&' && t.kind !== '!');
  const limit = orOnly ? MAX_OR_TAGS : MAX_MIXED_TAGS;
  if (tags.length > limit) {
    throw new PushError(
      PushErrorCode.TagExpressionTooComplex,
      `The tag expression names ${tags.length} tags; at most ${limit} are allowed ${orOnly ? 'with only ||' : 'with && or !'}.`,
      { status: 400, detail: { tags: tags.length, limit, orOnly } },
    );
  }
  return { source, root, tags, orOnly, matches: compile(root), indexTags: required(root) };
}

function compile(node: TagNode): (tags: ReadonlySet<string>) => boolean {
  switch (node.kind) {
    case 'tag': {
      const tag = node.tag;
      return (tags) => tags.has(tag);
    }
    case 'not': {
      const inner = compile(node.operand);
      return (tags) => !inner(tags);
    }
    case 'and': {
      const parts = node.operands.map(compile);
      return (tags) => parts.every((p) => p(tags));
    }
    case 'or': {
      const parts = node.operands.map(compile);
      return (tags) => parts.some((p) => p(tags));
    }
  }
}

/** A sufficient tag set: every match carries one of them; undefined when none can be named. */
function required(node: TagNode): string[] | undefined {
  switch (node.kind) {
    case 'tag':
      return [node.tag];
    case 'not':
      return undefined;
    case 'or': {
      const all = new Set<string>();
      for (const operand of node.operands) {
        const r = required(operand);
        if (r === undefined) return undefined;
        for (const t of r) all.add(t);
      }
      return [...all];
    }
    case 'and': {
      let best: string[] | undefined;
      for (const operand of node.operands) {
        const r = required(operand);
        if (r !== undefined && (best === undefined || r.length < best.length)) best = r;
      }
      return best;
    }
  }
}
