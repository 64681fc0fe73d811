/*
 * The key inventory as Markdown, for the auditor: one section per key, the controls
 * each property answers, and the access report.
 */
import { CAPABILITIES, Capability } from './key-access';
import type { KeyInventory, KeyInventoryEntry } from './key-inventory';

/** The controls each property of the inventory answers (README, "Compliance evidence"). */
export const PROPERTY_CONTROLS: Record<string, string[]> = {
  'classification': ['SOC 2 CC6.1', 'HIPAA 164.312(a)(2)(iv)'],
  'owner': ['PCI DSS 3.6.1.1'],
  'compliance scopes': ['PCI DSS 3.6.1.1', 'SOC 2 CC6.1'],
  'spec and usage': ['PCI DSS 3.6.1.1', 'PCI DSS 3.7.1'],
  'material': ['PCI DSS 3.7.1', 'PCI DSS 3.7.3', 'HIPAA 164.312(a)(2)(iv)'],
  'rotation': ['PCI DSS 3.7.4'],
  'deletion': ['PCI DSS 3.7.5', 'SOC 2 CC6.1'],
  'alarms': ['PCI DSS 3.7.7', 'PCI DSS 10.2.1.2', 'SOC 2 CC6.1'],
  'access': ['PCI DSS 3.6.1', 'SOC 2 CC6.1', 'HIPAA 164.312(a)(2)(iv)'],
};

const HEADINGS: Record<Capability, string> = {
  use: 'use (decrypt, sign, MAC)', encrypt: 'encrypt or verify', administer: 'administer', changePolicy: 'change policy', delete: 'delete', grant: 'create grants',
};

/** One cell of the access table: how a capability is allowed, or `no`. */
export function describeWays(ways: string[]): string {
  if (ways.length === 0) return 'no';
  if (ways.includes('directly')) return 'yes';
  return ways.join(', ');
}

export function renderInventoryMarkdown(inventory: KeyInventory): string {
  const lines = [
    '# KMS key inventory',
    '',
    `${inventory.keys.length} keys, written by cdk-kms-constructs at synthesis. Access is computed by evaluating each synthesized key policy`
      + ' for every principal it names, each KeyGrant\'s grantee, the account root user, any other role of the account and a role of another'
      + ' account, each assumed to have IAM kms:* (so that the key policy alone decides), calling directly, with MFA, through the services'
      + ' and with the requests the policy describes, from inside its network and organization perimeter. "yes" is directly; "no" is'
      + ' denied in every way tried.',
    '',
  ];
  for (const key of inventory.keys) lines.push(...keySection(key));
  return lines.join('\n');
}

function keySection(key: KeyInventoryEntry): string[] {
  const row = (property: string, value: string) => `| ${property} | ${escape(value)} | ${(PROPERTY_CONTROLS[property] ?? []).join(', ')} |`;
  const lines = [
    `## ${key.alias} (${key.path})`,
    '',
    '| property | value | controls |',
    '|---|---|---|',
    row('classification', key.classification),
    row('owner', key.owner ?? '(none)'),
    row('compliance scopes', key.complianceScopes.join(', ') || '(none)'),
    row('stack', `${key.stack} (${key.account}, ${key.region})`),
    row('spec and usage', `${key.keySpec} for ${key.keyUsage}${key.multiRegion === 'no' ? '' : `, multi-Region ${key.multiRegion}`}`),
    row('material', key.material),
    row('rotation', key.rotation),
    row('deletion', key.deletion),
    row('alarms', key.alarms.join(', ') || '(none)'),
    '',
    `Access (${PROPERTY_CONTROLS.access.join(', ')}):`,
    '',
  ];
  if (key.accessError) return [...lines, key.accessError, ''];
  lines.push(`| principal | ${CAPABILITIES.map(c => HEADINGS[c]).join(' | ')} |`, `|---|${CAPABILITIES.map(() => '---').join('|')}|`);
  for (const principal of key.access) {
    lines.push(`| ${escape(principal.label)} | ${CAPABILITIES.map(c => escape(describeWays(principal.access[c]))).join(' | ')} |`);
  }
  return [...lines, ''];
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}
