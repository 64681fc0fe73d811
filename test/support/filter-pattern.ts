/**
 * Test helper: evaluates a CloudWatch Logs *JSON* filter pattern against a parsed
 * log event (here: CloudTrail records), so tests can check offline which events a
 * metric filter counts.
 *
 * Only the subset of the syntax that this library's patterns use is supported.
 * Anything else makes the parser throw, so a pattern change that strays outside the
 * subset fails the tests loudly instead of being evaluated wrongly.
 *
 * Supported grammar (whitespace between tokens is ignored):
 *
 *   pattern    := '{' expr '}'
 *   expr       := term ( '&&' term )*            -- a chain of one operator only;
 *               | term ( '||' term )*            -- see "Precedence" below
 *   term       := '(' expr ')' | condition
 *   condition  := selector ( '=' | '!=' ) value
 *               | selector 'NOT' 'EXISTS'
 *               | selector 'EXISTS'
 *   selector   := '$' ( '.' name | '[' digits ']' )+      e.g. $.resources[0].ARN
 *   value      := '"' chars '"' | bare                    e.g. "AccessDenied*", kms.amazonaws.com
 *
 * Not supported (throws): numeric comparisons (<, >, <=, >=), `IS TRUE` / `IS FALSE`
 * / `IS NULL`, regular expressions (`%...%`), `[*]` array wildcards, bracketed
 * property names (`$.['a b']`), text and space-delimited (non-JSON) patterns.
 *
 * Semantics, as documented by CloudWatch Logs or, where the documentation is silent,
 * as chosen here (each choice is marked "Choice"):
 *
 * - Matching is case sensitive and a value must match the whole field value.
 * - `*` in a value, quoted or not, is a wildcard for any run of characters
 *   (including none): `"AccessDenied*"` matches `AccessDenied` and
 *   `AccessDeniedException`; `"*"` matches any value.
 * - A comparison applies only to a field that is present and not null: `=` and `!=`
 *   are both false when the selector finds nothing (missing field, missing parent,
 *   array index out of range) or finds JSON `null`. CloudWatch documents `NOT EXISTS`
 *   and `IS NULL` as the way to match absent and null fields.
 *   Choice: `!=` on an absent field is false (not true). The documentation gives no
 *   example either way; requiring presence is the conservative reading, and none of
 *   the patterns under test use `!=`, so their verdicts do not depend on it.
 * - Strings are compared as-is. Numbers and booleans are compared through their JSON
 *   text (`5`, `true`). Choice: objects and arrays match only an all-wildcard value
 *   (`"*"`), i.e. `= "*"` means "present and not null" whatever the type.
 * - `NOT EXISTS` is true when the selector finds nothing; a field that is present
 *   with the value `null` does exist. `EXISTS` is its negation.
 *
 * Precedence: the CloudWatch documentation describes `&&` and `||` with the usual
 * order of operations (parentheses, then `&&`, then `||`). Rather than depend on
 * that, this evaluator refuses to mix `&&` and `||` in one unparenthesised chain and
 * throws; every pattern of this library parenthesises each group, so nothing is lost
 * and a pattern whose meaning would hinge on precedence cannot slip through.
 */

/** A parsed filter pattern. */
export type FilterExpression =
  | { readonly kind: 'and' | 'or'; readonly operands: readonly FilterExpression[] }
  | { readonly kind: 'compare'; readonly selector: string; readonly path: readonly PathStep[]; readonly op: '=' | '!='; readonly value: string }
  | { readonly kind: 'exists' | 'notExists'; readonly selector: string; readonly path: readonly PathStep[] };

/** One step of a selector: a property name or an array index. */
export type PathStep = string | number;

/** Marks "the selector found nothing", as distinct from a JSON `null`. */
const ABSENT = Symbol('absent');

/**
 * Whether a CloudWatch Logs JSON filter pattern matches a log event.
 *
 * @param pattern the filter pattern, e.g. `{ ($.eventSource = kms.amazonaws.com) }`
 * @param event the log event, already parsed from JSON
 * @throws Error if the pattern uses syntax outside the supported subset
 */
export function matchesFilterPattern(pattern: string, event: unknown): boolean {
  return evaluate(parseFilterPattern(pattern), event);
}

/**
 * The value a selector such as `$.resources[0].ARN` picks from an event, or
 * `undefined` if there is none. This is what a metric filter publishes as a
 * dimension value.
 *
 * @throws Error if the selector is not of the supported form
 */
export function selectField(event: unknown, selector: string): unknown {
  const found = resolve(event, parseSelector(selector));
  return found === ABSENT ? undefined : found;
}

/**
 * Parses a filter pattern into an expression tree.
 *
 * @throws Error on syntax outside the supported subset
 */
export function parseFilterPattern(pattern: string): FilterExpression {
  return new Parser(pattern).parsePattern();
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

function evaluate(expr: FilterExpression, event: unknown): boolean {
  switch (expr.kind) {
    case 'and':
      return expr.operands.every(operand => evaluate(operand, event));
    case 'or':
      return expr.operands.some(operand => evaluate(operand, event));
    case 'exists':
      return resolve(event, expr.path) !== ABSENT;
    case 'notExists':
      return resolve(event, expr.path) === ABSENT;
    case 'compare': {
      const actual = resolve(event, expr.path);
      // A comparison needs a value to compare: absent or null fields match neither
      // `=` nor `!=` (see the module comment).
      if (actual === ABSENT || actual === null) return false;
      const matched = typeof actual === 'object'
        ? isAllWildcard(expr.value)
        : wildcardMatch(expr.value, String(actual));
      return expr.op === '=' ? matched : !matched;
    }
  }
}

/** Follows a selector path; ABSENT if any step is missing. */
function resolve(event: unknown, path: readonly PathStep[]): unknown {
  let current: unknown = event;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(current) || step >= current.length) return ABSENT;
      current = current[step];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) return ABSENT;
      if (!Object.prototype.hasOwnProperty.call(current, step)) return ABSENT;
      current = (current as Record<string, unknown>)[step];
    }
  }
  return current;
}

function isAllWildcard(value: string): boolean {
  return /^\*+$/.test(value);
}

/** Whole-string match where `*` stands for any run of characters. */
function wildcardMatch(value: string, actual: string): boolean {
  const regex = value.split('*').map(escapeRegExp).join('.*');
  return new RegExp(`^${regex}$`, 's').test(actual);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/** Characters allowed in an unquoted value. Anything else must be quoted. */
const BARE_VALUE = /[A-Za-z0-9_.*:/@+-]/;
/** Characters allowed in a property name of a selector. */
const NAME_CHAR = /[A-Za-z0-9_]/;

function parseSelector(selector: string): PathStep[] {
  const parser = new Parser(selector);
  const { path } = parser.parseSelectorToken();
  parser.expectEnd('selector');
  return path;
}

class Parser {
  private pos = 0;

  constructor(private readonly text: string) {}

  public parsePattern(): FilterExpression {
    this.skipSpace();
    if (this.peek() !== '{') {
      throw this.error('only JSON filter patterns wrapped in { ... } are supported');
    }
    this.pos++;
    const expr = this.parseExpr();
    this.skipSpace();
    if (this.peek() !== '}') throw this.error("expected '}', '&&', '||' or ')'");
    this.pos++;
    this.expectEnd('pattern');
    return expr;
  }

  /** A chain of terms joined by one kind of operator. */
  private parseExpr(): FilterExpression {
    const operands = [this.parseTerm()];
    let chain: '&&' | '||' | undefined;
    for (;;) {
      this.skipSpace();
      const op = this.text.startsWith('&&', this.pos) ? '&&' : this.text.startsWith('||', this.pos) ? '||' : undefined;
      if (!op) break;
      if (chain && op !== chain) {
        throw this.error("'&&' and '||' mixed without parentheses; add parentheses so precedence does not matter");
      }
      chain = op;
      this.pos += 2;
      operands.push(this.parseTerm());
    }
    if (!chain) return operands[0];
    return { kind: chain === '&&' ? 'and' : 'or', operands };
  }

  private parseTerm(): FilterExpression {
    this.skipSpace();
    if (this.peek() === '(') {
      this.pos++;
      const inner = this.parseExpr();
      this.skipSpace();
      if (this.peek() !== ')') throw this.error("expected ')', '&&' or '||'");
      this.pos++;
      return inner;
    }
    if (this.peek() === '$') return this.parseCondition();
    throw this.error("expected '(' or a selector starting with '$'");
  }

  private parseCondition(): FilterExpression {
    const { selector, path } = this.parseSelectorToken();
    this.skipSpace();
    if (this.text.startsWith('!=', this.pos) || this.peek() === '=') {
      const op = this.peek() === '=' ? '=' : '!=';
      this.pos += op.length;
      const next = this.peek();
      if (next !== undefined && '=<>'.includes(next)) throw this.error(`unsupported operator '${op}${next}'`);
      this.skipSpace();
      const value = this.parseValue();
      return { kind: 'compare', selector, path, op, value };
    }
    if (this.matchWords('NOT', 'EXISTS')) return { kind: 'notExists', selector, path };
    if (this.matchWords('EXISTS')) return { kind: 'exists', selector, path };
    const rest = this.text.slice(this.pos, this.pos + 10);
    throw this.error(`unsupported comparison after ${selector}: '${rest}...' (only =, !=, NOT EXISTS and EXISTS are supported)`);
  }

  /** `$` followed by `.name` and `[index]` steps. */
  public parseSelectorToken(): { selector: string; path: PathStep[] } {
    const start = this.pos;
    if (this.peek() !== '$') throw this.error("a selector must start with '$'");
    this.pos++;
    const path: PathStep[] = [];
    for (;;) {
      const c = this.peek();
      if (c === '.') {
        this.pos++;
        const nameStart = this.pos;
        while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos])) this.pos++;
        if (this.pos === nameStart) throw this.error('expected a property name after \'.\' (bracketed names are not supported)');
        path.push(this.text.slice(nameStart, this.pos));
      } else if (c === '[') {
        const match = /^\[(\d+)\]/.exec(this.text.slice(this.pos));
        if (!match) throw this.error('only numeric array indexes such as [0] are supported');
        path.push(Number(match[1]));
        this.pos += match[0].length;
      } else {
        break;
      }
    }
    if (path.length === 0) throw this.error("a selector needs at least one step, e.g. '$.eventName'");
    return { selector: this.text.slice(start, this.pos), path };
  }

  private parseValue(): string {
    if (this.peek() === '"') {
      this.pos++;
      let value = '';
      for (;;) {
        const c = this.peek();
        if (c === undefined) throw this.error('unterminated string');
        this.pos++;
        if (c === '"') break;
        if (c === '\\') {
          const escaped = this.peek();
          if (escaped !== '"' && escaped !== '\\') throw this.error('only \\" and \\\\ escapes are supported');
          value += escaped;
          this.pos++;
        } else {
          value += c;
        }
      }
      return value;
    }
    const start = this.pos;
    while (this.pos < this.text.length && BARE_VALUE.test(this.text[this.pos])) this.pos++;
    if (this.pos === start) throw this.error('expected a value (unquoted values may only use letters, digits and _.*:/@+-)');
    const value = this.text.slice(start, this.pos);
    // A bare value must end at whitespace or at a token that may follow a condition.
    const next = this.peek();
    if (next !== undefined && !/\s/.test(next) && !')}&|'.includes(next)) {
      throw this.error(`unexpected '${next}' in unquoted value '${value}'; quote the value`);
    }
    return value;
  }

  /** Consumes upper-case keywords separated by whitespace, if all are there. */
  private matchWords(...words: string[]): boolean {
    const start = this.pos;
    for (const [i, word] of words.entries()) {
      if (i > 0) {
        const before = this.pos;
        this.skipSpace();
        if (this.pos === before) { this.pos = start; return false; }
      }
      const after = this.text[this.pos + word.length];
      if (!this.text.startsWith(word, this.pos) || (after !== undefined && NAME_CHAR.test(after))) {
        this.pos = start;
        return false;
      }
      this.pos += word.length;
    }
    return true;
  }

  public expectEnd(what: string): void {
    this.skipSpace();
    if (this.pos < this.text.length) throw this.error(`unexpected text after the ${what}`);
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  private error(message: string): Error {
    return new Error(`Unsupported filter pattern syntax at offset ${this.pos}: ${message}\n  in: ${this.text}`);
  }
}
