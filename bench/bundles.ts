// Benchmark: a full, bundling `cdk synth` of one stage, timed, and the size of every function's bundle
// as esbuild wrote it into the cloud assembly (raw and gzipped: Lambda loads the raw, deploys the zip).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BundleFigure {
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
