/**
 * Test helper: evaluates CloudWatch Logs Insights queries (Logs Insights QL) over log
 * events that are JSON objects (here: CloudTrail records), so tests can check offline
 * what a saved query returns.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html
 *
 * Only the subset this library's queries use is supported; anything else throws an
 * error naming its position, so a typo in a query fails the tests:
 *
 *   query   := command ( '|' command )*                      (`#` starts a comment)
 *   command := 'fields' named, ... | 'filter' expr | 'stats' agg, ... ( 'by' named, ... )?
 *            | 'sort' expr ( 'asc' | 'desc' )?, ... | 'limit' integer
 *   named   := expr ( 'as' alias )?      agg := ( 'count' | 'min' | 'max' ) '(' ( '*' | expr ) ')' ( 'as' alias )?
 *   expr    := expr 'or' expr | expr 'and' expr | 'not' expr | operand ( ( '=' | '!=' | '<' | '>' | '<=' | '>=' ) operand )?
 *            | operand 'not'? 'in' '[' literal, ... ']' | operand 'not'? 'like' ( /regex/ | "substring" )
 *   operand := field | "string" | number | ( 'ispresent' | 'coalesce' ) '(' expr, ... ')' | '(' expr ')'
 *
 * Semantics (documented, or marked "Choice" where the documentation is silent):
 * - Fields are flattened JSON leaves (`resources.0.ARN`); a path that is missing, `null`
 *   or ends at an object or array is not present. `@timestamp` is the record's
 *   `eventTime` as Logs Insights shows it (`2024-05-01 12:00:00.000`).
 * - An alias from `fields` or `stats` is visible to later commands; `fields` does not
 *   drop other fields, it chooses the result columns.
 * - Choice: a comparison, `in`, `not in` or `like` on a value that is not present is
 *   false (so `!=` with a missing field is false); `not` negates what it is given.
 * - Values compare as numbers when one is a number and both are numeric, otherwise as
 *   strings. `like` is case sensitive unless the regex starts with `(?i)`.
 * - `stats ... by`: a missing value forms its own group. Choice: `sort` puts missing
 *   values last and keeps ties in their order. Result rows hold the present columns.
 */

type Literal = string | number;
type CompareOp = '=' | '!=' | '<' | '>' | '<=' | '>=';

/** A parsed expression. */
export type Expr =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'literal'; readonly value: Literal }
  | { readonly kind: 'call'; readonly fn: 'ispresent' | 'coalesce'; readonly args: readonly Expr[] }
  | { readonly kind: 'not'; readonly operand: Expr }
  | { readonly kind: 'and' | 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'compare'; readonly op: CompareOp; readonly left: Expr; readonly right: Expr }
  | { readonly kind: 'in'; readonly negated: boolean; readonly operand: Expr; readonly values: readonly Literal[] }
  | { readonly kind: 'like'; readonly negated: boolean; readonly operand: Expr; readonly pattern: RegExp };

/** An expression and the column name it produces. */
export interface Named { readonly expr: Expr; readonly name: string }
/** A `stats` aggregation; `arg` is undefined for `count(*)`. */
export interface Aggregation { readonly fn: 'count' | 'min' | 'max'; readonly arg?: Expr; readonly name: string }

/** A parsed command. */
export type Command =
  | { readonly command: 'fields'; readonly columns: readonly Named[] }
  | { readonly command: 'filter'; readonly condition: Expr }
  | { readonly command: 'stats'; readonly aggregations: readonly Aggregation[]; readonly by: readonly Named[] }
  | { readonly command: 'sort'; readonly keys: readonly { readonly expr: Expr; readonly descending: boolean }[] }
  | { readonly command: 'limit'; readonly count: number };

interface Token { readonly kind: 'word' | 'string' | 'number' | 'regex' | 'punct'; readonly text: string; readonly pos: number; readonly end: number }

const PUNCTUATION = ['!=', '<=', '>=', '=', '<', '>', '(', ')', '[', ']', ',', '|', '*'];
const COMPARE_OPS: readonly string[] = ['=', '!=', '<', '>', '<=', '>='];
const FUNCTIONS = { ispresent: [1, 1], coalesce: [1, Infinity] } as const;
const AGGREGATIONS = ['count', 'min', 'max'];
const RESERVED = ['and', 'or', 'not', 'in', 'like', 'as', 'by', 'asc', 'desc'];

/** Parses a query into its commands. @throws Error naming the position of what it does not understand */
export function parseQuery(query: string): Command[] {
  return new Parser(query).parse();
}

/** Runs a query over JSON log events and returns the result rows. */
export function runQuery(query: string, records: object[]): Record<string, unknown>[] {
  let rows: Row[] = records.map(record => ({ record, vars: {} }));
  let columns: string[] = [];
  for (const cmd of parseQuery(query)) {
    switch (cmd.command) {
      case 'fields':
        rows = rows.map(row => ({ record: row.record, vars: { ...row.vars, ...assign(cmd.columns, row) } }));
        columns = [...columns.filter(c => !cmd.columns.some(n => n.name === c)), ...cmd.columns.map(n => n.name)];
        break;
      case 'filter':
        rows = rows.filter(row => evaluate(cmd.condition, row) === true);
        break;
      case 'stats':
        rows = stats(cmd.aggregations, cmd.by, rows);
        columns = [...cmd.by.map(n => n.name), ...cmd.aggregations.map(a => a.name)];
        break;
      case 'sort':
        rows = [...rows].sort((a, b) => {
          for (const key of cmd.keys) {
            const [x, y] = [evaluate(key.expr, a), evaluate(key.expr, b)];
            const order = !present(x) || !present(y) ? Number(!present(x)) - Number(!present(y)) : compare(x, y) * (key.descending ? -1 : 1);
            if (order !== 0) return order;
          }
          return 0;
        });
        break;
      case 'limit':
        rows = rows.slice(0, cmd.count);
        break;
    }
  }
  return rows.map(row => {
    if (columns.length === 0) return { ...row.record } as Record<string, unknown>;
    return Object.fromEntries(columns.map(c => [c, lookup(row, c)]).filter(([, v]) => present(v)));
  });
}

interface Row { readonly record: object; readonly vars: Record<string, unknown> }

function present(value: unknown): boolean { return value !== undefined && value !== null; }

function assign(columns: readonly Named[], row: Row): Record<string, unknown> {
  return Object.fromEntries(columns.map(n => [n.name, evaluate(n.expr, row)]));
}

function lookup(row: Row, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(row.vars, name)) return row.vars[name];
  let value: unknown = row.record;
  if (name === '@timestamp') {
    const time = (value as { eventTime?: unknown }).eventTime;
    return typeof time === 'string' ? new Date(time).toISOString().replace('T', ' ').replace('Z', '') : undefined;
  }
  for (const step of name.split('.')) {
    if (Array.isArray(value) && /^\d+$/.test(step)) value = value[Number(step)];
    else if (value !== null && typeof value === 'object' && !Array.isArray(value)) value = (value as Record<string, unknown>)[step];
    else return undefined;
  }
  return value !== null && typeof value === 'object' ? undefined : value;
}

function compare(a: unknown, b: unknown): number {
  const numeric = (typeof a === 'number' || typeof b === 'number') && Number.isFinite(Number(a)) && Number.isFinite(Number(b));
  if (numeric) return Number(a) - Number(b);
  const [x, y] = [String(a), String(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function evaluate(expr: Expr, row: Row): unknown {
  switch (expr.kind) {
    case 'field': return lookup(row, expr.name);
    case 'literal': return expr.value;
    case 'call': {
      const values = expr.args.map(arg => evaluate(arg, row));
      return expr.fn === 'ispresent' ? present(values[0]) : values.find(present);
    }
    case 'not': return evaluate(expr.operand, row) !== true;
    case 'and': return evaluate(expr.left, row) === true && evaluate(expr.right, row) === true;
    case 'or': return evaluate(expr.left, row) === true || evaluate(expr.right, row) === true;
    case 'compare': {
      const [a, b] = [evaluate(expr.left, row), evaluate(expr.right, row)];
      if (!present(a) || !present(b)) return false;
      const c = compare(a, b);
      return { '=': c === 0, '!=': c !== 0, '<': c < 0, '>': c > 0, '<=': c <= 0, '>=': c >= 0 }[expr.op];
    }
    case 'in': {
      const value = evaluate(expr.operand, row);
      return present(value) && expr.values.some(v => compare(value, v) === 0) !== expr.negated;
    }
    case 'like': {
      const value = evaluate(expr.operand, row);
      return present(value) && expr.pattern.test(String(value)) !== expr.negated;
    }
  }
}

function stats(aggregations: readonly Aggregation[], by: readonly Named[], rows: Row[]): Row[] {
  const groups = new Map<string, { keys: Record<string, unknown>; rows: Row[] }>();
  for (const row of rows) {
    const keys = assign(by, row);
    const id = JSON.stringify(by.map(n => keys[n.name] ?? null));
    const group = groups.get(id) ?? { keys, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  return [...groups.values()].map(group => {
    const vars: Record<string, unknown> = { ...group.keys };
    for (const agg of aggregations) {
      const values = agg.arg ? group.rows.map(row => evaluate(agg.arg!, row)).filter(present) : group.rows;
      vars[agg.name] = agg.fn === 'count' ? values.length
        : values.reduce((best: unknown, v) => best === undefined || compare(v, best) * (agg.fn === 'max' ? 1 : -1) > 0 ? v : best, undefined);
    }
    return { record: {}, vars };
  });
}

class Parser {
  private readonly tokens: Token[] = [];
  private index = 0;

  constructor(private readonly query: string) {
    let i = 0;
    while (i < query.length) {
      const c = query[i];
      const prev = this.tokens[this.tokens.length - 1];
      if (/\s/.test(c)) {
        i++;
      } else if (c === '#') {
        while (i < query.length && query[i] !== '\n') i++;
      } else if (c === '"' || c === "'" || c === '`' || (c === '/' && prev?.kind === 'word' && prev.text === 'like')) {
        let text = '';
        let j = i + 1;
        for (; j < query.length && query[j] !== c; j++) {
          if (query[j] === '\\' && j + 1 < query.length) text += c === '/' ? query[j++] + query[j] : query[++j];
          else text += query[j];
        }
        if (j >= query.length) this.fail(`unterminated ${c === '/' ? 'regular expression' : 'quoted text'}`, i);
        this.tokens.push({ kind: c === '/' ? 'regex' : c === '`' ? 'word' : 'string', text, pos: i, end: j + 1 });
        i = j + 1;
      } else {
        const word = /^(?:[A-Za-z_@][\w.@]*|\d+(?:\.\d+)?)/.exec(query.slice(i))?.[0];
        const text = word ?? PUNCTUATION.find(p => query.startsWith(p, i));
        if (!text) this.fail(`unexpected character '${c}'`, i);
        this.tokens.push({ kind: word ? (/^\d/.test(word) ? 'number' : 'word') : 'punct', text, pos: i, end: i + text.length });
        i += text.length;
      }
    }
  }

  parse(): Command[] {
    const commands = [this.command()];
    for (let t = this.peek(); t; t = this.peek()) {
      if (t.text === ')' || t.text === ']') this.fail(`unbalanced '${t.text}'`, t.pos);
      this.expect('|', "a '|' between commands");
      commands.push(this.command());
    }
    return commands;
  }

  private command(): Command {
    const t = this.next('a command');
    switch (t.kind === 'word' ? t.text : '') {
      case 'fields': return { command: 'fields', columns: this.list(() => this.named()) };
      case 'filter': return { command: 'filter', condition: this.expr() };
      case 'stats': {
        const aggregations = this.list(() => this.aggregation());
        return { command: 'stats', aggregations, by: this.accept('by') ? this.list(() => this.named()) : [] };
      }
      case 'sort': {
        const key = (): { expr: Expr; descending: boolean } => ({ expr: this.expr(), descending: !this.accept('asc') && !!this.accept('desc') });
        return { command: 'sort', keys: this.list(key) };
      }
      case 'limit': {
        const n = this.next('a number');
        if (!/^[1-9]\d*$/.test(n.text)) this.fail(`expected a positive integer but found '${n.text}'`, n.pos);
        return { command: 'limit', count: Number(n.text) };
      }
      default: return this.fail(`unknown command '${t.text}'`, t.pos);
    }
  }

  private named(): Named {
    const start = this.index;
    const expr = this.expr();
    return { expr, name: this.alias(start, expr.kind === 'field' ? expr.name : undefined) };
  }

  private aggregation(): Aggregation {
    const start = this.index;
    const t = this.next('an aggregation function');
    if (t.kind !== 'word' || !AGGREGATIONS.includes(t.text)) this.fail(`unknown aggregation function '${t.text}'`, t.pos);
    this.expect('(', `'(' after '${t.text}'`);
    const arg = t.text === 'count' && this.accept('*') ? undefined : this.expr();
    this.expect(')', `')' to close '${t.text}(' at position ${t.pos}`);
    return { fn: t.text as Aggregation['fn'], arg, name: this.alias(start) };
  }

  /** The name after `as`, else `fallback`, else the text of the tokens from `start`. */
  private alias(start: number, fallback?: string): string {
    if (!this.accept('as')) return fallback ?? this.query.slice(this.tokens[start].pos, this.tokens[this.index - 1].end);
    const t = this.next('an alias');
    if (t.kind !== 'word' || RESERVED.includes(t.text)) this.fail(`expected an alias but found '${t.text}'`, t.pos);
    return t.text;
  }

  /** `or` binds loosest, then `and`, then `not`. */
  private expr(kind: 'or' | 'and' = 'or'): Expr {
    const next = (): Expr => kind === 'or' ? this.expr('and') : this.negation();
    let left = next();
    while (this.accept(kind)) left = { kind, left, right: next() };
    return left;
  }

  private negation(): Expr {
    return this.accept('not') ? { kind: 'not', operand: this.negation() } : this.comparison();
  }

  private comparison(): Expr {
    const left = this.operand();
    const t = this.peek();
    if (t?.kind === 'punct' && COMPARE_OPS.includes(t.text)) {
      this.index++;
      return { kind: 'compare', op: t.text as CompareOp, left, right: this.operand() };
    }
    const next = this.tokens[this.index + 1];
    const negated = t?.text === 'not' && (next?.text === 'in' || next?.text === 'like') && !!this.accept('not');
    if (this.accept('in')) {
      this.expect('[', "'[' after 'in'");
      const values = this.peek()?.text === ']' ? [] : this.list(() => {
        const v = this.next('a string or number');
        if (v.kind !== 'number' && v.kind !== 'string') this.fail(`expected a string or number but found '${v.text}'`, v.pos);
        return v.kind === 'number' ? Number(v.text) : v.text;
      });
      this.expect(']', "']' to close the list");
      return { kind: 'in', negated, operand: left, values };
    }
    if (this.accept('like')) {
      const p = this.next('a /regex/ or "string"');
      if (p.kind !== 'regex' && p.kind !== 'string') this.fail(`expected a /regex/ or "string" after 'like' but found '${p.text}'`, p.pos);
      const insensitive = p.kind === 'regex' && p.text.startsWith('(?i)');
      const source = p.kind === 'regex' ? p.text.slice(insensitive ? 4 : 0) : p.text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      try {
        return { kind: 'like', negated, operand: left, pattern: new RegExp(source, insensitive ? 'i' : '') };
      } catch (e) {
        return this.fail(`invalid regular expression: ${(e as Error).message}`, p.pos);
      }
    }
    return left;
  }

  private operand(): Expr {
    const t = this.next('a value');
    if (t.kind === 'punct' && t.text === '(') {
      const inner = this.expr();
      this.expect(')', `')' to close the '(' at position ${t.pos}`);
      return inner;
    }
    if (t.kind === 'string' || t.kind === 'number') return { kind: 'literal', value: t.kind === 'number' ? Number(t.text) : t.text };
    if (t.kind !== 'word' || RESERVED.includes(t.text)) return this.fail(`expected a value but found '${t.text}'`, t.pos);
    if (this.peek()?.text !== '(') return { kind: 'field', name: t.text };
    if (!Object.prototype.hasOwnProperty.call(FUNCTIONS, t.text)) return this.fail(`unknown function '${t.text}'`, t.pos);
    const fn = t.text as keyof typeof FUNCTIONS;
    this.index++;
    const args = this.peek()?.text === ')' ? [] : this.list(() => this.expr());
    this.expect(')', `')' to close '${fn}(' at position ${t.pos}`);
    const [min, max] = FUNCTIONS[fn];
    if (args.length < min || args.length > max) this.fail(`wrong number of arguments (${args.length}) for '${fn}'`, t.pos);
    return { kind: 'call', fn, args };
  }

  private list<T>(item: () => T): T[] {
    const items = [item()];
    while (this.accept(',')) items.push(item());
    return items;
  }

  private peek(): Token | undefined { return this.tokens[this.index]; }

  private next(what: string): Token {
    const t = this.tokens[this.index++];
    return t ?? this.fail(`expected ${what} but the query ended`, this.query.length);
  }

  /** Consumes the next token if it is `text` (a keyword or punctuation, not quoted text). */
  private accept(text: string): Token | undefined {
    const t = this.peek();
    if (!t || t.text !== text || (t.kind !== 'word' && t.kind !== 'punct') || this.query[t.pos] === '`') return undefined;
    this.index++;
    return t;
  }

  private expect(text: string, what: string): void {
    if (this.accept(text)) return;
    const t = this.peek();
    this.fail(t ? `expected ${what} but found '${t.text}'` : `expected ${what} but the query ended`, t?.pos ?? this.query.length);
  }

  private fail(message: string, pos: number): never {
    const before = this.query.slice(0, pos).split('\n');
    throw new Error(`Logs Insights query: ${message} at position ${pos} (line ${before.length}, column ${before[before.length - 1].length + 1})`);
  }
}
