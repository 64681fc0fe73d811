/*
 * The key inventory: at synthesis, every ClassifiedKey of a stage (the app, or a
 * Stage) is written to `kms-key-inventory.json` and `kms-key-inventory.md` in its
 * cloud assembly, with its classification, owner, compliance scopes, spec, rotation,
 * deletion settings, alarms, who can use, administer, change and delete it (computed
 * by evaluating the synthesized key policy), and the controls each property answers.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { attachCustomSynthesis, CfnResource, Stack, Stage, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import { Construct, IConstruct } from 'constructs';
import { GrantRecord, keyAccess, PrincipalAccess } from './key-access';
import { renderInventoryMarkdown } from './key-inventory-markdown';
import { PolicyJson } from './policy-evaluation';
import { resolveTemplateValue, TemplateEnvironment, TemplateJson } from './template-values';

/** The files the inventory is written to, in the cloud assembly's directory. */
export const INVENTORY_JSON = 'kms-key-inventory.json';
export const INVENTORY_MARKDOWN = 'kms-key-inventory.md';
/** The context key that turns the inventory off (`false`). */
export const INVENTORY_CONTEXT = 'cdk-kms-constructs:keyInventory';

/** What the inventory reads of a ClassifiedKey (named here without importing it). */
export interface InventoriedKey extends IConstruct {
  readonly classification: string;
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly rotationEnabled: boolean;
  readonly rotationPeriodDays?: number;
  readonly alias: IConstruct;
  readonly alarms: IConstruct[];
}

/** One key of the inventory. */
export interface KeyInventoryEntry {
  readonly path: string;
  readonly stack: string;
  readonly account: string;
  readonly region: string;
  readonly alias: string;
  readonly classification: string;
  readonly owner?: string;
  readonly complianceScopes: string[];
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly material: string;
  readonly multiRegion: 'primary' | 'replica' | 'no';
  readonly rotation: string;
  readonly deletion: string;
  readonly alarms: string[];
  readonly access: PrincipalAccess[];
  readonly accessError?: string;
}

/** The inventory file. */
export interface KeyInventory {
  readonly generatedBy: string;
  readonly keys: KeyInventoryEntry[];
}

/** The key's resource in its template. */
type KeyResource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

const KEYS = Symbol.for('cdk-kms-constructs.KeyInventory.v1');

/** Adds a key to its stage's inventory, written when the stage is synthesized. */
export function addToKeyInventory(key: InventoriedKey): void {
  const stage = (Stage.of(key) ?? key.node.root) as Construct & Record<symbol, InventoriedKey[] | undefined>;
  let keys = stage[KEYS];
  if (!keys) {
    const registered: InventoriedKey[] = keys = [];
    Object.defineProperty(stage, KEYS, { value: keys, enumerable: false });
    if (stage.node.tryGetContext(INVENTORY_CONTEXT) === false || stage.node.tryGetContext(INVENTORY_CONTEXT) === 'false') return;
    // aws-cdk-lib's hook for what a construct adds to the cloud assembly; the stage's
    // root is synthesized after its stacks, whose templates the inventory reads.
    attachCustomSynthesis(stage, { onSynthesize: session => writeKeyInventory(session.outdir, registered) });
  }
  keys.push(key);
}

/** Writes the inventory of `keys`, whose stacks' templates are in `outdir`. */
export function writeKeyInventory(outdir: string, keys: InventoriedKey[]): KeyInventory {
  const templates = new Map<Stack, TemplateJson>();
  const templateOf = (stack: Stack) => {
    if (!templates.has(stack)) templates.set(stack, JSON.parse(readFileSync(join(outdir, stack.templateFile), 'utf8')));
    return templates.get(stack)!;
  };
  const labels = roleLabels(keys, templateOf);
  const inventory: KeyInventory = {
    generatedBy: 'cdk-kms-constructs: access is computed by evaluating each synthesized key policy; see the README, "Compliance evidence"',
    keys: keys.map(key => entryOf(key, templateOf(Stack.of(key)), labels)),
  };
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, INVENTORY_JSON), JSON.stringify(inventory, null, 2));
  writeFileSync(join(outdir, INVENTORY_MARKDOWN), renderInventoryMarkdown(inventory));
  return inventory;
}

function entryOf(key: InventoriedKey, template: TemplateJson, labels: Map<string, string>): KeyInventoryEntry {
  const stack = Stack.of(key);
  const env = environmentOf(stack);
  const cfn = cfnResourceOf(key);
  const resource = (template.Resources ?? {})[stack.resolve(cfn.logicalId)] as KeyResource;
  const props = resource.Properties;
  const tags = new Map((props.Tags as { Key: string; Value: string }[] ?? []).map(t => [t.Key, t.Value]));
  const hsm = resource.Type === 'Custom::KmsHsmKey';
  const replica = resource.Type === 'AWS::KMS::ReplicaKey';
  const origin = hsm ? 'AWS_CLOUDHSM' : String(props.Origin ?? 'AWS_KMS');
  // What the key is, as KMS's condition keys and the key's tags tell a policy.
  const keyFacts = {
    ...Object.fromEntries(Array.from(tags, ([k, v]) => [`aws:ResourceTag/${k}`, v])),
    'kms:KeySpec': key.keySpec,
    'kms:KeyUsage': key.keyUsage,
    'kms:KeyOrigin': origin,
    'kms:MultiRegion': String(replica || props.MultiRegion === true),
    'kms:KeyManager': 'CUSTOMER',
  };
  let access: PrincipalAccess[] = [];
  let accessError: string | undefined;
  try {
    const policy = resolveTemplateValue(props.KeyPolicy, template, env) as PolicyJson;
    const grants = grantsOf(template, stack.resolve(cfn.logicalId), env, labels);
    access = keyAccess(policy, {
      account: env.account, partition: env.partition, region: env.region, keyUsage: key.keyUsage, keyFacts, labels, grants,
    });
  } catch (e) {
    accessError = `the key policy could not be evaluated: ${(e as Error).message}`;
    // Synthesis has written the stacks' messages by now: this one goes to the console.
    process.stderr.write(`[cdk-kms-constructs] the key inventory has no access report for ${key.node.path}: ${accessError}\n`);
  }
  const pending = props.PendingWindowInDays ?? 30;
  return {
    path: key.node.path,
    stack: Token.isUnresolved(stack.stackName) ? stack.node.path : stack.stackName,
    account: Token.isUnresolved(stack.account) ? '(environment-agnostic)' : env.account,
    region: Token.isUnresolved(stack.region) ? '(environment-agnostic)' : env.region,
    alias: aliasOf(key, template),
    classification: tags.get('data-classification') ?? key.classification,
    owner: tags.get('owner'),
    complianceScopes: (tags.get('compliance-scope') ?? '').split(' ').filter(Boolean),
    keySpec: key.keySpec,
    keyUsage: key.keyUsage,
    material: hsm ? 'custom key store (AWS CloudHSM)' : replica ? 'its multi-Region primary\'s (shared)'
      : origin === 'EXTERNAL' ? 'imported (EXTERNAL)' : 'generated by AWS KMS',
    multiRegion: replica ? 'replica' : props.MultiRegion === true ? 'primary' : 'no',
    rotation: key.rotationEnabled ? `automatic, every ${key.rotationPeriodDays ?? 365} days`
      : replica ? 'the primary\'s' : hsm ? 'not supported in a custom key store' : 'none (not supported for this key, or turned off)',
    deletion: `${resource.DeletionPolicy === 'Delete' ? 'deleted' : 'retained'} when its stack is deleted; ${pending}-day waiting period before KMS deletes it`,
    // The key's own alarms, and its watch's, which count every key of the account and Region.
    alarms: key.alarms.map(a => (a.node.path.startsWith(`${key.node.path}/`) ? a.node.path : `${a.node.path} (shared)`)),
    access,
    ...(accessError ? { accessError } : {}),
  };
}

/** The KeyGrants of a key in its template: grantee, operations, constraint. */
function grantsOf(template: TemplateJson, keyLogicalId: string, env: TemplateEnvironment, labels: Map<string, string>): GrantRecord[] {
  return Object.entries(template.Resources ?? {})
    .filter(([, r]) => r.Type === 'Custom::KmsKeyGrant' && JSON.stringify(r.Properties?.KeyId).includes(`"${keyLogicalId}"`))
    .map(([logicalId, r]) => {
      const props = resolveTemplateValue(r.Properties, template, env) as Record<string, unknown>;
      const grantee = String(props.GranteePrincipal ?? props.GranteeServicePrincipal);
      const context = props.EncryptionContextSubset ?? props.EncryptionContextEquals;
      const constraint = [
        context ? `encryption context ${JSON.stringify(context)}` : undefined,
        props.SourceArn ? `for ${String(props.SourceArn)}` : undefined,
        props.ExpiresAfterSeconds ? `for ${Number(props.ExpiresAfterSeconds) / 3600} hours` : undefined,
      ].filter(Boolean).join(', ');
      return {
        grantee,
        label: `${labels.get(grantee) ?? grantee} (KeyGrant ${logicalId})`,
        operations: (props.Operations as string[] | undefined) ?? [],
        constraint: constraint || undefined,
      };
    });
}

/** The key's alias as declared: its alias resource's name in the template. */
function aliasOf(key: InventoriedKey, template: TemplateJson): string {
  const name = (template.Resources ?? {})[Stack.of(key).resolve(cfnResourceOf(key.alias).logicalId)]?.Properties?.AliasName;
  return typeof name === 'string' ? name : '(known at deployment)';
}

/** The CloudFormation resource of the key: its default child, or the default child's. */
function cfnResourceOf(key: IConstruct): CfnResource {
  let node: IConstruct | undefined = key.node.defaultChild;
  while (node && !CfnResource.isCfnResource(node)) node = node.node.defaultChild;
  if (!node) throw new Error(`${key.node.path} has no CloudFormation resource`);
  return node as CfnResource;
}

function environmentOf(stack: Stack) {
  const account = Token.isUnresolved(stack.account) ? '123456789012' : stack.account;
  const region = Token.isUnresolved(stack.region) ? 'us-east-1' : stack.region;
  const partition = (!Token.isUnresolved(stack.region) && RegionInfo.get(stack.region).partition) || 'aws';
  return { account, region, partition, stackName: stack.stackName };
}

/** Each role of the keys' stages, by the ARN its key policies name it with, labelled by its construct path. */
function roleLabels(keys: InventoriedKey[], templateOf: (stack: Stack) => TemplateJson): Map<string, string> {
  const labels = new Map<string, string>();
  const roots = new Set(keys.map(k => Stage.of(k) ?? k.node.root));
  for (const root of roots) {
    for (const node of root.node.findAll()) {
      if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::IAM::Role' || Stage.of(node) !== Stage.of(keys[0])) continue;
      const stack = Stack.of(node);
      const arn = resolveTemplateValue({ 'Fn::GetAtt': [stack.resolve(node.logicalId), 'Arn'] }, templateOf(stack), environmentOf(stack));
      labels.set(String(arn), `role ${node.node.path.replace(/\/Resource$/, '')}`);
    }
  }
  return labels;
}

