/*
 * Prints, per key in a synthesized cloud assembly, what a reviewer asks first: its
 * alias, classification, spec, rotation, who administers it, who uses it, and what
 * cdk-nag found. Everything is read back from the synthesized templates, not from
 * the constructs, so the summary shows what would be deployed.
 *
 *   ts-node example/summary.ts cdk.out
 */
import { existsSync, readFileSync } from 'fs';
import { join } from 'path';

type Json = any;
const ADMINISTRATION = 'kms:PutKeyPolicy';
const CRYPTOGRAPHY = /^kms:(Encrypt|Decrypt|ReEncrypt|GenerateDataKey|Sign|Verify$|GenerateMac|VerifyMac|DeriveSharedSecret)/;

function main(outdir: string): void {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
  const nagFile = join(outdir, 'nag-findings.json');
  const nag = existsSync(nagFile) ? JSON.parse(readFileSync(nagFile, 'utf8')) : undefined;
  let keys = 0;
  const keyPaths: string[] = [];
  for (const [stackName, artifact] of Object.entries<Json>(manifest.artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    const template = JSON.parse(readFileSync(join(outdir, artifact.properties.templateFile), 'utf8'));
    const resources: Record<string, Json> = template.Resources ?? {};
    const pathOf = (logicalId: string) => resources[logicalId]?.Metadata?.['aws:cdk:path']?.replace(/\/Resource$/, '') ?? logicalId;
    for (const [logicalId, key] of Object.entries(resources)) {
      if (key.Type !== 'AWS::KMS::Key') continue;
      keys++;
      const props = key.Properties;
      const keyPath = pathOf(logicalId).replace(/\/Resource$/, '');
      keyPaths.push(keyPath);
      const tag = (name: string) => (props.Tags ?? []).find((t: Json) => t.Key === name)?.Value;
      const aliases = Object.values(resources)
        .filter(r => r.Type === 'AWS::KMS::Alias' && JSON.stringify(r.Properties.TargetKeyId).includes(`"${logicalId}"`))
        .map(r => r.Properties.AliasName);
      const statements: Json[] = props.KeyPolicy.Statement.filter((s: Json) => s.Effect === 'Allow');
      const principals = (match: (actions: string[]) => boolean) => unique(statements
        .filter(s => match([s.Action].flat()))
        .flatMap(s => [s.Principal.AWS ?? s.Principal.Service].flat())
        .map(p => describePrincipal(p, pathOf)));
      // MFA is asked either by the created admin role's trust policy or, for an
      // adopted admin role, by the key policy's administration statement.
      const adminRole = Object.values(resources).find(r => r.Metadata?.['aws:cdk:path'] === `${keyPath}/AdminRole/Resource`);
      const mfa = JSON.stringify(adminRole?.Properties.AssumeRolePolicyDocument ?? {}).includes('aws:MultiFactorAuthPresent')
        || statements.some(s => s.Sid === 'KeyAdministration' && s.Condition?.Bool?.['aws:MultiFactorAuthPresent']);
      const narrowing = narrowingOf(statements.find(s => s.Sid === 'KeyUsage'));
      const nagLine = nag === undefined
        ? 'not run'
        : summarizeNag(nag.findings.filter((f: Json) => f.path?.startsWith(`${keyPath}/`)), nag.packs);

      console.log(aliases[0] ?? keyPath);
      row('classification', [tag('data-classification'), tag('owner') && `owner ${tag('owner')}`, tag('compliance-scope') && `scope ${tag('compliance-scope')}`].filter(Boolean).join(', '));
      row('key', `${props.KeySpec} for ${props.KeyUsage}${props.Origin === 'EXTERNAL' ? ', imported material' : ''}`);
      row('rotation', props.EnableKeyRotation ? `every ${props.RotationPeriodInDays} days` : 'none');
      row('administered by', `${principals(a => a.includes(ADMINISTRATION)).join(', ')}${mfa ? ' (MFA required)' : ''}`);
      row('used by', principals(a => a.some(x => CRYPTOGRAPHY.test(x))).join(', ') + (narrowing ? ` (${narrowing})` : ''));
      const alarms = Object.values(resources)
        .filter(r => r.Type === 'AWS::CloudWatch::Alarm' && r.Metadata?.['aws:cdk:path']?.startsWith(`${keyPath}/`))
        .map(r => `${r.Metadata['aws:cdk:path'].split('/').slice(-2, -1)[0]} (${r.Properties.AlarmDescription.split(': ').slice(1).join(': ')})`);
      row('alarms', alarms.length > 0 ? alarms.join('\n' + ' '.repeat(18)) : 'none (monitoring off)');
      row('cdk-nag', nagLine);
      row('stack', stackName);
      console.log();
    }
  }
  console.log(`${keys} keys in ${outdir}`);
  if (nag !== undefined) {
    const others = nag.findings.filter((f: Json) => !keyPaths.some(p => f.path?.startsWith(`${p}/`)));
    const trail = others.filter((f: Json) => /\/KeyAuditTrail\//.test(f.path ?? ''));
    console.log(`cdk-nag on the audit trail:    ${summarizeNag(trail, nag.packs)}`);
    console.log(`cdk-nag on the example's own consumers (bucket, table, queue, roles; not part of the library): ${others.length - trail.length} findings`);
  }
}

function describePrincipal(principal: Json, pathOf: (id: string) => string): string {
  if (typeof principal === 'string') return principal;
  if (principal['Fn::GetAtt']) return pathOf(principal['Fn::GetAtt'][0]);
  const joined = JSON.stringify(principal);
  if (joined.includes(':root')) return 'account root (lockout guard)';
  if (joined.includes('cfn-exec-role')) return 'deploy role (creating resources through their services)';
  return joined;
}

function narrowingOf(statement: Json | undefined): string | undefined {
  const via = statement?.Condition?.StringEquals?.['kms:ViaService'];
  if (!via) return undefined;
  return `only via ${[via].flat().map((v: Json) => (typeof v === 'string' ? v : JSON.stringify(v).match(/"([a-z0-9-]+)\./)?.[1]) ?? '?').join(', ')}`;
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
