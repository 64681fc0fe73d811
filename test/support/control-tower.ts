import { existsSync } from 'fs';
import { join } from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { CfnElement, Stack, Stage } from 'aws-cdk-lib';

/**
 * The folders of AWS Control Tower's proactive controls, published as cfn-guard rules,
 * that cover what the library emits and the consumers its keys are used with.
 * @see https://docs.aws.amazon.com/controltower/latest/controlreference/proactive-controls.html
 */
export const CONTROL_TOWER_FOLDERS = [
  'keymanagementservice', 'cloudtrail', 'cloudwatch', 's3', 'identityandaccessmanagement', 'sns', 'lambda', 'sqs', 'stepfunctions', 'ec2',
];

const RULES = join(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json'), '..', 'rules', 'control-tower', 'cfn-guard');

/** The rule folders that exist in this release of the rules (it has no SNS control yet). */
export const RULE_FOLDERS = CONTROL_TOWER_FOLDERS.map(folder => join(RULES, folder)).filter(path => existsSync(path));

/** One failed control on one resource, as `CT.KMS.PR.3 Stack/Key/Resource`. */
export type ControlFailure = string;

/**
 * Synthesizes the stacks' app, runs the Control Tower rules on the stacks' templates
 * with cfn-guard, as Control Tower's proactive controls check them at deploy time,
 * and returns every failure as `<control> <construct path>`, sorted.
 */
export function controlTowerFailures(...stacks: Stack[]): ControlFailure[] {
  const assembly = Stage.of(stacks[0])!.synth();
  const pathsByTemplate = new Map<string, Record<string, string>>();
  const templatePaths = stacks.map(stack => {
    const file = assembly.getStackArtifact(stack.artifactId).templateFullPath;
    pathsByTemplate.set(file, Object.fromEntries(stack.node.findAll()
      .filter(CfnElement.isCfnElement)
      .map(element => [stack.resolve(element.logicalId), element.node.path])));
    return file;
  });
  const validator = new CfnGuardValidator({ controlTowerRulesEnabled: false, rules: RULE_FOLDERS });
  const report = validator.validate({ templatePaths });
  const failures = report.violations.flatMap(violation => violation.violatingResources.map(resource => {
    const control = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(violation.description ?? '')?.[1] ?? violation.ruleName;
    const path = pathsByTemplate.get(resource.templatePath)?.[resource.resourceLogicalId] ?? resource.resourceLogicalId;
    return `${control} ${path}`;
  }));
  if (process.env.CT_DEBUG) console.log(JSON.stringify(report.violations, null, 1));
  if (!report.success && failures.length === 0) {
    throw new Error(`cfn-guard reported a failure without a resource: ${JSON.stringify(report.violations)}`);
  }
  return Array.from(new Set(failures)).sort();
}
