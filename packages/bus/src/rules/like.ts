/**
 * `LIKE` without regular expressions. A pattern is split at its `%` wildcards into segments of
 * literal code points and `_` (any one code point). The first segment must match at the start of
 * the text, the last at its end, and each segment in between is found leftmost: segments have a
 * fixed length, so the leftmost match always leaves the most room for the rest and no choice is
 * ever revisited. Worst case O(pattern × text) comparisons, none of them exponential, and every
 * comparison is charged to an {@link EvaluationBudget} so one message cannot hold the event loop.
 *
 * Text is compared by code point (a surrogate pair is one character, a lone surrogate too) and
 * case-sensitively; the escape character makes the next character literal, whatever it is.
 * @module
 */
import { BusError } from '../errors.ts';

/** Comparisons one filter (or action) evaluation may spend on `LIKE` before it fails. */
export const maxEvaluationSteps = 1_000_000;

/** `_` in a segment: any one code point. */
const ONE = -1;

/** The comparisons left to one evaluation; {@link reset} before each message. */
export class EvaluationBudget {
  readonly steps: number;
  #left: number;

  constructor(steps = maxEvaluationSteps) {
    this.steps = steps;
    this.#left = steps;
  }

  /** Steps spent since the last {@link reset}. */
  get spent(): number {
    return this.steps - this.#left;
  }

  reset(): void {
    this.#left = this.steps;
  }

  /** Charges `n` steps; throws BUS_FILTER_BUDGET_EXCEEDED when the budget runs out. */
  spend(n: number, position: number): void {
    this.#left -= n;
    if (this.#left < 0) {
      throw new BusError(
        'BUS_FILTER_BUDGET_EXCEEDED',
        `LIKE at position ${position} exceeded the evaluation budget of ${this.steps} steps`,
        { detail: { position, steps: this.steps } },
      );
    }
  }
}

export interface LikePattern {
  /** Whether the whole of `text` matches; `position` (of the LIKE) names it when the budget runs out. */
  test(text: string, budget: EvaluationBudget, position: number): boolean;
}

/** Compiles a pattern: `%` any run, `_` one character, `escapeChar` makes the next character literal. */
export function compileLike(pattern: string, escapeChar: string | undefined, danglingEscape: () => Error): LikePattern {
  const segments: number[][] = [[]];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const current = segments[segments.length - 1]!;
    if (escapeChar !== undefined && c === escapeChar) {
      const next = chars[++i];
      if (next === undefined) throw danglingEscape();
      current.push(next.codePointAt(0)!);
    } else if (c === '%') segments.push([]);
    else current.push(c === '_' ? ONE : c.codePointAt(0)!);
  }
  const head = Int32Array.from(segments[0]!);
  if (segments.length === 1)
    return { test: (text, budget, at) => forward(text, 0, text.length, head, budget, at) === text.length };
  const tail = Int32Array.from(segments[segments.length - 1]!);
  const middle = segments
    .slice(1, -1)
    .filter((s) => s.length > 0)
    .map((s) => Int32Array.from(s));
  return {
    test(text, budget, at) {
      const start = forward(text, 0, text.length, head, budget, at);
      if (start < 0) return false;
      const end = backward(text, start, text.length, tail, budget, at);
      if (end < 0) return false;
      let from = start;
      for (const segment of middle) {
        from = find(text, from, end, segment, budget, at);
        if (from < 0) return false;
      }
      return true;
    },
  };
}

const isHigh = (unit: number): boolean => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;

/** Matches `segment` at `from` (a code point boundary), not past `limit`: where it ends, or -1. */
function forward(text: string, from: number, limit: number, segment: Int32Array, budget: EvaluationBudget, at: number) {
  let j = from;
  let k = 0;
  for (; k < segment.length; k++) {
    if (j >= limit) break;
    const cp = text.codePointAt(j)!;
    const want = segment[k]!;
    if (want !== ONE && want !== cp) break;
    j += cp > 0xffff ? 2 : 1;
  }
  budget.spend(k + 1, at);
  return k === segment.length ? j : -1;
}

/** Matches `segment` so that it ends at `end`, not before `floor`: where it starts, or -1. */
function backward(text: string, floor: number, end: number, segment: Int32Array, budget: EvaluationBudget, at: number) {
  let j = end;
  let k = segment.length - 1;
  for (; k >= 0; k--) {
    if (j <= floor) break;
    let cp = text.charCodeAt(j - 1);
    let width = 1;
    if (isLow(cp) && j - 2 >= floor && isHigh(text.charCodeAt(j - 2))) {
      cp = (text.charCodeAt(j - 2) - 0xd800) * 0x400 + (cp - 0xdc00) + 0x10000;
      width = 2;
    }
    const want = segment[k]!;
    if (want !== ONE && want !== cp) break;
    j -= width;
  }
  budget.spend(segment.length - k, at);
  return k < 0 ? j : -1;
}

/** The leftmost match of `segment` in `[from, limit)`: where it ends, or -1. */
function find(text: string, from: number, limit: number, segment: Int32Array, budget: EvaluationBudget, at: number) {
  const first = segment[0]!;
  // A literal first character: let indexOf skip to the candidates (at most one scan of the text).
  const needle = first === ONE ? undefined : String.fromCodePoint(first);
  for (let s = from; s + segment.length <= limit; ) {
    if (needle !== undefined) {
      s = text.indexOf(needle, s);
      if (s < 0 || s + segment.length > limit) return -1;
      if (isLow(first) && s > 0 && isHigh(text.charCodeAt(s - 1))) {
        s++; // the second half of a pair is not a character of its own
        continue;
      }
    }
    const end = forward(text, s, limit, segment, budget, at);
    if (end >= 0) return end;
    s += needle === undefined && text.codePointAt(s)! > 0xffff ? 2 : 1;
  }
  return -1;
}
