// Benchmark: a full, bundling `cdk synth` of one stage, timed, and the size of every function's bundle
// as esbuild wrote it into the cloud assembly (raw and gzipped: Lambda loads the raw, deploys the zip);
// and where each bundle's bytes come from, per package, from esbuild's metafile.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { FUNCTIONS, type FunctionDefinition, type FunctionId } from '../functions/platform/functions';
import {
  AWS_SDK,
  bundleBreakdown,
  familyOf,
  OWN_CODE,
  type PackageShare,
  POWERTOOLS,
} from '../lib/bundling/breakdown';
import { CEILING_BYTES, TARGET_BYTES } from '../lib/bundling/budgets';
import { bundleFunction } from '../lib/bundling/bundle';

interface BundleFigure {
  readonly functionId: string;
  readonly bytes: number;
  readonly gzipBytes: number;
}

export interface SynthFigures {
  readonly stage: string;
  readonly synthSeconds: number;
  readonly bundles: readonly BundleFigure[];
}

interface CfnTemplate {
  Resources: Record<
    string,
    { Type: string; Metadata?: Record<string, unknown>; Properties?: Record<string, unknown> }
  >;
}

/** Runs the CDK CLI exactly as a platform developer would, into a throwaway output folder. */
export const measureSynth = (stage = 'bench'): SynthFigures => {
  const outdir = mkdtempSync(path.join(tmpdir(), 'tenantic-synth-'));
  try {
    const started = performance.now();
    execFileSync('npx', ['cdk', 'synth', '-c', `stage=${stage}`, '--quiet', '-o', outdir], { stdio: 'pipe' });
    const synthSeconds = (performance.now() - started) / 1000;

    const templateFile = readdirSync(outdir).find((name) => name.endsWith('-Api.template.json'));
    if (!templateFile) throw new Error(`no Api template in ${outdir}`);
    const template = JSON.parse(readFileSync(path.join(outdir, templateFile), 'utf8')) as CfnTemplate;
    const bundles: BundleFigure[] = [];
    for (const resource of Object.values(template.Resources)) {
      const meta = resource.Metadata?.['Tenantic:Function'] as { id: string } | undefined;
      const assetPath = resource.Metadata?.['aws:asset:path'] as string | undefined;
      if (resource.Type !== 'AWS::Lambda::Function' || !meta || !assetPath) continue;
      const code = readFileSync(path.join(outdir, assetPath, 'index.mjs'));
      bundles.push({ functionId: meta.id, bytes: code.length, gzipBytes: gzipSync(code).length });
    }
    bundles.sort((a, b) => a.functionId.localeCompare(b.functionId));
    return { stage, synthSeconds, bundles };
  } finally {
    if (statSync(outdir, { throwIfNoEntry: false })) rmSync(outdir, { recursive: true, force: true });
  }
};

/** The package families a breakdown table has a column for, in this order; the rest is "other". */
const COLUMNS = [AWS_SDK, 'zod', 'openai', POWERTOOLS, OWN_CODE] as const;

export interface BreakdownFigure {
  readonly functionId: string;
  readonly bytes: number;
  /** Bytes per family (AWS SDK, Powertools) or package, largest first. */
  readonly families: readonly PackageShare[];
  /** Bytes per npm package, largest first. */
  readonly packages: readonly PackageShare[];
  readonly ceilingBytes: number;
  readonly targetBytes: number;
}

/**
 * Every function's bundle built as the cloud builds it (lib/bundling, so the bytes are the synth's), with
 * where its bytes come from according to esbuild's metafile.
 *
 * @example
 * const figures = await measureBreakdowns(); // [{ functionId: 'account-api', bytes: 616_000, families: [...] }, ...]
 */
export const measureBreakdowns = async (): Promise<BreakdownFigure[]> => {
  const figures: BreakdownFigure[] = [];
  for (const [functionId, definition] of Object.entries(FUNCTIONS) as [FunctionId, FunctionDefinition][]) {
    const { code, metafile } = await bundleFunction(definition.entry);
    figures.push({
      functionId,
      bytes: code.byteLength,
      families: bundleBreakdown(metafile, familyOf),
      packages: bundleBreakdown(metafile),
      ceilingBytes: CEILING_BYTES[functionId],
      targetBytes: definition.llm ? TARGET_BYTES.llm : TARGET_BYTES.default,
    });
  }
  return figures.sort((a, b) => a.functionId.localeCompare(b.functionId));
};

const share = (shares: readonly PackageShare[], name: string): number =>
  shares.find((entry) => entry.name === name)?.bytes ?? 0;

/** Markdown: one row per function, a column per family, then the largest packages by name. */
export const breakdownTable = (
  figures: readonly BreakdownFigure[],
  kib: (bytes: number) => string,
): string[] => {
  const other = (figure: BreakdownFigure) =>
    figure.families
      .filter((entry) => !(COLUMNS as readonly string[]).includes(entry.name))
      .reduce((sum, entry) => sum + entry.bytes, 0);
  const topPackages = (figure: BreakdownFigure) =>
    figure.packages
      .filter((entry) => entry.name !== OWN_CODE)
      .slice(0, 4)
      .map((entry) => `${entry.name} ${kib(entry.bytes)}`)
      .join(', ');
  return [
    `| function | bundle | ${COLUMNS.join(' | ')} | other | ceiling | issue target | largest packages |`,
    `| --- | ---: | ${COLUMNS.map(() => '---:').join(' | ')} | ---: | ---: | ---: | --- |`,
    ...figures.map(
      (figure) =>
        `| ${figure.functionId} | ${kib(figure.bytes)} | ${COLUMNS.map((name) => kib(share(figure.families, name))).join(' | ')} | ${kib(other(figure))} | ${kib(figure.ceilingBytes)} | ${kib(figure.targetBytes)} | ${topPackages(figure)} |`,
    ),
  ];
};
