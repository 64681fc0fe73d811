/*
 * Who can do what with a key, computed by evaluating its synthesized key policy
 * (resolved to strings) for every principal it names (by ARN, account, ARN pattern),
 * the account's root user, any other role of the account, and a role of another
 * account: not by reading the statements' principals. Each principal is assumed to
 * have IAM kms:* as well (the worst case), so the key policy alone decides. Each call
 * is tried as the requests the policy describes: directly, with MFA, through each
 * service it names, with the encryption context, grant or conditions a statement asks
 * for, from inside the network and organization its perimeter names.
 */
import { ContextValue, evaluateKeyPolicy, PolicyJson, StatementJson } from './policy-evaluation';

/** What the access report asks of each principal. */
export const CAPABILITIES = ['use', 'encrypt', 'administer', 'changePolicy', 'delete', 'grant'] as const;
export type Capability = typeof CAPABILITIES[number];

/**
 * The actions that give each capability; any one of them gives it. `use` is what
 * needs the secret: decrypt (or re-encrypt away, or a data key pair's private key),
 * sign, compute a MAC, derive a secret; `encrypt` is what does not.
 */
export function capabilityActions(keyUsage: string): Record<Capability, string[]> {
  const [use, encrypt] = {
    SIGN_VERIFY: [['kms:Sign'], ['kms:Verify', 'kms:GetPublicKey']],
    GENERATE_VERIFY_MAC: [['kms:GenerateMac'], ['kms:VerifyMac']],
    KEY_AGREEMENT: [['kms:DeriveSharedSecret'], ['kms:GetPublicKey']],
  }[keyUsage] ?? [
    ['kms:Decrypt', 'kms:ReEncryptFrom', 'kms:GenerateDataKeyPair'],
    ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptTo'],
  ];
  return {
    use,
    encrypt,
    administer: ['kms:DisableKey', 'kms:DisableKeyRotation', 'kms:TagResource', 'kms:UntagResource', 'kms:CreateAlias', 'kms:UpdateAlias',
      'kms:DeleteAlias', 'kms:ReplicateKey', 'kms:UpdatePrimaryRegion', 'kms:ImportKeyMaterial', 'kms:DeleteImportedKeyMaterial'],
    changePolicy: ['kms:PutKeyPolicy'],
    delete: ['kms:ScheduleKeyDeletion'],
    grant: ['kms:CreateGrant'],
  };
}

/** One principal's access: for each capability, the ways it is allowed (empty: never). */
export interface PrincipalAccess {
  /** The principal's ARN, or a service principal's name. */
  readonly principal: string;
  /** How the report names it. */
  readonly label: string;
  /** Per capability: `directly`, `with MFA`, `through <service>`, ...; empty when denied in every way tried. */
  readonly access: Record<Capability, string[]>;
}

/** A KeyGrant of the key, from its template. */
export interface GrantRecord {
  readonly grantee: string;
  readonly label: string;
  readonly operations: string[];
  readonly constraint?: string;
}

/** What the access of one key is computed for. */
export interface KeyAccessOptions {
  readonly account: string;
  readonly partition: string;
  readonly region: string;
  readonly keyUsage: string;
  /** Facts about the key the policy may test: `aws:ResourceTag/*`, `kms:KeySpec`, ... */
  readonly keyFacts?: Record<string, ContextValue>;
  /** How to name principals the policy names (their construct paths). */
  readonly labels?: Map<string, string>;
  /** The key's KeyGrants, which give use besides the policy. */
  readonly grants?: GrantRecord[];
}

interface Scenario { readonly name: string; readonly context: Record<string, ContextValue> }

export const ANY_ROLE_LABEL = 'any other role of the account, with IAM kms:*';
export const OTHER_ACCOUNT_LABEL = 'a role of another account, with IAM kms:*';
const OTHER_ACCOUNT = '999999999999';
/** Keys of the caller's identity, which the report sets for each principal and no statement's request may change. */
const IDENTITY_KEYS = /^(aws:(principalarn|principalaccount|principaltype|principalisawsservice|principalservicename|principalorgid|userid|username|viaawsservice|multifactorauthpresent|multifactorauthage)|kms:calleraccount)$/;
/** The network and organization a perimeter names: a caller inside it is assumed. */
const PERIMETER_KEYS = ['aws:sourcevpce', 'aws:sourcevpc', 'aws:sourceip', 'aws:vpcsourceip', 'aws:principalorgid', 'aws:principalorgpaths'];
const GRANT_USE = new Set(['Decrypt', 'ReEncryptFrom', 'GenerateDataKeyPair', 'Sign', 'GenerateMac', 'DeriveSharedSecret']);
const GRANT_ENCRYPT = new Set(['Encrypt', 'GenerateDataKey', 'GenerateDataKeyWithoutPlaintext', 'ReEncryptTo', 'Verify', 'VerifyMac', 'GetPublicKey']);

/** The access report of one key policy. */
export function keyAccess(policy: PolicyJson, options: KeyAccessOptions): PrincipalAccess[] {
  // Keys of one stack often have the same policy (the same admin role, no grantee):
  // evaluated once. The report is a pure function of the policy and the options.
  const id = JSON.stringify([policy, { ...options, labels: Array.from(options.labels ?? []) }]);
  let report = reports.get(id);
  if (!report) {
    if (reports.size >= 256) reports.delete(reports.keys().next().value!);
    report = accessOf(policy, options);
    reports.set(id, report);
  }
  return structuredClone(report);
}

/** Reports already made, by policy and options; the oldest go first. */
const reports = new Map<string, PrincipalAccess[]>();

function accessOf(policy: PolicyJson, options: KeyAccessOptions): PrincipalAccess[] {
  const { account, partition } = options;
  const actions = capabilityActions(options.keyUsage);
  const root = `arn:${partition}:iam::${account}:root`;
  const deployTime: { principal: string; label: string }[] = [];
  const readable = withReadablePrincipals(policy, account, partition, deployTime);
  const anyRole = `arn:${partition}:iam::${account}:role/AnyRoleWithKmsStar`;
  const named = namedPrincipals(readable, partition).filter(p => p.principal !== root && p.principal !== anyRole);
  const principals = [
    ...deployTime,
    ...named.map(p => ({ principal: p.principal, label: options.labels?.get(p.principal) ?? p.label ?? labelOf(p.principal, account) })),
    { principal: root, label: 'account root user' },
    { principal: `arn:${partition}:iam::${account}:role/AnyOtherRoleWithKmsStar`, label: ANY_ROLE_LABEL },
    { principal: `arn:${partition}:iam::${OTHER_ACCOUNT}:role/OutsideRoleWithKmsStar`, label: OTHER_ACCOUNT_LABEL },
  ].filter((p, i, all) => all.findIndex(q => q.principal === p.principal) === i);
  const statements = [readable.Statement].flat();
  const requests = statements.filter(st => st.Effect === 'Allow').flatMap(requestsOf);
  const base = baseContext(statements, options);
  const report = principals.map(({ principal, label }) => {
    const scenarios = scenariosFor(principal, requests, base, principal.includes(`::${OTHER_ACCOUNT}:`));
    const access = {} as Record<Capability, string[]>;
    for (const capability of CAPABILITIES) {
      const ways = scenarios.filter(scenario => actions[capability].some(action => evaluateKeyPolicy(readable, {
        principal, action, context: scenario.context, identityAllows: true,
      }).decision === 'Allowed')).map(scenario => scenario.name);
      access[capability] = ways.includes('directly') ? ['directly'] : Array.from(new Set(ways));
    }
    return { principal, label, access };
  });
  return [...report, ...(options.grants ?? []).map(grantAccess)];
}

/** What a KeyGrant gives its grantee, besides the key policy: its operations, under its constraint. */
function grantAccess(grant: GrantRecord): PrincipalAccess {
  const way = `through its grant${grant.constraint ? ` (${grant.constraint})` : ''}`;
  const has = (set: Set<string>) => (grant.operations.some(op => set.has(op)) ? [way] : []);
  return {
    principal: grant.grantee,
    label: grant.label,
    access: {
      use: has(GRANT_USE),
      encrypt: has(GRANT_ENCRYPT),
      administer: [],
      changePolicy: [],
      delete: [],
      grant: grant.operations.includes('CreateGrant') ? [way] : [],
    },
  };
}

/**
 * What every request carries: TLS, the time and Region, the key's own facts, and a
 * caller inside the network and organization the policy's perimeter names (the values
 * its Allow statements ask for, or its Deny statements' negated conditions spare).
 */
function baseContext(statements: StatementJson[], options: KeyAccessOptions): Record<string, ContextValue> {
  const context: Record<string, ContextValue> = {
    'aws:SecureTransport': 'true',
    'aws:CurrentTime': new Date().toISOString(),
    'aws:EpochTime': String(Math.floor(Date.now() / 1000)),
    'aws:RequestedRegion': options.region,
    ...options.keyFacts,
  };
  for (const statement of statements) {
    for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
      const negated = /Not/.test(operator);
      if ((statement.Effect === 'Deny') !== negated) continue;
      for (const [key, value] of Object.entries(block)) {
        const name = key.toLowerCase();
        const first = [value].flat().map(String).find(v => !v.includes('${'));
        if (PERIMETER_KEYS.includes(name) && first !== undefined && context[name] === undefined) context[name] = concrete(name, first);
      }
    }
  }
  return context;
}

/** A value that matches a pattern or CIDR the policy names. */
function concrete(key: string, value: string): string {
  if (/sourceip$/.test(key)) return value.split('/')[0];
  return value.replace(/[*?]/g, 'x');
}

/**
 * The requests an Allow statement describes: the values its conditions compare with,
 * for everything the caller or the calling service chooses (one request per service
 * it names). The caller's identity is the principal's.
 */
function requestsOf(statement: StatementJson): Record<string, ContextValue>[] {
  const request: Record<string, ContextValue> = {};
  let services: string[] = [];
  for (const [operator, block] of Object.entries(statement.Condition ?? {})) {
    const bare = operator.split(':').pop()!;
    for (const [key, value] of Object.entries(block)) {
      const name = key.toLowerCase();
      const values = [value].flat().map(String).filter(v => !v.includes('${'));
      if (/^Bool/.test(bare) && name === 'aws:multifactorauthpresent' && values.includes('true')) request[name] = 'true';
      // The caller's identity, network and time are the report's to set.
      if (IDENTITY_KEYS.test(name) || PERIMETER_KEYS.includes(name) || name === 'aws:currenttime' || name === 'aws:epochtime') continue;
      // A key the statement asks to be present, with any value.
      if (bare === 'Null' && values.includes('false') && request[name] === undefined) request[name] = name.endsWith('keys') || name === 'kms:grantoperations' ? ['x'] : 'x';
      // Bool keys (kms:GrantIsForAWSResource, aws:ViaAWSService) are set by the services a caller goes through.
      if (/^(Null|Bool)/.test(bare) || /Not/.test(bare) || values.length === 0) continue;
      if (name === 'kms:viaservice') services = values;
      else if (operator.startsWith('For') || name === 'kms:grantoperations' || name === 'kms:encryptioncontextkeys') request[name] = values;
      else request[name] = concrete(name, values[0]);
    }
  }
  const contextKeys = Object.keys(request).filter(k => k.startsWith('kms:encryptioncontext:')).map(k => k.slice('kms:encryptioncontext:'.length));
  if (contextKeys.length > 0 && !request['kms:encryptioncontextkeys']) request['kms:encryptioncontextkeys'] = contextKeys;
  return services.length === 0 ? [request] : services.map(via => ({ ...request, 'kms:viaservice': via }));
}

/**
 * The ways a principal may call: directly, with MFA, through any AWS service for a
 * grant, and each request an Allow statement describes.
 */
function scenariosFor(
  principal: string, requests: Record<string, ContextValue>[], base: Record<string, ContextValue>, outsider: boolean,
): Scenario[] {
  const inside = outsider ? Object.fromEntries(Object.entries(base).filter(([k]) => !k.startsWith('aws:principalorg'))) : base;
  if (!principal.startsWith('arn:')) {
    const service = { ...inside, 'aws:PrincipalIsAWSService': 'true', 'aws:PrincipalServiceName': principal };
    return [{ name: 'directly', context: service }, ...requests.map(request => ({ name: 'directly', context: { ...service, ...request } }))];
  }
  const account = principal.split(':')[4];
  // Role sessions always carry the MFA key; a user's or the root user's long-term keys do not.
  const session = /:role\//.test(principal);
  const identity: Record<string, ContextValue> = {
    ...inside,
    'aws:PrincipalArn': principal,
    'aws:PrincipalAccount': account,
    'kms:CallerAccount': account,
    'aws:PrincipalType': principal.endsWith(':root') ? 'Account' : session ? 'AssumedRole' : 'User',
    'aws:PrincipalIsAWSService': 'false',
    'aws:ViaAWSService': 'false',
    ...(session ? { 'aws:MultiFactorAuthPresent': 'false' } : {}),
  };
  const mfa = { 'aws:MultiFactorAuthPresent': 'true', 'aws:MultiFactorAuthAge': '60' };
  const viaService = (via: string) => ({ 'kms:ViaService': via, 'aws:ViaAWSService': 'true', 'kms:GrantIsForAWSResource': 'true' });
  const scenarios: Scenario[] = [
    { name: 'directly', context: identity },
    { name: 'with MFA', context: { ...identity, ...mfa } },
    { name: 'through an AWS service', context: { ...identity, ...viaService(`an-aws-service.${String(base['aws:RequestedRegion'])}.amazonaws.com`) } },
  ];
  for (const request of requests) {
    // What a service acting for a resource sets is no IAM principal's to choose.
    const own = Object.fromEntries(Object.entries(request).filter(([k]) => !k.startsWith('aws:source')));
    const via = own['kms:viaservice'];
    const context = { ...identity, ...own, ...(own['aws:multifactorauthpresent'] ? mfa : {}), ...(typeof via === 'string' ? viaService(via) : {}) };
    const keys = Object.keys(own).filter(k => k !== 'kms:viaservice' && k !== 'aws:multifactorauthpresent');
    const name = typeof via === 'string' ? `through ${via.split('.')[0]}` : own['aws:multifactorauthpresent'] ? 'with MFA'
      : keys.length === 0 ? 'directly'
        : keys.every(k => k.startsWith('kms:encryptioncontext')) ? 'with its encryption context'
          : keys.every(k => k.startsWith('kms:grant') || k.startsWith('kms:encryptioncontext') || k.startsWith('kms:retiring')) ? 'for the grants it allows'
            : `when ${keys.map(k => `${k}=${[own[k]].flat().join(',')}`).join(' and ')}`;
    scenarios.push({ name, context });
  }
  return scenarios;
}

/**
 * The policy with every principal the evaluator can read: a deploy-time value (an
 * imported or conditional ARN) becomes a stand-in of the account, reported as such.
 */
function withReadablePrincipals(policy: PolicyJson, account: string, partition: string, found: { principal: string; label: string }[]): PolicyJson {
  const readable = (value: string) => {
    if (value === '*' || /^arn:/.test(value) || /^\d{12}$/.test(value) || /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(value)) return value;
    const standIn = `arn:${partition}:iam::${account}:role/DeployTimePrincipal${found.length + 1}`;
    found.push({ principal: standIn, label: `deploy-time principal ${value} (assumed a role of the account)` });
    return standIn;
  };
  const principalOf = (p: StatementJson['Principal']) => (p === undefined || typeof p === 'string' ? p
    : Object.fromEntries(Object.entries(p).map(([kind, v]) => [kind, Array.isArray(v) ? v.map(readable) : readable(v)])));
  return {
    ...policy,
    Statement: [policy.Statement].flat().map(st => ({ ...st, Principal: principalOf(st.Principal), NotPrincipal: principalOf(st.NotPrincipal) })),
  };
}

/**
 * The principals a policy names: in Principal and NotPrincipal, in aws:PrincipalArn
 * conditions (an ARN pattern as a role that matches it), and the accounts that
 * kms:CallerAccount and aws:PrincipalAccount conditions name.
 */
function namedPrincipals(policy: PolicyJson, partition: string): { principal: string; label?: string }[] {
  const found: { principal: string; label?: string }[] = [];
  const account = (id: string) => ({ principal: `arn:${partition}:iam::${id}:role/AnyRoleWithKmsStar`, label: `any role of account ${id}, with IAM kms:*` });
  for (const statement of [policy.Statement].flat()) {
    for (const principal of [statement.Principal, statement.NotPrincipal]) {
      if (!principal || typeof principal !== 'object') continue;
      for (const [kind, value] of Object.entries(principal)) {
        if (kind !== 'AWS' && kind !== 'Service') continue;
        for (const p of [value].flat().map(String).filter(v => v !== '*')) {
          found.push(/^\d{12}$/.test(p) ? { principal: `arn:${partition}:iam::${p}:root` } : { principal: p });
        }
      }
    }
    for (const block of Object.values(statement.Condition ?? {})) {
      for (const [key, value] of Object.entries(block)) {
        const values = [value].flat().map(String).filter(v => !v.includes('${'));
        if (key.toLowerCase() === 'aws:principalarn') {
          found.push(...values.map(v => (/[*?]/.test(v) ? { principal: v.replace(/[*?]/g, 'x'), label: `principals matching ${v}` } : { principal: v })));
        }
        if (['kms:calleraccount', 'aws:principalaccount'].includes(key.toLowerCase())) found.push(...values.filter(v => /^\d{12}$/.test(v)).map(account));
      }
    }
  }
  return found;
}

function labelOf(principal: string, account: string): string {
  if (!principal.startsWith('arn:')) return `service ${principal}`;
  const [, , , , principalAccount, resource] = principal.split(':');
  const where = principalAccount === account ? '' : ` of account ${principalAccount}`;
  if (resource === 'root') return `root of account ${principalAccount}`;
  return `${resource.split('/')[0]} ${resource.split('/').pop()}${where}`;
}
