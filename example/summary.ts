/*
 * Prints, per key in a synthesized cloud assembly, what a reviewer asks first: its
 * alias, classification, spec, rotation, who can use, administer, change and delete it,
 * the alarms that watch it, and what cdk-nag found. Everything is read back from the
 * cloud assembly, not from the constructs, so the summary shows what would be deployed:
 * the templates, and the key inventory the library writes at synthesis, whose access
 * report evaluates each synthesized key policy.
 *
 *   ts-node example/summary.ts cdk.out
 */
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

type Json = any;

function main(outdir: string): void {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
  const nagFile = join(outdir, 'nag-findings.json');
  const nag = existsSync(nagFile) ? JSON.parse(readFileSync(nagFile, 'utf8')) : undefined;
  const inventoryFile = join(outdir, 'kms-key-inventory.json');
  const inventory = existsSync(inventoryFile) ? JSON.parse(readFileSync(inventoryFile, 'utf8')) : undefined;
  let keys = 0;
  const keyPaths: string[] = [];
  const stacks = Object.entries<Json>(manifest.artifacts)
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
    .map(([stackName, artifact]) => ({
      stackName,
      environment: artifact.environment as string,
      resources: (JSON.parse(readFileSync(join(outdir, artifact.properties.templateFile), 'utf8')).Resources ?? {}) as Record<string, Json>,
    }));
  // Roles named by ARN in key policies (the library's admin roles have names): their
  // construct paths, in whichever stack they are.
  const roleByName = new Map<string, string>();
  for (const stack of stacks) {
    for (const resource of Object.values(stack.resources)) {
      if (resource.Type === 'AWS::IAM::Role' && typeof resource.Properties?.RoleName === 'string') {
        roleByName.set(resource.Properties.RoleName, resource.Metadata?.['aws:cdk:path']?.replace(/\/Resource$/, '') ?? resource.Properties.RoleName);
      }
    }
  }
  // The shared alarms of each stack's audit watch count every key of its account and Region.
  const sharedAlarms = (stackName: string, imported: boolean) => stacks
    .filter(stack => stack.stackName === stackName)
    .flatMap(stack => Object.values(stack.resources))
    .filter(r => r.Type === 'AWS::CloudWatch::Alarm')
    .map(r => r.Metadata?.['aws:cdk:path']?.split('/').slice(-2, -1)[0])
    .filter(id => ['KeyStateChangesAlarm', 'KeyPolicyOrGrantChangesAlarm', 'KeyAliasOrTagChangesAlarm'].includes(id) || (imported && id === 'KeyMaterialExpiryAlarm'));
  for (const { stackName, environment, resources } of stacks) {
    const pathOf = (logicalId: string) => resources[logicalId]?.Metadata?.['aws:cdk:path']?.replace(/\/Resource$/, '') ?? logicalId;
    for (const [logicalId, key] of Object.entries(resources)) {
      if (!['AWS::KMS::Key', 'AWS::KMS::ReplicaKey', 'Custom::KmsHsmKey'].includes(key.Type)) continue;
      keys++;
      const props = key.Properties;
      const keyPath = pathOf(logicalId).replace(/\/Resource$/, '');
      keyPaths.push(keyPath);
      const tag = (name: string) => (props.Tags ?? []).find((t: Json) => t.Key === name)?.Value;
      const aliases = Object.values(resources)
        .filter(r => r.Type === 'AWS::KMS::Alias' && JSON.stringify(r.Properties.TargetKeyId).includes(`"${logicalId}"`))
        .map(r => r.Properties.AliasName);
      const statements: Json[] = props.KeyPolicy.Statement.filter((s: Json) => s.Effect === 'Allow');
      // MFA is asked either by the created admin role's trust policy or, for an
      // adopted admin role, by the key policy's administration statement.
      // The admin role is named in the key policy by its ARN (a role of the library's
      // own), or referenced.
      const roleNamed = (p: Json) => {
        const arn = typeof p === 'string' ? p : p?.['Fn::Sub'];
        const name = typeof arn === 'string' ? arn.split(':role/')[1] : undefined;
        return Object.values(resources).find(r => r.Type === 'AWS::IAM::Role' && name !== undefined && r.Properties.RoleName === name)
          ?? resources[p?.['Fn::GetAtt']?.[0]];
      };
      const adminRoles = statements.filter(s => s.Sid === 'KeyAdministration')
        .flatMap(s => [s.Principal.AWS].flat())
        .map(roleNamed)
        .filter(Boolean);
      const mfa = adminRoles.some(r => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('aws:MultiFactorAuthPresent'))
        || statements.some(s => s.Sid === 'KeyAdministrationWithMfa');
      const nagLine = nag === undefined
        ? 'not run'
        : summarizeNag(nag.findings.filter((f: Json) => f.path?.startsWith(`${keyPath}/`)), nag.packs);

      console.log(aliases[0] ?? keyPath);
      row('classification', [tag('data-classification'), tag('owner') && `owner ${tag('owner')}`, tag('compliance-scope') && `scope ${tag('compliance-scope')}`].filter(Boolean).join(', '));
      if (key.Type === 'Custom::KmsHsmKey') {
        const store = resources[props.CustomKeyStoreId?.['Fn::GetAtt']?.[0]]?.Properties ?? {};
        row('key', `SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT, material in custom key store ${store.CustomKeyStoreName}`);
        row('cluster', describeCluster(store.CloudHsmClusterId, resources, pathOf));
        row('rotation', 'never (KMS does not rotate keys in a CloudHSM key store)');
      } else if (key.Type === 'AWS::KMS::ReplicaKey') {
        // The primary is found at deploy time through its alias, in its Region.
        const lookup = resources[props.PrimaryKeyArn?.['Fn::GetAtt']?.[0]]?.Properties ?? {};
        row('key', `multi-Region replica in ${environment.split('/').pop()} of the primary of stack ${lookup.PrimaryStackName} in ${lookup.PrimaryRegion}`);
        row('rotation', 'the primary\'s (spec, usage, material and rotation are shared)');
      } else {
        const replicas = statements.filter(s => s.Sid?.startsWith('ReplicateTo')).flatMap(s => [s.Condition?.StringEquals?.['kms:ReplicaRegion']].flat());
        const multiRegion = props.MultiRegion ? `, multi-Region primary${replicas.length > 0 ? ` (replicas in ${replicas.join(', ')})` : ''}` : '';
        row('key', `${props.KeySpec} for ${props.KeyUsage}${props.Origin === 'EXTERNAL' ? ', imported material' : ''}${multiRegion}`);
        row('rotation', props.EnableKeyRotation ? `every ${props.RotationPeriodInDays} days` : 'none');
      }
      const promotion = statements.find(s => s.Sid?.startsWith('UpdatePrimaryRegionInSet'));
      if (promotion) {
        const who = [promotion.Principal.AWS].flat().map((p: Json) => describePrincipal(p, pathOf, environment.split('/').pop()!, roleByName));
        row('failover', `${who.join(', ')} may promote a replica (UpdatePrimaryRegion)`);
      }
      // Who can do what: evaluated from the key policy at synthesis (the key inventory),
      // for every principal it names and for roles it does not name.
      const entry = inventory?.keys.find((k: Json) => keyPath === k.path || keyPath.startsWith(`${k.path}/`));
      const access: string[] = entry === undefined ? ['no inventory'] : entry.accessError ? [entry.accessError] : entry.access.map(describeAccess);
      row('access', access.join('\n' + ' '.repeat(18)));
      if (mfa) row('', '(the admin role\'s trust asks for MFA: its sessions have it)');
      const own = Object.values(resources)
        .filter(r => r.Type === 'AWS::CloudWatch::Alarm' && r.Metadata?.['aws:cdk:path']?.startsWith(`${keyPath}/`))
        .map(r => `${r.Metadata['aws:cdk:path'].split('/').slice(-2, -1)[0]} (${r.Properties.AlarmDescription.split(': ').slice(1).join(': ')})`);
      const shared = sharedAlarms(stackName, props.Origin === 'EXTERNAL');
      // A key in a custom key store is watched with its store too.
      const storeId = key.Type === 'Custom::KmsHsmKey' ? props.CustomKeyStoreId?.['Fn::GetAtt']?.[0] : undefined;
      const storeAlarms = storeId === undefined ? [] : Object.values(resources)
        .filter(r => r.Type === 'AWS::CloudWatch::Alarm' && r.Metadata?.['aws:cdk:path']?.startsWith(`${pathOf(storeId).replace(/\/Resource\/Default$|\/Resource$/, '')}/`)
          && !r.Metadata['aws:cdk:path'].startsWith(`${keyPath}/`))
        .map(r => r.Metadata['aws:cdk:path'].split('/').slice(-2, -1)[0]);
      const alarms = [
        ...(shared.length > 0 ? [`${shared.join(', ')} (its stack's watch, one contributor per key)`] : []),
        ...(storeAlarms.length > 0 ? [`${storeAlarms.join(', ')} (its store's)`] : []),
        ...own,
      ];
      row('alarms', alarms.length > 0 ? alarms.join('\n' + ' '.repeat(18)) : 'none (no audit trail in its account and Region)');
      row('cdk-nag', nagLine);
      row('stack', stackName);
      console.log();
    }
  }
  console.log(`${keys} keys in ${outdir}`);
  // The audit spine: a watch in every stack with keys, one trail per account.
  const byType = (type: string) => stacks.flatMap(stack => Object.values(stack.resources)
    .filter(r => r.Type === type).map(() => stack));
  const trails = byType('AWS::CloudTrail::Trail');
  const watches = byType('AWS::Events::Rule').filter(stack => Object.values(stack.resources)
    .some(r => r.Type === 'AWS::Scheduler::Schedule'));
  const withKeys = stacks.filter(stack => Object.values(stack.resources).some(r => r.Type === 'AWS::KMS::Key'));
  const accounts = unique(withKeys.map(stack => stack.environment.split('/')[2]));
  console.log(`audit spine: ${trails.length} CloudTrail trail${trails.length === 1 ? '' : 's'} for ${accounts.length} account${accounts.length === 1 ? '' : 's'}`
    + ` (${trails.map(stack => `${stack.stackName}, ${stack.environment.split('/').pop()}`).join('; ')});`
    + ` a watch with its heartbeat in each of ${unique(watches.map(stack => stack.stackName)).join(', ')}`);
  // Compliance evidence: the key inventory, and each stack's saved queries, Config rules and forwarding.
  console.log(inventory === undefined ? 'key inventory: none (no ClassifiedKey, or turned off)'
    : `key inventory: ${join(outdir, 'kms-key-inventory.json')} and .md, ${inventory.keys.length} keys with the controls each property answers`);
  for (const stack of stacks) {
    const of = (type: string) => Object.values(stack.resources).filter(r => r.Type === type);
    const queries = of('AWS::Logs::QueryDefinition');
    const rules = of('AWS::Config::ConfigRule').map(r => r.Properties.Source.SourceIdentifier);
    const forwarding = of('AWS::Events::Rule').filter(r => JSON.stringify(r.Properties.EventPattern ?? {}).includes('AWS Service Event via CloudTrail'));
    if (queries.length + rules.length + forwarding.length === 0) continue;
    console.log(`evidence in ${stack.stackName}: ${queries.length} saved queries (${unique(queries.map(q => q.Properties.Name.split('/').slice(0, 2).join('/')))
      .join(', ')}); Config rules ${rules.join(', ') || 'none'}; ${forwarding.length > 0 ? 'KMS events forwarded to a SIEM' : 'no forwarding'}`);
  }
  // The organization's guardrails: each policy, its size against Organizations' limit, its targets.
  for (const stack of stacks) {
    for (const policy of Object.values(stack.resources).filter(r => r.Type === 'AWS::Organizations::Policy')) {
      const props = policy.Properties;
      const size = JSON.stringify(props.Content).length;
      const sids = props.Content.Statement.map((st: Json) => st.Sid).join(', ');
      console.log(`guardrail ${props.Name} (${props.Type === 'SERVICE_CONTROL_POLICY' ? 'SCP' : 'RCP'}, ${stack.stackName}): ${size}/5120 characters, `
        + `attached to ${(props.TargetIds ?? []).join(', ') || 'nothing'}; ${sids}`);
    }
  }
  if (nag !== undefined) {
    const others = nag.findings.filter((f: Json) => !keyPaths.some(p => f.path?.startsWith(`${p}/`)));
    const trail = others.filter((f: Json) => /\/KeyAuditTrail\//.test(f.path ?? ''));
    console.log(`cdk-nag on the audit trail:    ${summarizeNag(trail, nag.packs)}`);
    // The library's other constructs of the example: its evidence, grants and handlers.
    const library = others.filter((f: Json) => /\/(Evidence|OnCallCrmToken|KmsConstructsCustomResources)\//.test(f.path ?? ''));
    console.log(`cdk-nag on the evidence, grant and handlers: ${summarizeNag(library, nag.packs)}`);
    const consumers = others.filter((f: Json) => !trail.includes(f) && !library.includes(f));
    const owners = unique(consumers.map((f: Json) => String(f.path).split('/').slice(0, 2).join('/')));
    console.log(`cdk-nag on the example's own consumers (not part of the library): ${consumers.length} findings`
      + (owners.length > 0 ? `, on ${owners.join(', ')}` : ''));
  }
}

/** A key store's cluster: adopted by its ID, or made by the stack with its HSMs. */
function describeCluster(clusterId: Json, resources: Record<string, Json>, pathOf: (id: string) => string): string {
  if (typeof clusterId === 'string') return `CloudHSM cluster ${clusterId} (adopted)`;
  const logicalId = clusterId?.['Fn::GetAtt']?.[0];
  const cluster = resources[logicalId]?.Properties ?? {};
  const refersTo = (r: Json) => JSON.stringify(r.Properties?.ClusterId) === JSON.stringify({ 'Fn::GetAtt': [logicalId, 'ClusterId'] });
  const hsms = Object.values(resources).find(r => r.Type === 'Custom::CloudHsmHsms' && refersTo(r))?.Properties ?? {};
  const init = Object.values(resources).find(r => r.Type === 'Custom::CloudHsmClusterInitialization' && refersTo(r))?.Properties;
  const count = hsms.Activated === 'true' ? `${hsms.HsmCount} HSMs` : `1 HSM until activated, then ${hsms.HsmCount}`;
  const ca = init === undefined ? 'initialized by hand' : `initialized by ${typeof init.CertificateAuthorityArn === 'string' ? init.CertificateAuthorityArn.split('/').pop() : 'a CA of the stack'}`;
  return `new CloudHSM cluster ${pathOf(logicalId)}: ${count} of ${cluster.HsmType} in ${cluster.Mode} mode over ${cluster.SubnetIds?.length} zones, ${ca}`;
}

function describePrincipal(principal: Json, pathOf: (id: string) => string, ownRegion: string, roleByName: Map<string, string>): string {
  // An ARN written literally, or with Fn::Sub where the account is known only at deploy time.
  const arn = typeof principal === 'string' ? principal : principal['Fn::Sub'];
  if (typeof arn === 'string' && arn.endsWith(':root')) return 'account root (lockout guard)';
  if (typeof arn === 'string' && arn.includes('cfn-exec-role')) {
    // Another Region's deploy role creates a global table's replica with this key.
    const region = /-([a-z]+-[a-z]+-\d)$/.exec(arn)?.[1];
    return region !== undefined && region !== ownRegion
      ? `deploy role of ${region} (creating its resources' replicas here)`
      : 'deploy role (creating resources)';
  }
  if (typeof arn === 'string' && arn.includes(':role/')) {
    const name = arn.split(':role/')[1].split('/').pop()!;
    return `role ${roleByName.get(name) ?? name}`;
  }
  if (typeof arn === 'string') return arn;
  if (principal['Fn::GetAtt']) {
    // The keys' handler of a custom key store writes the key policy, as KMS asks of
    // whoever creates the key; it never uses the key.
    const path = pathOf(principal['Fn::GetAtt'][0]);
    return /\/KmsConstructsCustomResources\/HsmKey\//.test(path) ? 'the HSM keys\' handler (writes the policy at deployment)' : path;
  }
  const joined = JSON.stringify(principal);
  if (joined.includes(':root')) return 'account root (lockout guard)';
  if (joined.includes('cfn-exec-role')) return 'deploy role (creating resources)';
  return joined;
}

const CAPABILITY_NAMES: Record<string, string> = {
  use: 'use', encrypt: 'encrypt or verify', administer: 'administer', changePolicy: 'change policy', delete: 'delete', grant: 'create grants',
};

/** One principal's line of the access report: its capabilities, grouped by how they are allowed. */
function describeAccess(principal: Json): string {
  const byWays = new Map<string, string[]>();
  for (const [capability, ways] of Object.entries<string[]>(principal.access)) {
    if (ways.length === 0) continue;
    const how = ways.includes('directly') ? '' : ` (${ways.join(', ')})`;
    byWays.set(how, [...byWays.get(how) ?? [], CAPABILITY_NAMES[capability]]);
  }
  const can = Array.from(byWays, ([how, capabilities]) => `${capabilities.join(', ')}${how}`);
  return `${principal.label}: ${can.length > 0 ? can.join('; ') : 'nothing'}`;
}

function summarizeNag(findings: Json[], packs: string[]): string {
  if (findings.length === 0) return `no findings (${packs.join(', ')})`;
  return `${findings.length} findings: ${unique(findings.map(f => f.rule)).join(', ')}`;
}

function row(label: string, value: string): void {
  console.log(`  ${label.padEnd(16)}${value}`);
}

function unique<T>(values: T[]): T[] {
  return Array.from(new Set(values));
}

main(process.argv[2] ?? 'cdk.out');
