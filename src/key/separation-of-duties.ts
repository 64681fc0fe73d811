import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { DENIED_TO_ADMINISTRATORS, DENIED_TO_USERS, expandAction } from './actions';
import { pathAndNameOf, principalsOf } from './policy-size';

/*
 * Separation of duties in a key policy: denies of cryptography to the key's
 * administrators and of administration to everyone else, which hold against any IAM
 * policy.
 */

/** Who a key policy separates. */
export interface SeparatedRoles {
  /** The key's administrators, named by ARN. */
  readonly administrators: iam.IPrincipal[];
  /** The key's users by ARN, literal or known only at deploy time: the user role and grantees. */
  readonly users: iam.IPrincipal[];
  /** The `aws:PrincipalArn` patterns of fleets granted use (RolesUnderPath). */
  readonly fleets: string[];
}

/** The allows of administration the library writes, and whom they allow, by ARN. */
export interface LibraryAdministration {
  readonly statements: iam.PolicyStatement[];
  /** Recorded as each allow is made: what is added to a statement later does not count. */
  readonly holders: string[];
}

/**
 * Adds to `document` the denies that separate the key's administrators from its
 * users.
 *
 * - Cryptography is denied to each administrator, by `aws:PrincipalArn`.
 * - Administration is denied to every principal but those the library's own allows of
 *   administration were made for (the administrators, the deploy role, the account's
 *   root user, a home's handler): a statement whose size does not grow with the
 *   grantees, since they are all outside it.
 * - Where another allow gives administration (an `addToResourcePolicy` escape hatch),
 *   the deny names the users and fleets instead, as it did before there were fleets,
 *   still leaving out the library's administrators: an escape hatch then never gives
 *   a user of the key administration, whatever its principal or condition says.
 *
 * Neither is added when there is nobody on the other side.
 */
export function denySeparatedDuties(document: iam.PolicyDocument, roles: SeparatedRoles, administration: LibraryAdministration): void {
  const arns = (principals: iam.IPrincipal[]) => principals.flatMap(p => p.policyFragment.principalJson.AWS ?? []);
  const administrators = arns(roles.administrators);
  // Always, even where nothing in the policy allows an administrator cryptography:
  // a grant that names an administrator under another principal (an imported role
  // of the same ARN) is then still no way to use the key.
  if (administrators.length > 0) {
    const conditions = { ArnEquals: { 'aws:PrincipalArn': administrators } };
    document.addStatements(denyStatement('DenyCryptographyToAdministrators', DENIED_TO_ADMINISTRATORS, conditions));
  }
  const users = arns(roles.users);
  if (users.length === 0 && roles.fleets.length === 0) return;
  const holders = Array.from(new Set(administration.holders));
  const own = new Set(administration.statements.map(statement => JSON.stringify(statement.toStatementJson())));
  const statements: unknown[] = document.toJSON()?.Statement ?? [];
  const foreign = statements.some(statement => givesAdministration(statement) && !own.has(JSON.stringify(statement)));
  if (!foreign) {
    // Services acting for themselves carry no aws:PrincipalArn; `aws:PrincipalIsAWSService`
    // is in every signed request, so Bool (not BoolIfExists) leaves them out.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice
    document.addStatements(denyStatement('DenyAdministrationToNonAdministrators', DENIED_TO_USERS, {
      ArnNotLike: { 'aws:PrincipalArn': holders },
      Bool: { 'aws:PrincipalIsAWSService': 'false' },
    }));
    return;
  }
  // ArnLike without a wildcard is ArnEquals: one operator for both. A fleet's pattern
  // may cover an administrator: the library's own administrators stay out of it.
  document.addStatements(denyStatement('DenyAdministrationToUsers', DENIED_TO_USERS, {
    ArnLike: { 'aws:PrincipalArn': [...users, ...roles.fleets] },
    ArnNotLike: { 'aws:PrincipalArn': holders },
  }));
}

function denyStatement(sid: string, actions: string[], conditions: Record<string, Record<string, unknown>>): iam.PolicyStatement {
  return new iam.PolicyStatement({ sid, effect: iam.Effect.DENY, principals: [new iam.AnyPrincipal()], actions, resources: ['*'], conditions });
}

const DENIED_PATTERNS = DENIED_TO_USERS.map(pattern => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`, 'i'));

/** Whether a rendered statement allows an action the administration deny denies (any `NotAction` may). */
function givesAdministration(statement: any): boolean {
  if (statement.Effect !== 'Allow') return false;
  if (statement.NotAction !== undefined) return true;
  const listed = [statement.Action ?? []].flat() as string[];
  return listed.some(action => [action, ...expandAction(action)].some(a => DENIED_PATTERNS.some(p => p.test(a))));
}

/**
 * Refuses use of the key to a principal that manages it (the deploy role, a home's
 * handler, a multi-Region member's administrators), by the ARN the template will
 * hold: the administration deny leaves it out, so it would both use and manage.
 */
export function assertNotHolder(stack: Stack, method: string, principal: iam.IPrincipal, holders: string[]): void {
  const render = (value: unknown) => JSON.stringify(stack.resolve(value));
  const held = new Set(holders.map(render));
  const arn = (principal.policyFragment.principalJson.AWS ?? []).find(value => held.has(render(value)));
  if (arn !== undefined) {
    throw new Error(
      `${method} must not be given ${principal}: it manages the key (the deploy role, a key store's handler or a multi-Region key's administrator), `
      + 'so it cannot also use it; the deploy role\'s creation calls are granted through the services that need them',
    );
  }
}

/**
 * The errors of holders whose ARN has `*` or `?`: in an `aws:PrincipalArn` condition
 * (`ArnEquals` as `ArnLike`) they are wildcards, which would let other roles manage
 * the key.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
 */
export function wildcardHolders(stack: Stack, holders: string[]): string[] {
  // The literal text of a value; a role or user of the stack by its path and name as the template holds them.
  const literal = (value: unknown): string => {
    if (typeof value === 'string') return value;
    if (Array.isArray(value)) return value.map(literal).join('');
    const getAtt = (value as Record<string, unknown> | null)?.['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return principalText(stack, getAtt[0]);
    return value && typeof value === 'object' ? Object.values(value).map(literal).join('') : '';
  };
  return Array.from(new Set(holders.map(h => literal(stack.resolve(h))).filter(text => /[*?]/.test(text))))
    .map(text => `a principal that manages the key has '*' or '?' in its ARN (${text}): in the key policy's aws:PrincipalArn conditions `
      + 'they are wildcards, which would let other roles manage the key; use a path and name without them');
}

/** `<path><name>` of the role or user of `stack` with that logical ID, as its template holds them; '' for anything else. */
function principalText(stack: Stack, logicalId: unknown): string {
  const principal = principalsOf(stack).find(p => stack.resolve(p.logicalId) === logicalId);
  if (!principal) return '';
  const { path, name } = pathAndNameOf(principal);
  return [path, name].filter((v): v is string => typeof v === 'string').join('');
}
