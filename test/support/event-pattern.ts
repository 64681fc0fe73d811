/**
 * Test helper: evaluates an Amazon EventBridge event pattern against an event, so
 * tests can check offline which events a rule sends to its targets.
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
 * @see https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
 *
 * Only the subset of the syntax that this library's rules use is supported; any
 * other operator (`suffix`, `anything-but`, `numeric`, `exists`, `wildcard`,
 * `equals-ignore-case`, `cidr`, ...) or an unresolved CloudFormation token in the
 * pattern makes the matcher throw, so a rule that strays outside the subset fails
 * the tests loudly instead of being evaluated wrongly.
 *
 * Semantics, as the EventBridge documentation gives them:
 *
 * - A pattern is a JSON object. Every field it names must match (AND); the event
 *   may have any other fields.
 * - A field whose pattern value is an object is matched field by field against the
 *   event's object at that place (nested objects).
 * - A field whose pattern value is an array is a leaf: the event's value matches if
 *   any entry matches it (OR). An entry is an exact value (string, number, boolean
 *   or null; matching is exact and case sensitive) or `{ "prefix": "..." }`, which
 *   matches a string that starts with it.
 * - A field the event does not have matches nothing.
 * - If the event's value is an array, it matches if any of its elements matches.
 * - `"$or": [p1, p2, ...]` matches if any of the patterns matches the object at that
 *   place, in addition to the other fields of the same object.
 */

/** A JSON value, read loosely. */
type Json = unknown;

/**
 * Whether an EventBridge event pattern matches an event.
 *
 * @param pattern the event pattern, as in the rule's `EventPattern`
 * @param event the event, as EventBridge delivers it (with `source`, `detail-type`, `detail`, ...)
 * @throws Error if the pattern uses syntax outside the supported subset
 */
export function matchesEventPattern(pattern: Json, event: Json): boolean {
  // The whole pattern is checked first, so that a wrong pattern throws whatever the event.
  validateObject(pattern, '$');
  return matchObject(asPattern(pattern, '$'), event, '$');
}

function validateObject(pattern: Json, where: string): void {
  for (const [field, expected] of Object.entries(asPattern(pattern, where))) {
    const path = `${where}.${field}`;
    if (field === '$or') {
      if (!Array.isArray(expected) || expected.length < 2) throw new Error(`Unsupported event pattern at ${path}: $or takes two or more patterns`);
      expected.forEach((alternative, i) => validateObject(alternative, `${path}[${i}]`));
    } else if (Array.isArray(expected)) {
      if (expected.length === 0) throw new Error(`Unsupported event pattern at ${path}: an empty array matches nothing`);
      for (const matcher of expected) matchLeaf(matcher, undefined, path);
    } else {
      validateObject(expected, path);
    }
  }
}

function asPattern(pattern: Json, where: string): Record<string, Json> {
  if (pattern === null || typeof pattern !== 'object' || Array.isArray(pattern)) {
    throw new Error(`Unsupported event pattern at ${where}: expected an object, got ${JSON.stringify(pattern)}`);
  }
  if (Object.keys(pattern).length === 0) throw new Error(`Unsupported event pattern at ${where}: an empty object`);
  return pattern as Record<string, Json>;
}

/** Every field of the pattern matches the event's object at this place. */
function matchObject(pattern: Record<string, Json>, event: Json, where: string): boolean {
  return Object.entries(pattern).every(([field, expected]) => {
    const path = `${where}.${field}`;
    if (field === '$or') {
      return (expected as Json[]).some((alternative, i) => matchObject(asPattern(alternative, `${path}[${i}]`), event, where));
    }
    if (event === null || typeof event !== 'object' || Array.isArray(event)) return false;
    if (!Object.prototype.hasOwnProperty.call(event, field)) return false;
    return matchValue(expected, (event as Record<string, Json>)[field], path);
  });
}

/** A leaf (array of matchers) or a nested pattern, against the event's value; arrays in the event match by any element. */
function matchValue(expected: Json, actual: Json, where: string): boolean {
  if (Array.isArray(actual)) return actual.some(element => matchValue(expected, element, where));
  if (Array.isArray(expected)) {
    return expected.some(matcher => matchLeaf(matcher, actual, where));
  }
  return matchObject(asPattern(expected, where), actual, where);
}

function matchLeaf(matcher: Json, actual: Json, where: string): boolean {
  if (matcher === null || typeof matcher !== 'object') {
    // Exact values: a string matches only the same string, a number the same number.
    return actual === matcher;
  }
  const operators = Object.keys(matcher);
  if (operators.length === 1 && operators[0] === 'prefix') {
    const prefix = (matcher as { prefix: Json }).prefix;
    if (typeof prefix !== 'string') throw new Error(`Unsupported event pattern at ${where}: prefix takes a string, got ${JSON.stringify(prefix)}`);
    return typeof actual === 'string' && actual.startsWith(prefix);
  }
  throw new Error(`Unsupported event pattern at ${where}: ${JSON.stringify(matcher)} (only exact values and prefix are supported)`);
}
