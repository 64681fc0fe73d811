import { Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/** IAM policy conditions, by operator. */
export type Conditions = Record<string, Record<string, unknown>>;

/** Who a grant names, read from the principal's policy fragment. */
export enum GranteeKind {
  /** `*`: every principal. */
  EVERYONE = 'everyone',
  /** An account's root: every IAM principal of that account that IAM allows. */
  ACCOUNT = 'account',
  /** An AWS service principal, such as `logs.us-east-1.amazonaws.com`. */
  SERVICE = 'service',
  /** A role, user or other principal named by ARN. */
  NAMED = 'named',
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

const ROOT_ARN = /^arn:[^:]+:iam::([0-9]{12}|\$\{Token\[[^\]]+\]\}):root$/;

/** Reads a principal the way the key policy must treat it. */
export function granteeOf(scope: IConstruct, principal: iam.IPrincipal): Grantee {
  const stack = Stack.of(scope);
  const fragment = principal.policyFragment;
  const json = fragment.principalJson;
  const { viaServices, rest } = splitViaService(fragment.conditions as Conditions);
  const bare = new BarePrincipal(json, principal.principalAccount);
  const aws = json.AWS ?? [];
  const kind = (json.Service?.length ?? 0) > 0 ? GranteeKind.SERVICE
    : aws.some(a => a === '*') ? GranteeKind.EVERYONE
      : aws.length > 0 && aws.every(a => isAccountRoot(stack, a)) ? GranteeKind.ACCOUNT
        : GranteeKind.NAMED;
  return {
    kind,
    principal: bare,
    account: principal.principalAccount,
    viaServices,
    conditions: rest,
    description: `${principal}`,
  };
}

/** Whether an AWS principal value is an account's root, as ARN or as a bare account id. */
function isAccountRoot(stack: Stack, value: string): boolean {
  if (/^[0-9]{12}$/.test(value)) return true;
  const resolved = stack.resolve(value);
  if (typeof resolved === 'string') return ROOT_ARN.test(resolved);
  // arn:${Partition}:iam::${Account}:root, as AccountRootPrincipal renders it.
  const parts = resolved?.['Fn::Join']?.[1];
  return Array.isArray(parts) && typeof parts[parts.length - 1] === 'string' && parts[parts.length - 1].endsWith(':root');
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
