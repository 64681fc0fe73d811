/*
 * Who can do what with a key, computed by evaluating its synthesized key policy
 * (resolved to strings) for every principal it names, the account's root user, any
 * other role of the account whose IAM policies allow kms:*, and a role of another
 * account: not by reading the statements' principals. Each principal is assumed to
 * have IAM kms:* as well (the worst case), so the key policy alone decides.
 */
import { ContextValue, evaluateKeyPolicy, PolicyJson, StatementJson } from './policy-evaluation';

/** What the access report asks of each principal, by the KMS action that decides it. */
export const CAPABILITIES = ['use', 'encrypt', 'administer', 'changePolicy', 'delete', 'grant'] as const;
export type Capability = typeof CAPABILITIES[number];

/**
 * The action that decides each capability. `use` is the operation with the secret:
 * decrypt, sign, compute a MAC, derive a secret; `encrypt` is the one without it:
 * make a data key, verify a signature or a MAC.
 */
export function capabilityActions(keyUsage: string): Record<Capability, string> {
  const [use, encrypt] = {
    SIGN_VERIFY: ['kms:Sign', 'kms:Verify'],
    GENERATE_VERIFY_MAC: ['kms:GenerateMac', 'kms:VerifyMac'],
    KEY_AGREEMENT: ['kms:DeriveSharedSecret', 'kms:GetPublicKey'],
  }[keyUsage] ?? ['kms:Decrypt', 'kms:GenerateDataKey'];
  return { use, encrypt, administer: 'kms:DisableKey', changePolicy: 'kms:PutKeyPolicy', delete: 'kms:ScheduleKeyDeletion', grant: 'kms:CreateGrant' };
}

/** One principal's access: for each capability, the ways it is allowed (empty: never). */
export interface PrincipalAccess {
  /** The principal's ARN, or a service principal's name. */
  readonly principal: string;
  /** How the report names it. */
  readonly label: string;
  /** Per capability: `directly`, `with MFA`, `through <service>`; empty when denied in every way tried. */
  readonly access: Record<Capability, string[]>;
}

/** What the access of one key is computed for. */
export interface KeyAccessOptions {
  readonly account: string;
  readonly partition: string;
  readonly keyUsage: string;
  /** How to name principals the policy names (their construct paths). */
  readonly labels?: Map<string, string>;
}

/** The principals and the request contexts the report tries. */
interface Scenario { readonly name: string; readonly context: Record<string, ContextValue> }

export const ANY_ROLE_LABEL = 'any other role of the account, with IAM kms:*';
export const OTHER_ACCOUNT_LABEL = 'a role of another account, with IAM kms:*';
const OTHER_ACCOUNT = '999999999999';

/** The access report of one key policy. */
export function keyAccess(policy: PolicyJson, options: KeyAccessOptions): PrincipalAccess[] {
  const { account, partition } = options;
  const actions = capabilityActions(options.keyUsage);
  const root = `arn:${partition}:iam::${account}:root`;
  const named = namedPrincipals(policy).filter(p => p !== root);
  const principals: { principal: string; label: string }[] = [
    ...named.map(p => ({ principal: p, label: options.labels?.get(p) ?? labelOf(p, account) })),
    { principal: root, label: 'account root user' },
    { principal: `arn:${partition}:iam::${account}:role/AnyOtherRoleWithKmsStar`, label: ANY_ROLE_LABEL },
    { principal: `arn:${partition}:iam::${OTHER_ACCOUNT}:role/OutsideRoleWithKmsStar`, label: OTHER_ACCOUNT_LABEL },
  ];
  const requests = statementsOf(policy).filter(st => st.Effect === 'Allow').map(requestOf);
  return principals.map(({ principal, label }) => {
    const scenarios = scenariosFor(principal, requests);
    const access = {} as Record<Capability, string[]>;
    for (const capability of CAPABILITIES) {
      const ways = scenarios.filter(scenario => evaluateKeyPolicy(policy, {
        principal, action: actions[capability], context: scenario.context, identityAllows: true,
      }).decision === 'Allowed').map(scenario => scenario.name);
      access[capability] = ways.includes('directly') ? ['directly'] : Array.from(new Set(ways));
    }
    return { principal, label, access };
  });
}

/**
 * What a caller chooses in a request, which the report sets as an Allow statement
 * asks: the encryption context, the grant's parameters, the algorithm, the alias
 * named, the network, the service it calls through, and for a service the resource it
 * acts for.
 */
const REQUEST_KEY = /^(kms:(encryptioncontext:.*|encryptioncontextkeys|granteeprincipal|retiringprincipal|grantconstrainttype|grantoperations|encryptionalgorithm|signingalgorithm|macalgorithm|keyagreementalgorithm|requestalias|viaservice)|aws:(sourcevpc|sourcevpce|sourcearn|sourceaccount))$/;
const LIST_KEYS = ['kms:grantoperations', 'kms:encryptioncontextkeys'];

/** The request an Allow statement describes: the caller-chosen values its conditions compare with. */
function requestOf(statement: StatementJson): Record<string, ContextValue> {
  const request: Record<string, ContextValue> = {};
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    const bare = operator.split(':').pop()!;
    for (const [key, value] of Object.entries(block)) {
      const name = key.toLowerCase();
      const values = [value].flat().map(String).filter(v => !v.includes('${'));
      if (/^Bool/.test(bare) && name === 'aws:multifactorauthpresent' && values.includes('true')) request[name] = 'true';
      // A key the statement asks to be present, with any value.
      if (bare === 'Null' && values.includes('false') && REQUEST_KEY.test(name) && request[name] === undefined) request[name] = LIST_KEYS.includes(name) ? ['x'] : 'x';
      if (/^(Null|Bool)/.test(bare) || /Not/.test(bare) || values.length === 0 || !REQUEST_KEY.test(name)) continue;
      request[name] = LIST_KEYS.includes(name) ? values : values[0].replace(/[*?]/g, 'x');
    }
  }
  const contextKeys = Object.keys(request).filter(k => k.startsWith('kms:encryptioncontext:')).map(k => k.slice('kms:encryptioncontext:'.length));
  if (contextKeys.length > 0 && !request['kms:encryptioncontextkeys']) request['kms:encryptioncontextkeys'] = contextKeys;
  return request;
}

/**
 * The ways a principal may call: directly, with MFA, and each request an Allow
 * statement describes (through a service, with an encryption context, for a grant).
 */
function scenariosFor(principal: string, requests: Record<string, ContextValue>[]): Scenario[] {
  const secure = { 'aws:SecureTransport': 'true' };
  if (!principal.startsWith('arn:')) {
    const service = { ...secure, 'aws:PrincipalIsAWSService': 'true', 'aws:PrincipalServiceName': principal };
    return [{ name: 'directly', context: service }, ...requests.map(request => ({ name: 'directly', context: { ...service, ...request } }))];
  }
  const account = principal.split(':')[4];
  const identity: Record<string, ContextValue> = {
    ...secure,
    'aws:PrincipalArn': principal,
    'aws:PrincipalAccount': account,
    'kms:CallerAccount': account,
    'aws:PrincipalType': principal.endsWith(':root') ? 'Account' : 'AssumedRole',
    'aws:PrincipalIsAWSService': 'false',
    'aws:ViaAWSService': 'false',
    'aws:MultiFactorAuthPresent': 'false',
  };
  const mfa = { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '60' };
  const scenarios: Scenario[] = [{ name: 'directly', context: identity }, { name: 'with MFA', context: { ...identity, ...mfa } }];
  for (const request of requests) {
    const via = request['kms:viaservice'];
    const context = { ...identity, ...request, ...(request['aws:multifactorauthpresent'] ? mfa : {}) };
    if (typeof via === 'string') Object.assign(context, { 'aws:ViaAWSService': 'true', 'kms:GrantIsForAWSResource': 'true' });
    const name = typeof via === 'string' ? `through ${via.split('.')[0]}` : request['aws:multifactorauthpresent'] ? 'with MFA'
      : Object.keys(request).some(k => k.startsWith('kms:encryptioncontext')) ? 'with its encryption context'
        : Object.keys(request).some(k => k.startsWith('kms:grant')) ? 'for the grants it allows' : 'directly';
    scenarios.push({ name, context });
  }
  return scenarios;
}

/** The IAM principals and services a policy names: in Principal, and in aws:PrincipalArn conditions. */
function namedPrincipals(policy: PolicyJson): string[] {
  const found: string[] = [];
  for (const statement of statementsOf(policy)) {
    const principal = statement.Principal;
    if (principal && typeof principal === 'object') {
      for (const [kind, value] of Object.entries(principal)) {
        if (kind === 'AWS' || kind === 'Service') found.push(...[value].flat().map(String));
      }
    }
    for (const block of Object.values(statement.Condition ?? {})) {
      for (const [key, value] of Object.entries(block)) {
        if (key.toLowerCase() === 'aws:principalarn') found.push(...[value].flat().map(String));
      }
    }
  }
  return Array.from(new Set(found.filter(p => p !== '*' && !/[*?]/.test(p)).map(p => (/^\d{12}$/.test(p) ? `arn:aws:iam::${p}:root` : p))));
}

function statementsOf(policy: PolicyJson) {
  return [policy.Statement].flat();
}

function labelOf(principal: string, account: string): string {
  if (!principal.startsWith('arn:')) return `service ${principal}`;
  const [, , , , principalAccount, resource] = principal.split(':');
  const where = principalAccount === account ? '' : ` of account ${principalAccount}`;
  if (resource === 'root') return `root of account ${principalAccount}`;
  return `${resource.split('/')[0]} ${resource.split('/').pop()}${where}`;
}
