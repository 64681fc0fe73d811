/*
 * A small, dependency-free evaluator of KMS key policies, for the access report ("who can use,
 * administer, change the policy of, delete this key"): our own code, written from the AWS docs.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 * @see https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
 *
 * Scope: the key policy of a key in the caller's own account (no SCPs, RCPs, boundaries, session or
 * endpoint policies, grants). The resource is the key itself: every Resource/NotResource matches. */

/** A request context value: one string, or the values of a multivalued key. */
export type ContextValue = string | string[];
export interface EvaluationRequest {
  /**
   * The calling principal: an IAM role/user ARN, an account root ARN (arn:aws:iam::111111111111:root),
   * or a service principal name like 'logs.amazonaws.com'.
   */
  readonly principal: string;
  /** The action, e.g. 'kms:Decrypt'. */
  readonly action: string;
  /** The request context: condition keys (case-insensitive names) to values. Booleans and numbers are strings ('true', '300'). */
  readonly context: Record<string, ContextValue>;
  /** Whether the principal's own IAM policies allow the action (identity-based allow). Default true. */
  readonly identityAllows?: boolean;
}

export type EvaluationDecision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** The decision; the Allow statements that grant the request and the Deny statements that apply (Sid, or `#<index>`). */
export interface EvaluationResult { readonly decision: EvaluationDecision; readonly allowedBy: string[]; readonly deniedBy: string[] }

/** A condition value as it appears in JSON: numbers and booleans compare as their string form. */
export type ConditionValueJson = string | number | boolean | Array<string | number | boolean>;
/** `"*"`, or principal type (AWS, Service, Federated, CanonicalUser) to one or more values. */
export type PrincipalJson = string | Record<string, string | string[]>;

/** One statement of a resolved (intrinsic-free) JSON policy. */
export interface StatementJson {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: PrincipalJson;
  readonly NotPrincipal?: PrincipalJson;
  readonly Action?: string | string[];
  readonly NotAction?: string | string[];
  readonly Resource?: string | string[];
  readonly NotResource?: string | string[];
  readonly Condition?: Record<string, Record<string, ConditionValueJson>>;
}

/** A resolved (intrinsic-free) JSON key policy. */
export interface PolicyJson { readonly Version?: string; readonly Id?: string; readonly Statement: StatementJson | StatementJson[] }

/**
 * Evaluate a key policy for one request of a principal of the key's own account: an applicable Deny
 * (action, principal and conditions match) gives ExplicitlyDenied; else an applicable Allow gives
 * Allowed if it names the principal directly (its ARN, `"*"`, its service; the root user by its
 * account), or names only its account and the principal's IAM policies allow the action too (the
 * account statement delegates to IAM: key-policy-default.html#key-policy-default-allow-root-enable-iam);
 * else ImplicitlyDenied. Throws for a malformed policy, an unknown condition operator, an unsupported principal.
 */
export function evaluateKeyPolicy(policy: PolicyJson, request: EvaluationRequest): EvaluationResult {
  // A policy is compiled once, however many requests it answers (the access report asks hundreds).
  let statements = COMPILED.get(policy);
  if (!statements) COMPILED.set(policy, statements = compilePolicy(policy));
  const caller = parseCaller(request.principal);
  const given = request.context ?? {};
  let context = CONTEXTS.get(given);
  if (!context) CONTEXTS.set(given, context = normaliseContext(given));
  const identityAllows = request.identityAllows ?? true;
  const allowedBy: string[] = [];
  const deniedBy: string[] = [];
  for (const s of statements) {
    if (s.actions.some((a) => a.test(request.action)) === s.notAction) continue;
    const named = bestMatch(s.principals, caller);
    const match: PrincipalMatch = s.notPrincipal ? (named === 'none' ? 'direct' : 'none') : named;
    if (match === 'none' || !s.conditions.every((c) => c(context))) continue;
    if (s.effect === 'Deny') deniedBy.push(s.id);
    else if (match === 'direct' || identityAllows) allowedBy.push(s.id);
  }
  const decision = deniedBy.length > 0 ? 'ExplicitlyDenied' : allowedBy.length > 0 ? 'Allowed' : 'ImplicitlyDenied';
  return { decision, allowedBy, deniedBy };
}

// Policy structure
const COMPILED = new WeakMap<PolicyJson, CompiledStatement[]>();
const CONTEXTS = new WeakMap<Record<string, ContextValue>, Context>();
/** Context keys in lower case; a key with an empty list of values counts as absent. */
type Context = ReadonlyMap<string, readonly string[]>;
type Condition = (context: Context) => boolean;
/** How a Principal element names the caller: directly, only through its account, or not at all. */
type PrincipalMatch = 'direct' | 'account' | 'none';
type PrincipalTest = (caller: Caller) => PrincipalMatch;

interface CompiledStatement {
  readonly id: string;
  readonly effect: 'Allow' | 'Deny';
  readonly conditions: Condition[];
  readonly actions: RegExp[];
  readonly notAction: boolean;
  readonly principals: PrincipalTest[];
  readonly notPrincipal: boolean;
}

function compilePolicy(policy: PolicyJson): CompiledStatement[] {
  if (!isObject(policy)) throw new Error('Malformed key policy: the policy must be a JSON object');
  if (policy.Statement === undefined) throw new Error('Malformed key policy: no Statement');
  const list: unknown[] = Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement];
  if (list.length === 0) throw new Error('Malformed key policy: Statement is empty');
  // Policy variables are only substituted in policies of version 2012-10-17 (reference_policies_variables.html).
  const variables = policy.Version === '2012-10-17';
  return list.map((raw, index) => compileStatement(raw, index, variables));
}

function compileStatement(raw: unknown, index: number, variables: boolean): CompiledStatement {
  if (!isObject(raw)) throw new Error(`Malformed key policy: statement #${index} is not an object`);
  const s = raw as Partial<Record<keyof StatementJson, unknown>>;
  if (s.Sid !== undefined && typeof s.Sid !== 'string') throw new Error(`Malformed key policy: statement #${index} has a non-string Sid`);
  const id = s.Sid ? s.Sid : `#${index}`;
  const where = `statement ${id}`;
  if (s.Effect !== 'Allow' && s.Effect !== 'Deny') {
    throw new Error(`Malformed key policy: ${where} needs an Effect of 'Allow' or 'Deny', got ${JSON.stringify(s.Effect)}`);
  }
  const action = exactlyOne(s, 'Action', 'NotAction', where);
  const principal = exactlyOne(s, 'Principal', 'NotPrincipal', where);
  const resource = exactlyOne(s, 'Resource', 'NotResource', where);
  stringList(s[resource], `${where} ${resource}`);
  if (s.Condition !== undefined && !isObject(s.Condition)) throw new Error(`Malformed key policy: ${where} has a Condition that is not an object`);
  const conditions = Object.entries((s.Condition ?? {}) as Record<string, unknown>)
    .flatMap(([operator, block]) => compileOperator(operator, block, where, variables));
  return {
    id,
    effect: s.Effect,
    actions: stringList(s[action], `${where} ${action}`).map((a) => glob(a, 'i')),
    notAction: action === 'NotAction',
    principals: compilePrincipal(s[principal], `${where} ${principal}`),
    notPrincipal: principal === 'NotPrincipal',
    conditions,
  };
}

function exactlyOne<K extends string>(s: Partial<Record<K, unknown>>, a: K, b: K, where: string): K {
  if (s[a] !== undefined && s[b] !== undefined) throw new Error(`Malformed key policy: ${where} has both ${a} and ${b}`);
  if (s[a] === undefined && s[b] === undefined) throw new Error(`Malformed key policy: ${where} has neither ${a} nor ${b}`);
  return s[a] !== undefined ? a : b;
}

function stringList(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length > 0 && list.every((v) => typeof v === 'string')) return list as string[];
  throw new Error(`Malformed key policy: ${where} must be a string or a non-empty list of strings`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// Principals (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html)

/** The caller: its ARN (a role session is represented by its role's ARN) or its service principal name. */
interface Caller { readonly kind: 'root' | 'iam' | 'service'; readonly value: string; readonly account?: string; readonly partition?: string }

function parseCaller(principal: string): Caller {
  if (/^\d{12}$/.test(principal)) return { kind: 'root', value: `arn:aws:iam::${principal}:root`, account: principal, partition: 'aws' };
  const arn = /^arn:([^:]+):(iam|sts)::(\d{12}):(.+)$/.exec(principal);
  if (arn) return { kind: arn[2] === 'iam' && arn[4] === 'root' ? 'root' : 'iam', value: principal, account: arn[3], partition: arn[1] };
  if (!principal.startsWith('arn:') && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(principal)) return { kind: 'service', value: principal };
  throw new Error(`Unsupported principal '${principal}': use an IAM role/user/root ARN, an account ID or a service principal name`);
}

/**
 * `"*"` and `{"AWS": "*"}` are equivalent (the IAM docs say so): both match every principal, service
 * principals included. A service principal is otherwise matched only by `{"Service": name}`.
 * An account (root ARN or 12-digit ID) names its root user directly and its IAM principals through
 * IAM delegation. Any other AWS value matches that exact ARN (wildcards are not allowed in principal
 * ARNs, so a `*` inside one is literal). Federated and CanonicalUser principals never match a caller.
 */
function compilePrincipal(element: unknown, where: string): PrincipalTest[] {
  if (element === '*') return [() => 'direct'];
  if (!isObject(element)) throw new Error(`Malformed key policy: ${where} must be "*" or an object`);
  return Object.entries(element).flatMap(([type, values]) => stringList(values, `${where}.${type}`).map((value): PrincipalTest => {
    switch (type) {
      case 'AWS': return awsPrincipal(value);
      case 'Service': return (c) => (c.kind === 'service' && c.value === value ? 'direct' : 'none');
      case 'Federated':
      case 'CanonicalUser': return () => 'none';
      default: throw new Error(`Malformed key policy: ${where} has an unknown principal type '${type}'`);
    }
  }));
}

function awsPrincipal(value: string): PrincipalTest {
  if (value === '*') return () => 'direct';
  const root = /^arn:([^:]+):iam::(\d{12}):root$/.exec(value);
  const account = /^\d{12}$/.test(value) ? value : root?.[2];
  if (!account) return (c) => (c.value === value ? 'direct' : 'none');
  return (c) => {
    if (c.kind === 'service' || c.account !== account || (root && root[1] !== c.partition)) return 'none';
    return c.kind === 'root' ? 'direct' : 'account';
  };
}

function bestMatch(tests: PrincipalTest[], caller: Caller): PrincipalMatch {
  const found = tests.map((test) => test(caller));
  return found.includes('direct') ? 'direct' : found.includes('account') ? 'account' : 'none';
}

// Conditions (reference_policies_elements_condition_operators.html)

/** `test`: one context value matches one policy value (positive form); `negated`: StringNotEquals, ArnNotLike...;
 * `variables`: policy variables are substituted (string and ARN operators only). */
interface OperatorSpec { readonly test: (context: string, policy: string) => boolean; readonly negated: boolean; readonly variables: boolean }

type Compare = (a: number, b: number) => boolean;
const compare = (parse: (v: string) => number | undefined) => (cmp: Compare) => (c: string, p: string): boolean => {
  const [a, b] = [parse(c), parse(p)];
  return a !== undefined && b !== undefined && cmp(a, b);
};
const [num, date, eq] = [compare(parseNumber), compare(parseDate), (a: number, b: number) => a === b];
const ORDERINGS: Array<[string, Compare]> = [['LessThan', (a, b) => a < b], ['LessThanEquals', (a, b) => a <= b],
  ['GreaterThan', (a, b) => a > b], ['GreaterThanEquals', (a, b) => a >= b]];

/** Operator families: positive names, negated names, the test of one value, whether variables apply. */
const FAMILIES: Array<[string[], string[], OperatorSpec['test'], boolean]> = [
  [['StringEquals'], ['StringNotEquals'], (c, p) => c === literal(p), true],
  [['StringEqualsIgnoreCase'], ['StringNotEqualsIgnoreCase'], (c, p) => c.toLowerCase() === literal(p).toLowerCase(), true],
  [['StringLike'], ['StringNotLike'], (c, p) => glob(p).test(c), true],
  [['ArnEquals', 'ArnLike'], ['ArnNotEquals', 'ArnNotLike'], arnMatches, true],
  [['Bool'], [], (c, p) => /^(true|false)$/i.test(p) && c.toLowerCase() === p.toLowerCase(), false],
  [['BinaryEquals'], [], (c, p) => c === p, false],
  [['NumericEquals'], ['NumericNotEquals'], num(eq), false],
  [['DateEquals'], ['DateNotEquals'], date(eq), false],
  ...ORDERINGS.map(([name, cmp]): [string[], string[], OperatorSpec['test'], boolean] => [[`Numeric${name}`], [], num(cmp), false]),
  ...ORDERINGS.map(([name, cmp]): [string[], string[], OperatorSpec['test'], boolean] => [[`Date${name}`], [], date(cmp), false]),
  [['IpAddress'], ['NotIpAddress'], inCidr, false],
];

/** The operators by lower-case name (`Null` is handled on its own). */
const OPERATORS = new Map<string, OperatorSpec>(FAMILIES.flatMap(([positive, negated, test, variables]) => [
  ...positive.map((name): [string, OperatorSpec] => [name.toLowerCase(), { test, negated: false, variables }]),
  ...negated.map((name): [string, OperatorSpec] => [name.toLowerCase(), { test, negated: true, variables }]),
]));

/**
 * One operator of a Condition block: every key in it must hold (AND); the values of one key are
 * alternatives (OR), and for a negated operator the context must match none of them.
 * - A missing key, or one with no values (the docs count "empty values" as null: reference_policies_condition_examples-multi-valued-context-keys.html):
 *   `...IfExists` → true; `ForAllValues:` → true; `ForAnyValue:` → false; a negated operator → true; any other → false.
 * - `Null`: 'true' holds iff the key is missing, 'false' iff it is present.
 * - `ForAllValues:` every context value must match (or, negated, match none of the policy values);
 *   `ForAnyValue:` at least one must.
 * - Without a set prefix, a multivalued context value is treated like `ForAnyValue:` for a positive
 *   operator (some value matches), and a negated operator holds iff no context value matches.
 */
function compileOperator(name: string, block: unknown, where: string, variables: boolean): Condition[] {
  const parsed = /^(ForAnyValue:|ForAllValues:)?(.+?)(IfExists)?$/i.exec(name);
  const base = parsed?.[2].toLowerCase() ?? '';
  const op = OPERATORS.get(base);
  if (!parsed || (!op && base !== 'null') || (base === 'null' && parsed[3])) {
    throw new Error(`Unknown condition operator '${name}' in ${where}`);
  }
  if (!isObject(block)) throw new Error(`Malformed key policy: ${where} condition ${name} must map keys to values`);
  const set = parsed[1]?.toLowerCase();
  const ifExists = parsed[3] !== undefined;
  return Object.entries(block).map(([rawKey, rawValues]): Condition => {
    const key = rawKey.toLowerCase();
    const values = (Array.isArray(rawValues) ? rawValues : [rawValues]).map((v: unknown) => {
      if (['string', 'number', 'boolean'].includes(typeof v)) return String(v);
      throw new Error(`Malformed key policy: ${where} ${name} ${rawKey} has a non-scalar value`);
    });
    if (!op) {
      if (values.some((v) => !/^(true|false)$/i.test(v))) throw new Error(`Malformed key policy: ${where} Null ${rawKey} needs 'true' or 'false'`);
      return (context) => values.some((v) => (v.toLowerCase() === 'true') === !context.has(key));
    }
    return (context) => {
      const present = context.get(key);
      if (present === undefined) return set === 'forallvalues:' || ifExists || (set !== 'foranyvalue:' && op.negated);
      const resolved = op.variables && variables ? values.map((v) => substitute(v, context)) : values;
      const known = resolved.filter((v): v is string => v !== undefined);
      // A value whose variable has no value fails to match whatever the operator, negated ones included.
      const matches = op.negated
        ? (c: string) => known.length === resolved.length && !known.some((p) => op.test(c, p))
        : (c: string) => known.some((p) => op.test(c, p));
      if (set === 'forallvalues:') return present.every(matches);
      if (set === 'foranyvalue:') return present.some(matches);
      return op.negated ? present.every(matches) : present.some(matches);
    };
  });
}

function normaliseContext(context: Record<string, ContextValue>): Context {
  const result = new Map<string, string[]>();
  for (const [key, value] of Object.entries(context ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v !== 'string')) throw new Error(`Context key '${key}' must be a string or a list of strings`);
    if (values.length > 0) result.set(key.toLowerCase(), values);
  }
  return result;
}

// Wildcard characters that must match literally (from `${*}`, `${?}` or a variable's value).
const LITERAL_STAR = '\uE000';
const LITERAL_QUESTION = '\uE001';
const literal = (pattern: string) => pattern.replace(/\uE000/g, '*').replace(/\uE001/g, '?');
const protect = (text: string) => text.replace(/\*/g, LITERAL_STAR).replace(/\?/g, LITERAL_QUESTION);

/**
 * Substitute the policy variables of a condition value: `${key}` by the key's single value,
 * `${key, 'default'}` by the default when the key is missing, `${*}`, `${?}` and `${$}` by the
 * literal characters. undefined when a variable has no value (missing, or multivalued): "any attempt
 * to match it fails" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
 */
function substitute(value: string, context: Context): string | undefined {
  let unresolved = false;
  const result = value.replace(/\$\{([^}]*)\}/g, (_match, inner: string) => {
    const body = inner.trim();
    if (body === '*') return LITERAL_STAR;
    if (body === '?') return LITERAL_QUESTION;
    if (body === '$') return '$';
    const withDefault = /^([^,]+?)\s*,\s*'((?:[^']|'')*)'$/.exec(body);
    const values = context.get((withDefault ? withDefault[1] : body).trim().toLowerCase());
    if (values?.length === 1) return protect(values[0]);
    if (withDefault) return protect(withDefault[2].replace(/''/g, "'"));
    unresolved = true;
    return '';
  });
  return unresolved ? undefined : result;
}

const globCache = new Map<string, RegExp>();

/** A whole-string matcher for a pattern with `*` (any run of characters) and `?` (one character). */
function glob(pattern: string, flags = ''): RegExp {
  const cacheKey = `${flags}/${pattern}`;
  const cached = globCache.get(cacheKey);
  if (cached) return cached;
  const body = [...pattern].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : literal(ch).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))).join('');
  const regex = new RegExp(`^${body}$`, `s${flags}`);
  globCache.set(cacheKey, regex);
  return regex;
}

/**
 * ArnEquals / ArnLike: each of the six colon-separated parts of the ARN is compared separately,
 * case-sensitively, with `*` and `?` wildcards within the part. A value that is not an ARN never matches.
 */
function arnMatches(context: string, policy: string): boolean {
  const c = context.startsWith('arn:') ? arnParts(context) : undefined;
  const p = arnParts(policy);
  return c !== undefined && p !== undefined && p.every((part, i) => glob(part).test(c[i]));
}

function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  return parts.length < 6 ? undefined : [...parts.slice(0, 5), parts.slice(5).join(':')];
}

function parseNumber(value: string): number | undefined {
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value.trim()) ? Number(value) : undefined;
}

/** An ISO 8601 date/time, or epoch seconds. */
function parseDate(value: string): number | undefined {
  if (/^-?\d+$/.test(value)) return Number(value) * 1000;
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  return Number.isNaN(time) ? undefined : time;
}

/** IpAddress: the context address lies in the policy's CIDR block (a bare address is a /32 or /128). */
function inCidr(context: string, policy: string): boolean {
  const [address, bits, ...extra] = policy.trim().split('/');
  const network = parseIp(address);
  const ip = parseIp(context.trim());
  if (!network || !ip || network.v6 !== ip.v6 || extra.length > 0) return false;
  const width = network.v6 ? 128 : 32;
  const prefix = bits === undefined ? width : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= width)) return false;
  const block = 2n ** BigInt(width - prefix);
  return network.value / block === ip.value / block;
}

/** An IPv4 or IPv6 address as a number (IPv6 with `::` compression and an embedded IPv4 tail). */
function parseIp(text: string): { v6: boolean; value: bigint } | undefined {
  const fold = (groups: string[], radix: number, base: bigint) => groups.reduce((acc, g) => acc * base + BigInt(parseInt(g, radix)), 0n);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(text)) {
    const octets = text.split('.');
    return octets.every((o) => Number(o) <= 255) ? { v6: false, value: fold(octets, 10, 256n) } : undefined;
  }
  const halves = text.split('::');
  if (!text.includes(':') || halves.length > 2) return undefined;
  const split = (h: string) => (h === '' ? [] : h.split(':'));
  const head = split(halves[0]);
  const tail = halves.length === 2 ? split(halves[1]) : undefined;
  const groups = tail ?? head;
  // An IPv4 address in the last group (it has no ':', so parseIp reads it as IPv4 or not at all).
  const v4 = groups[groups.length - 1]?.includes('.') ? parseIp(groups[groups.length - 1]) : undefined;
  if (v4) groups.splice(groups.length - 1, 1, (v4.value / 65536n).toString(16), (v4.value % 65536n).toString(16));
  const missing = 8 - head.length - (tail?.length ?? 0);
  if (tail ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(tail ? missing : 0).fill('0'), ...(tail ?? [])];
  return all.every((g) => /^[0-9a-f]{1,4}$/i.test(g)) ? { v6: true, value: fold(all, 16, 65536n) } : undefined;
}
