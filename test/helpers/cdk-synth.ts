// Test helper: synthesize a stage in-process without bundling, and walk its CloudFormation templates.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { type BuiltApp, buildApp } from '../../lib/app';

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation templates are untyped JSON.
export type Json = any;

export interface SynthesizedStage {
  readonly built: BuiltApp;
  readonly data: Template;
  readonly api: Template;
  readonly dataJson: Json;
  readonly apiJson: Json;
  readonly templates: Record<string, Json>;
  /** Removes the assembly directory. */
  readonly dispose: () => void;
}

/** Builds and synthesizes `stage` (cdk-nag runs as part of synth and throws on any finding). */
export const synthStage = (stage: string, configDir?: string): SynthesizedStage => {
  const built = buildApp({
    stage,
    context: { 'aws:cdk:bundling-stacks': [] },
    ...(configDir ? { configDir } : {}),
  });
  const assembly = built.app.synth();
  const dataJson = assembly.getStackByName(built.dataStack.stackName).template;
  const apiJson = assembly.getStackByName(built.apiStack.stackName).template;
  return {
    built,
    data: Template.fromJSON(dataJson),
    api: Template.fromJSON(apiJson),
    dataJson,
    apiJson,
    templates: { [built.dataStack.stackName]: dataJson, [built.apiStack.stackName]: apiJson },
    dispose: () => rmSync(assembly.directory, { recursive: true, force: true }),
  };
};

/** A config directory holding one `<stage>.json`. */
export const configDirWith = (stage: string, overrides: Record<string, unknown>): string => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tenantic-stage-'));
  writeFileSync(path.join(dir, `${stage}.json`), JSON.stringify(overrides));
  return dir;
};

export const resourcesOfType = (template: Json, type: string): [string, Json][] =>
  Object.entries(template.Resources as Record<string, Json>).filter(([, resource]) => resource.Type === type);

/** Catalogue id → logical id of the Lambda function, from the `Tenantic:Function` metadata. */
export const functionLogicalIds = (apiJson: Json): Map<string, string> =>
  new Map(
    resourcesOfType(apiJson, 'AWS::Lambda::Function')
      .filter(([, fn]) => fn.Metadata?.['Tenantic:Function'])
      .map(([logicalId, fn]) => [fn.Metadata['Tenantic:Function'].id as string, logicalId]),
  );

/** Export name → the data-stack logical id its value refers to (by Ref or GetAtt). */
export const exportTargets = (dataJson: Json): Map<string, string> => {
  const targets = new Map<string, string>();
  for (const output of Object.values(dataJson.Outputs ?? {}) as Json[]) {
    const name = output.Export?.Name;
    const value = output.Value;
    if (typeof name !== 'string') continue;
    if (value?.Ref) targets.set(name, value.Ref);
    else if (value?.['Fn::GetAtt']) targets.set(name, value['Fn::GetAtt'][0]);
  }
  return targets;
};

/** Every logical id an expression mentions (Ref, GetAtt, or an import of a data-stack export). */
export const referencedLogicalIds = (expression: Json, exports: Map<string, string>): Set<string> => {
  const found = new Set<string>();
  const walk = (node: Json): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (!node || typeof node !== 'object') return;
    if (typeof node.Ref === 'string') found.add(node.Ref);
    if (Array.isArray(node['Fn::GetAtt'])) found.add(node['Fn::GetAtt'][0]);
    const imported = node['Fn::ImportValue'];
    if (typeof imported === 'string' && exports.has(imported)) found.add(exports.get(imported)!);
    for (const value of Object.values(node)) walk(value);
  };
  walk(expression);
  return found;
};

export interface Statement {
  readonly actions: readonly string[];
  readonly resources: readonly Json[];
}

/** The IAM statements of the policies attached to a function's role. */
export const statementsOf = (apiJson: Json, functionLogicalId: string): Statement[] => {
  const fn = apiJson.Resources[functionLogicalId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
  return resourcesOfType(apiJson, 'AWS::IAM::Policy')
    .filter(([, policy]) => (policy.Properties.Roles as Json[]).some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Json[])
    .map((statement) => ({
      actions: [statement.Action].flat(),
      resources: [statement.Resource].flat(),
    }));
};

/** The actions a function may perform on resources that mention `logicalId`. */
export const actionsOn = (
  apiJson: Json,
  exports: Map<string, string>,
  functionLogicalId: string,
  logicalId: string,
): Set<string> =>
  new Set(
    statementsOf(apiJson, functionLogicalId)
      .filter((statement) =>
        statement.resources.some((resource) => referencedLogicalIds(resource, exports).has(logicalId)),
      )
      .flatMap((statement) => statement.actions),
  );

/** The logical id of the data-stack resource whose construct id is `constructId` (e.g. `TenantsTable`). */
export const dataLogicalId = (built: BuiltApp, node: { node: { defaultChild?: unknown } }): string =>
  built.dataStack.getLogicalId(node.node.defaultChild as never);
