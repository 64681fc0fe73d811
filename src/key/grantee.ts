import { Reference, Stack, Token, Tokenization } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/** IAM policy conditions, by operator. */
export type Conditions = Record<string, Record<string, unknown>>;

/** Who a grant names, read from the principal's policy fragment. */
export enum GranteeKind {
  /** `*` in any position: every principal. */
  EVERYONE = 'everyone',
  /** An account's root: every IAM principal of that account that IAM allows. */
  ACCOUNT = 'account',
  /** An AWS service principal, such as `logs.us-east-1.amazonaws.com`. */
  SERVICE = 'service',
  /** A role, user or other principal named by ARN. */
  NAMED = 'named',
  /**
   * An AWS principal whose ARN the policy cannot tell at synth (a parameter, an
   * import, an intrinsic of another shape): it may be an account's root.
   */
  UNRESOLVED = 'unresolved',
  /** A principal key policies do not name for use: federated, canonical user. */
  UNSUPPORTED = 'unsupported',
}

/**
 * A grantee as the key policy sees it: the principal without the conditions it
 * carries, and those conditions split into the grant's own service restriction
 * (`kms:ViaService`, from a `ViaServicePrincipal`) and the rest.
 */
export interface Grantee {
  readonly kind: GranteeKind;
  /** The principal, without conditions. */
  readonly principal: iam.IPrincipal;
  /** The principal's account, when it is known at synth. */
  readonly account?: string;
  /** The principal's ARN, when it is a literal string at synth. */
  readonly arn?: string;
  /** The services the grant itself is limited to, from its `kms:ViaService` condition. */
  readonly viaServices?: string[];
  /** The grant's other conditions, as the principal carries them. */
  readonly conditions: Conditions;
  /** How messages name the grantee. */
  readonly description: string;
  /**
   * Whether the grantee's requests carry the encryption context of the service they
   * come through rather than the caller's: the deploy role creating a resource. The
   * key's `encryptionContextKeys` then do not apply.
   */
  readonly serviceContext?: boolean;
  /**
   * Whether the services may call from any Region: a resource in another Region
   * that uses a multi-Region key's member here, as a DynamoDB global table's replica.
   */
  readonly viaAnyRegion?: boolean;
}

const ACCOUNT_ID = /^[0-9]{12}$/;
/** `arn:<partition>:iam::<account>:root`. */
const ROOT_ARN = /^arn:[^:]+:iam::([0-9]{12}):root$/;
/** A role, user or session named by ARN: `arn:<partition>:iam::<account>:role/...`. */
const NAMED_ARN = /^arn:[^:]+:(?:iam|sts)::([0-9]{12}):(?:role|user|assumed-role|federated-user)\/./;

/** Reads a principal the way the key policy must treat it. */
export function granteeOf(scope: IConstruct, principal: iam.IPrincipal): Grantee {
  const stack = Stack.of(scope);
  const fragment = principal.policyFragment;
  const json = fragment.principalJson;
  const { viaServices, rest } = splitViaService(fragment.conditions as Conditions);
  const bare = new BarePrincipal(json, principal.principalAccount);
  const types = Object.keys(json).filter(type => (json[type] ?? []).length > 0);
  const aws = (json.AWS ?? []).map(value => classifyAws(stack, value));
  let kind: GranteeKind;
  if (Object.values(json).some(values => values.some(v => v === '*'))) {
    kind = GranteeKind.EVERYONE;
  } else if (types.some(type => type !== 'AWS' && type !== 'Service')) {
    kind = GranteeKind.UNSUPPORTED;
  } else if (aws.length === 0 && types.includes('Service')) {
    kind = GranteeKind.SERVICE;
  } else if (aws.some(a => a.kind === GranteeKind.ACCOUNT)) {
    // A root among several principals is still a root: see splitPrincipal.
    kind = GranteeKind.ACCOUNT;
  } else if (aws.some(a => a.kind === GranteeKind.UNRESOLVED)) {
    kind = GranteeKind.UNRESOLVED;
  } else {
    kind = GranteeKind.NAMED;
  }
  const single = aws.length === 1 && types.length === 1 ? aws[0] : undefined;
  return {
    kind,
    principal: bare,
    account: principal.principalAccount ?? single?.account,
    arn: single?.arn,
    viaServices,
    conditions: rest,
    description: `${principal}`,
  };
}

/**
 * The principals a grantee names, one each, with the grantee's conditions: a
 * `CompositePrincipal` is as many grants, each classified on its own. A role of the
 * app stays the role (its identity policy may be needed); any other value becomes a
 * principal of that ARN.
 */
export function splitPrincipal(principal: iam.IPrincipal): iam.IPrincipal[] {
  const fragment = principal.policyFragment;
  const json = fragment.principalJson;
  const entries = Object.entries(json).flatMap(([type, values]) => values.map(value => ({ type, value })));
  if (entries.length <= 1) return [principal];
  const conditions = fragment.conditions as Conditions;
  return entries.map(({ type, value }) => {
    let part: iam.IPrincipal;
    if (type === 'Service') {
      part = new iam.ServicePrincipal(value);
    } else if (type === 'AWS') {
      const target = referenceTarget(value);
      part = target instanceof iam.CfnRole && target.node.scope instanceof iam.Role ? target.node.scope : new iam.ArnPrincipal(value);
    } else {
      part = new BarePrincipal({ [type]: [value] }, undefined);
    }
    return Object.keys(conditions).length > 0 ? new iam.PrincipalWithConditions(part, conditions) : part;
  });
}

/** What one AWS principal value of a policy is, as far as synth can tell. */
function classifyAws(stack: Stack, value: string): { kind: GranteeKind; account?: string; arn?: string } {
  if (ACCOUNT_ID.test(value)) return { kind: GranteeKind.ACCOUNT, account: value };
  // A role or user of the app, by reference: named, in its stack's account.
  const target = referenceTarget(value);
  if (target instanceof iam.CfnRole || target instanceof iam.CfnUser) {
    return { kind: GranteeKind.NAMED, account: Stack.of(target).account };
  }
  const resolved = stack.resolve(value);
  const text = textOf(resolved);
  if (text === undefined) return { kind: GranteeKind.UNRESOLVED };
  if (typeof resolved === 'string') {
    const root = ROOT_ARN.exec(text);
    if (root) return { kind: GranteeKind.ACCOUNT, account: root[1], arn: text };
    const named = NAMED_ARN.exec(text);
    return named ? { kind: GranteeKind.NAMED, account: named[1], arn: text } : { kind: GranteeKind.UNRESOLVED };
  }
  // An ARN written with intrinsics for its partition or account (AccountRootPrincipal,
  // Role.fromRoleName, Fn::Sub): its literal text says what it names.
  const shape = text.replace(/\$\{[^}]*\}/g, '{}');
  if (/^arn:[^:]*:iam::[^:]*:root$/.test(shape)) return { kind: GranteeKind.ACCOUNT };
  if (/^arn:[^:]*:(?:iam|sts)::[^:]*:(?:role|user|assumed-role|federated-user)\/./.test(shape)) return { kind: GranteeKind.NAMED };
  return { kind: GranteeKind.UNRESOLVED };
}

/**
 * The text of an ARN as a template: a literal string as it is; `Fn::Join` of strings
 * and pseudo parameters, or `Fn::Sub`, with each intrinsic as `${...}`. Undefined for
 * any other intrinsic (a parameter, an import, a select), whose value only
 * deployment tells.
 */
function textOf(resolved: unknown): string | undefined {
  if (typeof resolved === 'string') return resolved;
  if (resolved === null || typeof resolved !== 'object') return undefined;
  const obj = resolved as Record<string, unknown>;
  if (typeof obj['Fn::Sub'] === 'string') return obj['Fn::Sub'];
  const join = obj['Fn::Join'];
  if (Array.isArray(join) && join[0] === '' && Array.isArray(join[1])) {
    const parts = join[1].map((part: unknown) => {
      if (typeof part === 'string') return part;
      const ref = (part as Record<string, unknown> | null)?.Ref;
      return typeof ref === 'string' && ref.startsWith('AWS::') ? `\${${ref}}` : undefined;
    });
    return parts.every(part => part !== undefined) ? parts.join('') : undefined;
  }
  return undefined;
}

/** The construct a value references, when it is one reference (a role's ARN). */
export function referenceTarget(value: string): IConstruct | undefined {
  if (!Token.isUnresolved(value)) return undefined;
  const fragments = Tokenization.reverseString(value);
  if (fragments.length !== 1) return undefined;
  const token = fragments.firstToken;
  return token instanceof Reference ? token.target : undefined;
}

/** Takes `kms:ViaService` out of a principal's conditions. */
function splitViaService(conditions: Conditions): { viaServices?: string[]; rest: Conditions } {
  const rest: Conditions = {};
  let viaServices: string[] | undefined;
  for (const [operator, values] of Object.entries(conditions)) {
    const kept: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(values)) {
      if (operator === 'StringEquals' && key === 'kms:ViaService') {
        viaServices = (Array.isArray(value) ? value : [value]).map(v => serviceName(v as string));
      } else {
        kept[key] = value;
      }
    }
    if (Object.keys(kept).length > 0) rest[operator] = kept;
  }
  return { viaServices, rest };
}

/** `secretsmanager.us-east-1.amazonaws.com` -> `secretsmanager`. */
function serviceName(endpoint: string): string {
  if (Token.isUnresolved(endpoint)) return endpoint;
  return endpoint.split('.')[0];
}

/** A principal with a given JSON and no conditions. */
class BarePrincipal extends iam.PrincipalBase {
  public readonly principalAccount: string | undefined;

  constructor(private readonly json: Record<string, string[]>, account: string | undefined) {
    super();
    this.principalAccount = account;
  }

  public get policyFragment(): iam.PrincipalPolicyFragment {
    return new iam.PrincipalPolicyFragment(this.json);
  }

  public dedupeString(): string | undefined {
    return JSON.stringify(this.json);
  }

  public toString(): string {
    return `BarePrincipal(${JSON.stringify(this.json)})`;
  }
}

/** An allow of KMS actions to IAM principals with no condition: what `KeyGrants` writes. */
export function isPlainGrant(statement: iam.PolicyStatement): boolean {
  const json = statement.toStatementJson();
  return statement.effect === iam.Effect.ALLOW
    && json.Condition === undefined && json.NotAction === undefined && json.NotPrincipal === undefined && json.NotResource === undefined
    && statement.sid === undefined
    && statement.actions.length > 0 && statement.actions.every(a => a.startsWith('kms:'))
    && statement.principals.length > 0
    && statement.principals.every(p => !('Service' in p.policyFragment.principalJson));
}

/**
 * The role session a principal names (`arn:<partition>:sts::<account>:assumed-role/<role>/<session>`),
 * literal or built with intrinsics; undefined for any other principal.
 */
export function sessionArnOf(scope: IConstruct, principal: iam.IPrincipal): string | undefined {
  const rendered = JSON.stringify(Stack.of(scope).resolve(principal.policyFragment.principalJson.AWS ?? []));
  return /:sts::[\s\S]*assumed-role\//.test(rendered) ? `${principal}` : undefined;
}
